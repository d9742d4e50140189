"""``otj.netreason``: URLs safe to show and a few words for a failed request."""

from __future__ import annotations

import socket

import httpx
import pytest
import requests

from otj.netreason import one_line, reason, safe_url, status_text


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pw@cal.example.com/dav/room/", "https://cal.example.com/dav/room/"),
        ("https://cal.example.com:8443/x?token=s3cret#frag", "https://cal.example.com:8443/x?…"),
        ("http://u@[2001:db8::1]:8080/ics", "http://[2001:db8::1]:8080/ics"),
        ("http://[::1/broken", "(unparseable URL)"),
    ],
)
def test_safe_url_drops_credentials_and_query(url: str, shown: str) -> None:
    assert safe_url(url) == shown


def test_status_text_has_the_reason_phrase() -> None:
    assert status_text(503) == "HTTP 503 Service Unavailable"
    assert status_text(599) == "HTTP 599"


def test_refused_connection_through_requests_is_two_words() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        with pytest.raises(requests.ConnectionError) as caught:
            requests.get(f"http://127.0.0.1:{port}/", timeout=2)
    assert "object at 0x" in str(caught.value)  # what urllib3 would have shown
    assert reason(caught.value) == "connection refused"


def test_refused_connection_through_httpx() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        with pytest.raises(httpx.ConnectError) as caught:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    assert reason(caught.value) == "connection refused"


def test_timeout_through_httpx() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with pytest.raises(httpx.ReadTimeout) as caught:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=0.3)
    assert reason(caught.value) == "timed out"


def test_one_line_removes_object_reprs_and_newlines() -> None:
    text = "<urllib3.connection.HTTPConnection object at 0x7f00ab>: Failed\n\nto connect"
    assert one_line(text) == "Failed to connect"
    assert one_line("x" * 400, limit=10) == "x" * 9 + "…"
