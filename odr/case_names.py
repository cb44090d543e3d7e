"""Plain-language names of a case's codes (states, events, categories, evidence kinds, triage
signals), one table each, shared by the pages (`web.labels`), the notifications and the
documents (the closing report). Texts are marked for the catalogue
(`odr.i18n`) and translated where they are shown.
"""

from __future__ import annotations

from odr.i18n import N_, translate

#: One name per case state (`odr.domain.cases.CaseState`).
STATES: dict[str, str] = {
    "submitted": N_("Submitted"),
    "awaiting_insurer": N_("Waiting for the insurer's answer"),
    "insurer_answered": N_("The insurer has answered"),
    "escalated": N_("Escalated: deadline missed"),
    "mediation_requested": N_("Mediation requested"),
    "mediator_assigned": N_("Mediator assigned"),
    "hearing_scheduled": N_("Hearing scheduled"),
    "in_hearing": N_("Hearing in progress"),
    "agreement_pending": N_("Agreement awaiting signatures"),
    "settled": N_("Settled"),
    "fulfilled": N_("Settled and paid"),
    "not_settled": N_("Not settled"),
    "resolved": N_("Resolved"),
    "withdrawn": N_("Withdrawn"),
    "closed": N_("Closed"),
}

#: One sentence per event kind (`odr.domain.cases.EventKind`) for the timeline.
EVENTS: dict[str, str] = {
    "filed": N_("Complaint filed"),
    "triaged": N_("Routed to the insurer"),
    "answered": N_("The insurer answered"),
    "answer_accepted": N_("The consumer accepted the answer"),
    "answer_rejected": N_("The consumer rejected the answer and asked for mediation"),
    "mediation_requested": N_("The consumer asked for mediation"),
    "reminder": N_("Reminder sent"),
    "escalated": N_("Deadline missed: escalated to a supervisor"),
    "referred_to_mediation": N_("A supervisor referred the case to mediation"),
    "returned_to_insurer": N_("A supervisor returned the case to the insurer"),
    "mediator_assigned": N_("A mediator was assigned"),
    "assignment_accepted": N_("The mediator took on the case"),
    "assignment_declined": N_("The mediator gave the case back to the centre"),
    "hearing_scheduled": N_("Hearing scheduled"),
    "hearing_started": N_("Hearing started"),
    "hearing_ended": N_("Hearing ended"),
    "agreement_proposed": N_("The mediator drafted an agreement"),
    "agreement_signed": N_("Agreement signed"),
    "payment_recorded": N_("The insurer recorded a payment"),
    "payment_confirmed": N_("The consumer confirmed the payment"),
    "not_settled": N_("Mediation ended without agreement"),
    "withdrawn": N_("Complaint withdrawn"),
    "closed": N_("Case closed"),
    "extension_requested": N_("More time requested"),
    "deadline_extended": N_("Deadline extended"),
    "extension_refused": N_("Request for more time refused"),
    "message_sent": N_("Message"),
    "category_corrected": N_("Category set by staff"),
    "evidence_added": N_("Evidence added"),
    "evidence_withdrawn": N_("Evidence withdrawn"),
    "evidence_purged": N_("Evidence files deleted at the end of their retention period"),
    "evidence_redacted": N_("Personal numbers blacked out in the copy the other side sees"),
    "redaction_requested": N_("More redaction asked for"),
    "blind_offer_submitted": N_("Blind offer submitted"),
    "blind_round_ended": N_("Blind-offer round ended"),
    "offer_made": N_("Offer made"),
    "offer_answered": N_("Offer answered"),
    "payment_disputed": N_("Payment disputed"),
    "payment_reminder": N_("Payment overdue: reminder"),
    "payment_escalated": N_("Payment overdue: escalated"),
    "confirmation_reminder": N_("Judicial confirmation window: reminder"),
}

CATEGORIES: dict[str, str] = {
    "claims": N_("Claim refused, reduced or delayed"),
    "surrender": N_("Cancelling a policy (surrender)"),
    "mis_selling": N_("Mis-sold or misleading sales"),
    "call_back": N_("Follow-up call that did not explain the terms"),
    "payment_refund": N_("Payment or refund not received"),
    "premium_renewal": N_("Premium or renewal"),
    "privacy": N_("Personal information and privacy"),
    "service": N_("Poor service"),
    "other": N_("Something else"),
}

#: Triage signals (`odr/data/triage.toml`); an unknown signal shows the rules file's label.
SIGNALS: dict[str, str] = {
    "regulator": N_("Mentions a regulator, the 12378 hotline or a consumer association"),
    "media": N_("Threatens or reports media exposure"),
    "litigation": N_("Threatens or pursues legal action"),
    "group": N_("A group of consumers is affected"),
    "elderly": N_("An elderly consumer or insured person"),
    "high_amount": N_("A large amount is at stake"),
    "repeat": N_("The consumer has complained before"),
    "emotion": N_("Strong emotion or distress"),
}

#: Kinds of evidence (`odr.domain.cases.EvidenceKind`); the first five are what parties upload.
EVIDENCE_KINDS: dict[str, str] = {
    "document": N_("Document"),
    "image": N_("Photo or image"),
    "audio": N_("Audio recording"),
    "video": N_("Video"),
    "callback_recording": N_("Insurer's follow-up call recording"),
    "chat_transcript": N_("Chat transcript"),
    "call_record": N_("Call record"),
    "recording": N_("Hearing recording"),
    "agreement": N_("Agreement"),
    "report": N_("Report"),
}


def name_in(lang: str | None, names: dict[str, str], code: str | None) -> str:
    """The name of ``code`` in ``lang``; a code without a name is shown with spaces for its
    underscores (the completeness test keeps every known code named)."""
    if not code:
        return ""
    text = names.get(code)
    return code.replace("_", " ") if text is None else translate(lang, text)
