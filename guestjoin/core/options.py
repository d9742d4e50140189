"""The proxy core's timers and behaviour (RFC 3261 §16.6 Timer C, §13.3.1.4, RFC 3263 §4.3)."""

from __future__ import annotations

from dataclasses import dataclass, field

# the methods this proxy passes (RFC 3261 §20.5; MESSAGE: RFC 3428, relayed inside dialogs)
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, INFO, PRACK, NOTIFY, REFER, MESSAGE"


@dataclass(frozen=True, kw_only=True, slots=True)
class ProxyOptions:
    """Timers and behaviour of the proxy core."""

    timer_c: float = 180.0  # > 3 min (§16.6 step 11); the Meet lobby waits far less
    failover_timeout: float = 4.0  # no response at all from a target: try the next one
    lobby_window: float = 40.0  # far-end BYE this soon after answer = not admitted
    max_call_duration: float = 12 * 3600.0
    retry_after: int = 30
    server_name: str = "otj-gateway"
    registrar: bool = True
    # HMAC key of the dialog tokens (from the store's secret key); None = random per process
    dialog_key: bytes | None = field(default=None, repr=False)
    forget_after: float = 32.0  # a finished call stays findable for late retransmissions
