"""Template filters and functions of DESIGN.md §4.3: Pexip's 18 Jinja builtins and pex_*.

Every filter is bounded: its arguments and result may not exceed ``MAX_VALUE_CHARS`` (counted
as text), loops and joins check the render's deadline, and format strings with huge widths are
refused. The ``pex_*`` functions themselves are in ``otj.rules.pex``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from typing import Any

from jinja2 import filters as jinja_filters

from otj.rules.limits import (
    MAX_FORMAT_WIDTH,
    MAX_RANGE,
    MAX_VALUE_CHARS,
    LimitExceeded,
    check_budget,
    check_size,
)
from otj.rules.pex import (
    as_text,
    pex_base64,
    pex_clean_phone_number,
    pex_debug_log,
    pex_find_first_match,
    pex_hash,
    pex_head,
    pex_md5,
    pex_now,
    pex_regex_replace,
    pex_regex_search,
    pex_reverse,
    pex_safelinks_decode,
    pex_strlen,
    pex_tail,
    pex_to_json,
    pex_url_decode,
    pex_url_encode,
    pex_urldefense_decode,
    pex_uuid4,
)

PEXIP_BUILTINS = (
    "abs", "capitalize", "default", "first", "float", "format", "int", "join", "last",
    "length", "lower", "range", "replace", "round", "striptags", "trim", "truncate", "upper",
)  # fmt: skip


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
        piece = as_text(value)
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
    return bounded_join(value, as_text(d))


def _replace(value: Any, old: Any, new: Any, count: int | None = None) -> str:
    text, old_text, new_text = as_text(value), as_text(old), as_text(new)
    occurrences = text.count(old_text) if old_text else len(text) + 1
    if count is not None and count >= 0:
        occurrences = min(occurrences, count)
    growth = occurrences * max(0, len(new_text) - len(old_text))
    if len(text) + growth > MAX_VALUE_CHARS:
        raise LimitExceeded(f"replace would exceed {MAX_VALUE_CHARS} characters")
    return text.replace(old_text, new_text, -1 if count is None else count)


def _format(value: Any, *args: Any, **kwargs: Any) -> str:
    fmt = as_text(value)
    check_format_string(fmt)
    result: str = jinja_filters.do_format(fmt, *args, **kwargs)
    return result


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
