"""The adapter edge: what every source's ``sync`` does around its own work.

Nothing but a ``CalendarError`` leaves an adapter (DESIGN.md §5): the library's exceptions are
mapped by the adapter's own ``map_error``; the HTTP requests the call made are counted; the
events' text and every error message leave clean (:mod:`calendars.text`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from calendars.base import CalendarError, SyncResult
from calendars.text import clean_result, clean_text


def guarded_sync(
    room: str,
    work: Callable[[], SyncResult],
    *,
    map_error: Callable[[str, Exception], CalendarError],
    requests: Callable[[], int] | None = None,
) -> SyncResult:
    """Run ``work``; map any non-calendar exception; make the result's text clean and set its
    ``requests`` to the count it made (without a counter, ``work`` counted them itself).

    Every error names the room (messages raised deep in an adapter get it as a prefix).
    """
    before = requests() if requests is not None else 0
    try:
        result = work()
    except CalendarError as exc:
        _name_room(room, exc)
        raise
    except Exception as exc:
        raise _name_room(room, map_error(room, exc)) from exc
    if requests is not None:
        result = replace(result, requests=requests() - before)
    return clean_result(result)


def _name_room(room: str, exc: CalendarError) -> CalendarError:
    """``exc`` with a clean message that names the room (a server's words may be quoted in it)."""
    if exc.args and isinstance(exc.args[0], str):
        message = clean_text(exc.args[0])
        exc.args = (message if room in message else f"{room}: {message}", *exc.args[1:])
    return exc
