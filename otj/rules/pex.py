"""The ``pex_*`` template functions and filters of DESIGN.md §4.3 (Pexip's names).

``pex_now`` reads the ``now`` the caller passed to ``RuleSet.process`` (never the clock) and
``pex_uuid4`` derives a stable UUID from the event and rule, so that processing is deterministic:
a random alias would change on every poll and re-deliver every booking. Regular expressions run
through the ``regex`` module with a timeout; every result is bounded in size.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import regex
from jinja2.runtime import Undefined

from otj.rules.limits import (
    CURRENT_BUDGET,
    MAX_VALUE_CHARS,
    LimitExceeded,
    check_budget,
    check_size,
    regex_timeout,
)
from otj.rules.links import decode_safelinks, decode_urldefense


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> regex.Pattern[str]:
    """Compile a template regex once (Python syntax, ``regex`` module, version 0 semantics)."""
    return regex.compile(pattern, regex.VERSION0)


def as_text(value: Any) -> str:
    if value is None or isinstance(value, Undefined):
        return ""
    if isinstance(value, str):
        return value
    check_size(value)  # str() of a container repeats its items: weigh it first
    return str(value)


def pex_regex_search(pattern: Any, string: Any) -> tuple[str, ...] | None:
    """Search ``string``; the tuple of the match's groups (or of the whole match), else None."""
    compiled = compile_pattern(as_text(pattern))
    match = compiled.search(as_text(string), timeout=regex_timeout())
    if match is None:
        return None
    groups = match.groups()
    if not groups:
        return (match.group(0),)
    return tuple("" if group is None else group for group in groups)


def pex_regex_replace(value: Any, find: Any, replace: Any) -> str:
    """Replace every match of ``find`` in the value (``\\1`` groups in ``replace``)."""
    pattern = compile_pattern(as_text(find))
    template = as_text(replace)
    total = 0

    def expand(match: regex.Match[str]) -> str:
        nonlocal total
        check_budget()
        piece = match.expand(template)
        total += len(piece)
        if total > MAX_VALUE_CHARS:
            raise LimitExceeded(f"pex_regex_replace output exceeds {MAX_VALUE_CHARS} characters")
        return piece

    return pattern.sub(expand, as_text(value), timeout=regex_timeout())


def pex_find_first_match(values: Any, pattern: Any) -> Any:
    """The first item of ``values`` in which ``pattern`` is found, else None."""
    compiled = compile_pattern(as_text(pattern))
    if isinstance(values, str):
        values = [values]
    for index, item in enumerate(values):
        if not index & 255:
            check_budget()
        if compiled.search(as_text(item), timeout=regex_timeout()) is not None:
            return item
    return None


def pex_clean_phone_number(value: Any) -> str:
    """Digits only, keeping one leading ``+`` (``+47 (22) 12-34-56`` → ``+4722123456``)."""
    text = as_text(value).strip()
    digits = "".join(ch for ch in text if ch.isdigit() and ch.isascii())
    return f"+{digits}" if text.startswith("+") else digits


def pex_url_decode(value: Any) -> str:
    """Percent-decode (``%40`` → ``@``)."""
    return unquote(as_text(value))


def pex_url_encode(value: Any) -> str:
    """Percent-encode every reserved character."""
    return quote(as_text(value), safe="")


def pex_safelinks_decode(value: Any) -> str:
    """Replace Microsoft Safe Links wrappers by their targets."""
    return decode_safelinks(as_text(value))


def pex_urldefense_decode(value: Any) -> str:
    """Replace Proofpoint URL Defense (v1, v2, v3) wrappers by their targets."""
    return decode_urldefense(as_text(value))


def pex_base64(value: Any) -> str:
    """Base64 of the UTF-8 text."""
    return base64.b64encode(as_text(value).encode("utf-8")).decode("ascii")


def pex_hash(value: Any) -> str:
    """SHA-256 hex digest of the UTF-8 text."""
    return hashlib.sha256(as_text(value).encode("utf-8")).hexdigest()


def pex_md5(value: Any) -> str:
    """MD5 hex digest of the UTF-8 text (an identifier, not security)."""
    return hashlib.md5(as_text(value).encode("utf-8"), usedforsecurity=False).hexdigest()


def pex_head(value: Any, count: int = 1) -> Any:
    """The first ``count`` characters (or items)."""
    if isinstance(value, (list, tuple)):
        return value[: max(0, int(count))]
    return as_text(value)[: max(0, int(count))]


def pex_tail(value: Any, count: int = 1) -> Any:
    """The last ``count`` characters (or items)."""
    count = max(0, int(count))
    if isinstance(value, (list, tuple)):
        return value[len(value) - count :]
    text = as_text(value)
    return text[len(text) - count :]


def pex_strlen(value: Any) -> int:
    """Length of the text."""
    return len(as_text(value))


def pex_reverse(value: Any) -> Any:
    """The text (or list) reversed."""
    if isinstance(value, (list, tuple)):
        return list(reversed(value))
    return as_text(value)[::-1]


def pex_to_json(value: Any) -> str:
    """JSON of the value (datetimes and other objects as strings)."""
    result = json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)
    check_size(result)
    return result


def pex_now(tz: Any = "UTC") -> datetime:
    """The processing time (``now`` given to ``RuleSet.process``) in the time zone ``tz``."""
    budget = CURRENT_BUDGET.get()
    if budget is None:
        raise LimitExceeded("pex_now is only available while rendering")
    try:
        zone = ZoneInfo(as_text(tz) or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"pex_now: unknown time zone {tz!r}") from exc
    return budget.now.astimezone(zone)


def pex_uuid4() -> str:
    """A version-4-shaped UUID, stable for the same event, rule and call position."""
    budget = CURRENT_BUDGET.get()
    if budget is None:
        raise LimitExceeded("pex_uuid4 is only available while rendering")
    budget.uuid_count += 1
    digest = hashlib.sha256(f"{budget.seed}\x00{budget.uuid_count}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def pex_debug_log(*args: Any) -> str:
    """Record a message in the rule's trace entry; renders as nothing."""
    budget = CURRENT_BUDGET.get()
    if budget is not None and len(budget.debug) < 20:
        budget.debug.append(" ".join(as_text(arg) for arg in args)[:500])
    return ""
