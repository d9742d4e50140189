"""Logging set-up for every ``otj`` command, with secrets redacted at every level.

Third-party libraries dump requests at DEBUG: exchangelib logs each EWS request's headers
(``Authorization: Basic …``, i.e. the account's password in base64), requests/urllib3, httpx,
msal and the Google client log URLs, forms and token responses. ``RedactSecrets`` is a filter
on the handlers that rewrites each record's message (and traceback) before it is written:
credential headers (RFC 9110 §11.6.2 ``Authorization``, ``Proxy-Authorization``, RFC 6265
cookies), authentication scheme values (``Basic …``, ``Bearer …``, ``NTLM …``), password- and
token-bearing fields (``password=``, ``"client_secret": …``), private keys and URL userinfo
(``https://user:pass@host``) become ``***``.
"""

from __future__ import annotations

import logging
import re
from typing import IO

MASK = "***"

_HEADERS = r"(?:proxy-)?authorization|cookie|set-cookie|x-api-key|x-auth-token|x-ms-client-secret"
_FIELDS = (
    r"password|passwd|pwd|api_password|client_secret|secret|access_token|refresh_token|"
    r"id_token|client_assertion|assertion|private_key|api_key|code_verifier"
)
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
            re.DOTALL,
        ),
        f"-----{MASK} PRIVATE KEY-----",
    ),
    # 'Authorization': 'Basic …' (a dict's repr) or Authorization: Basic … (a header line)
    (
        re.compile(rf"(?i)(?<![\w-])({_HEADERS})(['\"]?\s*[:=]\s*)(?:(['\"])[^'\"]*\3|[^\r\n]*)"),
        rf"\1\2{MASK}",
    ),
    # "password": "…", password=…&, 'client_secret': b'…'
    (
        re.compile(
            rf"(?i)(?<![\w-])((?:{_FIELDS})['\"]?\s*[:=]\s*)(?:b?(['\"])(?:\\.|(?!\2).)*\2|[^\s&,;}}\]'\"]+)"
        ),
        rf"\1{MASK}",
    ),
    (
        re.compile(r"(?i)\b(basic|bearer|ntlm|negotiate|digest)\s+[A-Za-z0-9+/=._~-]{8,}"),
        rf"\1 {MASK}",
    ),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s:@'\"]+):[^/\s@'\"]+@"), rf"\1\2:{MASK}@"),
)


def redact(text: str) -> str:
    """``text`` with every credential pattern above replaced by ``***``."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """A handler filter: formats each record's message and traceback, redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def configure(level: int, *, stream: IO[str] | None = None) -> None:
    """Log to stderr (or ``stream``) at ``level``, every handler of the root logger redacting."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=stream,
        force=stream is not None,
    )
    # one line per HTTP request from client libraries is noise at INFO
    for noisy in ("httpx", "httpcore", "googleapiclient.discovery_cache"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.root.level))
    for handler in logging.root.handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())
