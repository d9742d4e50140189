"""``virtual_receptions:``: validated with paths and lines, stored, exported and re-applied."""

from __future__ import annotations

import textwrap

from otj.config import apply_text
from otj.config.export import to_yaml
from otj.model import IdRule
from otj.store import Database

RECEPTIONS = textwrap.dedent(
    r"""
    virtual_receptions:
      - name: Join
        aliases: ['join@vc\.example\.com', 'join']
        language: en
        calendar_join: true
        id_rules:
          - {match: '(\d{9,11})', replace: '\1@zoomcrc.com'}
          - {match: '(\d{10,12})', replace: '\1@vc.example.com'}
        attempts: 3
        digit_timeout: 5
    """
)


def test_receptions_are_stored_exported_and_reapplied_unchanged(db: Database) -> None:
    first = apply_text(db, RECEPTIONS, environ={})
    assert first.ok, [str(p) for p in first.problems]
    (reception,) = db.config.virtual_receptions()
    assert reception.aliases == (r"join@vc\.example\.com", "join")
    assert reception.id_rules[0] == IdRule(match=r"(\d{9,11})", replace=r"\1@zoomcrc.com")
    assert (reception.attempts, reception.digit_timeout, reception.calendar_join) == (3, 5, True)
    exported = to_yaml(db.config.snapshot(secrets="sealed"))
    assert "virtual_receptions:" in exported
    again = apply_text(db, exported, environ={})
    assert again.report is not None
    assert again.report.changes == ()


def test_reception_field_mistakes_name_the_key_and_line(db: Database) -> None:
    text = RECEPTIONS.replace("attempts: 3", "attempts: 0").replace("digit_timeout: 5", "digits: 5")
    result = apply_text(db, text, environ={})
    assert not result.ok
    messages = [str(p) for p in result.problems]
    assert any("attempts (line 10): must be between 1 and 10" in m for m in messages), messages
    assert any("digits (line 11): unknown key" in m for m in messages), messages
    assert db.config.virtual_receptions() == []


def test_reception_patterns_are_checked_and_a_missing_language_is_a_warning(db: Database) -> None:
    text = RECEPTIONS.replace(r"'(\d{9,11})'", "'(['").replace("language: en", "language: xx")
    result = apply_text(db, text, environ={})
    assert not result.ok
    errors = [str(p) for p in result.problems if not p.warning]
    warnings = [str(p) for p in result.problems if p.warning]
    assert any("id_rules[0].match" in m and "invalid regex" in m for m in errors), errors
    assert any("no prompts for 'xx'" in m for m in warnings), warnings
    assert db.config.virtual_receptions() == []
