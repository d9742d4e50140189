"""The stored configuration (secrets sealed) and its room assignments, read again only when
the configuration revision changes: the console's pages and preview read them on every request,
and a 2,000-room configuration takes longer to read than the pages may."""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

from otj.store.config_repo import assignments_of

if TYPE_CHECKING:
    from otj.store import Database
    from otj.store.values import Configuration, RoomAssignment


class ConfigCache:
    """One database's configuration, by revision (a revision check is one small query)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._revision = -1
        self._config: Configuration | None = None
        self._assignments: list[RoomAssignment] = []

    def _fresh(self) -> tuple[Configuration, list[RoomAssignment]]:
        revision = self._db.config.revision()
        with self._lock:
            if self._config is None or revision != self._revision:
                # read under the lock: one reader refreshes, the others wait for its result
                config = self._db.config.snapshot(secrets="sealed")
                self._config, self._assignments = config, assignments_of(config)
                self._revision = revision
            return self._config, self._assignments

    def snapshot(self) -> Configuration:
        """The configuration as stored (secrets sealed)."""
        return self._fresh()[0]

    def assignments(self) -> list[RoomAssignment]:
        """Every room's endpoints, profile, integration and rules."""
        return self._fresh()[1]


_caches: weakref.WeakKeyDictionary[Database, ConfigCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def config_cache(db: Database) -> ConfigCache:
    """The cache of ``db`` (one per database handle)."""
    with _caches_lock:
        found = _caches.get(db)
        if found is None:
            found = _caches[db] = ConfigCache(db)
        return found
