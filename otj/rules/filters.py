"""Template filters and functions of DESIGN.md §4.3: Pexip's 18 Jinja builtins and pex_*.

Every filter is bounded: the result may not exceed ``MAX_VALUE_CHARS``, regular expressions run
through the ``regex`` module with a timeout, and format strings with huge widths are refused.
``pex_now`` reads the ``now`` the caller passed to ``RuleSet.process`` (never the clock) and
``pex_uuid4`` derives a stable UUID from the event and rule, so that processing is deterministic:
a random alias would change on every poll and re-deliver every booking.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from functools import wraps
from typing import Any
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import regex
from jinja2 import filters as jinja_filters
from jinja2.runtime import Undefined

from otj.rules.limits import (
    CURRENT_BUDGET,
    MAX_FORMAT_WIDTH,
    MAX_RANGE,
    MAX_VALUE_CHARS,
    LimitExceeded,
    check_budget,
    check_size,
    regex_timeout,
)
from otj.rules.links import decode_safelinks, decode_urldefense

PEXIP_BUILTINS = (
    "abs", "capitalize", "default", "first", "float", "format", "int", "join", "last",
    "length", "lower", "range", "replace", "round", "striptags", "trim", "truncate", "upper",
)  # fmt: skip


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> regex.Pattern[str]:
    """Compile a template regex once (Python syntax, ``regex`` module, version 0 semantics)."""
    return regex.compile(pattern, regex.VERSION0)


def _text(value: Any) -> str:
    if value is None or isinstance(value, Undefined):
        return ""
    if isinstance(value, str):
        return value
    check_size(value)  # str() of a container repeats its items: weigh it first
    return str(value)


_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_FIELD = re.compile(r"\{[^{}]*\}")


def check_format_string(fmt: str) -> None:
    """Refuse ``%``/``str.format`` specifications whose width or precision would build huge text."""
    for match in _PRINTF_SPEC.finditer(fmt):
        for number in match.groups():
            if number == "*" or (number and int(number) > MAX_FORMAT_WIDTH):
                raise LimitExceeded(f"format width/precision {number!r} is not allowed")
    if "{" in fmt:
        for field in _FORMAT_FIELD.findall(fmt):
            spec = field.partition(":")[2]
            for number in re.findall(r"\d+", spec):
                if int(number) > MAX_FORMAT_WIDTH:
                    raise LimitExceeded(f"format width/precision {number} is not allowed")
        if re.search(r"\{[^{}]*:[^{}]*\{", fmt):
            raise LimitExceeded("nested format specifications are not allowed")


class BoundedRange:
    """``range`` for templates: at most ``MAX_RANGE`` items, deadline checked while iterating."""

    __slots__ = ("_range",)

    def __init__(self, *args: int) -> None:
        rng = range(*args)
        if len(rng) > MAX_RANGE:
            raise LimitExceeded(f"range of {len(rng)} items exceeds {MAX_RANGE}")
        self._range = rng

    def __iter__(self) -> Iterator[int]:
        for index, item in enumerate(self._range):
            if not index & 1023:
                check_budget()
            yield item

    def __len__(self) -> int:
        return len(self._range)

    def __getitem__(self, index: int) -> int:
        return self._range[index]

    def __contains__(self, item: object) -> bool:
        return item in self._range

    def __repr__(self) -> str:
        return repr(self._range)


class GuardedIterable:
    """Wraps the iterable of every ``{% for %}`` so that long loops hit the deadline."""

    __slots__ = ("_iterable",)

    def __init__(self, iterable: Iterable[Any]) -> None:
        self._iterable = iterable

    def __iter__(self) -> Iterator[Any]:
        for index, item in enumerate(self._iterable):
            if not index & 255:
                check_budget()
            yield item

    def __len__(self) -> int:
        return len(self._iterable)  # type: ignore[arg-type]  # TypeError when unsized, as Jinja expects


def bounded_join(values: Iterable[Any], separator: str = "") -> str:
    """Concatenate with a running size check (the ``~`` operator and the ``join`` filter)."""
    pieces: list[str] = []
    total = 0
    for index, value in enumerate(values):
        if not index & 255:
            check_budget()
        piece = _text(value)
        total += len(piece) + (len(separator) if index else 0)
        if total > MAX_VALUE_CHARS:
            raise LimitExceeded(f"joined text exceeds {MAX_VALUE_CHARS} characters")
        pieces.append(piece)
    return separator.join(pieces)


# --- Jinja builtins that can amplify size -------------------------------------------------------


def _join(value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    if attribute is not None:
        raise LimitExceeded("join(attribute=…) is not supported")
    if isinstance(value, str):
        value = list(value)
    return bounded_join(value, _text(d))


def _replace(value: Any, old: Any, new: Any, count: int | None = None) -> str:
    text, old_text, new_text = _text(value), _text(old), _text(new)
    occurrences = text.count(old_text) if old_text else len(text) + 1
    if count is not None and count >= 0:
        occurrences = min(occurrences, count)
    growth = occurrences * max(0, len(new_text) - len(old_text))
    if len(text) + growth > MAX_VALUE_CHARS:
        raise LimitExceeded(f"replace would exceed {MAX_VALUE_CHARS} characters")
    return text.replace(old_text, new_text, -1 if count is None else count)


def _format(value: Any, *args: Any, **kwargs: Any) -> str:
    fmt = _text(value)
    check_format_string(fmt)
    result: str = jinja_filters.do_format(fmt, *args, **kwargs)
    return result


# --- pex_* -----------------------------------------------------------------------------------


def pex_regex_search(pattern: Any, string: Any) -> tuple[str, ...] | None:
    """Search ``string``; the tuple of the match's groups (or of the whole match), else None."""
    compiled = compile_pattern(_text(pattern))
    match = compiled.search(_text(string), timeout=regex_timeout())
    if match is None:
        return None
    groups = match.groups()
    if not groups:
        return (match.group(0),)
    return tuple("" if group is None else group for group in groups)


