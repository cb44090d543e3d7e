"""What pages say for error codes, in the visitor's language."""

from __future__ import annotations

from web.i18n import N_, _

# N_ marks the texts for extraction; they are translated when a page is rendered.
_MESSAGES: dict[str, str] = {
    "invalid_credentials": N_("The login or the password is wrong."),
    "otp_required": N_("Enter the 6-digit code from your authenticator app."),
    "otp_invalid": N_("The code is wrong or has expired."),
    "otp_not_enrolled": N_("This staff account has no second factor set up. Ask a supervisor."),
    "too_many_attempts": N_("Too many failed attempts. Please wait and try again."),
    "csrf_failed": N_(
        "This form has expired or did not come from this site. "
        "Please reload the page and try again."
    ),
    "login_taken": N_("An account with this login already exists."),
    "invalid_login": N_("Enter a mainland mobile number (11 digits) or an e-mail address."),
    "password_too_short": N_("The password must have at least 10 characters."),
    "password_too_long": N_("The password may have at most 128 characters."),
    "password_too_weak": N_("The password must mix letters with digits or symbols."),
    "name_required": N_("Enter a name."),
    "name_too_long": N_("The name may have at most 80 characters."),
    "invalid_date": N_("Enter a real birth date as YYYY-MM-DD."),
    "invalid_field": N_("Please check the highlighted field."),
    "not_found": N_("There is nothing at this address."),
    "forbidden": N_("You are not allowed to do this."),
    "unauthenticated": N_("Please log in."),
    "method_not_allowed": N_("This address does not accept this method."),
    "internal_error": N_("Something went wrong on our side. Please try again."),
    "rate_limited": N_("Too many requests. Please wait and try again."),
}


def message_for(code: str, fallback: str) -> str:
    return _(_MESSAGES.get(code, fallback))
