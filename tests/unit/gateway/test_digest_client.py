"""Answering far ends' digest challenges (RFC 7616 §3.9.1 vectors, RFC 8760 choice)."""

from __future__ import annotations

import pytest

from guestjoin.sip.digest import check_response, parse_authorization
from guestjoin.sip.digest_client import (
    DialogAuth,
    Login,
    authorization,
    choose,
    parse_challenge,
)

RFC_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
MUFASA = Login(username="Mufasa", password="Circle of Life")


@pytest.mark.parametrize(
    ("algorithm", "response"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_vectors(algorithm: str, response: str) -> None:
    challenge = parse_challenge(
        f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm}, '
        f'nonce="{RFC_NONCE}", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    value = authorization(
        challenge, MUFASA, method="GET", uri="/dir/index.html", cnonce=RFC_CNONCE, nc=1
    )
    creds = parse_authorization(value)
    assert creds.response == response
    assert (creds.qop, creds.nc, creds.algorithm) == ("auth", "00000001", algorithm)
    assert creds.opaque == "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"


@pytest.mark.parametrize("algorithm", ["MD5", "MD5-sess", "SHA-256", "SHA-256-sess"])
@pytest.mark.parametrize("qop", ['qop="auth", ', ""])
def test_a_registrar_checking_the_answer_accepts_it(algorithm: str, qop: str) -> None:
    header = f'Digest realm="pexip.example", {qop}nonce="n1", algorithm={algorithm}'
    login = Login(username="oslo-gw", password="s3cret")
    value = authorization(
        parse_challenge(header),
        login,
        method="INVITE",
        uri="sip:abc-defg-hij@google.pexip.me",
        cnonce="c0ffee",
        nc=3,
    )
    creds = parse_authorization(value)
    assert check_response(creds, method="INVITE", password="s3cret")
    assert not check_response(creds, method="INVITE", password="wrong")
    assert not check_response(creds, method="BYE", password="s3cret")


def test_the_topmost_supported_challenge_is_answered() -> None:
    values = [
        'Digest realm="r", nonce="a", algorithm=SHA-512-256, qop="auth"',
        'Digest realm="r", nonce="b", algorithm=SHA-256, qop="auth"',
        'Digest realm="r", nonce="c", algorithm=MD5, qop="auth"',
    ]
    chosen = choose(values, MUFASA)
    assert chosen is not None
    assert (chosen.nonce, chosen.algorithm) == ("b", "SHA-256")


def test_unanswerable_challenges() -> None:
    assert choose(['Basic realm="r"'], MUFASA) is None
    assert choose(['Digest realm="r", nonce="n", qop="auth-int"'], MUFASA) is None
    assert choose(['Digest nonce="n"'], MUFASA) is None  # no realm
    scoped = Login(username="u", password="p", realm="pexip.example")
    assert choose(['Digest realm="elsewhere", nonce="n"'], scoped) is None
    assert choose(['Digest realm="pexip.example", nonce="n"'], scoped) is not None


def test_a_dialog_counts_nc_per_nonce_and_answers_later_requests() -> None:
    auth = DialogAuth(login=Login(username="u", password="p"))
    assert auth.again(method="BYE", uri="sip:x@y", cnonce="c") is None  # never challenged
    first = auth.answer(
        407,
        ['Digest realm="r", nonce="n1", qop="auth"'],
        method="INVITE",
        uri="sip:x@y",
        cnonce="c",
    )
    assert first is not None
    assert first[0] == "Proxy-Authorization"
    later = auth.again(method="BYE", uri="sip:x@y", cnonce="d")
    assert later is not None
    creds = parse_authorization(later[1])
    assert creds.nc == "00000002"
    assert check_response(creds, method="BYE", password="p")
    renewed = auth.answer(
        401, ['Digest realm="r", nonce="n2", qop="auth"'], method="BYE", uri="sip:x@y", cnonce="e"
    )
    assert renewed is not None
    assert renewed[0] == "Authorization"
    assert parse_authorization(renewed[1]).nc == "00000001"
    assert auth.answer(403, [], method="BYE", uri="sip:x@y", cnonce="f") is None


def test_quotes_in_values_are_escaped() -> None:
    login = Login(username='a"b', password="p")
    value = authorization(
        parse_challenge('Digest realm="r", nonce="n"'),
        login,
        method="INVITE",
        uri="sip:x@y",
        cnonce="c",
        nc=1,
    )
    assert parse_authorization(value).username == 'a"b'