def pex_regex_replace(value: Any, find: Any, replace: Any) -> str:
    """Replace every match of ``find`` in the value (``\\1`` groups in ``replace``)."""
    pattern = compile_pattern(_text(find))
    template = _text(replace)
    total = 0

    def expand(match: regex.Match[str]) -> str:
        nonlocal total
        check_budget()
        piece = match.expand(template)
        total += len(piece)
        if total > MAX_VALUE_CHARS:
            raise LimitExceeded(f"pex_regex_replace output exceeds {MAX_VALUE_CHARS} characters")
        return piece

    return pattern.sub(expand, _text(value), timeout=regex_timeout())


def pex_find_first_match(values: Any, pattern: Any) -> Any:
    """The first item of ``values`` in which ``pattern`` is found, else None."""
    compiled = compile_pattern(_text(pattern))
    if isinstance(values, str):
        values = [values]
    for index, item in enumerate(values):
        if not index & 255:
            check_budget()
        if compiled.search(_text(item), timeout=regex_timeout()) is not None:
            return item
    return None


def pex_clean_phone_number(value: Any) -> str:
    """Digits only, keeping one leading ``+`` (``+47 (22) 12-34-56`` → ``+4722123456``)."""
    text = _text(value).strip()
    digits = "".join(ch for ch in text if ch.isdigit() and ch.isascii())
    return f"+{digits}" if text.startswith("+") else digits


def pex_url_decode(value: Any) -> str:
    """Percent-decode (``%40`` → ``@``)."""
    return unquote(_text(value))


def pex_url_encode(value: Any) -> str:
    """Percent-encode every reserved character."""
    return quote(_text(value), safe="")


def pex_safelinks_decode(value: Any) -> str:
    """Replace Microsoft Safe Links wrappers by their targets."""
    return decode_safelinks(_text(value))


