"""``otj route test ALIAS``: which call routing rule would carry a call, and where it would go.

Nothing is sent: the gateway's admission, routing and target choice run on the stored
configuration (or the call routing sections of ``--rules FILE``). Exit status 0 when the call
would be routed, 1 when it would be refused or find no rule, 2 for a usage error. The helpers
``routing_from_document`` and ``route_summary`` also serve ``otj rules test``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from otj.commands.runtime import add_database_arguments, echo

if TYPE_CHECKING:
    from guestjoin.config import GatewayConfig
    from otj.config.routetest import RouteReport
    from otj.config.yamlsrc import Located, Problem

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
ROUTING_SECTIONS = ("call_routing_rules", "sip_proxies", "gateway", "virtual_receptions")


def register(subparsers: Any) -> None:
    """Add ``otj route test``."""
    parser = subparsers.add_parser("route", help="call routing rules: test an alias")
    commands = parser.add_subparsers(dest="route_command", metavar="COMMAND", required=True)
    test = commands.add_parser(
        "test",
        help="which call routing rule matches ALIAS and where the call would go",
        description=(
            "Route ALIAS (an alias or a sip:/sips: URI) as an incoming SIP call through the "
            "call routing rules, without sending anything: the rule that matches (with every "
            "rule's verdict), the replaced alias and the target (DNS or a proxy). Exit status "
            "0 when the call would be routed, 1 when not."
        ),
    )
    test.add_argument("alias", metavar="ALIAS")
    test.add_argument("--from", dest="from_uri", default="", metavar="URI", help="caller URI")
    test.add_argument("--source", default="", metavar="IP", help="the caller's source address")
    test.add_argument(
        "--registered", action="store_true", help="the caller is registered with the gateway"
    )
    test.add_argument(
        "--rules",
        type=Path,
        metavar="CONFIG.yaml",
        help="use the call_routing_rules, sip_proxies and gateway of this file, not the store",
    )
    test.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_database_arguments(test)
    test.set_defaults(func=_test)


def routing_from_document(
    data: Any, *, source: str = "", lines: Located | None = None
) -> tuple[GatewayConfig | None, list[Problem]]:
    """The routing sections of a configuration document (None when it has no call routing rules).

    Only ``call_routing_rules``, ``sip_proxies``, ``gateway`` and ``virtual_receptions`` are read
    and validated, so a file that also holds meeting rules or profiles needs nothing else to be
    routed against.
    """
    from guestjoin.config import GatewayConfig
    from otj.config.schema import validate_document
    from otj.config.yamlsrc import Located
    from otj.store.values import Configuration

    if not isinstance(data, dict) or "call_routing_rules" not in data:
        return None, []
    subset = Located(
        data={key: data[key] for key in ROUTING_SECTIONS if key in data},
        lines=dict(lines.lines) if lines is not None else {},
        source=source,
    )
    checked = validate_document(subset, existing=Configuration(sections=frozenset()))
    errors = [problem for problem in checked.problems if not problem.warning]
    configuration = checked.configuration
    if errors or configuration is None:
        return None, errors
    return (
        GatewayConfig(
            rules=configuration.call_routing_rules,
            proxies=configuration.sip_proxies,
            settings=configuration.gateway or GatewayConfig().settings,
            receptions=configuration.virtual_receptions,
        ),
        [],
    )


def routing_from_store(args: argparse.Namespace) -> GatewayConfig:
    """Call routing rules, proxies, gateway settings and endpoints as stored (secrets sealed).

    ``args.data_dir`` None with a ``database`` URL opens just that database (no data directory
    is created: nothing here needs the secret key).
    """
    from guestjoin.config import GatewayConfig
    from otj.commands.runtime import open_store
    from otj.store import Database, SecretBox

    if args.database and args.data_dir is None:
        db = Database(args.database, box=SecretBox(), application_name="otj")
        db.upgrade()
    else:
        db = open_store(args)
    try:
        stored = db.config.snapshot(secrets="sealed")
    finally:
        db.close()
    return GatewayConfig(
        rules=stored.call_routing_rules,
        proxies=stored.sip_proxies,
        settings=stored.gateway or GatewayConfig().settings,
        endpoints=stored.endpoints,
        receptions=stored.virtual_receptions,
    )


def route_summary(report: RouteReport) -> str:
    """One line for ``otj rules test``: would the alias be routed, by which rule, to where."""
    if report.reception:
        return f"yes, answered by Virtual Reception {report.reception!r}"
    if report.rule is None or report.destination is None:
        return "no: no call routing rule matches it (the gateway answers 404)"
    return f"yes, by call routing rule {report.rule!r} → {report.destination} ({report.target})"


def _test(args: argparse.Namespace) -> int:
    from otj.config import load_file
    from otj.config.routetest import explain_route
    from otj.config.yamlsrc import YamlError

    if args.rules is not None:
        path: Path = args.rules
        if not path.is_file():
            echo(f"otj route: {path}: no such file", err=True)
            return EXIT_USAGE
        try:
            located, _ = load_file(path)
        except YamlError as exc:
            echo(f"otj route: {path}: {exc.problem}", err=True)
            return EXIT_USAGE
        config, problems = routing_from_document(located.data, source=str(path), lines=located)
        for problem in problems:
            echo(f"otj route: {path}: {problem}", err=True)
        if problems:
            return EXIT_USAGE
        if config is None:
            echo(f"otj route: {path}: no call_routing_rules section", err=True)
            return EXIT_USAGE
    else:
        config = routing_from_store(args)
    try:
        report = explain_route(
            args.alias,
            config,
            from_uri=args.from_uri,
            source=args.source,
            registered=args.registered,
        )
    except ValueError as exc:
        echo(f"otj route: {exc}", err=True)
        return EXIT_USAGE
    if args.json:
        payload = {**asdict(report), "routed": report.routed}
        echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        _print(report, where=str(args.rules) if args.rules else "the store")
    return EXIT_OK if report.routed else EXIT_FAILED


def _print(report: RouteReport, *, where: str) -> None:
    registered = "registered" if report.registered else "not registered"
    rows = [
        ("call", f"{report.uri} (incoming SIP, caller {registered}; rules: {where})"),
        ("source", f"{report.source or '-'}: {report.admission}"),
    ]
    if report.caller:
        rows.append(("caller", f"endpoint {report.caller!r}"))
    rows.append(
        (
            "rule",
            report.rule or ("none (a Virtual Reception answers)" if report.reception else "none"),
        )
    )
    if report.destination is not None:
        rows.append(("alias", f"{report.routed_alias} (dialled {report.alias})"))
        rows.append(("uri", report.destination))
    rows.append(("target", report.target))
    for label, value in rows:
        echo(f"  {label + ':':<8}{value}")
    if report.steps:
        echo("Trace")
    for number, step in enumerate(report.steps, 1):
        echo(f"  {number:>2}. [{step.outcome}] {step.rule} (priority {step.priority})")
        echo(f"      {step.detail}")
    for note in report.notes:
        echo(f"note: {note}")
    if report.admitted is False:
        echo("the gateway refuses the call before routing it (403)")


def main(argv: Sequence[str]) -> int:
    """Run ``otj route …`` directly (tests)."""
    parser = argparse.ArgumentParser(prog="otj")
    register(parser.add_subparsers())
    args = parser.parse_args(["route", *argv])
    result: int = args.func(args)
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))


def meeting_route(
    alias: str | None,
    protocol: str,
    *,
    document: Any,
    rules_path: Path,
    database: str | None = None,
) -> dict[str, Any] | None:
    """Whether a meeting's alias would be routed, for ``otj rules test`` (None: no alias).

    The call routing rules come from the rules file when it has ``call_routing_rules``, else
    from the store named by ``database``; without either the alias is not checked.
    """
    from otj.config.routetest import explain_route

    if not alias:
        return None
    if protocol.upper() != "SIP":
        return {"checked": False, "summary": f"not checked ({protocol} alias: not via the gateway)"}
    config, problems = routing_from_document(document, source=str(rules_path))
    if problems:
        return {
            "checked": False,
            "summary": f"not checked ({rules_path}: {problems[0]})",
        }
    if config is None and database:
        config = routing_from_store(argparse.Namespace(database=database, data_dir=None))
    if config is None:
        return {
            "checked": False,
            "summary": f"not checked ({rules_path} has no call_routing_rules; "
            "--database URL reads the stored ones)",
        }
    report = explain_route(alias, config)
    return {
        "checked": True,
        "routed": report.destination is not None,
        "rule": report.rule,
        "destination": report.destination,
        "target": report.target,
        "summary": route_summary(report),
    }
