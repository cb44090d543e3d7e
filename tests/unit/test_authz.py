"""The one authorisation function, by role, organisation and relation to a case."""

from __future__ import annotations

import pytest

from odr.domain.accounts import STAFF_ROLES, USER_ROLES, Actor, Role
from odr.domain.authz import (
    CASE_RULES,
    SYSTEM_ACTIONS,
    Action,
    CaseScope,
    EvidenceScope,
    HearingScope,
    Relation,
    Visibility,
    authorize,
    is_allowed,
    relations,
)
from odr.domain.errors import Forbidden, NotFound

INSURER, OTHER_INSURER, CENTRE, OTHER_CENTRE, PLATFORM = 10, 11, 20, 21, 30
CASE = CaseScope(consumer_id=1, insurer_id=INSURER, mediator_id=5, centre_id=CENTRE, channel_id=7)

ACTORS: dict[str, Actor] = {
    "consumer": Actor(1, Role.CONSUMER),
    "other_consumer": Actor(2, Role.CONSUMER),
    "insurer_rep": Actor(3, Role.INSURER_REP, INSURER),
    "other_insurer_rep": Actor(4, Role.INSURER_REP, OTHER_INSURER),
    "former_insurer_rep": Actor(12, Role.INSURER_REP, None),
    "mediator": Actor(5, Role.MEDIATOR, CENTRE),
    "other_mediator": Actor(6, Role.MEDIATOR, CENTRE),
    "centre_lead": Actor(8, Role.CENTRE_LEAD, CENTRE),
    "other_centre_lead": Actor(9, Role.CENTRE_LEAD, OTHER_CENTRE),
    "supervisor": Actor(13, Role.SUPERVISOR, PLATFORM),
    "channel": Actor.for_channel(7),
    "other_channel": Actor.for_channel(8),
    "system": Actor.system(),
}

EXPECTED_RELATION: dict[str, Relation | None] = {
    "consumer": Relation.CONSUMER,
    "other_consumer": None,
    "insurer_rep": Relation.INSURER,
    "other_insurer_rep": None,
    "former_insurer_rep": None,
    "mediator": Relation.MEDIATOR,
    "other_mediator": None,
    "centre_lead": Relation.CENTRE_LEAD,
    "other_centre_lead": None,
    "supervisor": Relation.SUPERVISOR,
    "channel": Relation.CHANNEL,
    "other_channel": None,
    "system": Relation.SYSTEM,
}


@pytest.mark.parametrize("name", sorted(ACTORS))
def test_relation_to_case(name: str) -> None:
    expected = EXPECTED_RELATION[name]
    assert relations(ACTORS[name], CASE) == (frozenset({expected}) if expected else frozenset())


@pytest.mark.parametrize("action", sorted(CASE_RULES, key=str))
@pytest.mark.parametrize("name", sorted(ACTORS))
def test_every_case_action_by_every_actor(name: str, action: Action) -> None:
    actor = ACTORS[name]
    relation = EXPECTED_RELATION[name]
    target = (
        HearingScope(CASE)
        if action.value.endswith("hearing")
        else EvidenceScope(CASE, submitter_id=actor.user_id)
        if "evidence" in action.value
        and action is not Action.EXPORT_EVIDENCE
        and action is not Action.UPLOAD_EVIDENCE
        else CASE
    )
    if relation is None or (relation is Relation.CHANNEL and action is not Action.VIEW_CASE_STATUS):
        with pytest.raises(NotFound):
            authorize(actor, action, target)
    elif relation in CASE_RULES[action]:
        authorize(actor, action, target)
    else:
        with pytest.raises(Forbidden):
            authorize(actor, action, target)


def test_a_lead_who_mediates_the_case_has_both_relations() -> None:
    lead = ACTORS["centre_lead"]
    case = CaseScope(consumer_id=1, insurer_id=INSURER, mediator_id=lead.user_id, centre_id=CENTRE)
    assert relations(lead, case) == {Relation.MEDIATOR, Relation.CENTRE_LEAD}
    authorize(lead, Action.MODERATE_HEARING, HearingScope(case))
    authorize(lead, Action.ASSIGN_MEDIATOR, case)


def test_mediator_only_evidence_is_hidden_from_the_other_party() -> None:
    item = EvidenceScope(CASE, submitter_id=1, visibility=Visibility.MEDIATOR_ONLY)
    authorize(ACTORS["consumer"], Action.VIEW_EVIDENCE, item)  # the submitter
    authorize(ACTORS["mediator"], Action.VIEW_EVIDENCE, item)
    authorize(ACTORS["supervisor"], Action.VIEW_EVIDENCE, item)
    with pytest.raises(NotFound) as err:
        authorize(ACTORS["insurer_rep"], Action.VIEW_EVIDENCE, item)
    assert err.value.code == "evidence_not_found"


