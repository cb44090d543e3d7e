"""The hearing socket's protocol, version 1: every message both ways, typed, in one place.

A message is one JSON object with a ``type``; the client's first message is ``join`` with the
protocol version and its join token. Anything the server cannot read — not JSON, too long, an
unknown ``type``, a missing or wrong field — is answered with an ``error`` message carrying a
stable code; the socket stays open.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from odr import json_input

VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024  # an SDP offer with 12 m-lines is ~10 KB
MAX_CHAT_LENGTH = 2000
MAX_SDP_LENGTH = 60_000
Side = Literal["consumer", "insurer"]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- client → server ---------------------------------------------------------------------------


class Join(_Message):
    type: Literal["join"]
    v: int
    token: str = Field(max_length=512)
    consent_recording: bool = False  # the participant saw the recording notice and agreed


class Offer(_Message):
    type: Literal["offer"]
    sdp: str = Field(max_length=MAX_SDP_LENGTH)


class Candidate(_Message):
    """A trickled ICE candidate (browser form); ``candidate: null`` ends the candidates."""

    type: Literal["ice"]
    candidate: dict[str, Any] | None


class Leave(_Message):
    type: Literal["leave"]


class Chat(_Message):
    type: Literal["chat"]
    client_id: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=MAX_CHAT_LENGTH)


class Mute(_Message):
    """Mute a participant's microphone (a participant itself, or the mediator anyone);
    only the participant unmutes itself."""

    type: Literal["mute"]
    user_id: int
    muted: bool


class Devices(_Message):
    """What the participant itself switched on or off (shown to the others)."""

    type: Literal["devices"]
    audio: bool
    video: bool


class Caucus(_Message):
    """The mediator talks with one side alone (背对背); ``side: null`` ends the caucus."""

    type: Literal["caucus"]
    side: Side | None


class Recording(_Message):
    type: Literal["recording"]
    on: bool


class Admit(_Message):
    type: Literal["admit"]
    user_id: int


class Deny(_Message):
    type: Literal["deny"]
    user_id: int


class Remove(_Message):
    type: Literal["remove"]
    user_id: int


class End(_Message):
    type: Literal["end"]


class Ping(_Message):
    type: Literal["ping"]


ClientMessage = Annotated[
    Join
    | Offer
    | Candidate
    | Leave
    | Chat
    | Mute
    | Devices
    | Caucus
    | Recording
    | Admit
    | Deny
    | Remove
    | End
    | Ping,
    Field(discriminator="type"),
]
_CLIENT = TypeAdapter[ClientMessage](ClientMessage)
CLIENT_TYPES = frozenset(
    {"join", "offer", "ice", "leave", "chat", "mute", "devices", "caucus", "recording"}
    | {"admit", "deny", "remove", "end", "ping"}
)


class ProtocolError(Exception):
    """A message the server cannot accept; ``code`` is sent back in an ``error`` message."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


def parse(raw: str | bytes) -> ClientMessage:
    """Read one client message or raise `ProtocolError` with a stable code."""
    try:
        data = json_input.loads(raw, max_bytes=MAX_MESSAGE_BYTES)
    except json_input.JsonRejected as exc:
        if exc.reason == "too_large":
            raise ProtocolError(
                "message_too_large", f"Messages are limited to {MAX_MESSAGE_BYTES} bytes."
            ) from None
        if exc.reason == "too_deep":
            raise ProtocolError("malformed_message", exc.message) from None
        if exc.reason == "control_character":
            raise ProtocolError(
                "invalid_message", exc.message, {"fields": [exc.where] if exc.where else []}
            ) from None
        raise ProtocolError("malformed_message", "The message is not JSON.") from None
    return parse_dict(data)


def parse_dict(data: Any) -> ClientMessage:
    """Read one client message already decoded from JSON."""
    if not isinstance(data, dict):
        raise ProtocolError("malformed_message", "The message must be a JSON object.")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_TYPES:
        raise ProtocolError("unknown_message", "Unknown message type.", {"type": str(kind)[:40]})
    try:
        return _CLIENT.validate_python(data)
    except ValidationError as exc:
        fields = [".".join(str(p) for p in e["loc"][1:]) for e in exc.errors()]
        raise ProtocolError(
            "invalid_message", "A field of the message is missing or wrong.", {"fields": fields}
        ) from None


# --- server → client ---------------------------------------------------------------------------
# Server messages are plain dicts built here, so their shapes live next to the client's.


def error(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, "details": details or {}}


def welcome(
    you: dict[str, Any], ice_servers: list[dict[str, Any]], slots: int, in_lobby: bool
) -> dict[str, Any]:
    """The answer to ``join``: who you are, how to connect, whether you wait in the lobby."""
    return {
        "type": "welcome",
        "v": VERSION,
        "you": you,
        "ice_servers": ice_servers,
        "slots": slots,
        "lobby": in_lobby,
    }


def answer(sdp: str) -> dict[str, Any]:
    return {"type": "answer", "sdp": sdp}


def room_state(state: dict[str, Any]) -> dict[str, Any]:
    """Everything a participant sees of the room: who is there, muted, in the lobby; the
    caucus; recording; and which of its receive slots shows whom (``slots``)."""
    return {"type": "state", **state}


def chat(message: dict[str, Any]) -> dict[str, Any]:
    return {"type": "chat", **message}


def chat_ack(client_id: str, message_id: int, masked: bool) -> dict[str, Any]:
    """Tells the sender its message is stored; ``masked``: personal numbers were hidden."""
    return {"type": "chat_ack", "client_id": client_id, "id": message_id, "masked": masked}


def notice(code: str, **params: Any) -> dict[str, Any]:
    """Something the participant must be told: muted_by_mediator, caucus_excluded,
    caucus_started, caucus_ended, removed, denied, admitted, hearing_ended, replaced."""
    return {"type": "notice", "code": code, "params": params}


def pong() -> dict[str, Any]:
    return {"type": "pong"}
