"""Rendering a form page again with its error, for the public, care-mode and admin pages, and
what those pages say for the error codes `web.messages` does not know."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from odr.domain.errors import DomainError, RateLimited
from odr.http.auth import csrf_token
from odr.http.errors import status_of
from web.forms import form_field
from web.i18n import N_, _
from web.messages import message_for, wait_text
from web.rendering import render, use_language, zone_of

_MESSAGES: dict[str, str] = {
    "invalid_phone": N_("Enter a mobile number (11 digits) or a landline with its area code."),
    "phone_required": N_("Enter the number we should call."),
    "invalid_callback_time": N_("Choose when we should call."),
    "callback_note_too_long": N_("The note may have at most 200 characters."),
    "callback_limit": N_(
        "You have asked to be called back several times today. Staff will call you."
    ),
    "invalid_organisation_kind": N_("Choose the kind of organisation."),
    "organisation_name_too_long": N_("The name may have at most 200 characters."),
    "invalid_policy_count": N_("Enter the number of policies as a whole number."),
    "organisation_exists": N_("An organisation with this name exists."),
    "organisation_required": N_("Staff accounts belong to an organisation."),
    "organisation_not_found": N_("No such organisation."),
    "badge_number_required": N_("Staff accounts need a badge number."),
    "badge_number_taken": N_("This badge number is taken."),
    "invalid_badge_number": N_("A badge number has 4 to 32 letters, digits or dashes."),
    "wrong_organisation_kind": N_("This role cannot belong to this kind of organisation."),
    "invalid_role": N_("Choose a staff role."),
    # the account page
    "wrong_password": N_("The current password is wrong."),
    "password_unchanged": N_("Choose a password different from the current one."),
    "invalid_language": N_("Choose a language."),
    "confirmation_required": N_("Tick the box to confirm that you want to close your account."),
    "open_cases": N_(
        "Your account cannot be closed while a case is under way: withdraw it or wait until "
        "it ends."
    ),
    "staff_account": N_("Staff accounts are closed by an administrator."),
    "contact_unchanged": N_("This is already your number or address."),
    "export_limit": N_("You have downloaded your data several times this hour. Try later."),
}


def message(error: DomainError) -> str:
    template = _MESSAGES.get(error.code)
    return _(template) if template else message_for(error.code, error.message)


async def form_again(
    request: web.Request,
    template: str,
    error: DomainError,
    context: Mapping[str, Any],
) -> web.Response:
    """The form with the error next to its field, the status of the error and its code."""
    lang = await use_language(request)
    said = message(error)
    if isinstance(error, RateLimited):
        said += " " + wait_text(error.retry_after, lang, zone_of(request))
    response = await render(
        request,
        template,
        {
            **context,
            "csrf_token": await csrf_token(request),
            "error": said,
            "error_field": form_field(error.details.get("field")),
        },
        status=status_of(error),
    )
    response.headers["X-Error-Code"] = error.code
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    return response
