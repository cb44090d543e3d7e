"""What pages say for error codes, in the visitor's language."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_time

from web.i18n import N_, _, ngettext_

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
    "invalid_answer_kind": N_("Choose accept, propose or reject."),
    "not_found": N_("There is nothing at this address."),
    "user_not_found": N_("No such user."),
    "not_staff": N_("Only staff accounts have a second factor to reset."),
    "forbidden": N_("You are not allowed to do this."),
    "unauthenticated": N_("Please log in."),
    "method_not_allowed": N_("This address does not accept this method."),
    "internal_error": N_("Something went wrong on our side. Please try again."),
    "rate_limited": N_("Too many requests. Please wait and try again."),
    "payload_too_large": N_("What you sent is too large."),
    # one-time codes
    "code_invalid": N_("The code is wrong. Check the last message we sent you."),
    "code_expired": N_("This code has expired. Ask for a new code."),
    "code_attempts_exceeded": N_(
        "This code was entered wrongly too many times. Ask for a new code."
    ),
    "code_resend_too_soon": N_("A code was sent a moment ago. Please wait before asking again."),
    "code_limit_reached": N_("Too many codes were asked for. Please try again later."),
    "no_verified_mobile": N_(
        "Your account has no verified mobile number. Sign with your password."
    ),
    # complaints
    "description_required": N_("Describe what happened."),
    "description_too_long": N_("The description may have at most 5,000 characters."),
    "desired_outcome_too_long": N_("The desired outcome may have at most 1,000 characters."),
    "terms_not_accepted": N_("Please read and accept the terms and privacy notice."),
    "invalid_insurer": N_("Choose your insurer from the list."),
    "policy_number_required": N_("Give at least one policy number."),
    "invalid_policy_number": N_("A policy number has 1 to 64 characters."),
    "too_many_policies": N_("A complaint may name at most 10 policies."),
    "invalid_category": N_("Choose what the complaint is about."),
    "invalid_amount": N_("Enter the amount in yuan, like 3200 or 3200.50."),
    "invalid_contact_preference": N_("Choose how you want to be contacted."),
    "consumer_not_found": N_("There is no such consumer."),
    # regulator referrals
    "invalid_regulator_reference": N_(
        "Give the regulator's reference number (3 to 64 characters)."
    ),
    "invalid_received_at": N_(
        "Enter when the regulator received the complaint, not in the future."
    ),
    "not_a_consumer": N_("This mobile number belongs to a staff account."),
    "busy": N_("The service is busy. Please try again."),
    # cases
    "case_not_found": N_("There is no such case, or it is not yours to see."),
    "unknown_operation": N_("This action does not exist."),
    "illegal_transition": N_("This cannot be done in the case's current state."),
    "stale_case": N_("Someone changed this case at the same time. Check the page and try again."),
    "answer_text_required": N_("Write the answer to the consumer."),
    "answer_text_too_long": N_("The answer may have at most 10,000 characters."),
    "message_required": N_("Write a message."),
    "message_too_long": N_("A message may have at most 4,000 characters."),
    "reason_required": N_("Give a reason."),
    "reason_too_long": N_("The reason may have at most 10,000 characters."),
    "note_too_long": N_("The note may have at most 10,000 characters."),
    "extension_already_requested": N_("More time has already been asked for."),
    "extension_not_allowed": N_("This deadline cannot be extended any further."),
    "deadline_passed": N_("The deadline has passed; it can no longer be extended."),
    "no_extension_requested": N_("No one has asked for more time."),
    "no_mediation_centre": N_("No mediation centre is available at the moment."),
    # general kinds, when nothing more precise is known
    "validation_failed": N_("Please check what you entered."),
    "conflict": N_("This cannot be done now. Reload the page to see the case as it is."),
    "at_capacity": N_("The service is busy right now. Please try again in a moment."),
    "service_unavailable": N_("The service is briefly unavailable. Please try again."),
    "bad_request": N_("The request could not be understood. Please reload the page."),
    "body_too_large": N_("What you sent is too large."),
    "json_required": N_("The request could not be understood. Please reload the page."),
    "invalid_json": N_("The request could not be understood. Please reload the page."),
    "invalid_characters": N_("Please remove the unusual characters from what you entered."),
    "query_too_long": N_("The address is too long."),
    "range_not_satisfiable": N_("This part of the file does not exist."),
    "blob_not_found": N_("The file could not be found."),
    # cases, hearings and outcomes
    "invalid_case_number": N_("A case number looks like ODR-2026-000123."),
    "invalid_channel_kind": N_("Choose how the complaint came in."),
    "invalid_risk_score": N_("The risk score must be between 0 and 100."),
    "invalid_evidence": N_("This evidence item cannot be used here."),
    "assignment_already_accepted": N_("The mediator has already accepted this case."),
    "extension_reason_required": N_("Give a reason for the extra time."),
    "extension_approver_required": N_("A supervisor must approve the extra time."),
    "hearing_in_past": N_("A hearing must be at a time in the future."),
    "hearing_too_early": N_("The hearing cannot start yet. It opens shortly before its time."),
    "hearing_not_found": N_("There is no such hearing, or it is not yours to see."),
    "hearing_not_open": N_("The hearing is not open to join now."),
    "hearing_not_scheduled": N_("The hearing has no confirmed time yet."),
    "invalid_join_token": N_("This link to the hearing is not valid. Open the hearing again."),
    "join_token_expired": N_("This link to the hearing has expired. Open the hearing again."),
    "recording_not_found": N_("There is no such recording."),
    "chat_busy": N_("The message could not be stored. Please send it again."),
    "invalid_blind_offer": N_("Enter the amount in yuan, like 3200 or 3200.50."),
    "no_agreement": N_("No agreement has been drafted yet."),
    "no_signed_agreement": N_("There is no agreement signed by everyone yet."),
    "payment_not_due": N_("The payment is not overdue."),
    "confirmation_window_closed": N_("The 30 days to apply for judicial confirmation have passed."),
    "not_referable": N_("Only a case that ended without agreement can be referred."),
    "invalid_forum": N_("Choose arbitration or a court."),
    # evidence
    "evidence_not_found": N_("There is no such evidence item, or it is not yours to see."),
    "evidence_purged": N_("This file was deleted at the end of its retention period."),
    "nothing_to_purge": N_("There are no files left to delete."),
    "nothing_redacted": N_("Nothing in this file needed to be hidden."),
    "invalid_copy": N_("Ask for the original or the copy with personal numbers hidden."),
    "evidence_being_read": N_(
        "This file is still being checked for personal numbers. Please try again in a minute."
    ),
    "upload_offset_required": N_("The upload got out of step. Please start it again."),
    "search_empty": N_("Type what to search for."),
    "search_too_long": N_("The search is too long. Use fewer words."),
    "digest_not_found": N_("There is no daily digest for this day."),
    "bad_cursor": N_(
        "This link to a page of the list is no longer valid. Start from the first page."
    ),
    # evidence
    "file_required": N_("Choose a file to upload."),
    "file_empty": N_("The file is empty. Choose the file again, or another one."),
    "too_many_files": N_(
        "Too many files for one complaint. You can add more on the case page once it is filed."
    ),
    "file_too_large": N_("The file is too large, or the case has no room left for it."),
    "unsupported_media_type": N_(
        "This type of file is not accepted. Send a PDF, an image (JPEG, PNG, WebP), audio "
        "(MP3, M4A, WAV), video (MP4, WebM), plain text or a Word document (DOCX)."
    ),
    "invalid_evidence_kind": N_("Choose what kind of evidence this is."),
    "invalid_visibility": N_("Choose who may see the file."),
    "upload_offset_mismatch": N_("The upload got out of step. It continues from where it stopped."),
    "upload_incomplete": N_("The upload is not complete. Please try again."),
    "upload_not_found": N_("This upload has expired or was cancelled. Please start again."),
    "upload_busy": N_("This upload is still in progress. Please wait a moment."),
    "confirmation_required": N_(
        "This cannot be undone. Tick the box to confirm that you want to do it."
    ),
    "signatures_not_voided": N_(
        "Saving a change removes every signature. Tick the box to confirm that everyone "
        "must sign again."
    ),
}


def message_for(code: str, fallback: str) -> str:
    return _(_MESSAGES.get(code, fallback))


def wait_text(seconds: int, lang: str, zone: ZoneInfo, now: datetime | None = None) -> str:
    """How long to wait before trying again, in whole minutes (at least one), and from when:
    "Try again in 15 minutes, from 14:05." (the local time of day in ``zone``)."""
    minutes = max(1, math.ceil(seconds / 60))
    until = (now or datetime.now(UTC)) + timedelta(minutes=minutes)
    clock = format_time(until.astimezone(zone).timetz(), "short", locale=lang.replace("-", "_"))
    return ngettext_(
        "Try again in %(num)d minute, from %(time)s.",
        "Try again in %(num)d minutes, from %(time)s.",
        minutes,
        time=clock,
    )
