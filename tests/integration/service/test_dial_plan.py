"""The dial plan on a real store: ``config apply`` warnings and ``--strict``, ``route_check``
stored and exported, ``otj route test`` and the route line of ``otj rules test``."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from otj.cli import main
from otj.config import apply_text
from otj.config.export import to_yaml
from otj.store import Database
from tests.shared import EXAMPLE_CONFIG

RULE = "Google Meet SIP Guest Join"
ROUTING = textwrap.dedent(
    """\
    call_routing_rules:
      - name: SIP Guest Join to the Pexip Service
        priority: 10
        match_string: '[a-z\\-]{10,12}@google\\.pexip\\.me'
      - name: Edge
        priority: 20
        match_string: '(\\d+)\\.(\\w+)@teams\\.example\\.com'
        replace_string: '\\1@teams.pexip.me'
        match_incoming_only_if_registered: true
        sip_proxy: Edge proxy
    sip_proxies:
      - {name: Edge proxy, address: 192.0.2.5, port: 5061, transport: tls}
    gateway:
      allowed_sources: [10.0.0.0/8]
    """
)


def company_config(tmp_path: Path, *, route_check: bool | None = None) -> Path:
    """The shared example with ``company_id`` on its Google Meet rule (the issue's example)."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data.pop("database", None)
    rule = data["meeting_processing_rules"][0]
    assert rule["name"] == RULE
    rule["company_id"] = "acme"
    if route_check is not None:
        rule["route_check"] = route_check
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def store_args(database_url: str, tmp_path: Path) -> list[str]:
    return ["--database", database_url, "--data-dir", str(tmp_path)]


def test_check_warns_when_no_routing_rule_routes_the_sample_alias_and_strict_fails(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = company_config(tmp_path)
    args = store_args(database_url, tmp_path)
    assert main(["config", "apply", "--check", str(path), *args]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "valid"
    [line] = [text for text in captured.err.splitlines() if RULE in text]
    assert line.startswith(f"{path}: warning: meeting_processing_rules[0] (line ")
    assert f"meeting processing rule '{RULE}' gives 'rtw-pqzs-kmn.acme@google.pexip.me'" in line
    assert "no call routing rule matches it" in line

    assert main(["config", "apply", "--check", "--strict", str(path), *args]) == 1
    captured = capsys.readouterr()
    assert captured.out.strip() == "invalid"
    assert f"{path}: error: meeting_processing_rules[0]" in captured.err
    assert main(["config", "apply", "--strict", str(path), *args]) == 1
    assert "nothing was written" in capsys.readouterr().err
    assert main(["config", "export", *args]) == 0
    assert "meeting_processing_rules: []" in capsys.readouterr().out

    # without --strict the file applies, with the warning
    assert main(["config", "apply", str(path), *args]) == 0
    captured = capsys.readouterr()
    assert "no call routing rule matches it" in captured.err
    assert "change(s) applied" in captured.out


def test_route_check_false_is_stored_exported_and_silences_the_warning(
    db: Database, tmp_path: Path
) -> None:
    text = company_config(tmp_path, route_check=False).read_text()
    result = apply_text(db, text, environ={}, strict=True)
    assert result.ok, [str(p) for p in result.problems]
    assert not [p for p in result.problems if "call routing rule" in p.message]
    [rule] = db.config.snapshot().meeting_processing_rules
    assert rule.route_check is False
    exported = to_yaml(db.config.snapshot(secrets="sealed"))
    assert "route_check: false" in exported
    again = apply_text(db, exported, environ={})
    assert again.report is not None
    assert again.report.changes == ()
    # turning the check back on is a change of that field, and the warning returns
    on = apply_text(db, text.replace("route_check: false", "route_check: true"), environ={})
    assert on.report is not None
    assert [c.describe() for c in on.report.changes] == [
        f"updated meeting_processing_rules '{RULE}': route_check"
    ]
    assert any("no call routing rule matches it" in str(p) for p in on.problems)


def test_stored_meeting_rules_are_checked_when_only_the_routing_rules_change(
    db: Database,
) -> None:
    assert apply_text(db, "meeting_processing_rules:\n  - {name: Zoom, meeting_type: zoom}\n").ok
    result = apply_text(db, ROUTING, environ={})
    assert result.ok
    [problem] = [p for p in result.problems if p.warning and "call routing" in p.message]
    assert problem.path == "meeting_processing_rules"
    assert "'Zoom' (stored, not in this file) gives '84129376051@zoomcrc.com'" in problem.message
    assert not apply_text(db, ROUTING, environ={}, strict=True).ok


def test_route_test_reads_the_store(
    db: Database, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert apply_text(db, ROUTING, environ={}).ok
    args = store_args(database_url, tmp_path)
    assert (
        main(["route", "test", "abc-defg-hij@google.pexip.me", "--source", "10.1.1.1", *args]) == 0
    )
    out = capsys.readouterr().out
    assert "rule:   SIP Guest Join to the Pexip Service" in out
    assert "target: DNS: RFC 3263 lookup of google.pexip.me" in out
    assert "[matched] SIP Guest Join to the Pexip Service (priority 10)" in out
    assert "[not_tried] Edge (priority 20)" in out

    assert main(["route", "test", "abc-defg-hij.acme@google.pexip.me", *args]) == 1
    out = capsys.readouterr().out
    assert "target: none: the gateway answers 404 No Matching Call Routing Rule" in out
    assert "no match for 'abc-defg-hij.acme@google.pexip.me'" in out

    command = ["route", "test", "123.acme@teams.example.com", "--registered", "--json", *args]
    assert main(command) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["routed"] is True
    assert (payload["rule"], payload["routed_alias"]) == ("Edge", "123@teams.pexip.me")
    assert payload["target"] == "SIP proxy 'Edge proxy' at 192.0.2.5:5061 over TLS"
    assert [s["outcome"] for s in payload["steps"]] == ["no_match", "matched"]
    # the same call unregistered, or from outside allowed_sources, is not carried
    assert main(["route", "test", "123.acme@teams.example.com", *args]) == 1
    assert "caller is not registered" in capsys.readouterr().out
    command = ["route", "test", "abc-defg-hij@google.pexip.me", "--source", "192.0.2.1", *args]
    assert main(command) == 1
    assert "refuses the call before routing it (403)" in capsys.readouterr().out
    assert main(["route", "test", "x@y", "--source", "not-an-ip", *args]) == 2
    assert "--source: not an IP address: 'not-an-ip'" in capsys.readouterr().err


def test_route_test_with_a_rules_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(
        "meeting_processing_rules:\n  - {name: Zoom, meeting_type: zoom, profile: Nowhere}\n"
        + ROUTING
    )
    assert main(["route", "test", "abc-defg-hij@google.pexip.me", "--rules", str(path)]) == 0
    assert f"rules: {path}" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("call_routing_rules:\n  - {name: R, match_string: 'ab(c'}\n")
    assert main(["route", "test", "abc@x", "--rules", str(bad)]) == 2
    assert "call_routing_rules[0].match_string (line 2): invalid regex" in capsys.readouterr().err
    none = tmp_path / "none.yaml"
    none.write_text("profiles: []\n")
    assert main(["route", "test", "abc@x", "--rules", str(none)]) == 2
    assert "no call_routing_rules section" in capsys.readouterr().err


def test_route_test_knows_the_virtual_receptions(
    db: Database, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reception = "virtual_receptions:\n  - {name: Lobby, aliases: ['join@vc\\.example\\.com']}\n"
    assert apply_text(db, ROUTING + reception, environ={}).ok
    args = store_args(database_url, tmp_path)
    assert main(["route", "test", "join@vc.example.com", *args]) == 0
    out = capsys.readouterr().out
    assert "rule:   none (a Virtual Reception answers)" in out
    assert "target: Virtual Reception 'Lobby': the gateway answers the call itself" in out
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING + reception)
    assert main(["route", "test", "join@vc.example.com", "--rules", str(path), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert (payload["reception"], payload["target_kind"]) == ("Lobby", "reception")
    assert main(["route", "test", "nobody@vc.example.com", "--rules", str(path)]) == 1


def test_rules_test_shows_under_the_alias_whether_it_routes(
    db: Database,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    now = ["--now", "2025-03-05T08:00:00+00:00"]
    assert main(["rules", "test", *now]) == 0  # bundled example rules and invitation
    lines = capsys.readouterr().out.splitlines()
    alias = next(n for n, line in enumerate(lines) if line.startswith("  alias:"))
    assert lines[alias + 1] == (
        "  route:     yes, by call routing rule 'SIP Guest Join to the Pexip Service' → "
        "sip:qxr-bnwt-kzp@google.pexip.me (DNS: RFC 3263 lookup of google.pexip.me)"
    )
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "meeting_processing_rules:\n"
        "  - {name: Meet, meeting_type: googlemeetsipguestjoin, company_id: acme}\n"
    )
    assert main(["rules", "test", "--rules", str(rules), *now]) == 0
    assert "  route:     not checked (" in capsys.readouterr().out
    assert apply_text(db, ROUTING, environ={}).ok
    command = ["rules", "test", "--rules", str(rules), "--database", database_url, "--json", *now]
    assert main(command) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["meeting"]["alias"] == "qxr-bnwt-kzp.acme@google.pexip.me"
    assert payload["route"]["routed"] is False
    assert payload["route"]["summary"] == (
        "no: no call routing rule matches it (the gateway answers 404)"
    )
    assert not (tmp_path / "var").exists()  # reading the store created no data directory
