"""Where the pull API takes the token from (RFC 6750 §2.1 header, §2.3 query parameter)."""

from __future__ import annotations

import pytest

from otj.api.pull import bearer_token


@pytest.mark.parametrize(
    ("authorization", "access_token", "expected"),
    [
        ("Bearer otj_abc", None, "otj_abc"),
        ("bearer  otj_abc ", None, "otj_abc"),
        ("Bearer otj_abc", "otj_query", "otj_abc"),
        ("Basic Zm9vOmJhcg==", "otj_query", ""),
        (None, "otj_query", "otj_query"),
        ("", "otj_query", "otj_query"),
        (None, None, ""),
    ],
)
def test_bearer_token(authorization: str | None, access_token: str | None, expected: str) -> None:
    assert bearer_token(authorization, access_token) == expected
