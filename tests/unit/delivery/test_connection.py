"""``connection_for``: an endpoint's API settings merged with its profile's defaults (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from otj.delivery.devices.cisco import CiscoDefaults, connection_for
from otj.delivery.devices.errors import NO_CREDENTIALS, MissingCredentials
from otj.model import Endpoint, Profile
from otj.secret import Secret

PROFILE = Profile(
    name="Lab",
    endpoint_api_username="otj",
    endpoint_api_password=Secret("profile-pw"),
    endpoint_use_https=False,
    endpoint_verify_cert=False,
    endpoint_api_auth="session",
    endpoint_feedback_slot=2,
)
SECURE = Profile(name="Secure", endpoint_api_username="otj")


def endpoint(**fields: Any) -> Endpoint:
    values: dict[str, Any] = {
        "name": "e",
        "group": "g",
        "room_resource_email": "r@example.com",
        "api_address": "10.0.0.1",
    }
    values.update(fields)
    return Endpoint(**values)


@pytest.mark.parametrize(
    ("fields", "profile", "base_url", "username", "password", "verify"),
    [
        ({}, PROFILE, "http://10.0.0.1", "otj", "profile-pw", False),
        ({}, SECURE, "https://10.0.0.1", "otj", None, True),
        ({"use_https": True}, PROFILE, "https://10.0.0.1", "otj", "profile-pw", False),
        ({"verify_cert": True}, PROFILE, "http://10.0.0.1", "otj", "profile-pw", True),
        ({"api_port": 80}, PROFILE, "http://10.0.0.1", "otj", "profile-pw", False),
        ({"api_port": 443}, PROFILE, "http://10.0.0.1:443", "otj", "profile-pw", False),
        ({"api_port": 443}, SECURE, "https://10.0.0.1", "otj", None, True),
        (
            {"api_port": 0, "use_https": True},
            PROFILE,
            "https://10.0.0.1",
            "otj",
            "profile-pw",
            False,
        ),
        (
            {"api_address": "fe80::1", "api_port": 8080},
            SECURE,
            "https://[fe80::1]:8080",
            "otj",
            None,
            True,
        ),
        ({"api_username": "admin"}, PROFILE, "http://10.0.0.1", "admin", "profile-pw", False),
        (
            {"api_username": "admin", "api_password": Secret("own")},
            PROFILE,
            "http://10.0.0.1",
            "admin",
            "own",
            False,
        ),
        ({"api_password": Secret("own")}, PROFILE, "http://10.0.0.1", "otj", "own", False),
    ],
)
def test_the_endpoints_own_settings_win_and_blanks_are_the_profiles(
    fields: dict[str, Any],
    profile: Profile,
    base_url: str,
    username: str,
    password: str | None,
    verify: bool,
) -> None:
    connection = connection_for(endpoint(**fields), CiscoDefaults().for_profile(profile))
    assert connection.base_url == base_url
    assert connection.username == username
    assert (connection.password.reveal() if connection.password else None) == password
    assert connection.verify is verify
    assert connection.auth == profile.endpoint_api_auth
    assert connection.feedback_slot == profile.endpoint_feedback_slot


def test_service_timeouts_survive_the_profile() -> None:
    defaults = CiscoDefaults(connect_timeout=1.5, read_timeout=4.0).for_profile(PROFILE)
    connection = connection_for(endpoint(), defaults)
    assert (connection.connect_timeout, connection.read_timeout) == (1.5, 4.0)


@pytest.mark.parametrize(
    "defaults",
    [
        None,
        CiscoDefaults(),
        CiscoDefaults().for_profile(Profile(name="Bare", endpoint_api_password=Secret("pw"))),
    ],
)
def test_no_username_from_endpoint_or_profile_is_an_error_not_a_guess(
    defaults: CiscoDefaults | None,
) -> None:
    with pytest.raises(MissingCredentials, match=r"^no API credentials") as raised:
        connection_for(endpoint(api_password=Secret("pw")), defaults)
    assert str(raised.value) == NO_CREDENTIALS


def test_the_password_never_shows_in_reprs() -> None:
    defaults = CiscoDefaults().for_profile(PROFILE)
    assert "profile-pw" not in repr(defaults)
    assert "profile-pw" not in repr(connection_for(endpoint(), defaults))
    assert "profile-pw" not in repr(PROFILE)
