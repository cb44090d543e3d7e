"""Plain-language names for the codes cases carry (categories, states, events, ...).

The texts are marked with ``N_`` for extraction and translated when a page is rendered; a code
without a name here is shown as it is rather than hidden.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from odr.case_names import CATEGORIES as CATEGORIES
from odr.case_names import EVENTS as EVENTS  # the timeline's names, shared with documents
from odr.case_names import EVIDENCE_KINDS as EVIDENCE_KINDS
from odr.case_names import SIGNALS as SIGNALS
from odr.case_names import STATES as STATES
from odr.domain.cases import ANSWER_STAGE_STATES
from web.i18n import N_, _, ngettext_

CONTACT_PREFERENCES: dict[str, str] = {
    "in_app": N_("Messages on this website"),
    "sms": N_("Text message (SMS)"),
    "phone": N_("Phone call"),
    "email": N_("E-mail"),
}

ANSWER_KINDS: dict[str, str] = {
    "accept": N_("The insurer grants the complaint"),
    "propose": N_("The insurer proposes a settlement"),
    "reject": N_("The insurer rejects the complaint"),
}

ROLES: dict[str, str] = {
    "consumer": N_("the consumer"),
    "insurer_rep": N_("the insurer"),
    "mediator": N_("the mediator"),
    "centre_lead": N_("the mediation centre"),
    "supervisor": N_("a supervisor"),
    "channel": N_("a partner service"),
    "system": N_("the platform"),
}

PARTIES: dict[str, str] = {
    "consumer": N_("the consumer"),
    "insurer": N_("the insurer"),
    "mediator": N_("the mediator"),
}

#: Whose deadline a stage is: reminders go to them.
STAGE_OWNERS: dict[str, str] = {
    "answer": N_("Reminder sent to the insurer"),
    "mediation": N_("Reminder sent to the mediator"),
}

CHANNELS: dict[str, str] = {
    "web": N_("This website"),
    "partner_api": N_("A partner app"),
    "hotline": N_("Hotline"),
    "regulator_referral": N_("Referred by the regulator"),
}

DUPLICATE_REASONS: dict[str, str] = {
    "same_policy_open_case": N_("same consumer, insurer and policy"),
    "near_duplicate_text": N_("a very similar text"),
}

MASK_KINDS: dict[str, str] = {
    "resident_id": N_("ID card number"),
    "bank_card": N_("bank card number"),
    "mobile": N_("mobile number"),
}

#: The buttons of the operations a page offers, one per `odr.domain.commands.COMMANDS`.
OPERATIONS: dict[str, str] = {
    "withdraw": N_("Withdraw the complaint"),
    "answer": N_("Send the answer"),
    "accept_answer": N_("Accept the answer"),
    "reject_answer": N_("Reject the answer and ask for mediation"),
    "request_mediation": N_("Ask for mediation"),
    "request_extension": N_("Ask for more time"),
    "approve_extension": N_("Approve the extension"),
    "refuse_extension": N_("Refuse the extension"),
    "refer_to_mediation": N_("Refer to mediation"),
    "return_to_insurer": N_("Return to the insurer"),
    "send_message": N_("Send the message"),
    "correct_category": N_("Set the category"),
    "close": N_("Close the case"),
    "assign_mediator": N_("Assign a mediator"),
    "accept_assignment": N_("Accept the assignment"),
    "decline_assignment": N_("Decline the assignment"),
}

#: What the page confirms after an operation succeeded.
DONE: dict[str, str] = {
    "withdraw": N_("Your complaint was withdrawn."),
    "answer": N_("Your answer was sent to the consumer."),
    "accept_answer": N_("You accepted the answer. The case is resolved."),
    "reject_answer": N_("You rejected the answer. The case goes to mediation."),
    "request_mediation": N_("You asked for mediation."),
    "request_extension": N_("Your request for more time was sent."),
    "approve_extension": N_("The extension was approved."),
    "refuse_extension": N_("The extension was refused."),
    "refer_to_mediation": N_("The case was referred to mediation."),
    "return_to_insurer": N_("The case was returned to the insurer."),
    "send_message": N_("Your message was sent."),
    "correct_category": N_("The category was set."),
    "close": N_("The case was closed."),
    "assign_mediator": N_("The mediator was assigned."),
    "accept_assignment": N_("You accepted the case. Propose times for the hearing."),
    "decline_assignment": N_("You gave the case back to the centre."),
}


def label(names: Mapping[str, str], code: str | None) -> str:
    """The translated name of ``code``, or the code itself when it has none."""
    if not code:
        return ""
    name = names.get(code)
    return _(name) if name is not None else code


def category(code: str | None) -> str:
    return label(CATEGORIES, code)


def state(code: str | None) -> str:
    return label(STATES, code)


def signal(code: str, fallback: str = "") -> str:
    name = SIGNALS.get(code)
    return _(name) if name is not None else (fallback or code)


def care_reason(text: str | None) -> str:
    """Triage's reason for care priority (``aged 67``, ``requested by the consumer``)."""
    if not text:
        return ""
    if text.startswith("aged ") and text[5:].isdigit():
        return _("Aged %(age)s", age=text[5:])
    if text == "requested by the consumer":
        return _("Asked for by the consumer")
    stated = text.removeprefix("aged ").removesuffix(" according to the text")
    if text.endswith(" according to the text") and stated.isdigit():
        return _("Aged %(age)s, as the complaint says", age=stated)
    if text.startswith("an elderly person is affected: "):
        return _("An elderly person is affected: %(words)s", words=text.split(": ", 1)[1])
    return text


