"""``otj rules check | validate | test``: golden cases, rule validation, one invitation's trace."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, TextIO

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(subparsers: Any) -> None:
    """Add ``otj rules`` with its three sub-commands."""
    parser = subparsers.add_parser("rules", help="meeting processing rules: check, validate, test")
    commands = parser.add_subparsers(dest="rules_command", metavar="COMMAND", required=True)

    check = commands.add_parser("check", help="run golden-case files (shared/testdata format)")
    check.add_argument("cases", nargs="+", type=Path, metavar="CASES.yaml")
    check.add_argument("-v", "--verbose", action="store_true", help="print the trace of failures")
    check.set_defaults(func=_check)

    validate = commands.add_parser("validate", help="report every invalid rule of a file")
    validate.add_argument("file", type=Path, metavar="FILE.yaml")
    validate.set_defaults(func=_validate)

    test = commands.add_parser("test", help="process one invitation and print Meeting and trace")
    test.add_argument(
        "--rules", type=Path, metavar="RULES.yaml",
        help="config file, case file or list of rules (default: the bundled example rules)",
    )  # fmt: skip
    test.add_argument("--profile", help="profile (config file) or ruleset (case file) to use")
    source = test.add_mutually_exclusive_group()
    source.add_argument("--event", type=Path, metavar="EVENT.json")
    source.add_argument("--ics", type=Path, metavar="INVITE.ics")
    source.add_argument("--eml", type=Path, metavar="INVITE.eml")
    examples = bundled_invitations()
    source.add_argument(
        "--example",
        metavar="NAME",
        choices=examples,
        help=f"a bundled example invitation: {', '.join(examples)} (the default is the first)",
    )
    test.add_argument(
        "invitation",
        nargs="?",
        type=Path,
        metavar="INVITATION",
        help="an invitation file, by its suffix: .eml, .ics or .json (as --eml, --ics, --event)",
    )
    test.add_argument("--room", default="room@example.com", help="room resource e-mail")
    test.add_argument("--now", help="processing time, ISO 8601 (default: the current time)")
    test.add_argument("--json", action="store_true", help="print JSON instead of text")
    test.add_argument(
        "--database",
        metavar="URL",
        help="check the alias against this store's call routing rules (when RULES.yaml has none)",
    )
    test.set_defaults(func=_test)


def _write(stream: TextIO, line: str = "") -> None:
    stream.write(line + "\n")


def _load_yaml(path: Path) -> Any:
    from otj.config.yamlsrc import YamlError, safe_load

    try:
        return safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SystemExit(_fail(f"{path}: {exc.strerror or exc}")) from exc
    except YamlError as exc:
        where = f" (line {exc.problem.line})" if exc.problem.line else ""
        raise SystemExit(_fail(f"{path}: invalid YAML{where}: {exc.problem.message}")) from exc


def _fail(message: str) -> int:
    _write(sys.stderr, f"otj rules: {message}")
    return EXIT_USAGE


# --- check ---------------------------------------------------------------------------------------


def _check(args: argparse.Namespace) -> int:
    from otj.rules.cases import run_case_file

    passed = failed = 0
    for path in args.cases:
        document = _load_yaml(path)
        try:
            results = run_case_file(document)
        except ValueError as exc:
            return _fail(f"{path}: {exc}")
        for result in results:
            if result.passed:
                passed += 1
                continue
            failed += 1
            prefix = f"{path}: " if len(args.cases) > 1 else ""
            _write(sys.stdout, f"FAIL {prefix}{result.id}: {result.message}")
            if args.verbose and result.meeting is not None:
                for step in result.meeting.trace:
                    _write(sys.stdout, f"    [{step.outcome}] {step.rule}: {step.detail}")
    _write(sys.stdout, f"{passed} passed, {failed} failed")
    return EXIT_FAILED if failed else EXIT_OK


# --- validate ------------------------------------------------------------------------------------


def _load_located(path: Path) -> Any:
    """The document with the line of every value (``otj.config.yamlsrc``), or exit with one line."""
    from otj.config.yamlsrc import YamlError, load_yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SystemExit(_fail(f"{path}: {exc.strerror or exc}")) from exc
    except UnicodeDecodeError as exc:
        raise SystemExit(_fail(f"{path}: not UTF-8 text ({exc.reason})")) from exc
    try:
        return load_yaml(text, source=str(path))[0]
    except YamlError as exc:
        raise SystemExit(_fail(f"{path}: {exc.problem}")) from exc


def _validate(args: argparse.Namespace) -> int:
    """Every problem of every rule and profile, each with its YAML path and line."""
    from otj.config.yamlsrc import Problem, format_path
    from otj.model import MeetingRule
    from otj.rules import validate_profile, validate_rules
    from otj.rules.loading import profile_from_mapping, rule_from_mapping

    located = _load_located(args.file)
    document = located.data
    groups: list[tuple[tuple[str, ...], list[Any]]] = []
    profiles: list[tuple[tuple[str | int, ...], str, Any]] = []
    if isinstance(document, list):
        groups.append(((), document))
    elif isinstance(document, dict):
        if "meeting_processing_rules" in document:
            items = document.get("meeting_processing_rules") or []
            groups.append((("meeting_processing_rules",), items))
        if isinstance(document.get("rulesets"), dict):
            groups.extend(
                (("rulesets", name), items or []) for name, items in document["rulesets"].items()
            )
        if "rules" in document:
            groups.append((("rules",), document.get("rules") or []))
        raw_profiles = document.get("profiles")
        if isinstance(raw_profiles, list):
            profiles = [
                (("profiles", i), str(p.get("name", "")), p)
                for i, p in enumerate(raw_profiles)
                if isinstance(p, dict)
            ]
        elif isinstance(raw_profiles, dict):
            profiles = [(("profiles", name), str(name), p) for name, p in raw_profiles.items()]
    if not groups and not profiles:
        return _fail(f"{args.file}: no meeting_processing_rules, rulesets, rules or profiles")
    problems: list[Problem] = []
    count = 0
    for where, items in groups:
        if not isinstance(items, list):
            problems.append(located.problem(where, "expected a list of rules"))
            continue
        rules: list[MeetingRule] = []
        index_of: dict[str, int] = {}
        for index, item in enumerate(items):
            count += 1
            try:
                rule = rule_from_mapping(item, format_path((*where, index)))
            except ValueError as exc:
                problems.append(_loading_problem(located, (*where, index), exc))
                continue
            rules.append(rule)
            index_of.setdefault(rule.name, index)
        for problem in validate_rules(rules):
            at = (*where, index_of[problem.rule]) if problem.rule in index_of else where
            field = (problem.field,) if problem.field else ()
            message = f"rule {problem.rule!r}: {problem.message}"
            problems.append(located.problem((*at, *field), message))
    for at, name, settings in profiles:
        values = {k: v for k, v in (settings or {}).items() if k != "name"}
        try:
            profile = profile_from_mapping(values, name, format_path(at))
        except ValueError as exc:
            problems.append(_loading_problem(located, at, exc))
            continue
        for problem in validate_profile(profile):
            field = (problem.field,) if problem.field else ()
            message = f"profile {name!r}: {problem.message}"
            problems.append(located.problem((*at, *field), message))
    for found in problems:
        _write(sys.stdout, f"{args.file}: {found}")
    verdict = "valid" if not problems else f"{len(problems)} problem(s)"
    _write(sys.stdout, f"{count} rule(s), {len(profiles)} profile(s): {verdict}")
    return EXIT_FAILED if problems else EXIT_OK


def _loading_problem(located: Any, at: tuple[str | int, ...], exc: ValueError) -> Any:
    """A loading error (``"<where>[.field]: message"``) at its path and line."""
    from otj.config.yamlsrc import format_path

    text, where = str(exc), format_path(at)
    if text.startswith(where + "."):
        field, _, message = text[len(where) + 1 :].partition(": ")
        return located.problem((*at, field), message)
    if text.startswith(where + ": "):
        return located.problem(at, text[len(where) + 2 :])
    return located.problem(at, text)


# --- test ----------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


def _test(args: argparse.Namespace) -> int:
    from otj.commands.route import meeting_route
    from otj.invitation import InvitationError, read_eml, read_event_json, read_ics
    from otj.rules import RuleSet, validate_profile, validate_rules
    from otj.rules.loading import profile_from_document, rules_from_document

    try:
        now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    except ValueError:
        return _fail(f"--now: not an ISO 8601 date-time: {args.now!r}")
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if args.invitation is not None:
        if args.eml or args.ics or args.event or args.example:
            return _fail("give the invitation once: as INVITATION or with --eml/--ics/--event")
        suffix = args.invitation.suffix.lower()
        option = {".eml": "eml", ".ics": "ics", ".json": "event"}.get(suffix)
        if option is None:
            return _fail(f"{args.invitation}: expected a .eml, .ics or .json file")
        setattr(args, option, args.invitation)
    from otj.commands.runtime import UsageError, check_readable

    for given in (args.eml, args.ics, args.event, args.rules):
        if given is not None:
            try:
                check_readable(given)
            except UsageError as exc:
                return _fail(str(exc))
    rules_path = args.rules or _example_path("rules.yaml")
    document = _load_yaml(rules_path)
    try:
        rules = rules_from_document(document, profile=args.profile)
        profile = profile_from_document(document, args.profile)
        if args.eml:
            event = read_eml(args.eml, room=args.room, now=now)
        elif args.ics:
            event = read_ics(args.ics, room=args.room)
        elif args.event:
            event = read_event_json(args.event, room=args.room)
        else:
            example = _example_path(args.example or bundled_invitations()[0])
            if example.suffix == ".ics":
                event = read_ics(example, room=args.room)
            elif example.suffix == ".json":
                event = read_event_json(example, room=args.room)
            else:
                event = read_eml(example, room=args.room, now=now)
    except (ValueError, InvitationError) as exc:
        return _fail(str(exc))
    problems = [*validate_rules(rules), *validate_profile(profile)]
    meeting = RuleSet.compile(rules).process(event, profile, now=now)
    route = meeting_route(
        meeting.alias,
        meeting.protocol.value,
        document=document,
        rules_path=rules_path,
        database=args.database,
    )
    if args.json:
        payload = {
            "meeting": _jsonable(asdict(meeting)),
            "route": route,
            "problems": [asdict(problem) for problem in problems],
        }
        _write(sys.stdout, json.dumps(payload, indent=2, ensure_ascii=False))
        return EXIT_OK
    _print_meeting(meeting, rules_path, profile.name, problems, route=route)
    return EXIT_OK


def _print_meeting(
    meeting: Any,
    rules_path: Path,
    profile: str,
    problems: Sequence[Any],
    *,
    route: dict[str, Any] | None = None,
) -> None:
    out = sys.stdout
    join = (
        f"{meeting.alias} ({meeting.protocol.value}, {meeting.platform.value})"
        if meeting.alias
        else "none (no Join button)"
    )
    listed = "yes" if meeting.listed else f"no ({meeting.unlisted_reason})"
    organizer = meeting.organizer_name or ""
    if meeting.organizer_email:
        organizer = f"{organizer} <{meeting.organizer_email}>".strip()
    rows = [
        ("subject", meeting.subject),
        ("organizer", organizer),
        ("room", meeting.room),
        ("start", meeting.start.isoformat()),
        ("end", meeting.end.isoformat()),
        ("join", f"{meeting.join_from.isoformat()} … {meeting.join_until.isoformat()}"),
        ("alias", join),
        *([("route", route["summary"])] if route is not None else []),
        ("rule", meeting.rule or "none"),
        ("private", "yes" if meeting.private else "no"),
        ("listed", listed),
    ]
    _write(out, f"Meeting (rules: {rules_path}, profile: {profile})")
    for label, value in rows:
        _write(out, f"  {label + ':':<11}{value}")
    _write(out, "Trace")
    for number, step in enumerate(meeting.trace, 1):
        _write(out, f"  {number:>2}. [{step.outcome}] {step.rule} ({step.meeting_type})")
        _write(out, f"      {step.detail}")
    if problems:
        _write(out, "Problems")
        for problem in problems:
            _write(out, f"  {problem}")


INVITATION_SUFFIXES = (".eml", ".ics", ".json")


def bundled_invitations() -> list[str]:
    """The example invitations shipped in ``otj.examples`` (not its rules file)."""
    from importlib.resources import files

    names = [
        p.name
        for p in files("otj.examples").iterdir()
        if p.is_file() and p.name.endswith(INVITATION_SUFFIXES)
    ]
    return sorted(names, key=lambda n: (not n.startswith("meet-"), n))


def _example_path(name: str) -> Path:
    from importlib.resources import files

    base = files("otj.examples")
    candidate = base.joinpath(name)
    if not candidate.is_file():
        available = sorted(
            p.name for p in base.iterdir() if p.is_file() and p.name != "__init__.py"
        )
        raise SystemExit(_fail(f"no bundled example {name!r} (have: {', '.join(available)})"))
    return Path(str(candidate))


def main(argv: Sequence[str]) -> int:
    """Run ``otj rules …`` directly (tests)."""
    parser = argparse.ArgumentParser(prog="otj")
    register(parser.add_subparsers())
    args = parser.parse_args(["rules", *argv])
    result: int = args.func(args)
    return result
