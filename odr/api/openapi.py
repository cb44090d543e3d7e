"""The OpenAPI document, built from the endpoint list so it cannot drift from the router."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from odr.api.schemas import ErrorOut

ERROR_RESPONSES = {
    "401": "Not logged in or the session expired",
    "403": "Not allowed (code forbidden or csrf_failed)",
    "404": "Not found, or not visible to you",
    "409": "Conflicts with the current state",
    "422": "Invalid input; details.field names the field",
    "429": "Too many attempts; see Retry-After",
}


def build_document() -> dict[str, Any]:
    from odr.api.routes import ENDPOINTS

    schemas: dict[str, Any] = {}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            schemas[name] = sub
        schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    error_ref = ref(ErrorOut)
    paths: dict[str, dict[str, Any]] = {}
    for ep in ENDPOINTS:
        op: dict[str, Any] = {"operationId": ep.name, "summary": ep.summary, "tags": [ep.tag]}
        params = [part[1:-1] for part in ep.path.split("/") if part.startswith("{")]
        if params:
            op["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in params
            ]
        if ep.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(ep.body)}},
            }
        ok: dict[str, Any] = {"description": "Success"}
        if ep.response is not None:
            ok["content"] = {"application/json": {"schema": ref(ep.response)}}
        responses: dict[str, Any] = {str(ep.status): ok}
        if ep.path.startswith("/api/"):
            for status, text in ERROR_RESPONSES.items():
                responses[status] = {
                    "description": text,
                    "content": {"application/json": {"schema": error_ref}},
                }
        op["responses"] = responses
        if ep.auth:
            op["security"] = [{"session": []}]
        paths.setdefault(ep.path, {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "ODR API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "odr_session"},
            },
        },
    }


async def openapi_handler(request: web.Request) -> web.Response:
    return web.json_response(build_document())
