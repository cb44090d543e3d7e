"""Reading page forms into what the services take. Pure functions: text in, values out, or a
`ValidationFailed` naming the form's field."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from odr.domain.errors import ValidationFailed
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

#: The fields each operation's form has (`odr.services.cases.OPERATIONS`).
OPERATION_FIELDS: dict[str, tuple[str, ...]] = {
    "withdraw": ("reason",),
    "answer": ("kind", "text", "offered_amount"),
    "accept_answer": (),
    "reject_answer": ("reason",),
    "request_mediation": (),
    "request_extension": ("reason",),
    "approve_extension": (),
    "refuse_extension": ("reason",),
    "refer_to_mediation": (),
    "return_to_insurer": ("note",),
    "send_message": ("text",),
    "close": (),
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
_AMOUNT = re.compile(r"^\d{1,12}(?:\.\d{1,2})?$")


def form_field(service_field: object) -> str | None:
    """The form field that an error's ``details['field']`` points at."""
    if not isinstance(service_field, str):
        return None
    return _FORM_FIELD.get(service_field, service_field)


def strings(form: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    return {name: str(form.get(name, "")) for name in names}


def policy_numbers(raw: str) -> tuple[str, ...]:
    """Several policy numbers in one field, separated by commas, spaces or new lines."""
    return tuple(p for p in _POLICY_SEPARATORS.split(unicodedata.normalize("NFKC", raw)) if p)


def yuan_to_fen(raw: str, field: str) -> int | None:
    """``"3,200.50"`` (yuan, optionally with ¥ or 元) as 320050 fen; None when left empty."""
    text = unicodedata.normalize("NFKC", raw).strip().replace(",", "").replace(" ", "")
    text = text.removeprefix("¥").removesuffix("元")
    if not text:
        return None
    if not _AMOUNT.match(text):
        raise ValidationFailed(
            "Enter the amount in yuan, like 3200 or 3200.50.",
            code="invalid_amount",
            details={"field": field},
        )
    return int(Decimal(text) * 100)


def birth_date(raw: str) -> date | None:
    if not raw:
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        value = None
    if value is None or not date(1900, 1, 1) <= value <= date.today():
        raise ValidationFailed(
            "Enter a real birth date as YYYY-MM-DD.",
            code="invalid_date",
            details={"field": "birth_date"},
        )
    return value


def complaint(values: Mapping[str, str]) -> ComplaintForm:
    insurer = values["insurer_id"].strip()
    return ComplaintForm(
        insurer_id=int(insurer) if insurer.isascii() and insurer.isdigit() else 0,
        policy_numbers=policy_numbers(values["policy_numbers"]),
        category=values["category"],
        amount_fen=yuan_to_fen(values["amount"], "amount") or 0,
        description=values["description"],
        desired_outcome=values["desired_outcome"],
        contact_preference=values["contact_preference"],
        birth_date=birth_date(values["birth_date"].strip()),
        care_requested=values["care_requested"] == "1",
        terms_version=values["terms_version"],
    )


def operation_params(operation: str, values: Mapping[str, str]) -> dict[str, Any]:
    """The parameters of one operation from its form's fields."""
    params: dict[str, Any] = {
        name: values[name] for name in OPERATION_FIELDS[operation] if name != "offered_amount"
    }
    if operation == "answer":
        params["offered_amount_fen"] = yuan_to_fen(values["offered_amount"], "offered_amount")
    return params
