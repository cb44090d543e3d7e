"""Reading page forms into what the services take. Pure functions: text in, values out, or a
`ValidationFailed` naming the form's field."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from odr.domain.accounts import check_birth_date, check_display_name
from odr.domain.commands import COMMANDS, Param, ParamKind
from odr.domain.errors import ValidationFailed
from odr.domain.money import parse_yuan
from odr.domain.numbers import parse_int
from odr.services.cases import ComplaintForm

COMPLAINT_FIELDS = (
    "insurer_id",
    "policy_numbers",
    "category",
    "amount",
    "description",
    "desired_outcome",
    "contact_preference",
    "birth_date",
    "care_requested",
    "terms_version",
)

#: A regulator referral: the complaint without the terms (the consumer did not file it), and
#: who the consumer is, the regulator's reference and when the regulator received it.
REFERRAL_FIELDS = (
    *(name for name in COMPLAINT_FIELDS if name != "terms_version"),
    "consumer_name",
    "consumer_mobile",
    "regulator_reference",
    "received_at",
)
REFERENCE_LENGTH = (3, 64)


def _form_field(name: str, param: Param) -> str:
    """An amount is entered in yuan: ``offered_amount_fen`` is the form's ``offered_amount``."""
    return name.removesuffix("_fen") if param.kind is ParamKind.MONEY else name


#: The fields each operation's form has, from its command (`odr.domain.commands`); what the
#: service fills in (the mediation centre) is not asked.
OPERATION_FIELDS: dict[str, tuple[str, ...]] = {
    name: tuple(_form_field(f, p) for f, p in command.params() if not p.by_service)
    for name, command in COMMANDS.items()
}

#: The services name some fields after their meaning; the forms name them shortly.
_FORM_FIELD = {
    "answer_text": "text",
    "message": "text",
    "answer_kind": "kind",
    "offered_amount_fen": "offered_amount",
    "amount_fen": "amount",
}

_POLICY_SEPARATORS = re.compile(r"[\s,，、;；]+")


def form_field(service_field: object) -> str | None:
    """The form field that an error's ``details['field']`` points at."""
    if not isinstance(service_field, str):
        return None
    return _FORM_FIELD.get(service_field, service_field)


#: The box a person ticks to confirm a step that cannot be undone (`confirm=1`).
CONFIRM_FIELD = "confirm"


def require_confirmation(form: Mapping[str, Any]) -> None:
    """Refuse a step that cannot be undone unless its confirmation box was ticked: the form
    asks for it, and the server does not take the browser's word for it."""
    if str(form.get(CONFIRM_FIELD, "")) != "1":
        raise ValidationFailed(
            "Tick the box to confirm; this cannot be undone.",
            code="confirmation_required",
            details={"field": CONFIRM_FIELD},
        )


def strings(form: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    return {name: str(form.get(name, "")) for name in names}


def policy_numbers(raw: str) -> tuple[str, ...]:
    """Several policy numbers in one field, separated by commas, spaces or new lines."""
    return tuple(p for p in _POLICY_SEPARATORS.split(unicodedata.normalize("NFKC", raw)) if p)


def birth_date(raw: str) -> date | None:
    if not raw:
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        value = date.min  # refused below, with the same words
    return check_birth_date(value, date.today())


def complaint(values: Mapping[str, str]) -> ComplaintForm:
    insurer = values["insurer_id"].strip()
    return ComplaintForm(
        insurer_id=parse_int(insurer, minimum=1) or 0,
        policy_numbers=policy_numbers(values["policy_numbers"]),
        category=values["category"],
        amount_fen=parse_yuan(values["amount"], "amount") or 0,
        description=values["description"],
        desired_outcome=values["desired_outcome"],
        contact_preference=values["contact_preference"],
        birth_date=birth_date(values["birth_date"].strip()),
        care_requested=values["care_requested"] == "1",
        terms_version=values["terms_version"],
    )


def regulator_reference(raw: str) -> str:
    value = unicodedata.normalize("NFKC", raw).strip()
    low, high = REFERENCE_LENGTH
    if not low <= len(value) <= high:
        raise ValidationFailed(
            f"Give the regulator's reference number ({low} to {high} characters).",
            code="invalid_regulator_reference",
            details={"field": "regulator_reference"},
        )
    return value


def received_at(raw: str, zone: ZoneInfo, now: datetime) -> datetime | None:
    """When the regulator received the complaint: a local ``YYYY-MM-DDTHH:MM`` (what a
    ``datetime-local`` input sends), in ``zone``; None when left empty (received now)."""
    text = raw.strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    if value is None or not datetime(2000, 1, 1, tzinfo=zone) <= value <= now + timedelta(
        minutes=5
    ):
        raise ValidationFailed(
            "Enter when the regulator received the complaint, not in the future.",
            code="invalid_received_at",
            details={"field": "received_at"},
        )
    return value


#: The services name the referred consumer's fields as an account's (or the API's).
_CONSUMER_FIELD = {
    "login": "consumer_mobile",
    "consumer.mobile": "consumer_mobile",
    "name": "consumer_name",
    "consumer.name": "consumer_name",
}


def consumer_error(error: ValidationFailed) -> ValidationFailed:
    """An error about the referred consumer's account, pointing at the referral form's field."""
    field = _CONSUMER_FIELD.get(str(error.details.get("field")))
    if field is None:
        return error
    return ValidationFailed(
        error.message, code=error.code, details={**error.details, "field": field}
    )


def consumer_name(raw: str) -> str:
    """The referred consumer's name, checked as an account's name is, before anything is
    created."""
    try:
        return check_display_name(raw)
    except ValidationFailed as error:
        raise consumer_error(error) from None


def referral(values: Mapping[str, str], zone: ZoneInfo, now: datetime) -> ComplaintForm:
    """The complaint of a regulator referral: the complaint form's fields, read the same way,
    with the regulator's reference and date."""
    reference = regulator_reference(values["regulator_reference"])
    received = received_at(values["received_at"], zone, now)
    form = complaint({**values, "terms_version": ""})
    return replace(form, regulator_reference=reference, received_at=received)


def operation_params(operation: str, values: Mapping[str, str]) -> dict[str, Any]:
    """The parameters of one operation's command from its form's fields."""
    params: dict[str, Any] = {}
    for name, param in COMMANDS[operation].params():
        if param.by_service:
            continue
        field = _form_field(name, param)
        params[name] = (
            parse_yuan(values[field], field) if param.kind is ParamKind.MONEY else values[field]
        )
    return params