def test_only_the_submitter_withdraws_an_item() -> None:
    item = EvidenceScope(CASE, submitter_id=3)
    authorize(ACTORS["insurer_rep"], Action.WITHDRAW_EVIDENCE, item)
    with pytest.raises(Forbidden):
        authorize(ACTORS["consumer"], Action.WITHDRAW_EVIDENCE, item)


@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        (Action.FILE_COMPLAINT, {"consumer", "other_consumer", "channel", "other_channel"}),
        (Action.REGISTER_REFERRAL, {"supervisor"}),
        (Action.VIEW_ALL_CASES, {"supervisor"}),
        (Action.VIEW_DASHBOARD, {"supervisor"}),
        (Action.VIEW_INSURER_INBOX, {"insurer_rep", "other_insurer_rep"}),
        (Action.VIEW_CENTRE_QUEUE, {"centre_lead", "other_centre_lead"}),
        (Action.MANAGE_USERS, set()),  # no admin among them
        (Action.REQUEST_CALLBACK, {"consumer", "other_consumer"}),
        (
            Action.VIEW_CALLBACKS,
            {"insurer_rep", "other_insurer_rep", "mediator", "other_mediator", "centre_lead"}
            | {"other_centre_lead", "supervisor"},  # staff still in their organisation
        ),
    ],
)
def test_actions_on_no_case(action: Action, allowed: set[str]) -> None:
    # the system principal does nothing outside a case: it files nothing and lists nothing
    for name, actor in ACTORS.items():
        assert is_allowed(actor, action) is (name in allowed), name


READERS = {"consumer", "insurer_rep", "mediator", "centre_lead", "supervisor"}


#: The rules for actions that are the platform's own or split by stage, written out (the
#: matrix above reads CASE_RULES, so it cannot catch a wrong entry there).
@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        (Action.VIEW_CASE_STATUS, READERS | {"channel", "system"}),
        (Action.VIEW_CASE, READERS | {"system"}),
        (Action.TRIAGE_CASE, {"supervisor", "system"}),
        (Action.RUN_CLOCK, {"system"}),
        (Action.APPLY_RETENTION, {"system"}),
        (Action.ENTER_RECORD, {"system"}),
        (Action.ASSIGN_MEDIATOR, {"centre_lead", "system"}),
        (Action.HANDLE_ESCALATION, {"supervisor"}),
        (Action.REQUEST_EXTENSION, {"insurer_rep"}),
        (Action.REQUEST_MEDIATION_EXTENSION, {"mediator"}),
        (Action.APPROVE_EXTENSION, {"supervisor", "centre_lead"}),
        (Action.ACCEPT_ASSIGNMENT, {"mediator"}),
        (Action.DECLINE_ASSIGNMENT, {"mediator"}),
        (Action.END_MEDIATION, {"mediator"}),
        (Action.CLOSE_CASE, {"mediator", "supervisor", "system"}),
        (Action.ANSWER_COMPLAINT, {"insurer_rep"}),
        (Action.SIGN_AGREEMENT, {"consumer", "insurer_rep", "mediator"}),
        (Action.MAKE_OFFER, {"consumer", "insurer_rep"}),
        (Action.RATE_SERVICE, {"consumer", "insurer_rep"}),
    ],
)
def test_who_may_do_each_platform_and_stage_action(action: Action, allowed: set[str]) -> None:
    for name, actor in ACTORS.items():
        assert is_allowed(actor, action, CASE) is (name in allowed), name


def test_the_system_is_no_user_and_does_only_its_own_actions() -> None:
    system = Actor.system()
    assert (system.user_id, system.organisation_id, system.channel_id) == (None, None, None)
    assert Role.SYSTEM not in USER_ROLES | STAFF_ROLES
    assert {a for a, allowed in CASE_RULES.items() if Relation.SYSTEM in allowed} == (
        SYSTEM_ACTIONS
    )
    for action in sorted(set(CASE_RULES) - SYSTEM_ACTIONS, key=str):
        with pytest.raises(Forbidden):  # it sees every case, so a refusal, not a hidden case
            authorize(system, action, CASE)


def test_an_account_carrying_the_system_role_stands_nowhere() -> None:
    impostor = Actor(99, Role.SYSTEM)
    assert relations(impostor, CASE) == frozenset()
    with pytest.raises(NotFound):
        authorize(impostor, Action.VIEW_CASE_STATUS, CASE)


def test_user_administration_needs_an_admin_supervisor() -> None:
    admin = Actor(40, Role.SUPERVISOR, PLATFORM, is_admin=True)
    authorize(admin, Action.MANAGE_USERS)
    with pytest.raises(Forbidden):
        authorize(Actor(41, Role.SUPERVISOR, None, is_admin=True), Action.MANAGE_USERS)
