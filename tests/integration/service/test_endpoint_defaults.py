"""Profile defaults of the endpoints' API settings: apply, store (sealed), export, validation."""

from __future__ import annotations

import textwrap

import pytest
import sqlalchemy as sa
import yaml

from otj.config import apply_text
from otj.config.export import to_yaml
from otj.delivery.devices.cisco import CiscoDefaults, connection_for
from otj.delivery.devices.errors import NO_CREDENTIALS, MissingCredentials
from otj.store import Database
from tests.shared import EXAMPLE_CONFIG

EXAMPLE = EXAMPLE_CONFIG

LAB = textwrap.dedent(
    """\
    profiles:
      - name: Lab
        endpoint_api_username: otj
        endpoint_api_password: profile-pw
        endpoint_use_https: false
        endpoint_verify_cert: false
        endpoint_api_auth: session
        endpoint_feedback_slot: 3
      - name: Bare
    endpoint_groups:
      - {name: Lab rooms, profile: Lab}
      - {name: Bare rooms, profile: Bare}
    endpoints:
      - name: Inherits
        group: Lab rooms
        room_resource_email: inherits@rooms.example.com
        api_address: 10.0.0.1
      - name: Own
        group: Lab rooms
        room_resource_email: own@rooms.example.com
        api_address: 10.0.0.2
        api_port: 8443
        use_https: true
        verify_cert: true
        api_username: admin
        api_password: env:OWN_PW
      - name: Half
        group: Lab rooms
        room_resource_email: half@rooms.example.com
        api_address: 10.0.0.4
        api_username: lab
      - name: Nobody
        group: Bare rooms
        room_resource_email: nobody@rooms.example.com
        api_address: 10.0.0.3
    """
)


def errors(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(p) for p in result.problems if not p.warning]


def connection(db: Database, name: str):  # type: ignore[no-untyped-def]
    endpoint = db.config.endpoint(name)
    profile = db.config.profile_for_endpoint(name, secrets="resolve")
    assert endpoint is not None
    assert profile is not None
    return connection_for(endpoint, CiscoDefaults().for_profile(profile))


def test_endpoints_take_what_they_leave_blank_from_their_profile(db: Database) -> None:
    result = apply_text(db, LAB, environ={"OWN_PW": "own-pw"})
    assert result.ok, errors(result)

    inherits = connection(db, "Inherits")
    assert inherits.base_url == "http://10.0.0.1"  # the profile's scheme and that scheme's port
    assert (inherits.username, inherits.verify, inherits.auth, inherits.feedback_slot) == (
        "otj",
        False,
        "session",
        3,
    )
    assert inherits.password is not None
    assert inherits.password.reveal() == "profile-pw"

    own = connection(db, "Own")  # the endpoint's own settings win
    assert own.base_url == "https://10.0.0.2:8443"
    assert (own.username, own.verify) == ("admin", True)
    assert own.password is not None
    assert own.password.ref == "env:OWN_PW"

    half = connection(db, "Half")  # own username, blank password: the profile's password
    assert half.username == "lab"
    assert half.password is not None
    assert half.password.reveal() == "profile-pw"


def test_no_username_anywhere_is_a_warning_here_and_an_error_when_used(db: Database) -> None:
    result = apply_text(db, LAB, environ={})
    assert result.ok, errors(result)
    warnings = [(p.path, p.line, p.message) for p in result.problems if p.warning]
    nobody = [w for w in warnings if w[0].startswith("endpoints[3]")]
    assert len(nobody) == 1
    path, line, message = nobody[0]
    assert (path, line) == ("endpoints[3].api_username", 32)  # its entry: the key is absent
    assert "set api_username on the endpoint or endpoint_api_username on its profile 'Bare'" in (
        message
    )
    with pytest.raises(MissingCredentials) as raised:
        connection(db, "Nobody")
    assert str(raised.value) == NO_CREDENTIALS
    assert raised.value.kind == "credentials"


def test_profile_password_is_sealed_at_rest(db: Database) -> None:
    assert apply_text(db, LAB, environ={}).ok
    with db.engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT endpoint_api_password FROM profiles WHERE name = 'Lab'")
        ).scalar_one()
    text = stored if isinstance(stored, str) else repr(stored)
    assert "profile-pw" not in text
    assert "enc" in text
    sealed = db.config.snapshot(secrets="sealed").profiles
    assert "profile-pw" not in repr(sealed)


