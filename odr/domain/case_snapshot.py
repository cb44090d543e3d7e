"""A case aggregate as plain JSON-safe data, and back (what storage keeps of a case).

`snapshot` gives everything the aggregate holds except its unsaved ``events`` (the log is
stored on its own) and including ``version``; `restore` gives back an equal aggregate with no
unsaved events. Instants are ISO 8601 with their UTC offset (they come back with that fixed
offset: the same instants; the clock keeps its zone's name for counting days), dates ISO 8601,
enums their values, sets sorted lists. The ``"schema"`` key says which layout this is; `restore`
refuses any other, a missing or unknown key and a value of the wrong type with `ValueError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from odr.domain.cases import (
    Agreement,
    Answer,
    AnswerKind,
    Case,
    CaseState,
    ChannelKind,
)
from odr.domain.categories import Category
from odr.domain.deadlines import (
    Clock,
    DeadlinePolicy,
    Extension,
    ExtensionRequest,
    Stage,
    zone_of,
)
from odr.domain.errors import ValidationFailed
from odr.domain.sides import Party

SCHEMA = 1

Data = dict[str, Any]
_E = TypeVar("_E", bound=StrEnum)
_T = TypeVar("_T")


# --- To data --------------------------------------------------------------------------------


def snapshot(case: Case) -> Data:
    """The case's state as JSON-safe data (str, int, float, bool, None, list and dict only)."""
    return {
        "schema": SCHEMA,
        "id": case.id,
        "number": case.number,
        "consumer_id": case.consumer_id,
        "insurer_id": case.insurer_id,
        "policy_numbers": list(case.policy_numbers),
        "category": case.category.value,
        "amount_fen": case.amount_fen,
        "channel_kind": case.channel_kind.value,
        "received_at": _instant(case.received_at),
        "clock": _clock(case.clock),
        "state": case.state.value,
        "channel_id": case.channel_id,
        "centre_id": case.centre_id,
        "mediator_id": case.mediator_id,
        "assignment_accepted": case.assignment_accepted,
        "care_priority": case.care_priority,
        "risk_score": case.risk_score,
        "risk_reasons": list(case.risk_reasons),
        "answer": None if case.answer is None else _answer(case.answer),
        "agreement": None if case.agreement is None else _agreement(case.agreement),
        "signatures": {party.value: user_id for party, user_id in case.signatures.items()},
        "next_hearing_at": _opt_instant(case.next_hearing_at),
        "payment_recorded_at": _opt_instant(case.payment_recorded_at),
        "pending_extension": (
            None if case.pending_extension is None else _request(case.pending_extension)
        ),
        "version": case.version,
    }


def _instant(moment: datetime) -> str:
    if moment.utcoffset() is None:
        raise ValueError(f"cannot store the naive datetime {moment.isoformat()}")
    return moment.isoformat()


def _opt_instant(moment: datetime | None) -> str | None:
    return None if moment is None else _instant(moment)


def _clock(clock: Clock) -> Data:
    policy = clock.policy
    return {
        "stage": clock.stage.value,
        "started_at": _instant(clock.started_at),
        "days": clock.days,
        "policy": {
            "answer_days": policy.answer_days,
            "decision_days": policy.decision_days,
            "decision_extension_days": list(policy.decision_extension_days),
            "mediation_days": policy.mediation_days,
            "mediation_extension_days": list(policy.mediation_extension_days),
            "reminder_fractions": [float(f) for f in policy.reminder_fractions],
        },
        "time_zone": clock.time_zone,
        "extensions": [
            {
                "stage": e.stage.value,
                "from_days": e.from_days,
                "to_days": e.to_days,
                "reason": e.reason,
                "requested_by": e.requested_by,
                "approved_by": e.approved_by,
                "at": _instant(e.at),
            }
            for e in clock.extensions
        ],
        "fired": sorted(clock.fired),
        "stopped_at": _opt_instant(clock.stopped_at),
    }


def _answer(answer: Answer) -> Data:
    return {
        "kind": answer.kind.value,
        "text": answer.text,
        "offered_amount_fen": answer.offered_amount_fen,
        "by_user_id": answer.by_user_id,
        "at": _instant(answer.at),
    }


