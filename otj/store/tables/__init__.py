"""SQLAlchemy 2 tables: configuration objects (DESIGN.md §3) and the service's state.

Rows never leave ``otj.store``: repositories turn them into the frozen values of ``otj.model``.
Objects reference each other by name (the keys of the configuration file). Secret columns hold a
JSON envelope written by ``otj.store.secrets`` (a reference or a Fernet token), never plain text.

One module per concern: ``configuration``, ``calendars`` (rooms, meetings, usage, push),
``delivery``, ``gateway`` (calls, identity, licences), ``console`` (tokens, alarms, admins,
audit). Importing this package loads them all, so ``Base.metadata`` (what Alembic compares and
``create_all`` creates) always holds every table.
"""

from __future__ import annotations

from otj.store.tables import calendars, configuration, console, delivery, gateway
from otj.store.tables.base import EMAIL, EVENT_ID, NAME, Base, Json

__all__ = [
    "EMAIL",
    "EVENT_ID",
    "NAME",
    "Base",
    "Json",
    "calendars",
    "configuration",
    "console",
    "delivery",
    "gateway",
]
