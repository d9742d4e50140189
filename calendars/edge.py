"""The adapter edge: what every source's ``sync`` does around its own work.

Nothing but a ``CalendarError`` leaves an adapter (DESIGN.md §5): the library's exceptions are
mapped by the adapter's own ``map_error``; the HTTP requests the call made are counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from calendars.base import CalendarError, SyncResult


def guarded_sync(
    room: str,
    work: Callable[[], SyncResult],
    *,
    map_error: Callable[[str, Exception], CalendarError],
    requests: Callable[[], int],
) -> SyncResult:
    """Run ``work``; map any non-calendar exception; set ``requests`` to the count it made.

    Every error names the room (messages raised deep in an adapter get it as a prefix).
    """
    before = requests()
    try:
        result = work()
    except CalendarError as exc:
        if exc.args and isinstance(exc.args[0], str) and room not in exc.args[0]:
            exc.args = (f"{room}: {exc.args[0]}", *exc.args[1:])  # every message names its room
        raise
    except Exception as exc:
        raise map_error(room, exc) from exc
    return replace(result, requests=requests() - before)
