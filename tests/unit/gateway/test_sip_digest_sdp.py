"""Digest authentication (RFC 2617/7616 known answers) and SDP bandwidth capping (RFC 3890)."""

from __future__ import annotations

import pytest

from guestjoin.sip.digest import (
    DigestError,
    challenges,
    check_response,
    make_nonce,
    nonce_age,
    parse_auth_params,
    parse_authorization,
)
from guestjoin.sip.sdp import cap_bandwidth

RFC2617 = (
    'Digest username="Mufasa", realm="testrealm@host.com", '
    'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, '
    'nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", '
    'opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)
RFC7616_SHA256 = (
    'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", '
    'algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, '
    'cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, '
    'response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", '
    'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)


@pytest.mark.parametrize(
    ("header", "password"),
    [(RFC2617, "Circle Of Life"), (RFC7616_SHA256, "Circle of Life")],
    ids=["rfc2617-md5", "rfc7616-sha256"],
)
def test_known_answers(header: str, password: str) -> None:
    creds = parse_authorization(header)
    assert check_response(creds, method="GET", password=password)
    assert not check_response(creds, method="GET", password=password + "x")
    assert not check_response(creds, method="POST", password=password)


def test_unknown_algorithm_is_refused() -> None:
    creds = parse_authorization(RFC2617.replace("qop=auth", "algorithm=SHA-512-256, qop=auth"))
    assert not check_response(creds, method="GET", password="Circle Of Life")


@pytest.mark.parametrize(
    "header", ["Basic abc", 'Digest username="x"', 'Digest username="x, realm=', "Digest =x"]
)
def test_unreadable_credentials(header: str) -> None:
    with pytest.raises(DigestError):
        parse_authorization(header)


def test_nonces_are_signed_and_age() -> None:
    key = b"k" * 32
    nonce = make_nonce(key, 1000.0)
    assert nonce_age(key, nonce, 1030.5) == 30.5
    assert nonce_age(b"other" * 8, nonce, 1030.0) is None
    assert nonce_age(key, "1000.forged", 1030.0) is None
    assert nonce_age(key, "garbage", 1030.0) is None


def test_challenges_offer_sha256_first_then_md5() -> None:
    values = challenges("otj", "n1", stale=True)
    params = [parse_auth_params(v.removeprefix("Digest ")) for v in values]
    assert [p["algorithm"] for p in params] == ["SHA-256", "MD5"]
    assert all(p["stale"] == "true" and p["qop"] == "auth" for p in params)


OFFER = (
    b"v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 0\r\n"
    b"m=video 4002 RTP/AVP 96\r\nb=AS:6000\r\nb=TIAS:6000000\r\na=rtpmap:96 H264/90000\r\n"
)


def test_bandwidth_added_at_session_level_and_lowered_in_media() -> None:
    out = cap_bandwidth(OFFER, 2000).decode()
    lines = out.split("\r\n")
    assert lines[:7] == [
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.10",
        "s=-",
        "c=IN IP4 192.0.2.10",
        "b=AS:2000",
        "b=TIAS:2000000",
        "t=0 0",
    ]
    assert "b=AS:2000" in lines[9:]
    assert "b=TIAS:2000000" in lines[9:]
    assert "6000" not in out
    assert out.endswith("\r\n")


def test_lower_values_are_kept() -> None:
    offer = OFFER.replace(b"t=0 0", b"b=AS:512\r\nt=0 0").replace(b"6000", b"768")
    out = cap_bandwidth(offer, 2000).decode()
    assert "b=AS:512" in out
    assert "b=AS:768" in out
    assert out.count("b=AS:") == 2
    assert "b=TIAS:2000000" in out


def test_non_sdp_is_untouched() -> None:
    assert cap_bandwidth(b"hello", 2000) == b"hello"
    assert cap_bandwidth(OFFER, 0) == OFFER