def test_export_writes_references_and_keep_markers_and_round_trips(db: Database) -> None:
    assert apply_text(db, LAB, environ={}).ok
    exported = to_yaml(db.config.snapshot(secrets="sealed"))
    assert "profile-pw" not in exported
    doc = yaml.safe_load(exported)
    lab = next(p for p in doc["profiles"] if p["name"] == "Lab")
    assert lab["endpoint_api_password"] == "stored:inline"
    assert lab["endpoint_api_username"] == "otj"
    assert (lab["endpoint_use_https"], lab["endpoint_verify_cert"]) == (False, False)
    assert (lab["endpoint_api_auth"], lab["endpoint_feedback_slot"]) == ("session", 3)
    bare = next(p for p in doc["profiles"] if p["name"] == "Bare")
    assert "endpoint_api_password" not in bare
    endpoints = {e["name"]: e for e in doc["endpoints"]}
    # inherited settings stay inherited: not frozen into the endpoint by the export
    assert not {"api_port", "use_https", "verify_cert", "api_password"} & set(endpoints["Inherits"])
    assert endpoints["Own"]["api_password"] == "env:OWN_PW"
    assert (endpoints["Own"]["api_port"], endpoints["Own"]["use_https"]) == (8443, True)

    again = apply_text(db, exported, environ={})
    assert again.report is not None
    assert again.report.changes == (), again.report.changes
    assert apply_text(db, LAB, environ={}).report.changes == ()  # type: ignore[union-attr]
    lab_profile = db.config.profile_for_endpoint("Inherits", secrets="resolve")
    assert lab_profile is not None
    assert lab_profile.endpoint_api_password is not None
    assert lab_profile.endpoint_api_password.reveal() == "profile-pw"


def test_changing_the_profile_password_is_an_update_of_that_field(db: Database) -> None:
    assert apply_text(db, LAB, environ={}).ok
    changed = apply_text(db, LAB.replace("profile-pw", "rotated"), environ={})
    assert changed.report is not None
    assert [c.describe() for c in changed.report.changes] == [
        "updated profiles 'Lab': endpoint_api_password"
    ]
    profile = db.config.profile_for_endpoint("Inherits", secrets="resolve")
    assert profile is not None
    assert profile.endpoint_api_password is not None
    assert profile.endpoint_api_password.reveal() == "rotated"


BAD = textwrap.dedent(
    """\
    profiles:
      - name: P
        endpoint_feedback_slot: 5
        endpoint_api_auth: digest
        endpoint_use_https: "yes"
        endpoint_api_user: otj
        endpoint_api_password: 42
    """
)


def test_bad_endpoint_defaults_are_reported_with_path_and_line(db: Database) -> None:
    result = apply_text(db, BAD, environ={})
    assert not result.ok
    found = {(p.path, p.line): p.message for p in result.problems if not p.warning}
    assert found[("profiles[0].endpoint_feedback_slot", 3)] == "must be between 1 and 4, got 5"
    assert "basic | session" in found[("profiles[0].endpoint_api_auth", 4)]
    assert "true or false" in found[("profiles[0].endpoint_use_https", 5)]
    assert "did you mean 'endpoint_api_username'" in found[("profiles[0].endpoint_api_user", 6)]
    assert "inline, env:NAME or file:PATH" in found[("profiles[0].endpoint_api_password", 7)]
    assert db.config.is_empty()


def test_auth_is_case_insensitive_like_the_other_choices(db: Database) -> None:
    result = apply_text(db, "profiles: [{name: P, endpoint_api_auth: Session}]\n", environ={})
    assert result.ok, errors(result)
    assert db.config.profiles()[0].endpoint_api_auth == "session"


def test_keep_marker_on_a_profile_without_a_stored_password_is_an_error(db: Database) -> None:
    text = "profiles:\n  - name: P\n    endpoint_api_password: stored:inline\n"
    result = apply_text(db, text, environ={})
    assert [(p.path, p.line) for p in result.problems if not p.warning] == [
        ("profiles[0].endpoint_api_password", 3)
    ]


def test_fixing_the_profile_clears_the_warning_for_stored_endpoints(db: Database) -> None:
    assert apply_text(db, LAB, environ={}).ok
    # a file with only profiles: the stored endpoint of the profile it changes is checked too
    still = apply_text(db, "profiles: [{name: Bare, description: still none}]\n", environ={})
    expected = (
        "stored endpoints 'Nobody' (not in this file): no API credentials: set api_username on "
        "the endpoint or endpoint_api_username on its profile 'Bare' (delivery to it fails "
        "until then)"
    )
    assert [p.message for p in still.problems if p.warning] == [expected]
    fixed = apply_text(db, "profiles: [{name: Bare, endpoint_api_username: otj}]\n", environ={})
    assert fixed.ok
    assert [p for p in fixed.problems if p.warning] == []


def test_the_example_still_applies_unchanged_without_a_credentials_warning(db: Database) -> None:
    result = apply_text(db, EXAMPLE.read_text(), environ={})
    assert result.ok, errors(result)
    assert not [p for p in result.problems if "API credentials" in p.message]
    profile = db.config.profiles()[0]
    assert (profile.endpoint_api_username, profile.endpoint_api_password) == ("", None)
    assert (profile.endpoint_use_https, profile.endpoint_verify_cert) == (True, True)
    endpoint = db.config.endpoint("Oslo Fjord")
    assert endpoint is not None
    assert (endpoint.api_port, endpoint.use_https, endpoint.verify_cert) == (443, True, False)
