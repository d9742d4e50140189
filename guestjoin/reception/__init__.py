"""The Virtual Reception (DESIGN.md §8): a B2BUA leg that answers a reception alias, plays a
prompt and shows a splash (aiortc's codecs and RTP packets), collects RFC 4733 or SIP INFO
digits, offers the calling room's current meeting on ``#``, maps typed meeting IDs to aliases,
and transfers the caller by REFER (RFC 3515) or third-party call control (RFC 3725).

Pure parts: ``aliases`` (which reception, which alias), ``machine`` (the dialogue with an
injected clock), ``sdp`` (offer/answer), ``dtmf`` (RFC 4733 events, INFO bodies), ``transfer``
(REFER and 3pcc messages), ``calendar`` (the room's meeting to offer). I/O at the edges:
``media`` (RTP over UDP), ``prompts`` and ``splash`` (media files and frames), ``leg`` (SIP).
"""