def pex_urldefense_decode(value: Any) -> str:
    """Replace Proofpoint URL Defense (v1, v2, v3) wrappers by their targets."""
    return decode_urldefense(_text(value))


def pex_base64(value: Any) -> str:
    """Base64 of the UTF-8 text."""
    return base64.b64encode(_text(value).encode("utf-8")).decode("ascii")


def pex_hash(value: Any) -> str:
    """SHA-256 hex digest of the UTF-8 text."""
    return hashlib.sha256(_text(value).encode("utf-8")).hexdigest()


def pex_md5(value: Any) -> str:
    """MD5 hex digest of the UTF-8 text (an identifier, not security)."""
    return hashlib.md5(_text(value).encode("utf-8"), usedforsecurity=False).hexdigest()


def pex_head(value: Any, count: int = 1) -> Any:
    """The first ``count`` characters (or items)."""
    if isinstance(value, (list, tuple)):
        return value[: max(0, int(count))]
    return _text(value)[: max(0, int(count))]


def pex_tail(value: Any, count: int = 1) -> Any:
    """The last ``count`` characters (or items)."""
    count = max(0, int(count))
    if isinstance(value, (list, tuple)):
        return value[len(value) - count :]
    text = _text(value)
    return text[len(text) - count :]


def pex_strlen(value: Any) -> int:
    """Length of the text."""
    return len(_text(value))


def pex_reverse(value: Any) -> Any:
    """The text (or list) reversed."""
    if isinstance(value, (list, tuple)):
        return list(reversed(value))
    return _text(value)[::-1]


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
        zone = ZoneInfo(_text(tz) or "UTC")
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
        budget.debug.append(" ".join(_text(arg) for arg in args)[:500])
    return ""


def _guarded(function: Callable[..., Any]) -> Callable[..., Any]:
    """Check the deadline and the arguments' size before, the result size after every call."""

    @wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        check_budget()
        for argument in (*args, *kwargs.values()):
            check_size(argument)
        result = function(*args, **kwargs)
        check_size(result)
        return result

    return guarded


def template_filters() -> dict[str, Callable[..., Any]]:
    """The complete filter table of the sandbox: nothing else is available."""
    table: dict[str, Callable[..., Any]] = {
        name: jinja_filters.FILTERS[name] for name in PEXIP_BUILTINS if name != "range"
    }
    table.update(
        {
            "format": _format,
            "join": _join,
            "replace": _replace,
            "range": BoundedRange,
            "pex_regex_replace": pex_regex_replace,
            "pex_find_first_match": pex_find_first_match,
            "pex_clean_phone_number": pex_clean_phone_number,
            "pex_url_decode": pex_url_decode,
            "pex_url_encode": pex_url_encode,
            "pex_safelinks_decode": pex_safelinks_decode,
            "pex_urldefense_decode": pex_urldefense_decode,
            "pex_base64": pex_base64,
            "pex_hash": pex_hash,
            "pex_md5": pex_md5,
            "pex_head": pex_head,
            "pex_tail": pex_tail,
            "pex_strlen": pex_strlen,
            "pex_reverse": pex_reverse,
            "pex_to_json": pex_to_json,
            "pex_now": pex_now,
        }
    )
    # Filters whose first argument is a context/environment keep Jinja's pass_* markers.
    return {name: _keep_pass_marker(function) for name, function in table.items()}


def _keep_pass_marker(function: Callable[..., Any]) -> Callable[..., Any]:
    guarded = _guarded(function)
    marker = getattr(function, "jinja_pass_arg", None)
    if marker is not None:
        guarded.jinja_pass_arg = marker  # type: ignore[attr-defined]
    return guarded


def template_functions() -> dict[str, Callable[..., Any]]:
    """The functions (globals) of the sandbox besides Jinja's harmless ones."""
    return {
        "range": BoundedRange,
        "pex_regex_search": _guarded(pex_regex_search),
        "pex_now": _guarded(pex_now),
        "pex_uuid4": pex_uuid4,
        "pex_debug_log": _guarded(pex_debug_log),
    }
