"""Domain values: timezone-aware datetimes only, secrets never shown."""

from datetime import UTC, datetime

import pytest

from calendars.base import CalendarEvent
from otj.secret import Secret


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CalendarEvent(
            id="1",
            room="r@example.com",
            start=datetime(2026, 1, 1),
            end=datetime(2026, 1, 1, 1, tzinfo=UTC),
        )


def test_secret_is_never_shown() -> None:
    secret = Secret("hunter2", ref="env:PW")
    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert "hunter2" not in f"{secret}"
    assert secret.reveal() == "hunter2"


def test_secret_references(tmp_path) -> None:
    from otj.secret import SecretRefError, resolve_secret

    assert resolve_secret("env:PW", environ={"PW": "x"}).reveal() == "x"
    assert resolve_secret("env:PW", environ={"PW": "x"}).ref == "env:PW"
    (tmp_path / "k").write_text("abc\n")
    assert resolve_secret(f"file:{tmp_path / 'k'}").reveal() == "abc"
    assert resolve_secret("inline").ref == ""
    with pytest.raises(SecretRefError, match="NOPE"):
        resolve_secret("env:NOPE", environ={})
    with pytest.raises(SecretRefError, match="cannot read"):
        resolve_secret(f"file:{tmp_path / 'missing'}")
