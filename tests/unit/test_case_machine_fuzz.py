"""The case state machine under random sequences of commands by random actors on a moving clock.

Each example files a case and runs up to 60 steps: a command of `odr.domain.commands` read from
random parameters and carried out as the service does (`odr.services.case_commands.apply`), or
one of the other operations of `Case` (triage, the clock, hearings, agreements, payments,
offers), by any of the consumer, another consumer, the insurer's rep, another insurer's rep, the
mediator, another mediator of the centre, the centre's lead, a supervisor, a channel or the
system; between steps the clock moves forward (by hours or days, or to the next reminder or
deadline). A share of the steps follows the happy path so that late states are reached too.

After every step: a refused operation (any `DomainError`) changed nothing; an accepted one
recorded events whose transitions are all in the allowed table, each from the state the event
before left; the state is a known one; the deadline moved only as the rules allow. At the end
every event has its hash-chain entry and the chain verifies.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odr.domain.accounts import Actor
from odr.domain.case_chain import chain_entry_of
from odr.domain.cases import (
    MAX_MESSAGE_LENGTH,
    MAX_TEXT_LENGTH,
    AnswerKind,
    Case,
    CaseState,
    EventKind,
)
from odr.domain.categories import Category
from odr.domain.commands import COMMANDS, ParamKind
from odr.domain.deadlines import Clock, Stage
from odr.domain.errors import DomainError
from odr.domain.ledger import GENESIS, append, verify_chain
from odr.services.case_commands import apply
from tests.unit.test_cases import ACTORS, CENTRE, MEDIATOR_ID, OTHER_MEDIATOR_ID, RULES, file_case

S = CaseState
E = EventKind
EXAMPLES = 200
MAX_STEPS = 40

OPEN = frozenset(S) - {S.RESOLVED, S.WITHDRAWN, S.FULFILLED, S.NOT_SETTLED, S.CLOSED}
CLOCK = frozenset({S.SUBMITTED, S.AWAITING_INSURER, S.ESCALATED}) | frozenset(
    {S.MEDIATION_REQUESTED, S.MEDIATOR_ASSIGNED, S.HEARING_SCHEDULED, S.IN_HEARING}
    | {S.AGREEMENT_PENDING}
)
NEGOTIATION = frozenset(
    {S.INSURER_ANSWERED, S.MEDIATION_REQUESTED, S.MEDIATOR_ASSIGNED, S.HEARING_SCHEDULED}
)
MEDIATION_UNTIL_AGREEMENT = frozenset(
    {S.MEDIATOR_ASSIGNED, S.HEARING_SCHEDULED, S.AGREEMENT_PENDING}
)


def _moves(*pairs: tuple[frozenset[CaseState] | CaseState, CaseState]) -> set[tuple[S, S]]:
    out: set[tuple[S, S]] = set()
    for source, target in pairs:
        for state in source if isinstance(source, frozenset) else {source}:
            out.add((state, target))
    return out


def _stays(states: frozenset[CaseState]) -> set[tuple[S, S]]:
    return {(state, state) for state in states}


ALL = frozenset(S)
#: The allowed table (docs/architecture.md, "The case life cycle"): event → (from, to) pairs.
ALLOWED: dict[EventKind, set[tuple[S, S]]] = {
    E.TRIAGED: _moves((S.SUBMITTED, S.AWAITING_INSURER)),
    E.ANSWERED: _moves((S.AWAITING_INSURER, S.INSURER_ANSWERED)),
    E.ESCALATED: _moves((S.AWAITING_INSURER, S.ESCALATED)) | _stays(CLOCK - {S.AWAITING_INSURER}),
    E.REMINDER: _stays(CLOCK),
    E.REFERRED_TO_MEDIATION: _moves((S.ESCALATED, S.MEDIATION_REQUESTED)),
    E.RETURNED_TO_INSURER: _moves((S.ESCALATED, S.AWAITING_INSURER)),
    E.ANSWER_ACCEPTED: _moves((S.INSURER_ANSWERED, S.RESOLVED)),
    E.ANSWER_REJECTED: _moves((S.INSURER_ANSWERED, S.MEDIATION_REQUESTED)),
    E.MEDIATION_REQUESTED: _moves((S.INSURER_ANSWERED, S.MEDIATION_REQUESTED)),
    E.MEDIATOR_ASSIGNED: _moves(
        (frozenset({S.MEDIATION_REQUESTED, S.MEDIATOR_ASSIGNED}), S.MEDIATOR_ASSIGNED)
    ),
    E.ASSIGNMENT_ACCEPTED: _stays(frozenset({S.MEDIATOR_ASSIGNED})),
    E.ASSIGNMENT_DECLINED: _moves((S.MEDIATOR_ASSIGNED, S.MEDIATION_REQUESTED)),
    E.HEARING_SCHEDULED: _moves(
        (frozenset({S.MEDIATOR_ASSIGNED, S.HEARING_SCHEDULED}), S.HEARING_SCHEDULED)
    ),
    E.HEARING_STARTED: _moves((S.HEARING_SCHEDULED, S.IN_HEARING)),
    E.HEARING_ENDED: _moves((S.IN_HEARING, S.HEARING_SCHEDULED)),
    E.AGREEMENT_PROPOSED: _moves(
        (frozenset({S.HEARING_SCHEDULED, S.AGREEMENT_PENDING}), S.AGREEMENT_PENDING)
    ),
    E.AGREEMENT_SIGNED: _moves(
        (S.AGREEMENT_PENDING, S.AGREEMENT_PENDING), (S.AGREEMENT_PENDING, S.SETTLED)
    ),
    E.NOT_SETTLED: _moves((MEDIATION_UNTIL_AGREEMENT, S.NOT_SETTLED)),
    E.PAYMENT_CONFIRMED: _moves((S.SETTLED, S.FULFILLED)),
    E.WITHDRAWN: _moves((OPEN - {S.SETTLED}, S.WITHDRAWN)),
    E.CLOSED: _moves((frozenset({S.RESOLVED, S.WITHDRAWN, S.FULFILLED, S.NOT_SETTLED}), S.CLOSED)),
    # events that leave the state as it is
    E.EXTENSION_REQUESTED: _stays(CLOCK - {S.SUBMITTED, S.ESCALATED}),
    E.DEADLINE_EXTENDED: _stays(CLOCK - {S.SUBMITTED}),
    E.EXTENSION_REFUSED: _stays(CLOCK - {S.SUBMITTED}),
    E.MESSAGE_SENT: _stays(ALL - {S.CLOSED}),
    E.PAYMENT_RECORDED: _stays(frozenset({S.SETTLED})),
    E.PAYMENT_DISPUTED: _stays(frozenset({S.SETTLED})),
    E.PAYMENT_REMINDER: _stays(frozenset({S.SETTLED})),
    E.PAYMENT_ESCALATED: _stays(frozenset({S.SETTLED})),
    E.CONFIRMATION_REMINDER: _stays(frozenset({S.SETTLED, S.FULFILLED, S.CLOSED})),
    # offers: an accepted offer or a blind settlement before mediation resolves the case
    E.OFFER_MADE: _stays(NEGOTIATION),
    E.OFFER_ANSWERED: _stays(NEGOTIATION) | _moves((S.INSURER_ANSWERED, S.RESOLVED)),
    E.BLIND_OFFER_SUBMITTED: _stays(NEGOTIATION),
    E.BLIND_ROUND_ENDED: _stays(NEGOTIATION) | _moves((S.INSURER_ANSWERED, S.RESOLVED)),
}
#: Events that start the mediation stage's clock; those that stop the clock.
ENTERS_MEDIATION = {E.ANSWER_REJECTED, E.MEDIATION_REQUESTED, E.REFERRED_TO_MEDIATION}
STOPS_CLOCK = {E.ANSWERED, E.AGREEMENT_SIGNED, E.NOT_SETTLED, E.WITHDRAWN}

# --- steps -------------------------------------------------------------------------------------
# A step is a handful of integers (cheap to draw, and they shrink); its operation and the
# operation's parameters are picked from the pools below by a seeded `random.Random`.

TEXTS = (
    "",
    "   ",
    "好的",
    "Ünïcode ✓ 🙂",
    "请尽快答复，身份证 110101199003077777",
    "x" * MAX_MESSAGE_LENGTH,
    "x" * (MAX_MESSAGE_LENGTH + 1),
    "x" * MAX_TEXT_LENGTH,
    "x" * (MAX_TEXT_LENGTH + 1),
)
NUMBERS = (CENTRE, MEDIATOR_ID, OTHER_MEDIATOR_ID, 0, -1, 2**70, "1", None, True, 1.5)
MONEY = (None, 0, 1, 300_000, 10**12, -5, "5", True)
CHOICES = (*(k.value for k in AnswerKind), "maybe", "", None, 1)
POOL_OF = {ParamKind.TEXT: TEXTS, ParamKind.NUMBER: NUMBERS, ParamKind.MONEY: MONEY}
POOL_OF[ParamKind.CHOICE] = CHOICES
KEYS = ("", "k1", "k2", "x" * 65)

Op = Callable[[Case, Actor, datetime], object]


def _sha(case: Case, wrong: bool) -> str:
    return "0" * 64 if wrong or case.agreement is None else case.agreement.sha256


def _amount(r: random.Random) -> Any:
    return r.choice([v for v in MONEY if not isinstance(v, str)])


def _days(r: random.Random, now: datetime, choices: tuple[int | None, ...]) -> date | None:
    days = r.choice(choices)
    return None if days is None else now.date() + timedelta(days=days)


#: The other operations of `Case`, drawing their parameters from the step's seeded random.
OPERATIONS: dict[str, Callable[[random.Random, Case, Actor, datetime], object]] = {
    "triage": lambda r, c, a, t: c.triage(
        a, t, category=r.choice([*Category, "nonsense"]), risk_score=r.randint(-5, 105),
        deadlines=RULES,
    ),
    "remind": lambda r, c, a, t: c.remind(a, t),
    "escalate": lambda r, c, a, t: c.escalate(a, t),
    "schedule_hearing": lambda r, c, a, t: c.schedule_hearing(
        a, t, starts_at=t + timedelta(hours=r.randint(-48, 24 * 30))
    ),
    "start_hearing": lambda r, c, a, t: c.start_hearing(a, t),
    "end_hearing": lambda r, c, a, t: c.end_hearing(a, t),
    "propose_agreement": lambda r, c, a, t: c.propose_agreement(
        a, t, terms=r.choice(TEXTS), amount_fen=_amount(r), due_on=_days(r, t, (None, -3, 0, 14))
    ),
    "sign_agreement": lambda r, c, a, t: c.sign_agreement(
        a, t, agreement_sha256=_sha(c, r.random() < 0.2),
        method=r.choice(["", "password", "x" * 41]),
    ),
    "record_payment": lambda r, c, a, t: c.record_payment(
        a, t, amount_fen=_amount(r), reference=r.choice(TEXTS), paid_on=t.date()
    ),
    "confirm_payment": lambda r, c, a, t: c.confirm_payment(a, t),
    "dispute_payment": lambda r, c, a, t: c.dispute_payment(a, t, reason=r.choice(TEXTS)),
    "declare_not_settled": lambda r, c, a, t: c.declare_not_settled(a, t, reason=r.choice(TEXTS)),
    "remind_payment": lambda r, c, a, t: c.remind_payment(a, t, key=r.choice(KEYS)),
    "escalate_payment": lambda r, c, a, t: c.escalate_payment(a, t, key=r.choice(KEYS)),
    "remind_confirmation": lambda r, c, a, t: c.remind_confirmation(
        a, t, key=r.choice(KEYS), window_ends_on=_days(r, t, (-3, 0, 10)) or t.date()
    ),
    "make_offer": lambda r, c, a, t: c.make_offer(
        a, t, amount_fen=r.choice([0, 1, 5000, -1, 10**14]), text=r.choice(TEXTS)
    ),
    "answer_offer": lambda r, c, a, t: c.answer_offer(
        a, t, offer_sequence=r.randint(0, 50), amount_fen=r.choice([0, 5000, -1]),
        accept=r.random() < 0.5,
    ),
    "submit_blind_offer": lambda r, c, a, t: c.submit_blind_offer(
        a, t, round_no=r.randint(-1, 3), commitment=r.choice(["a" * 64, "A" * 64, ""])
    ),
    "end_blind_round": lambda r, c, a, t: c.end_blind_round(
        a, t, round_no=r.randint(1, 3), settled_fen=r.choice([None, 0, 5000, -1])
    ),
}  # fmt: skip


def _command(name: str, params: dict[str, Any]) -> Op:
    def run(case: Case, actor: Actor, now: datetime) -> object:
        return apply(case, actor, now, COMMANDS[name].from_mapping(params))

    return run


def random_command(r: random.Random) -> tuple[str, Op]:
    """A command of the registry with each parameter given (right or wrong) or left out."""
    name = r.choice(sorted(COMMANDS))
    params = {
        field: r.choice(POOL_OF[param.kind])
        for field, param in COMMANDS[name].params()
        if r.random() < 0.85
    }
    return name, _command(name, params)


#: The happy path: from each state, one step forward by the actor whose turn it is.
HAPPY: dict[CaseState, list[tuple[str, str, dict[str, Any]]]] = {
    S.SUBMITTED: [("system", "triage", {})],
    S.AWAITING_INSURER: [
        ("insurer_rep", "answer", {"kind": "propose", "text": "愿意赔付", "offered_amount_fen": 1}),
        ("insurer_rep", "request_extension", {"reason": "需要补充材料"}),
        ("supervisor", "approve_extension", {}),
        ("system", "escalate", {}),
    ],
    S.ESCALATED: [("supervisor", "refer_to_mediation", {"centre_id": CENTRE})],
    S.INSURER_ANSWERED: [
        ("consumer", "request_mediation", {"centre_id": CENTRE}),
        ("consumer", "reject_answer", {"centre_id": CENTRE, "reason": "太少"}),
        ("consumer", "accept_answer", {}),
    ],
    S.MEDIATION_REQUESTED: [("centre_lead", "assign_mediator", {"mediator_id": MEDIATOR_ID})],
    S.MEDIATOR_ASSIGNED: [
        ("mediator", "accept_assignment", {}),
        ("mediator", "schedule_hearing", {}),
        ("mediator", "request_extension", {"reason": "双方需要时间"}),
    ],
    S.HEARING_SCHEDULED: [
        ("mediator", "start_hearing", {}),
        ("mediator", "propose_agreement", {}),
        ("mediator", "propose_agreement", {}),
        ("mediator", "declare_not_settled", {}),
    ],
    S.IN_HEARING: [("mediator", "end_hearing", {})],
    S.AGREEMENT_PENDING: [
        ("consumer", "sign_agreement", {}),
        ("insurer_rep", "sign_agreement", {}),
        ("mediator", "sign_agreement", {}),
        ("mediator", "sign_with_a_bad_method", {}),  # refused: must change nothing
    ],
    S.SETTLED: [("insurer_rep", "record_payment", {}), ("consumer", "confirm_payment", {})],
    S.RESOLVED: [("consumer", "close", {})],
    S.FULFILLED: [("mediator", "close", {})],
    S.NOT_SETTLED: [("mediator", "close", {})],
    S.WITHDRAWN: [("supervisor", "close", {})],
}  # fmt: skip
HAPPY_OPERATIONS: dict[str, Op] = {
    "triage": lambda c, a, t: c.triage(
        a, t, category=Category.CLAIMS, risk_score=10, deadlines=RULES
    ),
    "schedule_hearing": lambda c, a, t: c.schedule_hearing(a, t, starts_at=t + timedelta(days=2)),
    "start_hearing": lambda c, a, t: c.start_hearing(a, t),
    "end_hearing": lambda c, a, t: c.end_hearing(a, t),
    "escalate": lambda c, a, t: c.escalate(a, t),
    "declare_not_settled": lambda c, a, t: c.declare_not_settled(a, t, reason="分歧过大"),
    "propose_agreement": lambda c, a, t: c.propose_agreement(
        a, t, terms="赔付3000元", amount_fen=300_000, due_on=t.date() + timedelta(days=10)
    ),
    "sign_agreement": lambda c, a, t: c.sign_agreement(
        a, t, agreement_sha256=_sha(c, False), method="password"
    ),
    "sign_with_a_bad_method": lambda c, a, t: c.sign_agreement(
        a, t, agreement_sha256=_sha(c, False), method="x" * 41
    ),
    "record_payment": lambda c, a, t: c.record_payment(a, t, amount_fen=300_000),
    "confirm_payment": lambda c, a, t: c.confirm_payment(a, t),
}

ACTOR_NAMES = sorted(ACTORS)
JUMPS = (None, None, None, None, "half", "four_fifths", "due", "after_due")
#: (what: 0-1 the happy path, 2 a command, 3 another operation; actor; seed; hours; jump)
STEP = st.tuples(
    st.integers(min_value=0, max_value=3),
    st.integers(min_value=0, max_value=len(ACTOR_NAMES) - 1),
    st.integers(min_value=0, max_value=2**32),
    st.integers(min_value=0, max_value=6) | st.integers(min_value=0, max_value=24 * 40),
    st.integers(min_value=0, max_value=len(JUMPS) - 1),
)
Step = tuple[int, int, int, int, int]


def resolve(step: Step, case: Case) -> tuple[str, Actor, Op]:
    """What the step does to ``case``: a label, the actor and the operation."""
    what, actor_index, seed, _, _ = step
    r = random.Random(seed)
    if what >= 2:
        actor = ACTORS[ACTOR_NAMES[actor_index]]
        if what == 2:
            name, op = random_command(r)
        else:
            name = r.choice(sorted(OPERATIONS))
            operation = OPERATIONS[name]

            def op(case: Case, actor: Actor, now: datetime) -> object:
                return operation(r, case, actor, now)

        return name, actor, op
    choices = HAPPY.get(case.state)
    if not choices:
        return "noop", ACTORS["system"], lambda c, a, t: None
    actor_name, name, params = choices[seed % len(choices)]
    return f"happy:{name}", ACTORS[actor_name], HAPPY_OPERATIONS.get(name) or _command(name, params)


def advance(case: Case, now: datetime, step: Step) -> datetime:
    later = now + timedelta(hours=step[3])
    jump = JUMPS[step[4]]
    if jump is not None and case.clock.running:
        clock = case.clock
        target = {
            "half": clock.reminder_at(0.5),
            "four_fifths": clock.reminder_at(0.8),
            "due": clock.due_at,
            "after_due": clock.due_at + timedelta(hours=1),
        }[jump]
        later = max(later, target)
    return later


# --- the properties ----------------------------------------------------------------------------


FIELDS = tuple(f.name for f in dataclasses.fields(Case))


def snapshot(case: Case) -> dict[str, Any]:
    """Every field of the case; the values are immutable but for the events and signatures."""
    values = {name: getattr(case, name) for name in FIELDS}
    values["events"] = list(case.events)
    values["signatures"] = dict(case.signatures)
    return values


def check_clock(before: Clock, after: Clock, kinds: list[EventKind], now: datetime) -> None:
    """The deadline moved only as the rules allow."""
    if set(kinds) & ENTERS_MEDIATION:
        assert after.stage is Stage.MEDIATION and after.started_at == now
        assert after.days == after.policy.base_days(Stage.MEDIATION) and after.running
        assert after.extensions == ()
        return
    if E.TRIAGED in kinds:
        assert after.stage is Stage.ANSWER and after.started_at == before.started_at
        assert after.days == after.policy.base_days(Stage.ANSWER) and after.extensions == ()
        assert before.fired <= after.fired
        return
    assert (after.stage, after.started_at, after.policy) == (
        before.stage,
        before.started_at,
        before.policy,
    )
    if E.DEADLINE_EXTENDED in kinds:
        ladder = before.policy.extension_ladder(before.stage)
        assert before.running and len(after.extensions) == len(before.extensions) + 1
        assert after.days == ladder[len(before.extensions)] > before.days
        assert after.due_at > before.due_at
    else:
        assert (after.days, after.extensions) == (before.days, before.extensions)
    assert before.fired <= after.fired
    if after.fired != before.fired:
        assert set(kinds) & {E.REMINDER, E.ESCALATED}, kinds
    if before.stopped_at is not None:
        assert after.stopped_at == before.stopped_at  # a stopped clock stays stopped
    elif after.stopped_at is not None:
        assert set(kinds) & STOPS_CLOCK and after.stopped_at == now, kinds


def check_chain(case: Case) -> None:
    head, entries = GENESIS, []
    for event in case.events:
        kind, body, visibility = chain_entry_of(event)
        entry = append(head, event.sequence, kind, body, visibility=visibility)
        entries.append(entry)
        head = entry.hash
    assert len(entries) == len(case.events) == case.version
    verdict = verify_chain(entries)
    assert verdict.ok, verdict


REACHED: Counter[str] = Counter()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(plan=st.lists(STEP, min_size=MAX_STEPS // 2, max_size=MAX_STEPS))
def test_random_commands_keep_the_case_machine_and_its_chain_sound(plan: list[Step]) -> None:
    case = file_case()
    now = case.events[-1].at
    for step in plan:
        now = advance(case, now, step)
        label, actor, op = resolve(step, case)
        before = snapshot(case)
        try:
            op(case, actor, now)
        except DomainError:
            assert snapshot(case) == before, (
                f"{label} by {actor.role} was refused but changed the case"
            )
            REACHED["refused"] += 1
            continue
        new = case.events[len(before["events"]) :]
        assert case.version == before["version"] + len(new)
        assert isinstance(case.state, CaseState)
        previous = before["state"]
        for event in new:
            assert event.sequence == case.events.index(event) + 1
            assert event.from_state is previous, (label, event)
            pair = (event.from_state, event.to_state)
            assert pair in ALLOWED[event.kind], f"{label}: {event.kind} {pair} not allowed"
            assert event.at == now
            previous = event.to_state
        assert case.state is previous
        check_clock(before["clock"], case.clock, [e.kind for e in new], now)
        REACHED[str(case.state)] += 1
    check_chain(case)