def _agreement(agreement: Agreement) -> Data:
    return {
        "terms": agreement.terms,
        "amount_fen": agreement.amount_fen,
        "due_on": None if agreement.due_on is None else agreement.due_on.isoformat(),
        "sha256": agreement.sha256,
        "drafted_by": agreement.drafted_by,
        "at": _instant(agreement.at),
    }


def _request(request: ExtensionRequest) -> Data:
    return {
        "stage": request.stage.value,
        "reason": request.reason,
        "requested_by": request.requested_by,
        "at": _instant(request.at),
    }


# --- From data ------------------------------------------------------------------------------


def restore(data: Mapping[str, Any]) -> Case:
    """The case `snapshot` was taken of, with ``events == []``."""
    with _Reader(data, "case") as d:
        schema = d.value("schema")
        if type(schema) is not int or schema != SCHEMA:
            raise ValueError(
                f"unsupported case snapshot schema {schema!r} (this code reads {SCHEMA})"
            )
        return Case(
            id=d.integer("id"),
            number=d.string("number"),
            consumer_id=d.integer("consumer_id"),
            insurer_id=d.integer("insurer_id"),
            policy_numbers=d.strings("policy_numbers"),
            category=d.choice("category", Category),
            amount_fen=d.integer("amount_fen"),
            channel_kind=d.choice("channel_kind", ChannelKind),
            received_at=d.instant("received_at"),
            clock=_read_clock(d.value("clock")),
            state=d.choice("state", CaseState),
            channel_id=d.opt_integer("channel_id"),
            centre_id=d.opt_integer("centre_id"),
            mediator_id=d.opt_integer("mediator_id"),
            assignment_accepted=d.flag("assignment_accepted"),
            care_priority=d.flag("care_priority"),
            risk_score=d.opt_integer("risk_score"),
            risk_reasons=d.strings("risk_reasons"),
            answer=_read_answer(d.value("answer")),
            agreement=_read_agreement(d.value("agreement")),
            signatures=_read_signatures(d.value("signatures")),
            next_hearing_at=d.opt_instant("next_hearing_at"),
            payment_recorded_at=d.opt_instant("payment_recorded_at"),
            pending_extension=_read_request(d.value("pending_extension")),
            version=d.integer("version"),
            events=[],
        )


def _read_clock(data: Any) -> Clock:
    with _Reader(data, "case.clock") as d:
        time_zone = d.string("time_zone")
        try:
            zone_of(time_zone)
            policy = _read_policy(d.value("policy"))
        except ValidationFailed as error:
            raise ValueError(f"case.clock: {error.message}") from None
        return Clock(
            stage=d.choice("stage", Stage),
            started_at=d.instant("started_at"),
            days=d.integer("days"),
            policy=policy,
            time_zone=time_zone,
            extensions=tuple(_read_extension(e) for e in d.items("extensions")),
            fired=frozenset(d.strings("fired")),
            stopped_at=d.opt_instant("stopped_at"),
        )


def _read_policy(data: Any) -> DeadlinePolicy:
    with _Reader(data, "case.clock.policy") as d:
        return DeadlinePolicy(
            answer_days=d.integer("answer_days"),
            decision_days=d.integer("decision_days"),
            decision_extension_days=d.integers("decision_extension_days"),
            mediation_days=d.integer("mediation_days"),
            mediation_extension_days=d.integers("mediation_extension_days"),
            reminder_fractions=d.numbers("reminder_fractions"),
        )


def _read_extension(data: Any) -> Extension:
    with _Reader(data, "case.clock.extensions[]") as d:
        return Extension(
            stage=d.choice("stage", Stage),
            from_days=d.integer("from_days"),
            to_days=d.integer("to_days"),
            reason=d.string("reason"),
            requested_by=d.opt_integer("requested_by"),
            approved_by=d.integer("approved_by"),
            at=d.instant("at"),
        )


def _read_answer(data: Any) -> Answer | None:
    if data is None:
        return None
    with _Reader(data, "case.answer") as d:
        return Answer(
            kind=d.choice("kind", AnswerKind),
            text=d.string("text"),
            offered_amount_fen=d.opt_integer("offered_amount_fen"),
            by_user_id=d.opt_integer("by_user_id"),
            at=d.instant("at"),
        )


