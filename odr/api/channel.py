"""The partner API: channels submit complaints for consumers and read their cases' status.

Every request is signed (`odr.domain.signing`): headers ``X-ODR-Key`` (the channel's API key),
``X-ODR-Timestamp`` (Unix seconds) and ``X-ODR-Signature``. ``Idempotency-Key`` on a submission
makes retries safe: the same key and body give the same case; the same key with another body
is refused with 409.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from odr.api.cases import ComplaintRequest, ConsumerIdentity, consumer_of, form_of
from odr.api.parsing import MAX_JSON_BYTES, decode_json, validate
from odr.domain.accounts import Actor
from odr.domain.cases import ChannelKind
from odr.domain.errors import Unauthenticated
from odr.domain.signing import check_signature, check_timestamp
from odr.http.errors import HttpError
from odr.http.keys import CASE_VIEWS, CASES, CHANNELS, PASSWORDS
from odr.storage.models import Channel

MAX_IDEMPOTENCY_KEY = 128


class ChannelComplaint(ComplaintRequest):
    consumer: ConsumerIdentity


async def authenticate(request: web.Request) -> tuple[Actor, Channel, bytes]:
    key = request.headers.get("X-ODR-Key", "")
    stamp = request.headers.get("X-ODR-Timestamp", "")
    signature = request.headers.get("X-ODR-Signature", "")
    if not (key and stamp and signature):
        raise Unauthenticated(
            "Sign the request (X-ODR-Key, X-ODR-Timestamp, X-ODR-Signature).",
            code="signature_required",
        )
    body = await request.content.read(MAX_JSON_BYTES + 1)
    if len(body) > MAX_JSON_BYTES:
        raise HttpError(
            413, "body_too_large", f"The request body may have at most {MAX_JSON_BYTES} bytes."
        )
    check_timestamp(stamp, time.time())
    channel = await request.app[CHANNELS].active_by_key(key)
    if channel is None:
        raise Unauthenticated("Unknown or disabled API key.", code="unknown_api_key")
    check_signature(channel.secret, request.method, request.raw_path, stamp, body, signature)
    return Actor.for_channel(channel.id), channel, body


async def submit(request: web.Request) -> web.Response:
    actor, channel, raw = await authenticate(request)
    body = validate(ChannelComplaint, decode_json(raw))
    key = request.headers.get("Idempotency-Key")
    digest = hashlib.sha256(raw).hexdigest()
    if key is not None:
        if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
            raise HttpError(
                400,
                "invalid_idempotency_key",
                f"An Idempotency-Key has 1 to {MAX_IDEMPOTENCY_KEY} characters.",
            )
        earlier = await _replay(request, channel.id, key, digest)
        if earlier is not None:
            return earlier
    kind = ChannelKind.HOTLINE if channel.kind == "hotline" else ChannelKind.PARTNER_API
    try:
        intake = await request.app[CASES].file_for(
            actor,
            form_of(body),
            consumer_of(body.consumer),
            passwords=request.app[PASSWORDS],
            channel_kind=kind,
            idempotency=(key, digest) if key is not None else None,
        )
    except IntegrityError:
        if key is None:
            raise
        replay = await _replay(request, channel.id, key, digest)  # a concurrent retry won
        if replay is None:
            raise
        return replay
    return web.json_response({"number": intake.number, "state": intake.state}, status=201)


async def _replay(
    request: web.Request, channel_id: int, key: str, digest: str
) -> web.Response | None:
    earlier = await request.app[CHANNELS].replay(channel_id, key, digest)
    if earlier is None:
        return None
    return web.json_response(
        {"number": earlier.number, "state": earlier.state},
        status=200,
        headers={"Idempotent-Replayed": "true"},
    )


async def status(request: web.Request) -> web.Response:
    actor, _channel, _ = await authenticate(request)
    data: dict[str, Any] = await request.app[CASE_VIEWS].channel_status(
        actor, request.match_info["number"]
    )
    return web.json_response(data)
