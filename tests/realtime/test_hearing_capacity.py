"""The node's admission limit for live hearings, through the hearing socket: a join that would
open one hearing more than ``ODR_MAX_LIVE_HEARINGS`` is refused with ``hearings_at_capacity``
(and a close the page retries after), while hearings already live here take more participants,
and a place freed by a hearing that ends is taken by the next one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from odr.app import create_app
from odr.config import Settings
from odr.http.errors import render_error
from signaling import ws
from signaling.host import CAPACITY_RETRY_AFTER, at_capacity
from tests.builders import hearing_ahead
from tests.conftest import FAST_PASSWORDS
from tests.integration.helpers import ANKANG_REP, CONSUMER, MEDIATOR, callers
from tests.realtime.hearing_setup import RoomClient, ok, open_hearing
from tests.realtime.peers import wait_for


@pytest.fixture
async def make(seeded: Settings, aiohttp_server: Any, aiohttp_client: Any) -> Any:
    server = await aiohttp_server(
        create_app(seeded.with_overrides(max_live_hearings=1), passwords=FAST_PASSWORDS)
    )

    async def build() -> Any:
        return await aiohttp_client(server)

    build.app = server.app  # type: ignore[attr-defined]
    return build


async def test_a_join_beyond_the_nodes_live_hearings_is_refused_until_one_ends(
    make: Any,
) -> None:
    first_id, _, first = await open_hearing(make)
    me = await ok(await first[MEDIATOR].get("/api/v1/me"))
    second_id, _ = await hearing_ahead(callers(first), me["user"]["id"])
    second = first  # the same people, logged in once (a second factor code is used once)
    host = make.app[ws.HOST]
    assert host.max_rooms == 1
    opened: list[RoomClient] = []

    def client(people: dict[str, Any], name: str, hearing_id: int) -> RoomClient:
        opened.append(RoomClient(people[name], hearing_id))
        return opened[-1]

    try:
        mediator = client(first, MEDIATOR, first_id)
        assert (await mediator.connect())["type"] == "welcome"

        # the second hearing would be one more than the node holds: refused, with a code
        refused = client(second, CONSUMER, second_id)
        reply = await refused.connect()
        assert reply["type"] == "error" and reply["code"] == "hearings_at_capacity", reply
        assert reply["details"]["retry_after"] > 0
        await refused.ws.receive(timeout=5)  # the close after the error
        assert refused.ws.close_code == 4503  # not final: the page tries again later
        assert second_id not in host.rooms and host.live == 1

        # the live hearing still takes its other participants
        for name in (CONSUMER, ANKANG_REP):
            assert (await client(first, name, first_id).connect())["type"] == "welcome"

        # the first hearing ends: its place goes to the second
        await mediator.send({"type": "end"})
        await wait_for(lambda: host.live == 0, 10)
        again = client(second, MEDIATOR, second_id)
        assert (await again.connect())["type"] == "welcome"
        assert host.live == 1
    finally:
        for room_client in opened:
            await room_client.close()


def test_the_limit_is_read_from_the_environment() -> None:
    env = {"ODR_SECRET_KEY": "k" * 40, "ODR_MAX_LIVE_HEARINGS": "12"}
    assert Settings.from_env(env).max_live_hearings == 12
    assert Settings.from_env({"ODR_SECRET_KEY": "k" * 40}).max_live_hearings >= 1
    for bad in ("0", "-1", "many"):
        with pytest.raises(ValueError, match="ODR_MAX_LIVE_HEARINGS"):
            Settings.from_env({**env, "ODR_MAX_LIVE_HEARINGS": bad})


async def test_over_http_the_refusal_is_a_503_with_retry_after() -> None:
    request = make_mocked_request("POST", "/api/v1/hearings/1/join")
    response = await render_error(request, at_capacity(6))
    assert response.status == 503
    assert response.headers["Retry-After"] == str(CAPACITY_RETRY_AFTER)
    assert isinstance(response, web.Response) and response.body is not None
    error = json.loads(bytes(response.body))["error"]
    assert error["code"] == "hearings_at_capacity" and "6 live hearings" in error["message"]
