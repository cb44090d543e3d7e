"""Turning request bodies into validated models, with errors that name the field."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from odr import json_input
from odr.domain.errors import ValidationFailed
from odr.http.errors import HttpError

M = TypeVar("M", bound=BaseModel)
MAX_JSON_BYTES = 256 * 1024


async def parse_json(request: web.Request, model: type[M]) -> M:
    if request.content_type != "application/json":
        raise HttpError(415, "json_required", "Send the request body as JSON.")
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise HttpError(
            413, "body_too_large", f"The request body may have at most {MAX_JSON_BYTES} bytes."
        )
    raw = await request.content.read(MAX_JSON_BYTES + 1)
    return validate(model, decode_json(raw))


def decode_json(raw: bytes) -> object:
    """A request body as JSON (empty: null), within the size, depth and character rules of
    `odr.json_input`; each refusal in the error shape with its own code."""
    try:
        return json_input.loads(raw or b"null", max_bytes=MAX_JSON_BYTES)
    except json_input.JsonRejected as exc:
        if exc.reason == "too_large":
            raise HttpError(
                413, "body_too_large", f"The request body may have at most {MAX_JSON_BYTES} bytes."
            ) from None
        if exc.reason == "too_deep":
            raise HttpError(
                400,
                "invalid_json",
                f"The request body may nest at most {json_input.MAX_DEPTH} levels.",
            ) from None
        if exc.reason == "control_character":
            raise ValidationFailed(
                "Text may not contain control characters (such as NUL).",
                code="invalid_characters",
                details={"field": exc.where},
            ) from None
        raise HttpError(400, "invalid_json", "The request body is not valid JSON.") from None


def validate(model: type[M], data: object) -> M:
    try:
        return model.model_validate(data)
    except PydanticError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        message = f"{field}: {first['msg']}" if field else str(first["msg"])
        raise ValidationFailed(
            message, code="invalid_field", details={"field": field, "problem": first["type"]}
        ) from None
