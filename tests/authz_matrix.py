"""The authorisation matrix: every route the app serves, with the rule of who may reach it.

One row per (method, path) as the router knows it (a GET row covers its HEAD). Each row names
its *access*, and the access names the rule a reader can check against the product's promise
(`odr.domain.authz`: strangers get 404, visible-but-not-allowed 403):

``PUBLIC``
    anyone, with or without a session: never 403, never 5xx (a login form may answer 401 to
    wrong credentials; logging out without a session is no error).
``SESSION``
    any logged-in user: never 401 (nor 303 to the login page), never 5xx;
    no session: 401 ``unauthenticated`` (API; a write that is not JSON gets 415
    ``json_required`` first), 303 to ``/login`` (a page), 401 (a page's form sent without a
    login, with the form's CSRF token: a page saying to log in).
``ROLE``
    the roles listed: allowed (never 401/403, never 5xx); any other logged-in role: 403
    (API and pages alike); no session as for SESSION.
``CASE``
    a route about one case (or a hearing, an evidence item, an upload of one case). Who stands
    to the case — its consumer, the insurer's staff, its mediator, the lead of its centre, a
    supervisor — gets the answer for the case's state: 2xx or a 4xx naming the state or the
    rule (403, 404 for a sub-object such as an agreement not drafted yet, 409, 422), never 401,
    never 5xx and never "no such case/hearing". A stranger (another consumer, another
    insurer's staff, a mediator not assigned) gets 404, or for a malformed request exactly what
    a case that does not exist would give — never 2xx, never 403, and nothing of the case in
    the body; what a stranger sends changes nothing. No session as for SESSION.
    An evidence item for the mediator only is the other party's object: its submitter, the
    mediator, the lead and the supervisor see it; the other party gets 404 as a stranger would,
    and never reads its name or bytes anywhere (lists, timelines, exports).
``CHANNEL``
    signed partner-channel calls (HMAC): the channel reads its own cases (2xx); a case it did
    not submit: 404; unsigned, with or without a login session: 401.
``TOKEN``
    the metrics of a node: only with the metrics token (``Authorization: Bearer …``), whoever
    is logged in; without it 401 ``metrics_token_required`` (404 ``metrics_disabled`` when the
    node has no token configured). Tested in ``tests/realtime/test_metrics.py``.
``SOCKET``
    the hearing socket: no session is refused before the upgrade (401); with a session, the
    join is refused unless the user holds a join token for this hearing (which only a party or
    the hearing's mediator can get, ``POST /api/v1/hearings/{id}/join``; strangers 404).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Access(StrEnum):
    PUBLIC = "public"
    SESSION = "session"
    ROLE = "role"
    CASE = "case"
    CHANNEL = "channel"
    TOKEN = "token"
    SOCKET = "socket"


#: Role names as `odr.domain.accounts.Role` spells them.
CONSUMER = "consumer"
INSURER_REP = "insurer_rep"
MEDIATOR = "mediator"
CENTRE_LEAD = "centre_lead"
SUPERVISOR = "supervisor"
STAFF = frozenset({INSURER_REP, MEDIATOR, CENTRE_LEAD, SUPERVISOR})


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    access: Access
    roles: frozenset[str] = frozenset()

    @property
    def is_page(self) -> bool:
        return not self.path.startswith(("/api/", "/healthz", "/readyz", "/metrics", "/ws/"))

    @property
    def writes(self) -> bool:
        return self.method not in ("GET", "HEAD")


def _rows(access: Access, *specs: str, roles: frozenset[str] = frozenset()) -> list[Row]:
    out = []
    for spec in specs:
        method, path = spec.split(" ", 1)
        out.append(Row(method, path, access, roles))
    return out


P, S, R, C = Access.PUBLIC, Access.SESSION, Access.ROLE, Access.CASE
ONLY_SUPERVISOR = frozenset({SUPERVISOR})
ONLY_CONSUMER = frozenset({CONSUMER})

_A = "/api/v1/cases/{case_id}"
_H = "/api/v1/hearings/{hearing_id}"
_ACTIONS = [
    "withdraw",
    "answer",
    "accept_answer",
    "reject_answer",
    "request_mediation",
    "request_extension",
    "approve_extension",
    "refuse_extension",
    "refer_to_mediation",
    "return_to_insurer",
    "send_message",
    "correct_category",
    "close",
    "assign_mediator",
    "accept_assignment",
    "decline_assignment",
    "{operation}",
]

ROWS: tuple[Row, ...] = (
    # --- API: health, meta, accounts ---
    *_rows(P, "GET /healthz", "GET /readyz", "GET /api/v1/openapi.json", "GET /api/v1/insurers"),
    *_rows(P, "POST /api/v1/auth/register", "POST /api/v1/auth/login"),
    *_rows(P, "POST /api/v1/auth/register/confirm", "POST /api/v1/auth/password-reset"),
    *_rows(P, "POST /api/v1/auth/password-reset/confirm"),
    *_rows(P, "POST /api/v1/auth/logout"),  # logging out needs no login (204 either way)
    *_rows(S, "GET /api/v1/me", "GET /api/v1/cases"),
    *_rows(S, "GET /api/v1/notifications", "POST /api/v1/notifications/read"),
    *_rows(R, "POST /api/v1/users", "GET /api/v1/organisations", roles=ONLY_SUPERVISOR),
    *_rows(R, "POST /api/v1/referrals", "GET /api/v1/warnings", roles=ONLY_SUPERVISOR),
    *_rows(R, "GET /api/v1/dashboard", "GET /api/v1/dashboard.csv", roles=ONLY_SUPERVISOR),
    *_rows(R, "GET /api/v1/digests/{day}", roles=ONLY_SUPERVISOR),
    *_rows(R, "POST /api/v1/cases", roles=ONLY_CONSUMER),
    # --- API: one case ---
    *_rows(C, f"GET {_A}", f"GET {_A}/timeline", f"GET {_A}/chain", f"GET {_A}/stream"),
    *_rows(C, f"POST {_A}/evidence", f"GET {_A}/evidence", f"POST {_A}/uploads"),
    *_rows(
        C, f"GET {_A}/evidence/{{sequence}}/content", f"POST {_A}/evidence/{{sequence}}/withdraw"
    ),
    *_rows(C, "GET /api/v1/uploads/{upload_id}", "PATCH /api/v1/uploads/{upload_id}"),
    *_rows(C, "POST /api/v1/uploads/{upload_id}/finish", "DELETE /api/v1/uploads/{upload_id}"),
    *_rows(C, f"GET {_A}/export"),
    *_rows(
        C, f"GET {_A}/evidence/{{sequence}}/text", f"GET {_A}/search", f"GET {_A}/evidence-flags"
    ),
    *_rows(C, f"POST {_A}/evidence/{{sequence}}/redaction-requests"),
    *_rows(C, *(f"POST {_A}/actions/{name}" for name in _ACTIONS)),
    *_rows(C, f"GET {_A}/hearings", f"POST {_A}/hearings", f"GET {_A}/mediators"),
    *_rows(C, f"GET {_A}/mediator-choice", f"POST {_A}/mediator-choice"),
    *_rows(C, f"GET {_H}", f"POST {_H}/choose", f"POST {_H}/confirm", f"POST {_H}/reschedule"),
    *_rows(C, f"POST {_H}/cancel", f"GET {_H}/invitation.ics", f"POST {_H}/join"),
    *_rows(C, f"GET {_H}/chat", f"GET {_H}/call-record", f"GET {_H}/recordings"),
    *_rows(C, f"GET {_H}/recordings/{{recording_id}}", f"GET {_H}/minutes", f"PUT {_H}/minutes"),
    *_rows(C, f"GET {_A}/agreement", f"POST {_A}/agreement", f"POST {_A}/agreement/sign"),
    *_rows(C, f"POST {_A}/agreement/sign-code"),
    *_rows(C, f"GET {_A}/agreement.pdf", f"GET {_A}/blind-offers", f"POST {_A}/blind-offers"),
    *_rows(C, f"GET {_A}/offers", f"POST {_A}/offers", f"POST {_A}/offers/{{sequence}}/answer"),
    *_rows(C, f"POST {_A}/payments", f"POST {_A}/payments/confirm"),
    *_rows(C, f"POST {_A}/payments/dispute", f"POST {_A}/not-settled", f"POST {_A}/close"),
    *_rows(C, f"GET {_A}/report", f"GET {_A}/report.pdf", f"GET {_A}/referral-package"),
    *_rows(C, f"GET {_A}/confirmation-package", f"GET {_A}/rating", f"POST {_A}/rating"),
    # --- a node's metrics (a scraper's token) ---
    *_rows(Access.TOKEN, "GET /metrics"),
    # --- API: partner channels ---
    *_rows(Access.CHANNEL, "POST /api/v1/channel/complaints", "GET /api/v1/channel/cases/{number}"),
    # --- pages: public and accounts ---
    *_rows(P, "GET /", "GET /login", "POST /login", "GET /login/second-factor"),
    *_rows(P, "POST /login/second-factor", "GET /register", "POST /register", "GET /lang/{lang}"),
    *_rows(P, "GET /terms", "GET /check", "GET /faq", "GET /privacy", "GET /staff-check"),
    *_rows(P, "POST /care", "GET /care/{state}", "GET /static"),
    *_rows(P, "POST /logout"),
    *_rows(P, "GET /register/confirm", "POST /register/confirm", "POST /register/resend"),
    *_rows(P, "GET /password/reset", "POST /password/reset", "GET /activate", "POST /activate"),
    *_rows(P, "GET /password/reset/confirm", "POST /password/reset/confirm"),
    *_rows(P, "POST /password/reset/resend"),
    *_rows(S, "GET /home", "GET /inbox", "POST /inbox/read", "GET /cases"),
    *_rows(S, "GET /account", "POST /account/name", "POST /account/password"),
    *_rows(S, "POST /account/display", "POST /account/notifications", "POST /account/export"),
    *_rows(S, "POST /account/sessions/end-others", "GET /account/close", "POST /account/close"),
    *_rows(S, "POST /account/contact", "POST /account/contact/confirm"),
    *_rows(
        R,
        "GET /complaints/new",
        "POST /complaints/new",
        "GET /callback",
        "POST /callback",
        roles=ONLY_CONSUMER,
    ),
    *_rows(R, "GET /referrals/new", "POST /referrals/new", "GET /warnings", roles=ONLY_SUPERVISOR),
    *_rows(
        R,
        "GET /supervisor/dashboard",
        "GET /admin/users",
        "POST /admin/users",
        roles=ONLY_SUPERVISOR,
    ),
    *_rows(R, "GET /admin/organisations", "POST /admin/organisations", roles=ONLY_SUPERVISOR),
    *_rows(R, "POST /admin/users/{user_id}/second-factor", roles=ONLY_SUPERVISOR),
    *_rows(R, "GET /callbacks", roles=STAFF),
    # --- pages: one case ---
    *_rows(C, "GET /cases/{case_id}", "POST /cases/{case_id}/act/{operation}"),
    *_rows(C, "POST /cases/{case_id}/evidence", "GET /cases/{case_id}/report"),
    *_rows(C, "POST /cases/{case_id}/hearings", "POST /cases/{case_id}/mediator"),
    *_rows(C, "POST /cases/{case_id}/mediator-choice"),
    *_rows(C, "GET /cases/{case_id}/search", "GET /cases/{case_id}/evidence/{sequence}"),
    *_rows(C, "POST /cases/{case_id}/evidence/{sequence}/redaction-request"),
    *_rows(C, "GET /hearings/{hearing_id}", "GET /hearings/{hearing_id}/check"),
    *_rows(C, "POST /hearings/{hearing_id}/choose", "POST /hearings/{hearing_id}/confirm"),
    *_rows(C, "POST /hearings/{hearing_id}/reschedule", "POST /hearings/{hearing_id}/cancel"),
    *_rows(C, "GET /hearings/{hearing_id}/room", "GET /hearings/{hearing_id}/recordings"),
    *_rows(
        C,
        *(
            f"POST /cases/{{case_id}}/outcome/{tail}"
            for tail in (
                "agreement",
                "agreement/sign",
                "agreement/sign-code",
                "blind-offers",
                "offers",
                "offers/{sequence}/answer",
                "payments",
                "payments/confirm",
                "payments/dispute",
                "not-settled",
                "close",
                "rating",
            )
        ),
    ),
    # --- the hearing socket ---
    *_rows(Access.SOCKET, "GET /ws/hearings/{hearing_id}"),
)