def signal_evidence(text: str | None) -> str:
    """Why a triage signal fired, where `odr.domain.triage` states a fact of the form
    (``consumer aged 76``, ``2 earlier complaints by this consumer``, ``received through
    channel hotline``, ``amount 80000 CNY >= 50000``); words quoted from the complaint stay as
    they are."""
    if not text:
        return ""
    if match := re.fullmatch(r"consumer aged (\d+)", text):
        return _("The consumer is %(age)s years old", age=match[1])
    if match := re.fullmatch(r"(\d+) earlier complaints? by this consumer", text):
        return ngettext_(
            "The consumer has complained %(num)d time before",
            "The consumer has complained %(num)d times before",
            int(match[1]),
        )
    if match := re.fullmatch(r"received through channel (\w+)", text):
        return _("Received through: %(channel)s", channel=label(CHANNELS, match[1]))
    if match := re.fullmatch(r"amount (\d+) CNY >= (\d+)", text):
        return _(
            "The amount in dispute, %(amount)s yuan, reaches %(limit)s yuan",
            amount=match[1],
            limit=match[2],
        )
    return text


def category_reason(text: str) -> str:
    """One reason for triage's suggested category (`odr.domain.triage`): a feature of the text
    the model weighed (``model: 住院 (+0.14)``) or a keyword rule (``rule: 住院 (+1)``)."""
    if match := re.fullmatch(r"(model|rule): (.+) \(\+([\d.]+)\)", text, re.S):
        kind, phrase, weight = match.groups()
        if kind == "model":
            return _("text feature “%(phrase)s” (+%(weight)s)", phrase=phrase, weight=weight)
        return _("keyword “%(phrase)s” (+%(weight)s)", phrase=phrase, weight=weight)
    return text


#: Short names of the file types evidence may have (`odr.domain.sniffing`), as people know them.
FILE_TYPES: dict[str, str] = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WebP",
    "audio/mpeg": "MP3",
    "audio/mp4": "M4A",
    "audio/wav": "WAV",
    "audio/x-wav": "WAV",
    "video/mp4": "MP4",
    "video/webm": "WebM",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word (DOCX)",
    "application/json": "JSON",
}


def file_type(media_type: str | None) -> str:
    """A file's type as people name it (``PDF``, ``JPEG``, plain text); never a MIME code."""
    media = (media_type or "").split(";")[0].strip()
    if media.startswith("text/"):
        return _("Plain text")
    return FILE_TYPES.get(media) or media.rsplit("/", 1)[-1].upper()


def mask_kinds(codes: list[str] | tuple[str, ...]) -> str:
    return _(", ").join(label(MASK_KINDS, c) for c in codes)


#: Whose deadline runs (`odr.domain.deadlines.Stage`): the case page and the lists name it.
DEADLINES: dict[str, str] = {
    "answer": N_("Insurer's answer due"),
    "mediation": N_("Mediation due"),
}
_ANSWER_STAGE = frozenset(str(s) for s in ANSWER_STAGE_STATES)


def deadline_title(stage_or_state: str | None) -> str:
    """The name of the running deadline, the insurer's answer or the mediation, from the
    clock's stage or (in lists, which carry no stage) the case's state."""
    stage = stage_or_state or ""
    if stage not in DEADLINES:
        stage = "answer" if stage in _ANSWER_STAGE else "mediation"
    return _(DEADLINES[stage])


#: Functions templates call by these names.
TEMPLATE_GLOBALS = {
    "deadline_title": deadline_title,
    "category_label": category,
    "state_label": state,
    "signal_label": signal,
    "contact_label": lambda code: label(CONTACT_PREFERENCES, code),
    "answer_kind_label": lambda code: label(ANSWER_KINDS, code),
    "role_label": lambda code: label(ROLES, code),
    "party_label": lambda code: label(PARTIES, code),
    "channel_label": lambda code: label(CHANNELS, code),
    "duplicate_reason_label": lambda code: label(DUPLICATE_REASONS, code),
    "operation_label": lambda code: label(OPERATIONS, code),
    "done_label": lambda code: label(DONE, code),
    "mask_kinds_label": mask_kinds,
    "care_reason_label": care_reason,
    "category_reason_label": category_reason,
    "file_type_label": file_type,
    "signal_evidence_label": signal_evidence,
    "category_codes": tuple(CATEGORIES),
    "evidence_kind_label": lambda code: label(EVIDENCE_KINDS, code),
}
