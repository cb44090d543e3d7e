"""Every JSON endpoint, declared once: the router and the OpenAPI document read this list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel

from odr.api import accounts, health, schemas
from odr.api.openapi import openapi_handler

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    name: str
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    auth: bool = True


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        "/healthz",
        health.healthz,
        "healthz",
        "The process is alive",
        "health",
        response=schemas.Health,
        auth=False,
    ),
    Endpoint(
        "GET",
        "/readyz",
        health.readyz,
        "readyz",
        "Database and Redis are reachable",
        "health",
        response=schemas.Health,
        auth=False,
    ),
    Endpoint(
        "GET",
        "/api/v1/openapi.json",
        openapi_handler,
        "openapi",
        "This document",
        "meta",
        auth=False,
    ),
    Endpoint(
        "POST",
        "/api/v1/auth/register",
        accounts.register,
        "api.register",
        "Register a consumer account and log in",
        "accounts",
        body=schemas.RegisterRequest,
        response=schemas.SessionOut,
        status=201,
        auth=False,
    ),
    Endpoint(
        "POST",
        "/api/v1/auth/login",
        accounts.login,
        "api.login",
        "Log in with a password (and a TOTP code for staff)",
        "accounts",
        body=schemas.LoginRequest,
        response=schemas.SessionOut,
        auth=False,
    ),
    Endpoint(
        "POST",
        "/api/v1/auth/logout",
        accounts.logout,
        "api.logout",
        "Log out",
        "accounts",
        status=204,
    ),
    Endpoint(
        "GET",
        "/api/v1/me",
        accounts.me,
        "api.me",
        "The logged-in user",
        "accounts",
        response=schemas.SessionOut,
    ),
    Endpoint(
        "POST",
        "/api/v1/users",
        accounts.create_staff,
        "api.users.create",
        "Create a staff account (supervisors with admin rights)",
        "accounts",
        body=schemas.CreateStaffRequest,
        response=schemas.CreatedStaffOut,
        status=201,
    ),
    Endpoint(
        "GET",
        "/api/v1/organisations",
        accounts.list_organisations,
        "api.organisations",
        "List organisations (supervisors with admin rights)",
        "accounts",
    ),
)


def setup_api(app: web.Application) -> None:
    for ep in ENDPOINTS:
        app.router.add_route(ep.method, ep.path, ep.handler, name=ep.name)
