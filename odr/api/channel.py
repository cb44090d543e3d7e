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
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from odr.api.cases import ComplaintRequest, ConsumerIdentity, consumer_of, form_of
from odr.api.parsing import MAX_JSON_BYTES, decode_json, validate
from odr.domain.accounts import Actor
from odr.domain.cases import ChannelKind
from odr.domain.errors import Conflict, Unauthenticated
from odr.domain.signing import check_signature, check_timestamp
from odr.http.errors import HttpError
from odr.http.keys import CASES, PASSWORDS, SESSIONMAKER
from odr.services import case_views
from odr.storage.models import CaseRow, Channel, IdempotencyKey

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
    async with request.app[SESSIONMAKER]() as s:
        channel = (
            await s.execute(select(Channel).where(Channel.api_key == key, Channel.active.is_(True)))
        ).scalar_one_or_none()
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
    async with request.app[SESSIONMAKER]() as s:
        row = await s.get(IdempotencyKey, (channel_id, key))
        if row is None:
            return None
        if row.body_sha256 != digest:
            raise Conflict(
                "This Idempotency-Key was used with another request body.",
                code="idempotency_key_reused",
            )
        case = await s.get(CaseRow, row.case_id)
        assert case is not None
        return web.json_response(
            {"number": case.number, "state": case.state},
            status=200,
            headers={"Idempotent-Replayed": "true"},
        )


async def status(request: web.Request) -> web.Response:
    actor, _channel, _ = await authenticate(request)
    async with request.app[SESSIONMAKER]() as s:
        data: dict[str, Any] = await case_views.channel_status(
            s, actor, request.match_info["number"]
        )
    return web.json_response(data)
