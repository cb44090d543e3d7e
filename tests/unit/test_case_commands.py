"""The case commands: one registry, and everything that offers an operation derived from it or
checked against it (handlers, page forms, labels, API bodies, the OpenAPI document)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from odr.api.openapi import build_document
from odr.api.routes import ENDPOINTS
from odr.domain import cases as case_rules
from odr.domain.authz import Action
from odr.domain.commands import COMMANDS, Answer, AssignMediator, RejectAnswer, SendMessage
from odr.domain.errors import Forbidden, ValidationFailed
from odr.services.case_commands import HANDLERS, apply
from tests.unit.test_cases import CONSUMER, S, case_in
from web import forms, labels

ACTIONS = "/api/v1/cases/{case_id}/actions/"
#: Enough parameters for every command.
EVERYTHING = {
    "kind": "accept",
    "text": "-",
    "reason": "-",
    "centre_id": 1,
    "mediator_id": 2,
    "category": "other",
}


def test_every_operation_has_its_handler_form_label_api_body_and_openapi_entry() -> None:
    names = set(COMMANDS)
    assert {command.name for command in HANDLERS} == names
    assert all(COMMANDS[name].name == name for name in names)
    assert set(forms.OPERATION_FIELDS) == names
    assert set(labels.OPERATIONS) == names
    assert set(labels.DONE) == names
    document = build_document(ENDPOINTS)
    documented = {
        path.removeprefix(ACTIONS): entry["post"]
        for path, entry in document["paths"].items()
        if path.startswith(ACTIONS) and path != ACTIONS + "{operation}"
    }
    assert set(documented) == names
    schemas = document["components"]["schemas"]
    for name, operation in documented.items():
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        body = schemas[ref.rsplit("/", 1)[-1]]
        params = COMMANDS[name].params()
        assert list(body["properties"]) == [field for field, _ in params], name
        assert set(body.get("required", ())) == {f for f, p in params if p.required}, name


def test_the_form_fields_are_the_command_fields_the_person_gives() -> None:
    assert forms.OPERATION_FIELDS["answer"] == ("kind", "text", "offered_amount")
    assert forms.OPERATION_FIELDS["reject_answer"] == ("reason",)  # the centre is the service's
    params = forms.operation_params(
        "answer", {"kind": "propose", "text": "x", "offered_amount": "12.50"}
    )
    assert params == {"kind": "propose", "text": "x", "offered_amount_fen": 1250}
    assert Answer.from_mapping(params) == Answer("propose", "x", 1250)


@pytest.mark.parametrize(
    "command,values,field,message",
    [
        (Answer, {"text": "x"}, "kind", "kind is required."),
        (Answer, {"kind": "maybe", "text": "x"}, "kind", "Choose accept, propose or reject."),
        (Answer, {"kind": "accept"}, "text", "text is required."),
        (Answer, {"kind": "accept", "text": "x", "offered_amount_fen": "5"}, "offered_amount_fen",
         "offered_amount_fen must be a number."),
        (AssignMediator, {"mediator_id": True}, "mediator_id", "mediator_id must be a number."),
        (RejectAnswer, {"centre_id": "1"}, "centre_id", "centre_id must be a number."),
        (RejectAnswer, {"reason": None}, "reason", "reason is required."),
        (SendMessage, {}, "text", "text is required."),
    ],
)  # fmt: skip
def test_a_command_names_the_field_it_cannot_read(
    command: Any, values: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        command.from_mapping(values)
    error = caught.value
    assert (error.code, error.details["field"], error.message) == ("invalid_field", field, message)


def test_defaults_and_unknown_parameters() -> None:
    assert RejectAnswer.from_mapping({"other": 1}) == RejectAnswer(centre_id=None, reason="")
    assert Answer.from_mapping({"kind": "reject", "text": "no"}).offered_amount_fen is None


@pytest.mark.parametrize("name", sorted(n for n, c in COMMANDS.items() if c.action is not None))
def test_a_command_names_the_right_its_case_method_asks_for(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[Action] = []

    def refuse(actor: Any, action: Action, *args: Any, **kwargs: Any) -> None:
        asked.append(action)
        raise Forbidden("no")

    case = case_in(S.AWAITING_INSURER)
    monkeypatch.setattr(case_rules, "authorize", refuse)
    with pytest.raises(Forbidden):
        apply(
            case,
            CONSUMER,
            case.events[-1].at + timedelta(hours=1),
            COMMANDS[name].from_mapping(EVERYTHING),
        )
    assert asked[:1] == [COMMANDS[name].action]