def _read_agreement(data: Any) -> Agreement | None:
    if data is None:
        return None
    with _Reader(data, "case.agreement") as d:
        due_on = d.opt_string("due_on")
        return Agreement(
            terms=d.string("terms"),
            amount_fen=d.opt_integer("amount_fen"),
            due_on=None if due_on is None else _date(due_on, "case.agreement.due_on"),
            sha256=d.string("sha256"),
            drafted_by=d.opt_integer("drafted_by"),
            at=d.instant("at"),
        )


def _read_signatures(data: Any) -> dict[Party, int | None]:
    if not isinstance(data, Mapping):
        raise ValueError("case.signatures must be an object")
    signatures: dict[Party, int | None] = {}
    for party, user_id in data.items():
        if user_id is not None and not _is_int(user_id):
            raise ValueError(f"case.signatures.{party} must be a user id or null")
        signatures[_choice(party, Party, "case.signatures")] = user_id
    return signatures


def _read_request(data: Any) -> ExtensionRequest | None:
    if data is None:
        return None
    with _Reader(data, "case.pending_extension") as d:
        return ExtensionRequest(
            stage=d.choice("stage", Stage),
            reason=d.string("reason"),
            requested_by=d.opt_integer("requested_by"),
            at=d.instant("at"),
        )


# --- Reading plain data with clear errors -----------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _choice(value: Any, kind: type[_E], path: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"{path}: unknown {kind.__name__} {value!r}") from None


def _date(text: str, path: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{path} is not an ISO date: {text!r}") from None


class _Reader:
    """Typed access to one object of a snapshot. Used as a context manager: on leaving without
    an error, a key that was never read is refused (it belongs to some other layout)."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping):
            raise ValueError(f"{path} must be an object")
        self._data: Mapping[str, Any] = data
        self._path = path
        self._read: set[str] = set()

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        unknown = sorted(set(self._data) - self._read)
        if kind is None and unknown:
            raise ValueError(f"{self._path} has unknown keys {unknown}")

    def value(self, key: str) -> Any:
        self._read.add(key)
        try:
            return self._data[key]
        except KeyError:
            raise ValueError(f"{self._path}.{key} is missing") from None

    def _typed(self, key: str, kind: type[_T], what: str) -> _T:
        value = self.value(key)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise ValueError(f"{self._path}.{key} must be {what}, not {value!r}")
        return value

    def string(self, key: str) -> str:
        return self._typed(key, str, "a string")

    def opt_string(self, key: str) -> str | None:
        return None if self.value(key) is None else self.string(key)

    def integer(self, key: str) -> int:
        return self._typed(key, int, "an integer")

    def opt_integer(self, key: str) -> int | None:
        return None if self.value(key) is None else self.integer(key)

    def flag(self, key: str) -> bool:
        return self._typed(key, bool, "true or false")

    def choice(self, key: str, kind: type[_E]) -> _E:
        return _choice(self.string(key), kind, f"{self._path}.{key}")

    def items(self, key: str) -> list[Any]:
        return self._typed(key, list, "a list")

    def strings(self, key: str) -> tuple[str, ...]:
        values = self.items(key)
        if not all(isinstance(v, str) for v in values):
            raise ValueError(f"{self._path}.{key} must hold strings only")
        return tuple(values)

    def integers(self, key: str) -> tuple[int, ...]:
        values = self.items(key)
        if not all(_is_int(v) for v in values):
            raise ValueError(f"{self._path}.{key} must hold integers only")
        return tuple(values)

    def numbers(self, key: str) -> tuple[float, ...]:
        values = self.items(key)
        if not all(_is_int(v) or isinstance(v, float) for v in values):
            raise ValueError(f"{self._path}.{key} must hold numbers only")
        return tuple(float(v) for v in values)

    def instant(self, key: str) -> datetime:
        text = self.string(key)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None
        if moment is None or moment.utcoffset() is None:
            raise ValueError(f"{self._path}.{key} is not an ISO instant with an offset: {text!r}")
        return moment

    def opt_instant(self, key: str) -> datetime | None:
        return None if self.value(key) is None else self.instant(key)
