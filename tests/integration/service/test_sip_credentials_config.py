"""``sip_credentials`` and the trust fields of call routing rules through apply and export."""

from __future__ import annotations

import textwrap

from otj.config import apply_text
from otj.config.export import to_yaml
from otj.store import Database

TRUSTED = textwrap.dedent(
    """\
    sip_credentials:
      - name: office-token
        username: oslo-gateway
        password: inline-trust-pw
        realm: pexip.example
    call_routing_rules:
      - name: Trusted offices
        priority: 10
        match_string: '.+@google\\.pexip\\.me'
        match_source: [10.20.0.0/16, '2001:db8:20::/48']
        outbound_credentials: office-token
      - name: Everyone else
        priority: 20
        match_string: '.+@google\\.pexip\\.me'
    """
)


def messages(text: str, db: Database) -> list[str]:
    result = apply_text(db, text, environ={})
    return [f"{p.line}: {p.message}" for p in result.problems if not p.warning]


def test_credentials_are_stored_encrypted_and_never_exported(db: Database) -> None:
    result = apply_text(db, TRUSTED, environ={})
    assert result.ok, result.problems
    credential = db.config.sip_credentials()["office-token"]
    assert credential.username == "oslo-gateway"
    assert credential.realm == "pexip.example"
    assert credential.password is not None
    assert credential.password.reveal() == "inline-trust-pw"
    rules = {r.name: r for r in db.config.call_routing_rules()}
    assert rules["Trusted offices"].match_source == ("10.20.0.0/16", "2001:db8:20::/48")
    assert rules["Trusted offices"].outbound_credentials == "office-token"
    assert rules["Everyone else"].match_source == ()
    exported = to_yaml(db.config.snapshot(secrets="sealed"))
    assert "inline-trust-pw" not in exported
    assert "password: stored:inline" in exported
    again = apply_text(db, exported, environ={})
    assert again.report is not None
    assert again.report.changes == ()


def test_trust_mistakes_are_reported_with_lines(db: Database) -> None:
    broken = (
        TRUSTED.replace("10.20.0.0/16", "office-lan")
        .replace("outbound_credentials: office-token", "outbound_credentials: ofice-token")
        .replace("    password: inline-trust-pw\n", "")
    )
    problems = messages(broken, db)
    assert any(p.startswith("9:") and "'office-lan' is not an IP network" in p for p in problems), (
        problems
    )
    assert any(
        "outbound_credentials 'ofice-token' does not exist" in p and "office-token" in p
        for p in problems
    ), problems
    assert any("password" in p and "is required" in p for p in problems), problems
    assert db.config.call_routing_rules() == []
