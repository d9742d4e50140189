"""Lock-outs after failed authentications (fail2ban-style), on an injected clock; and the
registrar refusing a guesser while the room's own REGISTER still succeeds."""

from __future__ import annotations

import pytest

from guestjoin.lockout import AuthLockout, LockoutPolicy
from guestjoin.registrar import Registrar
from guestjoin.values import Received
from tests.unit.gateway.support import ManualClock

from .test_registrar import CONFIG, SOURCE, answer, register

POLICY = LockoutPolicy(window=60, source_failures=3, user_failures=5, lockout=300)


def test_failures_from_one_source_lock_it_out_for_a_while() -> None:
    lockout = AuthLockout(POLICY)
    assert lockout.failed("192.0.2.1", "fjord", 0) == ""
    assert lockout.failed("192.0.2.1", "fjord", 1) == ""
    assert lockout.failed("192.0.2.1", "fjord", 2) == "source 192.0.2.1"
    assert lockout.locked("192.0.2.1", "other", 3) == 299
    assert lockout.locked("192.0.2.2", "fjord", 3) == 0  # another address is not affected
    assert lockout.locked("192.0.2.1", "fjord", 302) == 0  # the lock ends


def test_failures_spread_beyond_the_window_do_not_lock() -> None:
    lockout = AuthLockout(POLICY)
    for t in (0, 40, 80, 120, 160):
        assert lockout.failed("192.0.2.1", "fjord", t) == ""
    assert lockout.locked("192.0.2.1", "fjord", 161) == 0


def test_a_guessed_user_is_locked_except_from_where_it_registered_before() -> None:
    lockout = AuthLockout(POLICY)
    lockout.succeeded("192.0.2.10", "fjord", 0)
    locked = [lockout.failed(f"198.51.100.{n}", "fjord", 10 + n) for n in range(5)]
    assert locked[-1] == "user 'fjord'"
    assert lockout.locked("203.0.113.7", "fjord", 20) == 294  # a new address: refused
    assert lockout.locked("203.0.113.7", "other", 20) == 0
    assert lockout.locked("192.0.2.10", "fjord", 20) == 0  # the room's own address


def test_memory_is_bounded() -> None:
    lockout = AuthLockout(LockoutPolicy(max_tracked=100, source_failures=3))
    for n in range(1000):
        lockout.failed(f"10.0.{n // 256}.{n % 256}", "", n * 0.001)
    assert lockout.failed("10.0.0.0", "", 1.5) == ""  # long forgotten: a fresh count


@pytest.mark.parametrize("values", [{"window": 0}, {"source_failures": 0}])
def test_policy_refuses_nonsense(values: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"positive|at least 1"):
        LockoutPolicy(**values)  # type: ignore[arg-type]


def test_registrar_locks_out_a_guesser_before_computing_digests() -> None:
    clock = ManualClock()
    registrar = Registrar(clock, realm="otj", lockout=POLICY)
    guesser = Received(transport="udp", remote=("198.51.100.9", 5060), local=SOURCE.local)
    statuses = []
    for n in range(6):
        challenge = registrar.handle(register(cseq=2 * n + 1), guesser, CONFIG)
        if challenge.status != 401:
            statuses.append(challenge.status)
            continue
        wrong = answer(challenge, algorithm="SHA-256", password=f"guess-{n}")
        statuses.append(
            registrar.handle(register(cseq=2 * n + 2, auth=wrong), guesser, CONFIG).status
        )
    assert statuses == [403, 403, 403, 503, 503, 503]
    # even the right password is refused from the locked address, with a Retry-After
    challenge = registrar.handle(register(cseq=20), SOURCE, CONFIG)
    refused = registrar.handle(
        register(cseq=21, auth=answer(challenge, algorithm="SHA-256")), guesser, CONFIG
    )
    assert (refused.status, refused.reason) == (503, "Too Many Failed Authentications")
    assert refused.get("Retry-After") == "300"
    # the room itself, from its own address, still registers
    ok = registrar.handle(
        register(cseq=22, auth=answer(challenge, algorithm="SHA-256")), SOURCE, CONFIG
    )
    assert ok.status == 200
    clock.advance(301)
    assert registrar.handle(register(cseq=23), guesser, CONFIG).status == 401
