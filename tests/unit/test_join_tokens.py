"""Join tokens are bound to user, hearing and role and expire; TURN credentials follow coturn's
REST-API scheme."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from odr.domain.errors import Unauthenticated
from odr.domain.join_tokens import (
    TURN_CREDENTIAL_SECONDS,
    JoinClaim,
    ice_servers_for,
    issue_join_token,
    read_join_token,
    turn_credentials,
)

SECRET = "s" * 40


def test_a_token_reads_back_until_it_expires() -> None:
    claim = JoinClaim(7, 3, "consumer", 1_000)
    token = issue_join_token(SECRET, claim)
    assert read_join_token(SECRET, token, 999) == claim
    with pytest.raises(Unauthenticated) as info:
        read_join_token(SECRET, token, 1_001)
    assert info.value.code == "join_token_expired"


@pytest.mark.parametrize("holder", [(8, 3, "consumer"), (7, 4, "consumer"), (7, 3, "insurer_rep")])
@pytest.mark.parametrize("now", [999, 1_001])
def test_a_token_held_by_anyone_else_reads_as_invalid(
    holder: tuple[int, int, str], now: int
) -> None:
    token = issue_join_token(SECRET, JoinClaim(7, 3, "consumer", 1_000))
    assert read_join_token(SECRET, token, 999, (7, 3, "consumer")).user_id == 7
    with pytest.raises(Unauthenticated) as info:
        read_join_token(SECRET, token, now, holder)
    assert info.value.code == "invalid_join_token"  # not "expired", not "someone else's"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("7.", "8.", 1),  # another user
        lambda t: t.replace(".3.", ".4.", 1),  # another hearing
        lambda t: t.replace("consumer", "mediator"),  # another role
        lambda t: t.replace(".1000.", ".9999.", 1),  # a later expiry
        lambda t: t[:-1] + ("0" if t[-1] != "0" else "1"),
        lambda t: "garbage",
        lambda t: "",
    ],
)
def test_a_changed_token_is_refused(tamper: object) -> None:
    token = issue_join_token(SECRET, JoinClaim(7, 3, "consumer", 1_000))
    with pytest.raises(Unauthenticated) as info:
        read_join_token(SECRET, tamper(token), 0)  # type: ignore[operator]
    assert info.value.code == "invalid_join_token"


def test_another_server_key_refuses_it() -> None:
    token = issue_join_token(SECRET, JoinClaim(7, 3, "consumer", 1_000))
    with pytest.raises(Unauthenticated):
        read_join_token("t" * 40, token, 0)


def test_turn_credentials_are_coturns_rest_scheme() -> None:
    creds = turn_credentials("turn-secret", 42, now=1_700_000_000)
    expiry = 1_700_000_000 + TURN_CREDENTIAL_SECONDS
    assert creds["username"] == f"{expiry}:42"
    digest = hmac.new(b"turn-secret", creds["username"].encode(), hashlib.sha1).digest()
    assert creds["credential"] == base64.b64encode(digest).decode()


def test_ice_servers_get_credentials_only_for_turn() -> None:
    configured = (
        {"urls": "stun:stun.example.org:3478"},
        {"urls": ["turn:turn.example.org:3478?transport=udp"]},
        {"urls": "turns:other.example.org", "username": "fixed", "credential": "given"},
    )
    servers = ice_servers_for(configured, "turn-secret", 5, 100)
    assert servers[0] == {"urls": "stun:stun.example.org:3478"}
    assert servers[1]["username"].endswith(":5") and servers[1]["credential"]
    assert servers[2]["credential"] == "given"
    assert ice_servers_for((), "turn-secret", 5, 100) == []  # none by default
    assert "credential" not in ice_servers_for(configured[1:2], None, 5, 100)[0]
