"""Dialog tokens: a Record-Route parameter only this gateway can produce (PURE, no I/O).

The gateway record-routes every call it forwards (RFC 3261 §16.6 step 4) with a Record-Route
URI carrying ``otj-dlg=<token>``: an HMAC-SHA256, under a key from the store, over the dialog's
Call-ID and the caller's From tag (the callee's To tag is not known when the INVITE leaves).
Every in-dialog request must come back with that Route entry, and its token must be valid for
its Call-ID and one of its two tags (the caller's tag is the From tag of requests from the
caller, the To tag of requests from the callee). Kamailio's topology hiding and OpenSIPS's
dialog module check their Route parameters the same way.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

PARAM = "otj-dlg"
_LENGTH = 16  # bytes of the HMAC kept (128 bits), 32 hex digits on the wire


def dialog_token(key: bytes, call_id: str, caller_tag: str) -> str:
    """The token of the dialog ``call_id`` set up by the caller whose From tag is ``caller_tag``."""
    # length-prefixed so that no two (Call-ID, tag) pairs share a message
    data = f"{len(call_id)}:{call_id}{len(caller_tag)}:{caller_tag}".encode(
        "utf-8", "surrogateescape"
    )
    return hmac.new(key, data, hashlib.sha256).digest()[:_LENGTH].hex()


def token_valid(key: bytes, call_id: str, tags: Iterable[str], token: str | None) -> bool:
    """Whether ``token`` was produced for ``call_id`` and one of ``tags`` (in constant time)."""
    if not token:
        return False
    given = token.lower().encode("ascii", "replace")
    valid = False
    for tag in tags:
        if tag:
            valid |= hmac.compare_digest(dialog_token(key, call_id, tag).encode(), given)
    return valid
