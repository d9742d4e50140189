"""The bundled SIP Guest Join gateway: a small asyncio SIP proxy with call routing rules."""
