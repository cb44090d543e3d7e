"""Who is on the other end: the client's address (through trusted proxies only) and the
device cookie that says this browser logged into an account before."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from aiohttp import web

from odr.http.keys import SETTINGS
from odr.services.accounts import LoginClient

DEVICE_COOKIE = "odr_device"
DEVICE_MAX_AGE = 365 * 24 * 3600

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: web.Request) -> str | None:
    """The connection's address; behind trusted proxies, the nearest address in
    ``X-Forwarded-For`` that is not itself a trusted proxy (the header's earlier entries are
    whatever the client claimed)."""
    networks = _networks(request.app[SETTINGS].trusted_proxies)
    address = request.remote
    if not networks or address is None or not _trusted(address, networks):
        return address
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return address  # a proxy passed on garbage: fall back to the connection
    return address


def login_client(request: web.Request) -> LoginClient:
    return LoginClient(
        address=client_address(request), device_token=request.cookies.get(DEVICE_COOKIE)
    )


def remember_device(request: web.Request, response: web.StreamResponse, token: str | None) -> None:
    """Keep the device token of a login that succeeded in the browser."""
    if token is None:
        return
    response.set_cookie(
        DEVICE_COOKIE,
        token,
        max_age=DEVICE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=request.app[SETTINGS].public_url.startswith("https://"),
        path="/",
    )
