"""The failure rules of logins and the device tokens, as pure functions."""

from __future__ import annotations

import pytest

from odr.domain.login_throttle import (
    Scope,
    ThrottlePolicy,
    device_of,
    device_token,
    scopes,
)


def test_delays_start_at_each_threshold_and_double_to_the_ceiling() -> None:
    policy = ThrottlePolicy()
    assert [policy.delay(Scope.PAIR, n) for n in (4, 5, 6, 7, 8, 9)] == [0, 60, 120, 240, 480, 900]
    assert policy.delay(Scope.PAIR, 10_000) == 900
    assert policy.delay(Scope.DEVICE, 5) == 60
    assert policy.delay(Scope.ADDRESS, 19) == 0 and policy.delay(Scope.ADDRESS, 20) == 60
    assert policy.delay(Scope.ACCOUNT, 49) == 0 and policy.delay(Scope.ACCOUNT, 50) == 60


def test_a_known_device_counts_only_its_own_failures() -> None:
    assert scopes(known_device=True) == (Scope.DEVICE,)
    assert set(scopes(known_device=False)) == {Scope.PAIR, Scope.ACCOUNT, Scope.ADDRESS}


@pytest.mark.parametrize(
    "changes", [{"pair_failures": 0}, {"first_delay": 0}, {"first_delay": 901}]
)
def test_a_policy_that_makes_no_sense_is_refused(changes: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        ThrottlePolicy(**changes)


def test_a_device_token_belongs_to_one_login_and_one_secret() -> None:
    token = device_token("s3cret", "13800000001")
    device = device_of("s3cret", token, "13800000001")
    assert device and token.startswith(device + ".")
    assert device_of("s3cret", token, "13800000002") is None
    assert device_of("other", token, "13800000001") is None
    for bad in (None, "", "x", "a.b.c", token + "0", "." + token.split(".")[1], "x" * 200):
        assert device_of("s3cret", bad, "13800000001") is None
