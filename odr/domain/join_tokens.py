"""Short-lived tokens that let one user into one hearing in one role, and TURN credentials.

A join token is ``<user>.<hearing>.<role>.<expires>.<mac>``: the MAC is HMAC-SHA256 under the
server's secret key over the four fields, so a token cannot be moved to another user, hearing or
role, and is worthless after it expires. It is only half of the check: the socket must also
carry the login session of the same user.

TURN credentials follow coturn's REST-API scheme (``use-auth-secret``): the user name is
``<expiry unix time>:<user id>`` and the password is base64(HMAC-SHA1(secret, user name)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from odr.domain.errors import Unauthenticated

JOIN_TOKEN_SECONDS = 120
TURN_CREDENTIAL_SECONDS = 6 * 3600


@dataclass(frozen=True, slots=True)
class JoinClaim:
    user_id: int
    hearing_id: int
    role: str
    expires: int


def _mac(secret: str, body: str) -> str:
    key = hashlib.sha256(b"odr-join-token\0" + secret.encode()).digest()
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def issue_join_token(secret: str, claim: JoinClaim) -> str:
    body = f"{claim.user_id}.{claim.hearing_id}.{claim.role}.{claim.expires}"
    return f"{body}.{_mac(secret, body)}"


def read_join_token(
    secret: str, token: str, now: float, holder: tuple[int | None, int, str] | None = None
) -> JoinClaim:
    """The claim of a valid, unexpired token, else `Unauthenticated` (``invalid_join_token``
    or ``join_token_expired``).

    With ``holder`` (user id, hearing id, role of who presents it), a token issued to anyone
    else is ``invalid_join_token`` like a forged one — checked before the expiry, so the
    answer never tells the holder of a stolen token that it is real."""
    parts = token.split(".")
    bad = Unauthenticated("This join link is not valid.", code="invalid_join_token")
    if len(parts) != 5:
        raise bad
    body, mac = ".".join(parts[:4]), parts[4]
    if not hmac.compare_digest(_mac(secret, body), mac):
        raise bad
    try:
        claim = JoinClaim(int(parts[0]), int(parts[1]), parts[2], int(parts[3]))
    except ValueError:
        raise bad from None
    if holder is not None and (claim.user_id, claim.hearing_id, claim.role) != holder:
        raise bad
    if claim.expires < now:
        raise Unauthenticated(
            "This join link has expired; open the hearing again.", code="join_token_expired"
        )
    return claim


def turn_credentials(secret: str, user_id: int, now: float) -> dict[str, Any]:
    """Time-limited TURN user name and password for one user (coturn REST-API scheme)."""
    username = f"{int(now) + TURN_CREDENTIAL_SECONDS}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return {"username": username, "credential": base64.b64encode(digest).decode()}


def ice_servers_for(
    configured: tuple[Any, ...], turn_secret: str | None, user_id: int, now: float
) -> list[dict[str, Any]]:
    """The configured STUN/TURN servers; TURN entries without their own credentials get
    short-lived ones when a shared secret is configured."""
    servers: list[dict[str, Any]] = []
    for entry in configured:
        server = dict(entry)
        urls = server["urls"] if isinstance(server["urls"], list) else [server["urls"]]
        is_turn = any(str(u).startswith(("turn:", "turns:")) for u in urls)
        if is_turn and turn_secret and "credential" not in server:
            server.update(turn_credentials(turn_secret, user_id, now))
        servers.append(server)
    return servers
