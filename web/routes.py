"""Page routes, named; templates build URLs with url() from these names."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from odr.http.keys import PAGE_ERROR_RENDERER
from odr.i18n import translations
from web import (
    case_pages,
    code_pages,
    desk_pages,
    evidence_text_pages,
    outcome_pages,
    outcome_section,
    scheduling_pages,
    views,
)
from web.account_pages import setup_account_pages
from web.admin_pages import setup_admin_pages
from web.care import setup_care_pages
from web.dashboard_pages import setup_dashboard_pages
from web.hearing_room_pages import setup_hearing_room_pages
from web.keys import CASE_PAGE
from web.public_pages import setup_public_pages
from web.rendering import error_page, make_environment

STATIC = Path(__file__).with_name("static")


def setup(app: web.Application) -> None:
    make_environment(app)
    app[PAGE_ERROR_RENDERER] = error_page
    app[CASE_PAGE] = case_pages.case_page
    app.on_startup.append(_compile_catalogues)
    r = app.router
    r.add_get("/", views.index, name="index")
    r.add_get("/login", views.login_form, name="login")
    r.add_post("/login", views.login_submit)
    r.add_get("/login/second-factor", views.second_factor_form, name="second_factor")
    r.add_post("/login/second-factor", views.second_factor_submit)
    r.add_get("/register", views.register_form, name="register")
    r.add_post("/register", code_pages.register_submit)
    r.add_post("/logout", views.logout, name="logout")
    r.add_get("/home", views.home, name="home")
    r.add_get("/lang/{lang}", views.switch_language, name="switch_language")
    r.add_get("/terms", case_pages.terms, name="terms")
    r.add_get("/complaints/new", case_pages.complaint_form, name="complaint_new")
    r.add_post("/complaints/new", case_pages.complaint_submit)
    r.add_get("/referrals/new", case_pages.referral_form, name="referral_new")
    r.add_post("/referrals/new", case_pages.referral_submit)
    r.add_get("/inbox", desk_pages.inbox_page, name="inbox")
    r.add_post("/inbox/read", desk_pages.inbox_read, name="inbox_read")
    r.add_get("/warnings", desk_pages.warnings_page, name="warnings")
    r.add_get("/cases", case_pages.case_list, name="cases")
    r.add_get(r"/cases/{case_id:\d+}", case_pages.case_page, name="case")
    r.add_post(
        r"/cases/{case_id:\d+}/act/{operation:[a-z_]+}", case_pages.case_act, name="case_act"
    )
    r.add_post(r"/cases/{case_id:\d+}/evidence", case_pages.evidence_submit, name="case_evidence")
    scheduling_pages.install(app)
    scheduling_pages.add_routes(r)
    outcome_pages.add_routes(r)
    evidence_text_pages.add_routes(r)
    outcome_section.add_routes(r)
    setup_hearing_room_pages(app)
    setup_dashboard_pages(app)
    setup_public_pages(app)
    setup_care_pages(app)
    setup_admin_pages(app)
    setup_account_pages(app)
    code_pages.add_routes(r)
    r.add_static("/static/", STATIC, name="static", append_version=True)


async def _compile_catalogues(app: web.Application) -> None:
    """Compile the catalogues before the first page, not during it."""
    translations()
