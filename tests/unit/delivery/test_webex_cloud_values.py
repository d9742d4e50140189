"""Pure parts of the Webex cloud adapter: Bookings.List JSON, Retry-After, configuration gaps."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from otj.delivery.devices.booking_documents import BookingsParseError
from otj.delivery.devices.webex_auth import missing_webex_settings
from otj.delivery.devices.webex_cloud import parse_cloud_bookings, retry_after
from otj.model import Endpoint, Profile
from otj.secret import Secret


def test_list_result_with_a_single_call_object_and_organizer_parts() -> None:
    result = {
        "ResultInfo": {"TotalRows": 1},
        "Booking": {
            "id": 1,
            "Id": "evt-1",
            "Title": "Sync",
            "Privacy": "Private",
            "Organizer": {"FirstName": "Ola", "LastName": "Normann", "Email": "ola@example.com"},
            "Time": {"StartTime": "2026-03-02T09:00:00Z", "EndTime": "2026-03-02T09:30:00Z"},
            "MeetingPlatform": "GoogleMeet",
            "DialInfo": {"Calls": {"Call": {"Number": "https://meet.google.com/abc-defg-hij",
                                             "Protocol": "WebRTC"}}},
        },
    }  # fmt: skip
    [booking] = parse_cloud_bookings(result)
    assert booking.start == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert booking.duration_minutes == 30
    assert (booking.organizer_name, booking.privacy) == ("Ola Normann", "Private")
    assert (booking.protocol, booking.platform) == ("WebRTC", "GoogleMeet")
    assert parse_cloud_bookings({}) == ()


def test_list_result_without_start_is_refused() -> None:
    with pytest.raises(BookingsParseError, match="without Id or Time/StartTime"):
        parse_cloud_bookings({"Booking": [{"Id": "x", "Time": {}}]})
    with pytest.raises(BookingsParseError, match="evt-2"):
        parse_cloud_bookings({"Booking": [{"Id": "evt-2", "Time": {"StartTime": "soon"}}]})


@pytest.mark.parametrize(("header", "seconds"), [("7", 7.0), ("0", 0.0), ("", 1.0), ("x", 1.0)])
def test_retry_after_seconds(header: str, seconds: float) -> None:
    headers = {"Retry-After": header} if header else {}
    assert retry_after(httpx.Response(429, headers=headers)) == seconds


def test_missing_settings_are_named() -> None:
    endpoint = Endpoint(name="e", group="g", room_resource_email="r@x.example", type="WEBEX")
    profile = Profile(name="P", endpoint_webex_client_id="C1")
    assert "no webex_device_id" in missing_webex_settings(endpoint, profile)
    endpoint = Endpoint(
        name="e", group="g", room_resource_email="r@x.example", type="WEBEX", webex_device_id="d"
    )
    assert missing_webex_settings(endpoint, profile) == (
        "no Webex authorisation: set endpoint_webex_client_secret, "
        "endpoint_webex_refresh_token on profile 'P'"
    )
    referenced = Profile(
        name="P",
        endpoint_webex_client_id="C1",
        endpoint_webex_client_secret=Secret("s"),
        endpoint_webex_refresh_token=Secret("", ref="env:OTJ_WEBEX_REFRESH"),
    )
    assert missing_webex_settings(endpoint, referenced) == ""
