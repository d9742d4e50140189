"""One configuration object at a time, with the validation and messages of ``otj config apply``.

An object is written as a one-object document (``{section: [object]}``) through
``otj.config.validate`` against the stored configuration, then ``audited_apply``; a deletion is
the section without the object, pruned, so references to it are refused exactly as by
``otj config apply --prune``. Objects are shown as ``otj config export`` writes them (secrets as
references or ``stored:inline``). Each object's ETag is a digest of that form: a write whose
``If-Match`` names another version is refused (``PreconditionFailed``, HTTP 412). Writes in this
process are serialised, so the check and the write see the same version.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from otj.config import validate
from otj.config.audit import audited_apply
from otj.config.export import to_document
from otj.config.yamlsrc import Located, Problem

if TYPE_CHECKING:
    from otj.store import Database
    from otj.store.audit import Source
    from otj.store.values import ChangeReport

SECTIONS = (
    "profiles",
    "integrations",
    "endpoint_groups",
    "endpoints",
    "meeting_processing_rules",
    "call_routing_rules",
    "sip_proxies",
    "sip_credentials",
    "virtual_receptions",
)
_write_lock = threading.Lock()


class EditError(Exception):
    """A refused edit; ``status`` is its HTTP status."""

    status = 400

    def __init__(self, message: str, problems: tuple[Problem, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class NotFound(EditError):
    """No object of that name in that section."""

    status = 404


class Conflict(EditError):
    """Creating an object whose name is taken."""

    status = 409


class PreconditionFailed(EditError):
    """``If-Match`` names another version: someone else changed the object."""

    status = 412


class PreconditionRequired(EditError):
    """Changing or deleting an existing object without ``If-Match`` (RFC 6585 §3)."""

    status = 428


class Invalid(EditError):
    """The object fails validation (``problems`` as ``otj config apply`` reports them)."""

    status = 422


@dataclass(frozen=True, kw_only=True, slots=True)
class Saved:
    """The object as stored now, its ETag, and what changed."""

    value: dict[str, Any] | None
    etag: str
    report: ChangeReport
    warnings: tuple[Problem, ...]


def etag_of(value: Mapping[str, Any]) -> str:
    """A strong ETag (RFC 9110 §8.8.3) of an object's exported form."""
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return '"' + hashlib.sha256(canonical.encode()).hexdigest()[:32] + '"'


def section_objects(db: Database, section: str) -> list[dict[str, Any]]:
    """A section's objects as exported."""
    _check_section(section)
    items = to_document(db.config.snapshot(secrets="sealed"))[section]
    return [dict(item) for item in items]


def find(db: Database, section: str, name: str) -> dict[str, Any]:
    """One object as exported (``NotFound`` when there is none)."""
    found = next((o for o in section_objects(db, section) if o.get("name") == name), None)
    if found is None:
        raise NotFound(f"no {section} object named {name!r}")
    return found


def _check_section(section: str) -> None:
    if section not in SECTIONS:
        raise NotFound(f"no configuration section {section!r}; sections: {', '.join(SECTIONS)}")


def _matches(if_match: str | None, etag: str) -> bool:
    wanted = [tag.strip() for tag in (if_match or "").split(",")]
    return "*" in wanted or etag in wanted


def _apply(
    db: Database,
    document: dict[str, Any],
    *,
    prune: bool,
    actor: str,
    source: Source,
    now: datetime,
    where: str,
) -> tuple[ChangeReport, tuple[Problem, ...]]:
    existing = db.config.snapshot(secrets="sealed")
    checked = validate(
        Located(data=document, source=where), (), existing=existing, prune=prune, now=now
    )
    if checked.configuration is None:
        raise Invalid(f"{where}: {len(checked.errors)} problem(s)", checked.problems)
    report = audited_apply(
        db, checked.configuration, prune=prune, actor=actor, source=source, now=now
    )
    return report, checked.warnings


