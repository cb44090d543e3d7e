"""Triage over a JSON-lines file of complaints (``odr triage FILE.jsonl``).

The complaints are taken in file order as successive intakes into an empty in-memory store:
each is triaged against the ones before it (duplicates, the consumer's earlier complaints),
then joins the store as an open case. Nothing is written anywhere.

Each line is an object with ``id`` and ``text`` and optionally ``insurer``, ``policy_no`` (or a
``policy_numbers`` list), ``birth_date`` (ISO), ``amount_cny``, ``category`` (the category picked
on the form), ``channel``, ``care_requested``, ``received_on`` (ISO date; default: today),
``product`` and ``consumer_id``.

**Who is the consumer?** The sample files carry no consumer id, so a line without
``consumer_id`` is attributed to the consumer ``(birth_date, policy number)``: two lines with the
same birth date and the same policy number come from the same person. A consumer with several
policies is then seen as several consumers (earlier complaints are under-counted, never
over-counted). A line with neither a consumer id nor a birth date has no known consumer.

**Which category is printed?** The one suggested from the text, by the learned model and the
rules together (`odr.domain.triage.triage`), with its ``confidence``, ``needs_confirmation``
and ``category_reasons``. The file's ``category`` is
treated as the form's choice: it becomes the case category (used to group clusters) but is not
printed, so the printed category is the text's own verdict.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from odr.domain.categories import Category
from odr.domain.duplicates import (
    CaseRef,
    DuplicateLink,
    duplicate_links,
    may_repeat,
    normalise_policy_no,
    same_policy_open_cases,
)
from odr.domain.errors import ValidationFailed
from odr.domain.similarity import (
    ClusterItem,
    EarlyWarning,
    Fingerprinter,
    NearDuplicateIndex,
    detect_clusters,
)
from odr.domain.triage import TriageInput, TriageResult, TriageRules, triage
from odr.services.triage_model import ModelSource
from odr.services.triage_rules import default_rules

ROW_KEYS = ("id", "category", "risk_score", "signals", "care_priority", "duplicate_of")


@dataclass(frozen=True, slots=True)
class FileTriageOutcome:
    complaint_id: str | int
    result: TriageResult
    duplicates: tuple[DuplicateLink, ...]  # strongest first; empty when none

    def row(self) -> dict[str, Any]:
        """The JSON-ready line printed by ``odr triage``."""
        return {
            "id": self.complaint_id,
            "category": self.result.suggested_category.value,
            "risk_score": self.result.risk_score,
            "signals": sorted(self.result.signals),
            "care_priority": self.result.care_priority,
            "duplicate_of": self.duplicates[0].of if self.duplicates else None,
            "confidence": self.result.confidence,
            "needs_confirmation": self.result.needs_confirmation,
            "category_reasons": list(self.result.category_reasons),
        }


class FileTriage:
    """An empty store that complaints are filed into one after another."""

    def __init__(
        self,
        rules: TriageRules | None = None,
        *,
        today: date | None = None,
        model: ModelSource | None = None,
    ) -> None:
        self.rules = rules or default_rules()
        self.model = model if model is not None else ModelSource(None)
        self.today = today or date.today()
        self._fingerprint = Fingerprinter(self.rules.similarity)
        self._index = NearDuplicateIndex(self.rules.similarity)
        self._cases_by_consumer: defaultdict[str, list[CaseRef]] = defaultdict(list)
        self._cluster_items: list[ClusterItem] = []
        self._ids: set[str | int] = set()
        self._owners: dict[str | int, tuple[str | None, tuple[str, ...]]] = {}

    def intake(self, record: Mapping[str, Any]) -> FileTriageOutcome:
        complaint_id = _id(record)
        if complaint_id in self._ids:
            raise ValidationFailed(
                f"complaint {complaint_id!r} appears twice", details={"field": "id"}
            )
        text = _text(record)
        birth_date = _date(record, "birth_date")
        received_on = _date(record, "received_on") or self.today
        insurer = _optional_str(record, "insurer") or ""
        policies = _policies(record)
        consumer = _consumer_key(record, birth_date, policies)
        form_category = _category(record)

        result = triage(
            TriageInput(
                text=text,
                received_on=received_on,
                form_category=form_category,
                amount_cny=_amount(record),
                birth_date=birth_date,
                care_requested=record.get("care_requested") is True,
                insurer=insurer or None,
                policy_numbers=policies,
                earlier_complaints=len(self._cases_by_consumer.get(consumer, ()))
                if consumer
                else 0,
                channel=_optional_str(record, "channel"),
                model=self.model.suggest(text),
            ),
            self.rules,
        )
        fingerprint = self._fingerprint(text)
        same_policy = (
            same_policy_open_cases(
                consumer_id=consumer,
                insurer=insurer,
                policy_numbers=policies,
                cases=self._cases_by_consumer.get(consumer, ()),
            )
            if consumer
            else []
        )
        near = [
            c
            for c in self._index.query(fingerprint)
            if may_repeat(
                consumer_id=consumer,
                policy_numbers=policies,
                other_consumer_id=self._owners[c.item_id][0],
                other_policy_numbers=self._owners[c.item_id][1],
            )
        ]  # another consumer's near-identical complaint is a cluster, not a duplicate
        links = duplicate_links(same_policy, near)

        self._ids.add(complaint_id)
        self._owners[complaint_id] = (consumer, policies)
        self._index.add(complaint_id, fingerprint)
        if consumer:  # every case filed from a file stays open
            self._cases_by_consumer[consumer].append(
                CaseRef(complaint_id, consumer, insurer, frozenset(policies))
            )
        if fingerprint.indexable:
            self._cluster_items.append(
                ClusterItem(
                    item_id=complaint_id,
                    insurer=insurer,
                    product=_optional_str(record, "product") or result.category.value,
                    received_at=datetime.combine(received_on, time()),
                    signature=fingerprint.signature,
                )
            )
        return FileTriageOutcome(complaint_id, result, links)

    def early_warnings(self) -> list[EarlyWarning]:
        """Clusters of similar complaints in the window ending today."""
        return detect_clusters(
            self._cluster_items,
            now=datetime.combine(self.today, time.max),
            params=self.rules.clusters,
        )


def triage_jsonl(
    lines: Iterable[str],
    *,
    today: date | None = None,
    rules: TriageRules | None = None,
    model: ModelSource | None = None,
) -> Iterator[dict[str, Any]]:
    """One JSON-ready row per complaint line, in file order (blank lines are skipped)."""
    run = FileTriage(rules, today=today, model=model)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValidationFailed(
                f"line {number}: not valid JSON ({exc.msg})",
                details={"field": "line", "line": number},
            ) from None
        if not isinstance(record, dict):
            raise ValidationFailed(
                f"line {number}: expected a JSON object", details={"field": "line", "line": number}
            )
        try:
            yield run.intake(record).row()
        except ValidationFailed as exc:
            raise ValidationFailed(
                f"line {number}: {exc.message}", details={**exc.details, "line": number}
            ) from None


# --- Reading one record ----------------------------------------------------------------------


def _id(record: Mapping[str, Any]) -> str | int:
    value = record.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise ValidationFailed("a complaint needs an id", details={"field": "id"})
    return value


def _text(record: Mapping[str, Any]) -> str:
    value = record.get("text")
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("a complaint needs a text", details={"field": "text"})
    return value


def _optional_str(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationFailed(f"{key} must be a string", details={"field": key})
    return value.strip() or None


def _date(record: Mapping[str, Any], key: str) -> date | None:
    value = _optional_str(record, key)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            f"{key} must be a date (YYYY-MM-DD)", details={"field": key}
        ) from None


def _amount(record: Mapping[str, Any]) -> Decimal | None:
    value = record.get("amount_cny")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValidationFailed("amount_cny must be a number", details={"field": "amount_cny"})
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValidationFailed(
            "amount_cny must be a number", details={"field": "amount_cny"}
        ) from None
    if not amount.is_finite() or amount < 0:
        raise ValidationFailed("amount_cny must not be negative", details={"field": "amount_cny"})
    return amount


def _policies(record: Mapping[str, Any]) -> tuple[str, ...]:
    values = record.get("policy_numbers")
    if values is None:
        single = _optional_str(record, "policy_no")
        values = [single] if single else []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValidationFailed(
            "policy_numbers must be a list of strings", details={"field": "policy_numbers"}
        )
    return tuple(n for n in (normalise_policy_no(v) for v in values) if n)


def _consumer_key(
    record: Mapping[str, Any], birth_date: date | None, policies: tuple[str, ...]
) -> str | None:
    consumer_id = record.get("consumer_id")
    if (
        isinstance(consumer_id, str | int)
        and not isinstance(consumer_id, bool)
        and consumer_id != ""
    ):
        return f"id:{consumer_id}"
    if birth_date is None or not policies:
        return None
    return f"born:{birth_date.isoformat()}/policy:{min(policies)}"


def _category(record: Mapping[str, Any]) -> Category | None:
    value = _optional_str(record, "category")
    if value is None:
        return None
    try:
        return Category(value)
    except ValueError:
        raise ValidationFailed(
            f"unknown category {value!r}", details={"field": "category"}
        ) from None
