"""Count the SQL statements a database handle sends (to prove a path reads nothing)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from otj.store import Database


class Statements:
    """The SQL statements ``db`` sends from now on."""

    def __init__(self, db: Database) -> None:
        self.seen: list[str] = []
        event.listen(db.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.seen.append(statement)

    @property
    def count(self) -> int:
        """How many statements."""
        return len(self.seen)

    @property
    def token_lookups(self) -> int:
        """How many of them read the tokens table."""
        return sum("FROM api_tokens" in s for s in self.seen)
