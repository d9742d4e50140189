"""``otj config apply`` / ``export``: whole-file validation with lines, idempotence, prune."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from otj.cli import main
from otj.config import apply_text
from otj.config.export import to_yaml
from otj.store import Database
from tests.shared import EXAMPLE_CONFIG

EXAMPLE = EXAMPLE_CONFIG


def errors(result) -> list[str]:
    return [str(p) for p in result.problems if not p.warning]


def test_example_applies_unchanged_then_reports_no_change(db: Database) -> None:
    text = EXAMPLE.read_text()
    first = apply_text(db, text, environ={})
    assert first.ok, errors(first)
    assert first.report is not None
    assert len(first.report.changes) >= 10
    # unresolvable references are stored as references, with a warning (not an error)
    assert any("OTJ_GRAPH_SECRET" in str(p) and p.warning and p.line == 35 for p in first.problems)
    second = apply_text(db, text, environ={})
    assert second.report is not None
    assert second.report.changes == ()
    integration = db.config.integration("M365")
    assert integration is not None
    assert integration.secrets["client_secret"].ref == "env:OTJ_GRAPH_SECRET"
    assert db.rooms.names() == ["fjord@resource.example.com"]


def test_export_round_trips_without_leaking_inline_secrets(db: Database) -> None:
    text = EXAMPLE.read_text().replace("env:OTJ_CISCO_PASSWORD", "inline-cisco-pw")
    assert apply_text(db, text, environ={}).ok
    exported = to_yaml(db.config.snapshot(secrets="sealed"))
    assert "inline-cisco-pw" not in exported
    assert "api_password: stored:inline" in exported
    assert "client_secret: env:OTJ_GRAPH_SECRET" in exported
    again = apply_text(db, exported, environ={})
    assert again.report is not None
    assert again.report.changes == (), again.report.changes
    endpoint = db.config.endpoint("Oslo Fjord")
    assert endpoint is not None
    assert endpoint.api_password is not None
    assert endpoint.api_password.reveal() == "inline-cisco-pw"


def test_routing_rules_and_gateway_alone_are_a_valid_file(db: Database) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    text = yaml.safe_dump(
        {"call_routing_rules": data["call_routing_rules"], "gateway": data["gateway"]}
    )
    result = apply_text(db, text, environ={})
    assert result.ok, errors(result)
    assert [r.name for r in db.config.call_routing_rules()] == [
        "SIP Guest Join to the Pexip Service"
    ]
    assert db.config.gateway_settings().call_licenses == 100


BROKEN = textwrap.dedent(
    """\
    profiles:
      - name: P
        poll_interval: 5
        replace_subject_type: SOMETIMES
        integration: Nowhere
    endpoint_groups:
      - name: G
        profile: P
    endpoints:
      - name: E
        group: G
        room_resource_email: not-an-email
        api_port: "443"
        colour: blue
      - name: E
        group: G
        room_resource_email: e2@example.com
        type: PULL
    call_routing_rules:
      - name: R
        match_string: "([a-z]"
        sip_proxy: Edge
    """
)


def test_every_error_is_reported_with_path_and_line_and_nothing_is_written(db: Database) -> None:
    result = apply_text(db, BROKEN, environ={})
    assert not result.ok
    found = {(p.path, p.line) for p in result.problems if not p.warning}
    assert ("profiles[0].poll_interval", 3) in found
    assert ("profiles[0].replace_subject_type", 4) in found
    assert ("profiles[0].integration", 5) in found or ("endpoints[0].api_port", 13) in found
    assert ("endpoints[0].api_port", 13) in found
    assert ("endpoints[0].colour", 14) in found
    assert ("endpoints[1].name", 15) in found
    assert ("call_routing_rules[0].match_string", 21) in found
    messages = "\n".join(errors(result))
    assert "must be between 10 and 86400" in messages
    assert "must be an integer" in messages
    assert "unknown key" in messages
    assert "duplicate name" in messages
    assert db.config.is_empty()


def test_values_longer_than_their_column_are_refused_with_path_and_line(db: Database) -> None:
    long_name = "P" * 201
    text = (
        f"profiles:\n  - name: {long_name}\n"
        f"endpoint_groups:\n  - {{name: G, profile: {long_name}}}\n"
        f"endpoints:\n  - {{name: E, group: G, room_resource_email: r@example.com,"
        f" type: PULL, sip_username: {'u' * 256}}}\n"
    )
    result = apply_text(db, text, environ={})
    assert not result.ok
    assert "error: profiles[0].name (line 2): 201 characters; at most 200" in errors(result)
    assert "error: endpoints[0].sip_username (line 6): 256 characters; at most 255" in errors(
        result
    )
    assert db.config.is_empty()  # nothing written, on SQLite too (it does not enforce lengths)
    gateway = apply_text(db, f"gateway:\n  organisation: {'o' * 300}\n", environ={})
    assert errors(gateway) == ["error: gateway.organisation (line 2): 300 characters; at most 255"]


def test_values_holding_characters_no_text_may_hold_are_refused(db: Database) -> None:
    # YAML's double-quoted escapes are the way a NUL or a lone surrogate gets into a value
    text = (
        'profiles:\n  - name: "P\\0"\n  - name: Q\n'
        "meeting_processing_rules:\n"
        '  - {name: R, profile: P, meeting_type: custom, custom_template: "{{ 1 }}\\x07"}\n'
        '  - {name: S, profile: Q, meeting_type: custom, custom_template: "line\\n\\tnext"}\n'
        'gateway:\n  organisation: "Acme \\ud800"\n'
    )
    result = apply_text(db, text, environ={})
    assert not result.ok
    found = errors(result)
    assert "error: profiles[0].name (line 2): holds \\x00, which no text may hold" in found
    template = "meeting_processing_rules[0].custom_template (line 5)"
    assert f"error: {template}: holds \\x07, which no text may hold" in found
    assert "error: gateway.organisation (line 8): holds \\ud800, which no text may hold" in found
    assert not any("meeting_processing_rules[1]" in line for line in found)  # tab, line break
    assert db.config.is_empty()


def test_cross_references_are_checked_after_conversion(db: Database) -> None:
    text = textwrap.dedent(
        """\
        profiles:
          - name: P
            integration: Nowhere
        endpoint_groups:
          - name: G
            profile: Q
        call_routing_rules:
          - name: R
            match_string: "(.*)@x"
            replace_string: "\\\\2@y"
            sip_proxy: Edge
        """
    )
    result = apply_text(db, text, environ={})
    found = {(p.path, p.line): p.message for p in result.problems}
    assert "integration 'Nowhere' does not exist" in found[("profiles[0].integration", 3)]
    assert "profile 'Q' does not exist" in found[("endpoint_groups[0].profile", 6)]
    assert "neither 'dns' nor a configured proxy" in found[("call_routing_rules[0].sip_proxy", 11)]
    assert (
        "refers to group 2 but the regex has 1"
        in found[("call_routing_rules[0].replace_string", 10)]
    )


def test_yaml_syntax_and_duplicate_keys_have_lines(db: Database) -> None:
    bad = apply_text(db, "profiles:\n  - name: P\n   bad indent: [\n", environ={})
    assert not bad.ok
    assert bad.problems[0].line in (3, 4)
    dup = apply_text(db, "profiles:\n  - name: P\n    name: Q\n", environ={})
    assert [(p.path, p.line) for p in dup.problems] == [("profiles[0].name", 3)]


def test_prune_only_touches_named_sections_and_refuses_to_orphan(db: Database) -> None:
    assert apply_text(db, EXAMPLE.read_text(), environ={}).ok
    only_rules = "call_routing_rules: []\n"
    pruned = apply_text(db, only_rules, prune=True, environ={})
    assert pruned.report is not None
    assert [c.describe() for c in pruned.report.changes] == [
        "deleted call_routing_rules 'SIP Guest Join to the Pexip Service'"
    ]
    assert db.config.endpoint("Oslo Fjord") is not None
    orphaning = apply_text(db, "profiles: []\n", prune=True, environ={})
    assert not orphaning.ok
    assert any("(it would be pruned)" in p.message for p in orphaning.problems)
    assert [p.name for p in db.config.snapshot().profiles] == ["Head office"]


def test_endpoints_of_one_room_must_share_a_profile(db: Database) -> None:
    text = textwrap.dedent(
        """\
        integrations:
          - {name: Files, type: ics, path_template: "x/{room}.ics"}
        profiles: [{name: A}, {name: B}]
        endpoint_groups: [{name: GA, profile: A}, {name: GB, profile: B}]
        endpoints:
          - {name: E1, group: GA, room_resource_email: r@example.com, type: PULL}
          - {name: E2, group: GB, room_resource_email: R@example.com, type: PULL}
        """
    )
    result = apply_text(db, text, environ={})
    assert not result.ok
    assert any("must share a profile" in p.message and p.line == 7 for p in result.problems)


def test_integration_errors_point_at_the_key(db: Database) -> None:
    text = "integrations:\n  - name: G\n    type: google\n    subject: x@example.com\n"
    result = apply_text(db, text, environ={})
    assert not result.ok
    assert "service_account_key" in result.problems[0].message
    text = "integrations:\n  - name: F\n    type: ics\n    path_template: nope.ics\n"
    result = apply_text(db, text, environ={})
    assert [(p.path, p.line) for p in result.problems] == [("integrations[0].path_template", 4)]


def test_keep_marker_without_stored_secret_is_an_error(db: Database) -> None:
    text = textwrap.dedent(
        """\
        profiles: [{name: P}]
        endpoint_groups: [{name: G, profile: P}]
        endpoints:
          - {name: E, group: G, room_resource_email: r@example.com, type: PULL,
             api_password: "stored:inline"}
        """
    )
    result = apply_text(db, text, environ={})
    assert [(p.path, p.line) for p in result.problems if not p.warning] == [
        ("endpoints[0].api_password", 5)
    ]


def test_cli_apply_is_idempotent_and_exit_codes(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--database", database_url, "--data-dir", str(tmp_path)]
    assert main(["config", "apply", str(EXAMPLE), *args]) == 0
    first = capsys.readouterr().out
    assert "change(s) applied to " in first  # says which database it wrote to
    assert "password" not in first.split("applied to", 1)[1]  # never a password of the URL
    assert main(["config", "apply", str(EXAMPLE), *args]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("no changes")
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN)
    assert main(["config", "apply", str(broken), *args]) == 1
    err = capsys.readouterr().err
    assert "broken.yaml: error: profiles[0].poll_interval (line 3)" in err
    assert "nothing was written" in err
    out = tmp_path / "export.yaml"
    assert main(["config", "export", "-o", str(out), *args]) == 0
    assert main(["config", "apply", str(out), *args]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("no changes")


def test_rule_and_profile_problems_from_the_rules_engine_have_lines(db: Database) -> None:
    text = textwrap.dedent(
        """\
        profiles:
          - name: P
            replace_subject_template: "{{ calendar_event.subject "
        meeting_processing_rules:
          - name: Mystery
            meeting_type: carrier-pigeon
          - name: Custom
            meeting_type: custom
            custom_template: "{% if %}"
        """
    )
    result = apply_text(db, text, environ={})
    assert not result.ok
    lines = {(p.path, p.line) for p in result.problems}
    assert ("profiles[0].replace_subject_template", 3) in lines
    assert ("meeting_processing_rules[0].meeting_type", 6) in lines
    assert ("meeting_processing_rules[1].custom_template", 9) in lines


def test_routing_patterns_are_checked_as_the_gateway_runs_them(db: Database) -> None:
    """The gateway's engine (``regex``) decides: its named groups are fine, a bad one is not."""
    good = """
call_routing_rules:
  - name: Named group
    match_string: '(?<code>[a-z]{3}-[a-z]{4}-[a-z]{3})@google\\.pexip\\.me'
    replace_string: '\\1@google.pexip.me'
"""
    assert apply_text(db, good, environ={}).ok
    bad = good.replace("(?<code>", "(?<code")
    result = apply_text(db, bad, environ={})
    assert not result.ok
    assert any("call_routing_rules[0].match_string" in str(p) for p in result.problems)


def test_gateway_max_calls_per_source_is_applied_and_range_checked(db: Database) -> None:
    ok = apply_text(db, "gateway:\n  max_calls_per_source: 5\n", environ={})
    assert ok.ok, errors(ok)
    assert db.config.gateway_settings().max_calls_per_source == 5
    bad = apply_text(db, "gateway:\n  max_calls_per_source: -1\n", environ={})
    assert not bad.ok
    assert any("max_calls_per_source" in e for e in errors(bad)), errors(bad)
    assert db.config.gateway_settings().max_calls_per_source == 5
