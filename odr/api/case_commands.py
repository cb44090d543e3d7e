"""The case commands (`odr.domain.commands`) over HTTP: one endpoint and one request body per
command, derived from the registry, at ``/api/v1/cases/{case_id}/actions/<name>``.

The bodies describe the commands for the OpenAPI document; the command itself reads the
parameters (`CaseCommand.from_mapping`), so the errors are the same on pages and in the API
(code ``invalid_field`` naming the field; the case's own codes, such as ``reason_too_long``,
for its rules). Unknown parameters are ignored.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, create_model

from odr.api.endpoint import Endpoint, Handler
from odr.api.parsing import parse_json
from odr.domain.commands import COMMANDS, CaseCommand, Param, ParamKind
from odr.domain.masking import MaskResult
from odr.http.auth import require_actor
from odr.http.keys import CASES
from odr.http.params import path_id

PATH = "/api/v1/cases/{case_id}/actions/"


class CommandBody(BaseModel):
    """Any JSON object: the command reads its own parameters."""

    model_config = ConfigDict(extra="allow")


def _field(param: Param) -> tuple[Any, Any]:
    schema: dict[str, Any] = {}
    kind: Any
    if param.kind is ParamKind.TEXT:
        kind = str
        if param.max_length is not None:
            schema["maxLength"] = param.max_length  # the case's rule, checked by the case
    elif param.kind is ParamKind.CHOICE:
        kind = str
        schema["enum"] = list(param.choices)
    else:
        kind = int
        if param.kind is ParamKind.MONEY:
            schema["minimum"] = 0
    if param.nullable or param.by_service:
        kind = kind | None
    default: Any = ... if param.required else (None if kind is not str else "")
    return kind, Field(default=default, description=param.description, json_schema_extra=schema)


def body_of(command: type[CaseCommand]) -> type[BaseModel]:
    """The request body of ``command`` as the OpenAPI document shows it."""
    fields = {name: _field(param) for name, param in command.params()}
    model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        f"{command.__name__}Request",
        __base__=CommandBody,
        __doc__=command.summary(),
        **fields,
    )
    return model


def _reply(outcome: Any) -> dict[str, Any]:
    reply: dict[str, Any] = {
        "id": outcome.case.id,
        "state": outcome.case.state.value,
        "version": outcome.case.version,
    }
    if isinstance(outcome.value, MaskResult):
        reply["masked"] = {
            "kinds": list(outcome.value.kinds),
            "count": outcome.value.count,
            "text": outcome.value.text,
        }
    return reply


async def _act(request: web.Request, operation: str) -> web.Response:
    actor = await require_actor(request)
    body = await parse_json(request, CommandBody)
    case_id = path_id(request, "case_id")
    outcome = await request.app[CASES].act(actor, case_id, operation, body.model_dump())
    return web.json_response(_reply(outcome))


def handler_of(operation: str) -> Handler:
    async def act(request: web.Request) -> web.Response:
        return await _act(request, operation)

    act.__name__ = f"act_{operation}"
    return act


async def unknown(request: web.Request) -> web.Response:
    """Any other name: 404 ``unknown_operation``."""
    return await _act(request, request.match_info["operation"])


def endpoints() -> tuple[Endpoint, ...]:
    """One endpoint per command, then the one that refuses every other name."""
    return (
        *(
            Endpoint(
                "POST",
                PATH + name,
                handler_of(name),
                f"api.cases.act.{name}",
                command.summary(),
                "cases",
                body=body_of(command),
            )
            for name, command in COMMANDS.items()
        ),
        Endpoint(
            "POST",
            PATH + "{operation}",
            unknown,
            "api.cases.act",
            "Any other operation: 404 unknown_operation",
            "cases",
        ),
    )
