"""Scoring triage on the labelled corpus (``odr triage-eval``): per category precision,
recall and the confusion matrix, per signal precision and recall, and care priority, for the
training part and the held-out part (`odr.services.triage_model.split`).

Each complaint is triaged as intake would (`odr.domain.triage.triage` with the model's
suggestion and the packaged rules) on `EVAL_DAY`, the day the corpus was written, so that a
birth year in a text gives the same age on every run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from odr.domain.categories import Category
from odr.domain.triage import REQUIRED_SIGNALS, TriageInput, TriageResult, TriageRules, triage
from odr.services.triage_model import CategoryModel, LabelledComplaint

EVAL_DAY = date(2025, 6, 1)
CATEGORIES = tuple(Category)


def judge(
    record: LabelledComplaint, model: CategoryModel | None, rules: TriageRules
) -> TriageResult:
    return triage(
        TriageInput(
            text=record.text,
            received_on=EVAL_DAY,
            channel=record.channel,
            birth_date=date.fromisoformat(record.birth_date) if record.birth_date else None,
            amount_cny=record.amount_cny,
            model=model.suggest(record.text) if model is not None else None,
        ),
        rules,
    )


@dataclass(frozen=True, slots=True)
class Scores:
    count: int
    accuracy: float
    categories: dict[str, dict[str, float | int]]  # precision, recall, support
    confusion: dict[str, dict[str, int]]  # true -> predicted -> count
    signals: dict[str, dict[str, float | int]]  # precision, recall, support, predicted
    signals_micro: dict[str, float]
    care_exact: int  # complaints whose care priority is as labelled
    care_labelled: int
    needs_confirmation: int
    misses: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "accuracy": self.accuracy,
            "categories": self.categories,
            "confusion": self.confusion,
            "signals": self.signals,
            "signals_micro": self.signals_micro,
            "care_exact": self.care_exact,
            "care_labelled": self.care_labelled,
            "needs_confirmation": self.needs_confirmation,
        }


def score(
    records: Sequence[LabelledComplaint], model: CategoryModel | None, rules: TriageRules
) -> Scores:
    confusion = {t.value: {p.value: 0 for p in CATEGORIES} for t in CATEGORIES}
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    care_exact = care_labelled = confirm = 0
    misses: list[dict[str, Any]] = []
    for record in records:
        result = judge(record, model, rules)
        predicted = result.suggested_category.value
        confusion[record.category.value][predicted] += 1
        confirm += result.needs_confirmation
        if predicted != record.category.value:
            misses.append({"id": record.id, "label": record.category.value, "got": predicted})
        if record.signals is not None:
            got = set(result.signals)
            for signal in REQUIRED_SIGNALS:
                if signal in got and signal in record.signals:
                    tp[signal] += 1
                elif signal in got:
                    fp[signal] += 1
                    misses.append({"id": record.id, "signal": signal, "got": "extra"})
                elif signal in record.signals:
                    fn[signal] += 1
                    misses.append({"id": record.id, "signal": signal, "got": "missed"})
        if record.care is not None:
            care_labelled += 1
            care_exact += result.care_priority is record.care
            if result.care_priority is not record.care:
                misses.append({"id": record.id, "care": record.care, "got": result.care_priority})
    categories: dict[str, dict[str, float | int]] = {}
    for cat in CATEGORIES:
        c = cat.value
        right = confusion[c][c]
        support = sum(confusion[c].values())
        predicted_as = sum(confusion[t][c] for t in confusion)
        categories[c] = {
            "precision": _ratio(right, predicted_as),
            "recall": _ratio(right, support),
            "support": support,
        }
    signals: dict[str, dict[str, float | int]] = {
        s: {
            "precision": _ratio(tp[s], tp[s] + fp[s]),
            "recall": _ratio(tp[s], tp[s] + fn[s]),
            "support": tp[s] + fn[s],
            "predicted": tp[s] + fp[s],
        }
        for s in REQUIRED_SIGNALS
    }
    all_tp, all_fp, all_fn = sum(tp.values()), sum(fp.values()), sum(fn.values())
    right = sum(confusion[c][c] for c in confusion)
    return Scores(
        count=len(records),
        accuracy=_ratio(right, len(records)),
        categories=categories,
        confusion=confusion,
        signals=signals,
        signals_micro={
            "precision": _ratio(all_tp, all_tp + all_fp),
            "recall": _ratio(all_tp, all_tp + all_fn),
        },
        care_exact=care_exact,
        care_labelled=care_labelled,
        needs_confirmation=confirm,
        misses=misses,
    )


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 1.0


def report(name: str, scores: Scores) -> str:
    """The scores as the plain-text tables ``odr triage-eval`` prints."""
    lines = [
        f"== {name}: {scores.count} complaints, category accuracy {scores.accuracy:.1%}, "
        f"{scores.needs_confirmation} to be confirmed by staff",
        f"{'category':<16}{'precision':>10}{'recall':>8}{'n':>5}",
    ]
    for cat, s in scores.categories.items():
        lines.append(f"{cat:<16}{s['precision']:>10.1%}{s['recall']:>8.1%}{s['support']:>5}")
    short = [c.value[:5] for c in CATEGORIES]
    lines.append("confusion (rows: label, columns: suggestion)")
    lines.append(" " * 16 + "".join(f"{c:>6}" for c in short))
    for cat, row in scores.confusion.items():
        lines.append(f"{cat:<16}" + "".join(f"{row[c.value]:>6}" for c in CATEGORIES))
    lines.append(f"{'signal':<16}{'precision':>10}{'recall':>8}{'n':>5}")
    for sig, s in scores.signals.items():
        lines.append(f"{sig:<16}{s['precision']:>10.1%}{s['recall']:>8.1%}{s['support']:>5}")
    micro = scores.signals_micro
    lines.append(f"{'all signals':<16}{micro['precision']:>10.1%}{micro['recall']:>8.1%}")
    lines.append(f"care priority as labelled: {scores.care_exact}/{scores.care_labelled}")
    return "\n".join(lines)
