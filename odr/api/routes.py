"""Every JSON endpoint, declared once: the router and the OpenAPI document read this list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel

from odr.api import accounts, cases, channel, dashboard, evidence, health, schemas
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
    Endpoint(
        "GET",
        "/api/v1/insurers",
        accounts.list_insurers,
        "api.insurers",
        "Insurers a complaint can be filed against",
        "cases",
        auth=False,
    ),
    Endpoint(
        "POST",
        "/api/v1/cases",
        cases.file_complaint,
        "api.cases.file",
        "File a complaint (consumers)",
        "cases",
        body=cases.ComplaintRequest,
        response=cases.IntakeOut,
        status=201,
    ),
    Endpoint(
        "GET",
        "/api/v1/cases",
        cases.list_cases,
        "api.cases.list",
        "The cases the caller may see: own, the insurer's inbox, the centre's queue, all",
        "cases",
    ),
    Endpoint(
        "GET",
        "/api/v1/cases/{case_id}",
        cases.get_case,
        "api.cases.get",
        "One case, with the operations the caller may do now",
        "cases",
    ),
    Endpoint(
        "GET",
        "/api/v1/cases/{case_id}/timeline",
        cases.get_timeline,
        "api.cases.timeline",
        "The case's event log",
        "cases",
    ),
    Endpoint(
        "GET",
        "/api/v1/cases/{case_id}/chain",
        cases.chain,
        "api.cases.chain",
        "Verify the case's hash chain (events and evidence)",
        "cases",
    ),
    Endpoint(
        "POST",
        "/api/v1/cases/{case_id}/evidence",
        evidence.upload,
        "api.evidence.upload",
        "Upload evidence: the raw body (?name=&kind=&visibility=) or a multipart 'file'; "
        "the type is sniffed from the bytes; 413 over the size limits, 415 for other types",
        "evidence",
        status=201,
    ),
    Endpoint(
        "GET",
        "/api/v1/cases/{case_id}/evidence",
        evidence.list_items,
        "api.evidence.list",
        "The evidence items the caller may see",
        "evidence",
    ),
    Endpoint(
        "GET",
        "/api/v1/cases/{case_id}/evidence/{sequence}/content",
        evidence.download,
        "api.evidence.content",
        "An item's bytes (attachment; ?inline=1 previews images and PDF); Range supported",
        "evidence",
    ),
    Endpoint(
        "POST",
        "/api/v1/cases/{case_id}/uploads",
        evidence.begin_upload,
        "api.uploads.begin",
        "Begin a resumable upload of a declared size; returns its URL",
        "evidence",
        body=evidence.UploadRequest,
        status=201,
    ),
    Endpoint(
        "GET",
        "/api/v1/uploads/{upload_id}",
        evidence.upload_status,
        "api.uploads.status",
        "Where an upload stands (also HEAD: Upload-Offset, Upload-Length)",
        "evidence",
    ),
    Endpoint(
        "PATCH",
        "/api/v1/uploads/{upload_id}",
        evidence.append_upload,
        "api.uploads.append",
        "Send the next bytes at Upload-Offset; 409 upload_offset_mismatch gives the offset",
        "evidence",
        status=204,
    ),
    Endpoint(
        "POST",
        "/api/v1/uploads/{upload_id}/finish",
        evidence.finish_upload,
        "api.uploads.finish",
        "Finish an upload: the type is sniffed and the item enters the case's evidence",
        "evidence",
        status=201,
    ),
    Endpoint(
        "DELETE",
        "/api/v1/uploads/{upload_id}",
        evidence.abort_upload,
        "api.uploads.abort",
        "Cancel an upload",
        "evidence",
        status=204,
    ),
    Endpoint(
        "POST",
        "/api/v1/cases/{case_id}/evidence/{sequence}/withdraw",
        evidence.withdraw,
        "api.evidence.withdraw",
        "Withdraw an item (its submitter): a tombstone in the log; the chain keeps its entry",
        "evidence",
        body=evidence.WithdrawRequest,
        status=204,
    ),
    Endpoint(
        "GET",
        "/api/v1/digests/{day}",
        evidence.digest,
        "api.digests",
        "The daily digest over every case's chain head (supervisors)",
        "evidence",
    ),
    Endpoint(
        "GET",
        "/api/v1/cases/{case_id}/export",
        evidence.export,
        "api.evidence.export",
        "A ZIP bundle of what the caller may see, verifiable offline (odr verify-bundle)",
        "evidence",
    ),
    Endpoint(
        "GET",
        "/api/v1/cases/{case_id}/stream",
        cases.stream,
        "api.cases.stream",
        "Server-sent events: 'changed' whenever the case changes",
        "cases",
    ),
    Endpoint(
        "POST",
        "/api/v1/cases/{case_id}/actions/{operation}",
        cases.act,
        "api.cases.act",
        "Do an operation: withdraw, answer, accept_answer, reject_answer, "
        "request_mediation, request_extension, approve_extension, refuse_extension, "
        "refer_to_mediation, return_to_insurer, send_message, close",
        "cases",
        body=cases.ActionRequest,
    ),
    Endpoint(
        "POST",
        "/api/v1/referrals",
        cases.register_referral,
        "api.referrals",
        "Register a complaint referred by the regulator (supervisors)",
        "cases",
        body=cases.ReferralRequest,
        response=cases.IntakeOut,
        status=201,
    ),
    Endpoint(
        "GET",
        "/api/v1/warnings",
        cases.early_warnings,
        "api.warnings",
        "Early warnings: clusters of similar complaints (supervisors)",
        "oversight",
    ),
    Endpoint(
        "GET",
        "/api/v1/notifications",
        cases.notifications,
        "api.notifications",
        "The caller's inbox",
        "notifications",
    ),
    Endpoint(
        "POST",
        "/api/v1/notifications/read",
        cases.mark_read,
        "api.notifications.read",
        "Mark the inbox read",
        "notifications",
        status=204,
    ),
    Endpoint(
        "POST",
        "/api/v1/channel/complaints",
        channel.submit,
        "api.channel.submit",
        "Submit a complaint for a consumer (signed; Idempotency-Key)",
        "channel",
        body=channel.ChannelComplaint,
        status=201,
        auth=False,
    ),
    Endpoint(
        "GET",
        "/api/v1/channel/cases/{number}",
        channel.status,
        "api.channel.status",
        "The status of a case the channel submitted (signed)",
        "channel",
        auth=False,
    ),
    Endpoint(
        "GET",
        "/api/v1/dashboard",
        dashboard.get_dashboard,
        "api.dashboard",
        "The supervisor's figures for a period (?from=&to=, local dates YYYY-MM-DD; "
        "default the last 30 days, at most three years)",
        "oversight",
    ),
    Endpoint(
        "GET",
        "/api/v1/dashboard.csv",
        dashboard.get_dashboard_csv,
        "api.dashboard.csv",
        "The same figures as a CSV download (UTF-8 with BOM; one section per table)",
        "oversight",
    ),
)


def setup_api(app: web.Application) -> None:
    for ep in ENDPOINTS:
        if ep.method == "GET":  # answers HEAD too
            app.router.add_get(ep.path, ep.handler, name=ep.name)
        else:
            app.router.add_route(ep.method, ep.path, ep.handler, name=ep.name)
