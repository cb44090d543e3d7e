"""A case brought over the HTTP API to a hearing that is open to join, for realtime tests."""

from __future__ import annotations

from typing import Any

from tests.builders import hearing_ahead
from tests.integration.helpers import (
    ANKANG_REP,
    CONSUMER,
    LEAD,
    MEDIATOR,
    Session,
    callers,
    login,
)


async def ok(resp: Any, status: int = 200) -> Any:
    assert resp.status == status, await resp.text()
    return await resp.json()


async def open_hearing(make: Any) -> tuple[int, int, dict[str, Session]]:
    """(hearing id, case id, {login: session}) for a hearing starting in ten minutes (its
    join window is open), with the consumer, the insurer's rep and the mediator logged in."""
    people = {name: await login(make, name) for name in (CONSUMER, ANKANG_REP, MEDIATOR, LEAD)}
    me = await ok(await people[MEDIATOR].get("/api/v1/me"))
    hearing_id, case_id = await hearing_ahead(callers(people), me["user"]["id"])
    return hearing_id, case_id, people


class RoomClient:
    """One participant on the hearing socket (its own login session), with an aiortc peer."""

    def __init__(self, session: Session, hearing_id: int) -> None:
        self.session = session
        self.hearing_id = hearing_id
        self.ws: Any = None
        self.messages: list[dict[str, Any]] = []
        self.peer: Any = None
        self._reader: Any = None
        self.user_id: int | None = None

    async def connect(self, *, consent: bool = True, token: str | None = None) -> dict[str, Any]:
        """Open the socket and join; the first reply (welcome or error)."""
        import asyncio

        if token is None:
            ticket = await ok(await self.session.post(f"/api/v1/hearings/{self.hearing_id}/join"))
            token = ticket["token"]
        self.messages = []
        self.ws = await self.session.client.ws_connect(f"/ws/hearings/{self.hearing_id}")
        await self.ws.send_json(
            {"type": "join", "v": 1, "token": token, "consent_recording": consent}
        )
        self._reader = asyncio.ensure_future(self._read())
        first = await self.next(lambda m: m["type"] in ("welcome", "error"))
        if first["type"] == "welcome":
            self.user_id = first["you"]["user_id"]
        return first

    async def _read(self) -> None:
        async for frame in self.ws:
            if frame.type.name == "TEXT":
                self.messages.append(frame.json())

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_json(message)

    async def next(self, match: Any, timeout: float = 10.0, after: int = 0) -> dict[str, Any]:
        """The first message (from index ``after``) that ``match`` accepts."""
        import asyncio

        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for message in self.messages[after:]:
                if match(message):
                    return message
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no matching message; got {self.messages[-5:]}")
            await asyncio.sleep(0.02)

    def state(self) -> dict[str, Any]:
        return next(m for m in reversed(self.messages) if m["type"] == "state")

    async def media(self, peer: Any) -> None:
        """Publish and receive through the relay (offer over the socket)."""
        self.peer = peer
        mark = len(self.messages)
        await self.send({"type": "offer", "sdp": await peer.offer()})
        answer = await self.next(lambda m: m["type"] in ("answer", "error"), after=mark)
        assert answer["type"] == "answer", answer
        await peer.accept(answer["sdp"])

    def slot_of(self, user_id: int) -> int:
        return int(self.state()["slots"][str(user_id)])

    async def close(self) -> None:
        if self.peer is not None:
            await self.peer.close()
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
