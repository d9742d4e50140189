"""SIP transports on asyncio (RFC 3261 §18, RFC 3581, RFC 5626).

``layer.TransportLayer`` is the one object the gateway uses: listeners, receiving and sending.
It is built from ``udp`` (datagrams, Via stamping and response addresses), ``stream`` (one
TCP/TLS connection framed by Content-Length, the accept loop) and ``connections`` (the table
of open connections: reuse, caps, timeouts); ``interfaces`` holds ``TransportError`` and the
``Sender`` seam the transaction layer sees.
"""
