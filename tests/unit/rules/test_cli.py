# ruff: noqa: E501
"""`otj rules validate|test` and the benchmark smoke run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from otj.commands.rules import main
from tests import shared

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "otj" / "examples"
SHARED = shared.SHARED


def test_validate_reports_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "meeting_processing_rules:\n"
        "  - {name: r1, priority: 0, meeting_type: regex, match_string: 'ab(c'}\n"
        "  - {name: r2, meeting_type: zoomy}\n"
        '  - {name: r3, meeting_type: custom, custom_template: "{% if x %}\\n{{ y }"}\n'
        "  - {name: r4, meeting_type: zoom, priority: high}\n"
        "profiles:\n"
        "  - {name: P, replace_subject_template: '{{ x '}\n",
        encoding="utf-8",
    )
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    # each problem with its YAML path and line, as `otj config apply` reports them
    assert (
        f"{path}: error: meeting_processing_rules[0].priority (line 2): "
        "rule 'r1': 0 is outside 1–200"
    ) in out
    assert (
        f"{path}: error: meeting_processing_rules[0].match_string (line 2): rule 'r1': "
        "invalid regular expression at position 4: missing )"
    ) in out
    assert (
        f"{path}: error: meeting_processing_rules[1].meeting_type (line 3): rule 'r2': "
        "unknown meeting type 'zoomy'"
    ) in out
    assert (
        f"{path}: error: meeting_processing_rules[2].custom_template (line 4): rule 'r3': "
        "template syntax error on line 2"
    ) in out
    assert (
        f"{path}: error: meeting_processing_rules[3].priority (line 5): "
        "expected int, got str 'high'"
    ) in out
    assert (
        f"{path}: error: profiles[0].replace_subject_template (line 7): profile 'P': "
        "template syntax error on line 1"
    ) in out
    assert out.strip().endswith("4 rule(s), 1 profile(s): 6 problem(s)")


def test_validate_shared_files_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(SHARED / "examples" / "config.yaml")]) == 0
    assert main(["validate", str(SHARED / "testdata" / "otj-cases.yaml")]) == 0
    assert "valid" in capsys.readouterr().out


def test_test_ics_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "test",
            "--ics",
            str(EXAMPLES / "teams-invitation.ics"),
            "--now",
            "2025-03-05T08:00:00+00:00",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "alias:     1234567890@vc.example.com (SIP, MicrosoftTeams)" in out
    assert "subject:   Sprint review" in out
    assert "start:     2025-03-05T14:00:00+01:00" in out
    assert "[matched] Teams via Pexip CVI (teams)" in out


def test_test_eml_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", "--eml", str(EXAMPLES / "meet-invitation.eml"), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["meeting"]["alias"] == "qxr-bnwt-kzp@google.pexip.me"
    assert payload["meeting"]["organizer_email"] == "ana.silva@example.com"
    assert payload["meeting"]["trace"][-1]["outcome"] == "matched"
    assert payload["problems"] == []


def test_test_eml_without_calendar_part(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "invite.eml"
    path.write_text(
        "From: Carol <carol@example.com>\nSubject: Demo\nDate: Tue, 04 Mar 2025 09:00:00 +0000\n"
        "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=b\n\n--b\n"
        "Content-Type: text/plain\n\nplain\n--b\nContent-Type: text/html\n\n"
        '<p><a href="https://acme.zoom.us/j/9876543210">Join Zoom Meeting</a></p>\n--b--\n',
        encoding="utf-8",
    )
    assert main(["test", "--eml", str(path), "--json"]) == 0
    meeting = json.loads(capsys.readouterr().out)["meeting"]
    assert (meeting["alias"], meeting["subject"], meeting["start"]) == (
        "9876543210@zoomcrc.com",
        "Demo",
        "2025-03-04T09:00:00+00:00",
    )


def test_test_with_case_file_ruleset_and_event_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = SHARED / "testdata" / "otj-cases.yaml"
    code = main(
        [
            "test",
            "--rules",
            str(cases),
            "--profile",
            "zoom_pin",
            "--event",
            str(EXAMPLES / "zoom-event.json"),
            "--json",
        ]
    )
    assert code == 0
    assert (
        json.loads(capsys.readouterr().out)["meeting"]["alias"] == "85012345678.135790@zoomcrc.com"
    )


def test_test_config_profile_applies_privacy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "profiles:\n  - {name: Lobby, replace_subject_type: ALL, replace_subject_template: 'Busy'}\n"
        "meeting_processing_rules:\n"
        "  - {name: Zoom, profile: Lobby, priority: 40, meeting_type: zoom}\n"
        "  - {name: Other, profile: Elsewhere, priority: 1, meeting_type: regex, match_string: '.'}\n",
        encoding="utf-8",
    )
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"subject": "Secret", "body": "https://acme.zoom.us/j/9876543210"}))
    assert (
        main(
            ["test", "--rules", str(config), "--profile", "Lobby", "--event", str(event), "--json"]
        )
        == 0
    )
    meeting = json.loads(capsys.readouterr().out)["meeting"]
    rules = [step for step in meeting["trace"] if step["rule"] != "privacy"]
    assert (meeting["subject"], meeting["alias"], len(rules)) == (
        "Busy",
        "9876543210@zoomcrc.com",
        1,
    )
    assert meeting["trace"][-1]["detail"] == (
        "subject replaced by replace_subject_template: replace_subject_type is ALL "
        "(profile 'Lobby')"
    )


def test_test_bad_input_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.ics"
    bad.write_text("not a calendar", encoding="utf-8")
    assert main(["test", "--ics", str(bad)]) == 2
    assert "not an iCalendar object" in capsys.readouterr().err


def test_bench_smoke() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "rules.py"), "--events", "200", "--slices", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "correct aliases: 200/200" in result.stdout
    assert "floor events/s per core" in result.stdout
    assert "events/s per core" in result.stdout


def otj_rules(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otj", "rules", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_example_help_lists_only_the_bundled_invitations() -> None:
    text = " ".join(otj_rules("test", "--help").stdout.split())
    assert (
        "--example NAME a bundled example invitation: meet-invitation.eml, "
        "teams-invitation.ics, zoom-event.json"
    ) in text
    refused = otj_rules("test", "--example", "rules.yaml")
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
    assert "invalid choice: 'rules.yaml'" in refused.stderr


@pytest.mark.parametrize("name", ["meet-invitation.eml", "teams-invitation.ics", "zoom-event.json"])
def test_every_offered_example_runs(name: str) -> None:
    result = otj_rules("test", "--example", name)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Meeting (rules: ")


def test_an_invitation_file_may_be_given_without_an_option(tmp_path: Path) -> None:
    by_suffix = otj_rules("test", str(EXAMPLES / "zoom-event.json"), "--json")
    assert by_suffix.returncode == 0, by_suffix.stderr
    by_option = otj_rules("test", "--event", str(EXAMPLES / "zoom-event.json"), "--json")
    assert (
        json.loads(by_suffix.stdout)["meeting"]["alias"]
        == (json.loads(by_option.stdout)["meeting"]["alias"])
    )
    for args, expected in [
        (["nosuch.eml"], "otj rules: nosuch.eml: no such file"),
        ([str(tmp_path)], f"otj rules: {tmp_path}: expected a .eml, .ics or .json file"),
        (["--eml", str(tmp_path)], f"otj rules: {tmp_path}: is a directory, not a file"),
    ]:
        result = otj_rules("test", *args)
        assert result.returncode == 2
        assert result.stderr.strip() == expected
