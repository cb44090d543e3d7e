"""The OpenAPI document, built from the endpoint list so it cannot drift from the router."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from odr.api.endpoint import Endpoint
from odr.api.schemas import ErrorOut
from odr.domain import cursors
from odr.domain.numbers import MAX_ID

ERROR_RESPONSES = {
    "400": "A malformed request (bad_request; a bad header or parameter form; bad_cursor: "
    "a page cursor this list did not give out, edited or cut short)",
    "401": "Not logged in or the session expired",
    "403": "Not allowed (code forbidden or csrf_failed)",
    "404": "Not found, or not visible to you",
    "409": "Conflicts with the current state",
    "414": "The query string is longer than 4,096 bytes (query_too_long)",
    "422": "Invalid input (invalid_field; invalid_characters: text with control characters "
    "such as NUL, in the body, the query or a form; file_empty: a file of no bytes); "
    "details.field names the field",
    "429": "Too many attempts; see Retry-After",
    "503": "The database, Redis or the object store is briefly unavailable "
    "(service_unavailable); try again after Retry-After",
}

#: What a request that changes something may answer besides.
WRITE_ERROR_RESPONSES = {
    "400": "The body is not JSON, or nests deeper than 32 levels (invalid_json)",
    "413": "The body is too large: 256 KiB of JSON (body_too_large), an upload past its "
    "limit (file_too_large)",
    "415": "Without a login session, send JSON (json_required); an upload of a type that is "
    "not accepted (unsupported_media_type)",
}


#: Path parameters that are ids: ASCII digits, from 1 (`odr.http.params.path_id`).
ID_PARAMETERS = frozenset({"case_id", "hearing_id", "recording_id", "sequence"})


#: Query parameters of the keyset lists: ``cursor`` is a list's own ``next`` or ``previous``.
QUERY: dict[str, dict[str, Any]] = {
    "limit": {
        "description": f"Rows per page, {cursors.DEFAULT_LIMIT} when not given; a larger "
        f"number than {cursors.MAX_LIMIT} counts as {cursors.MAX_LIMIT}",
        "schema": {"type": "integer", "minimum": 1, "default": cursors.DEFAULT_LIMIT},
    },
    "cursor": {
        "description": "Where the page starts: the `next` or `previous` of the page before; "
        "absent for the first page (an opaque token; an altered one is 400 bad_cursor)",
        "schema": {"type": "string", "maxLength": cursors.MAX_TOKEN},
    },
    "state": {"description": "Only cases in this state", "schema": {"type": "string"}},
    "category": {"description": "Only cases of this category", "schema": {"type": "string"}},
    "insurer_id": {
        "description": "Only cases against this insurer",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    },
    "care": {"description": "1: only cases in care mode", "schema": {"type": "string"}},
}


def _path_schema(name: str) -> dict[str, Any]:
    if name in ID_PARAMETERS:
        return {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    return {"type": "string"}


#: Operations that create an object and answer with its ``id``, and the path parameter that
#: names such an object elsewhere: their success responses link to every operation that
#: takes it (OpenAPI links, which stateful clients and testers follow).
CREATES = {
    "api.cases.file": "case_id",
    "api.referrals": "case_id",
    "api.hearings.propose": "hearing_id",
}


def _link_created_objects(paths: dict[str, dict[str, Any]]) -> None:
    operations = [op for methods in paths.values() for op in methods.values()]
    for creator in operations:
        parameter = CREATES.get(creator["operationId"])
        if parameter is None:
            continue
        success = next(v for k, v in creator["responses"].items() if k.startswith("2"))
        success["links"] = {
            op["operationId"]: {
                "operationId": op["operationId"],
                "parameters": {parameter: "$response.body#/id"},
            }
            for op in operations
            if op is not creator and any(p["name"] == parameter for p in op.get("parameters", ()))
        }


def build_document(endpoints: Iterable[Endpoint]) -> dict[str, Any]:
    schemas: dict[str, Any] = {}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            schemas[name] = sub
        schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    error_ref = ref(ErrorOut)
    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        op: dict[str, Any] = {"operationId": ep.name, "summary": ep.summary, "tags": [ep.tag]}
        params = [part[1:-1] for part in ep.path.split("/") if part.startswith("{")]
        if params:
            op["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": _path_schema(p)}
                for p in params
            ]
        if ep.query:
            op.setdefault("parameters", []).extend(
                {"name": name, "in": "query", "required": False, **QUERY[name]} for name in ep.query
            )
        if ep.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(ep.body)}},
            }
        ok: dict[str, Any] = {"description": "Success"}
        if ep.response is not None:
            ok["content"] = {"application/json": {"schema": ref(ep.response)}}
        elif ep.media_type != "application/json":
            ok["content"] = {ep.media_type: {"schema": {"type": "string"}}}
        responses: dict[str, Any] = {str(ep.status): ok}
        for status, text in ep.errors:
            responses[status] = {
                "description": text,
                "content": {"application/json": {"schema": error_ref}},
            }
        if ep.path.startswith("/api/"):
            writes = ep.method in ("POST", "PUT", "PATCH", "DELETE")
            errors = {**ERROR_RESPONSES, **(WRITE_ERROR_RESPONSES if writes else {})}
            for status, text in errors.items():
                responses[status] = {
                    "description": text,
                    "content": {"application/json": {"schema": error_ref}},
                }
        op["responses"] = responses
        if ep.auth:
            op["security"] = [{"session": []}]
        paths.setdefault(ep.path, {})[ep.method.lower()] = op
    _link_created_objects(paths)
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
