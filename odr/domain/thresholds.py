"""Per-insurer thresholds for the supervisor's partner evaluation.

Pure: the rules are values, built from a mapping (what a TOML file holds) and evaluated on an
insurer's figures. Nothing here reads files or the clock.

The file (``ODR_THRESHOLDS``)::

    [defaults]                  # every insurer, unless a section below says otherwise
    per_days = 30               # count limits are for 30 days; they scale with the period
    max_cases = 100             # cases received
    max_per_10k_policies = 5.0  # cases received per 10,000 policies
    max_overdue = 5             # open cases past their running deadline now
    max_escalation_share = 0.2  # escalated cases / cases received
    min_answer_share_in_time = 0.8

    [insurers."安康人寿"]         # by name (as registered) ...
    policy_count = 1200000      # used when the organisation has no policy count
    max_cases = 60

    [insurers.12]               # ... or by organisation id
    max_overdue = 2

A section names only the limits it changes; the rest come from ``[defaults]``. A limit set to
``false`` is switched off for that insurer. ``per_days`` (optional) makes the count limits
(``max_cases``, ``max_per_10k_policies``) limits per that many days: for a period of ``d``
days, the limit applied is ``limit × d / per_days``. Without it a limit applies to whatever
period is chosen. The other limits are shares or current counts and never scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from odr.domain.errors import ValidationFailed

#: The figures a limit applies to, and whether exceeding (max) or falling below (min) trips it.
LIMITS: dict[str, tuple[str, str]] = {
    "max_cases": ("cases", "max"),
    "max_per_10k_policies": ("per_10k_policies", "max"),
    "max_overdue": ("overdue_now", "max"),
    "max_escalation_share": ("escalation_share", "max"),
    "min_answer_share_in_time": ("answer_share_in_time", "min"),
}
#: Limits on counts over the period: these scale with ``per_days``.
SCALED = frozenset({"max_cases", "max_per_10k_policies"})


def _invalid(message: str, where: str) -> ValidationFailed:
    return ValidationFailed(message, code="invalid_thresholds", details={"field": where})


@dataclass(frozen=True)
class InsurerThresholds:
    """An insurer's figures beyond these raise a warning (partner evaluation). ``None``: the
    limit is off."""

    max_cases: float | None = 100  # cases received in the period
    max_per_10k_policies: float | None = 5.0  # cases per 10,000 policies in the period
    max_overdue: float | None = 5  # open cases past their running deadline now
    max_escalation_share: float | None = 0.2  # escalated cases / cases received in the period
    min_answer_share_in_time: float | None = None  # answers in time / answer cohort
    per_days: int | None = None  # count limits are per this many days (None: per period)
    policy_count: int | None = None  # when the organisation has none

    def limit(self, name: str, period_days: int) -> float | None:
        """The limit ``name`` applies to a period of ``period_days`` days."""
        value: float | None = getattr(self, name)
        if value is None or name not in SCALED or not self.per_days:
            return value
        return round(value * period_days / self.per_days, 4)

    def breaches(self, figures: Mapping[str, Any], period_days: int) -> list[dict[str, Any]]:
        """The figures beyond their limits: ``{"figure", "value", "threshold", "kind"}``."""
        found = []
        for name, (figure, kind) in LIMITS.items():
            limit = self.limit(name, period_days)
            value = figures.get(figure)
            if limit is None or value is None:
                continue
            if (kind == "max" and value > limit) or (kind == "min" and value < limit):
                found.append({"figure": figure, "value": value, "threshold": limit, "kind": kind})
        return found


@dataclass(frozen=True)
class ThresholdRules:
    """Defaults and per-insurer overrides, by organisation id or by name."""

    defaults: InsurerThresholds = InsurerThresholds()
    by_id: Mapping[int, InsurerThresholds] = field(default_factory=dict)
    by_name: Mapping[str, InsurerThresholds] = field(default_factory=dict)

    def for_insurer(self, insurer_id: int, name: str) -> InsurerThresholds:
        """The id's section wins over the name's; neither: the defaults."""
        return self.by_id.get(insurer_id) or self.by_name.get(name) or self.defaults


def _number(value: Any, where: str, *, whole: bool = False) -> float | int | None:
    if value is False:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(f"{where} must be a number (or false to switch it off)", where)
    if value < 0:
        raise _invalid(f"{where} must not be negative", where)
    if whole:
        if not isinstance(value, int) or value == 0:
            raise _invalid(f"{where} must be a positive whole number", where)
        return value
    return float(value) if isinstance(value, float) else value


def _section(data: Any, base: InsurerThresholds, where: str) -> InsurerThresholds:
    if not isinstance(data, Mapping):
        raise _invalid(f"{where} must be a table", where)
    known = {f.name for f in fields(InsurerThresholds)}
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise _invalid(f"{where}.{key} is not a threshold ({', '.join(sorted(known))})", where)
        whole = key in ("per_days", "policy_count")
        changes[key] = _number(value, f"{where}.{key}", whole=whole)
    return replace(base, **changes)


def parse_thresholds(data: Mapping[str, Any]) -> ThresholdRules:
    """Rules from a thresholds file's contents (see the module); raises `ValidationFailed`
    (code ``invalid_thresholds``) naming the bad entry."""
    unknown = set(data) - {"defaults", "insurers"}
    if unknown:
        raise _invalid(f"unknown section(s): {', '.join(sorted(unknown))}", sorted(unknown)[0])
    defaults = _section(data.get("defaults", {}), InsurerThresholds(), "defaults")
    insurers = data.get("insurers", {})
    if not isinstance(insurers, Mapping):
        raise _invalid("insurers must be a table of insurer sections", "insurers")
    by_id: dict[int, InsurerThresholds] = {}
    by_name: dict[str, InsurerThresholds] = {}
    for key, section in insurers.items():
        rules = _section(section, defaults, f"insurers.{key}")
        name = str(key).strip()
        if not name:
            raise _invalid("an insurer section needs a name or an id", "insurers")
        if name.isdigit():
            by_id[int(name)] = rules
        else:
            by_name[name] = rules
    return ThresholdRules(defaults, by_id, by_name)