def save(
    db: Database,
    section: str,
    name: str,
    value: Mapping[str, Any],
    *,
    if_match: str | None,
    create: bool,
    actor: str,
    source: Source,
    now: datetime,
) -> Saved:
    """Create (``create``: refused when the name is taken) or replace one object."""
    _check_section(section)
    given = value.get("name", name)
    if given != name:
        raise Invalid(
            f"the object's name {given!r} differs from {name!r} (renaming is not supported)"
        )
    if not isinstance(name, str) or not name.strip():
        raise Invalid("an object needs a non-blank name")
    if name != name.strip() or not name.isprintable() or "/" in name:
        raise Invalid(
            f"the name {name!r} has leading or trailing spaces, a control character or a '/'"
        )
    with _write_lock:
        current = next((o for o in section_objects(db, section) if o.get("name") == name), None)
        if current is not None:
            if create:
                raise Conflict(f"{section} {name!r} exists already")
            if if_match is None:
                raise PreconditionRequired(
                    f"{section} {name!r} exists: send If-Match with its ETag to change it"
                )
            if not _matches(if_match, etag_of(current)):
                raise PreconditionFailed(
                    f"{section} {name!r} was changed by someone else: reload it and edit again"
                )
        elif if_match is not None and if_match.strip() != "*" and not create:
            raise PreconditionFailed(f"{section} {name!r} does not exist any more")
        document = {section: [{**value, "name": name}]}
        report, warnings = _apply(
            db, document, prune=False, actor=actor, source=source, now=now, where=section
        )
        stored = find(db, section, name)
        return Saved(value=stored, etag=etag_of(stored), report=report, warnings=warnings)


def delete(
    db: Database,
    section: str,
    name: str,
    *,
    if_match: str | None,
    actor: str,
    source: Source,
    now: datetime,
) -> Saved:
    """Delete one object (refused while other objects refer to it)."""
    _check_section(section)
    with _write_lock:
        objects = section_objects(db, section)
        current = next((o for o in objects if o.get("name") == name), None)
        if current is None:
            raise NotFound(f"no {section} object named {name!r}")
        if if_match is None:
            raise PreconditionRequired(f"send If-Match with the ETag of {section} {name!r}")
        if not _matches(if_match, etag_of(current)):
            raise PreconditionFailed(
                f"{section} {name!r} was changed by someone else: reload it and try again"
            )
        others = [o for o in objects if o.get("name") != name]
        report, warnings = _apply(
            db, {section: others}, prune=True, actor=actor, source=source, now=now, where=section
        )
        return Saved(value=None, etag="", report=report, warnings=warnings)


def reorder(
    db: Database,
    section: str,
    names: list[str],
    *,
    actor: str,
    source: Source,
    now: datetime,
) -> ChangeReport:
    """Give the named rules rising priorities in this order (10, 20, … while 200 allows; the
    others keep theirs)."""
    if section not in ("meeting_processing_rules", "call_routing_rules"):
        raise Invalid(f"{section} has no priorities")
    with _write_lock:
        objects = {o["name"]: o for o in section_objects(db, section)}
        unknown = [n for n in names if n not in objects]
        if unknown:
            raise NotFound(f"no {section} object named {unknown[0]!r}")
        changed = [{**objects[n], "priority": min(200, 10 * (i + 1))} for i, n in enumerate(names)]
        report, _ = _apply(
            db, {section: changed}, prune=False, actor=actor, source=source, now=now, where=section
        )
        return report


def gateway(db: Database) -> dict[str, Any]:
    """The gateway settings as exported (``{}`` before any were stored)."""
    return dict(to_document(db.config.snapshot(secrets="sealed")).get("gateway") or {})


def save_gateway(
    db: Database,
    value: Mapping[str, Any],
    *,
    if_match: str | None,
    actor: str,
    source: Source,
    now: datetime,
) -> Saved:
    """Replace the gateway settings (``If-Match`` with the current ETag is required)."""
    with _write_lock:
        current = gateway(db)
        if if_match is None:
            raise PreconditionRequired("send If-Match with the ETag of the gateway settings")
        if not _matches(if_match, etag_of(current)):
            raise PreconditionFailed(
                "the gateway settings were changed by someone else: reload them and edit again"
            )
        report, warnings = _apply(
            db, {"gateway": dict(value)}, prune=False, actor=actor, source=source, now=now,
            where="gateway",
        )  # fmt: skip
        stored = gateway(db)
        return Saved(value=stored, etag=etag_of(stored), report=report, warnings=warnings)
