"""Poly endpoints' delivery: they read their room from the emulated Exchange server
(``otj.api.ews``), so delivery is possible when they have credentials to log in with.

``poly_problem`` says why a ``POLY`` endpoint cannot read its meetings (no token from
``otj endpoints token NAME`` and no ``api_password`` of its own); ``PolyCheck`` raises the
``poly_delivery`` alarm for such an endpoint and clears it once credentials are there. It is run
by every delivery cycle, at most once per ``EVERY``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from otj.model import Endpoint

if TYPE_CHECKING:
    from otj.store import Database

ALARM_POLY = "poly_delivery"


def poly_problem(endpoint: Endpoint, *, has_token: bool) -> str:
    """Why this POLY endpoint cannot read its meetings, or ``""`` (pure)."""
    password = endpoint.api_password  # sealed: blank with a ref, or a value
    if (
        endpoint.type != "POLY"
        or has_token
        or (password is not None and (password or password.ref))
    ):
        return ""
    return (
        "no EWS credentials: run 'otj endpoints token "
        f"{endpoint.name}' (or set its api_password) and enter them in the Poly calendaring "
        "settings"
    )


def poly_problems(endpoints: Iterable[Endpoint], tokens: set[str]) -> dict[str, str]:
    """Every POLY endpoint's problem, by name (only those that have one)."""
    found = {e.name: poly_problem(e, has_token=e.name in tokens) for e in endpoints}
    return {name: problem for name, problem in found.items() if problem}


def read_problems(db: Database) -> dict[str, str]:
    """``poly_problems`` of the stored configuration and live tokens (database reads)."""
    tokens = {t.endpoint for t in db.tokens.list() if t.kind == "endpoint" and t.endpoint}
    return poly_problems(db.config.snapshot(secrets="sealed").endpoints, tokens)


class PolyCheck:
    """Raises and clears the ``poly_delivery`` alarms (at most once per ``EVERY``)."""

    EVERY = timedelta(minutes=1)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: datetime | None = None

    def run(self, db: Database, *, now: datetime) -> Mapping[str, str]:
        """Check now when due; returns the problems found (empty when not due)."""
        with self._lock:
            if self._last is not None and self._last <= now < self._last + self.EVERY:
                return {}
            self._last = now
        problems = read_problems(db)
        active = {a.subject: a for a in db.alarms.active(kind=ALARM_POLY)}
        for name, problem in problems.items():
            alarm = active.get(name)
            if alarm is None or alarm.message != problem:
                db.alarms.raise_alarm(ALARM_POLY, name, problem, now=now, severity="warning")
        for name in set(active) - set(problems):
            db.alarms.clear(ALARM_POLY, name, now=now)
        return problems
