"""Triage of a complaint on intake: suggested category, risk score with reasons, care priority.

Pure and deterministic: the same input and rules give the same result, and every point of risk
and of category score is explained by a reason naming the rule and the evidence that fired it.
Vocabulary, weights and thresholds are data (`TriageRules.from_mapping`, fed from the packaged
``odr/data/triage.toml`` by `odr.services.triage_rules`), not code.

Duplicates and clusters need the other complaints and live in `odr.domain.duplicates` and
`odr.domain.similarity`; this module judges one complaint on its own (plus the count of the
consumer's earlier complaints, which the caller knows).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from odr.domain.categories import Category
from odr.domain.errors import ValidationFailed
from odr.domain.similarity import ClusterParams, SimilarityParams

# Signals that code (not only text patterns) can raise; the rules file must define them.
REGULATOR = "regulator"
MEDIA = "media"
LITIGATION = "litigation"
GROUP = "group"
ELDERLY = "elderly"
HIGH_AMOUNT = "high_amount"
REPEAT = "repeat"
EMOTION = "emotion"
REQUIRED_SIGNALS = (REGULATOR, MEDIA, LITIGATION, GROUP, ELDERLY, HIGH_AMOUNT, REPEAT, EMOTION)

MAX_RISK = 100
#: Stands for an age written in digits or Chinese numerals in the rules' ``age_patterns``.
AGE_TOKEN = "<AGE>"  # noqa: S105 - a placeholder, not a password
_AGE_REGEX = (
    r"(?P<age>\d{2,3}|一百[零一二三四五六七八九十]*|[一二三四五六七八九]?十[一二三四五六七八九]?)"
)
_UNIT_MULTIPLIERS = {"": 1, "元": 1, "块": 1, "千": 1_000, "万": 10_000, "亿": 100_000_000}


# --- Input and result ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelSuggestion:
    """What a learned category model says of a text: a probability per category (summing to
    1) and, per category, the text features that pushed towards it most (phrase, weight).

    The model itself lives outside the domain (`odr.services.triage_model`); triage only
    combines its verdict with the rules' (`TriageRules.rule_weight`)."""

    probabilities: tuple[tuple[Category, float], ...]
    features: tuple[tuple[Category, tuple[tuple[str, float], ...]], ...] = ()

    def probability(self, category: Category) -> float:
        for cat, p in self.probabilities:
            if cat is category:
                return p
        return 0.0

    def features_of(self, category: Category) -> tuple[tuple[str, float], ...]:
        for cat, found in self.features:
            if cat is category:
                return found
        return ()


@dataclass(frozen=True, slots=True)
class StatedAge:
    """An age of a person affected, as the text states it (``我父亲今年78岁``, ``年过七旬``,
    ``1948年出生``): ``age`` in years, ``evidence`` the words that state it."""

    age: int
    evidence: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TriageInput:
    """What intake knows about a complaint.

    ``form_category`` is what the consumer picked on the form (None if they did not; a category
    name is accepted and turned into a `Category`). ``earlier_complaints`` counts the consumer's
    complaints filed before this one. ``insurer`` and ``policy_numbers`` are not scored here;
    they feed the duplicate rule and clusters.
    """

    text: str
    received_on: date
    form_category: Category | str | None = None
    amount_cny: Decimal | int | None = None
    birth_date: date | None = None
    care_requested: bool = False
    insurer: str | None = None
    policy_numbers: tuple[str, ...] = ()
    earlier_complaints: int = 0
    channel: str | None = None
    model: ModelSuggestion | None = None  # the learned model's verdict on the text, if any

    def __post_init__(self) -> None:
        if self.form_category is not None:
            try:
                object.__setattr__(self, "form_category", Category(self.form_category))
            except ValueError:
                raise ValidationFailed(
                    f"unknown category {self.form_category!r}", details={"field": "form_category"}
                ) from None
        if self.amount_cny is not None and self.amount_cny < 0:
            raise ValidationFailed("amount must not be negative", details={"field": "amount_cny"})
        if self.earlier_complaints < 0:
            raise ValidationFailed(
                "earlier complaints must not be negative", details={"field": "earlier_complaints"}
            )
        if self.birth_date is not None and self.birth_date > self.received_on:
            raise ValidationFailed(
                "birth date is after the complaint", details={"field": "birth_date"}
            )


@dataclass(frozen=True, slots=True)
class Reason:
    """One risk signal that fired: its weight in the score and the evidence that raised it."""

    signal: str
    weight: int
    evidence: str
    label: str = ""


@dataclass(frozen=True, slots=True)
class CategoryHit:
    """A category keyword found in the text."""

    category: Category
    weight: int
    phrase: str


@dataclass(frozen=True, slots=True)
class TriageResult:
    category: Category  # the case's category: the form's choice when given, else the suggestion
    suggested_category: Category  # from the text alone
    category_scores: tuple[tuple[Category, int], ...]  # highest first, ties in rules order
    category_hits: tuple[CategoryHit, ...]
    risk_score: int  # 0-100: the sum of the reasons' weights, capped
    reasons: tuple[Reason, ...]
    care_priority: bool
    care_reason: str | None
    age: int | None  # the consumer's age on the day the complaint was received
    #: how sure triage is of ``suggested_category`` (0-1; the combined score of model and
    #: rules); None when no model was consulted (the rules alone decided)
    confidence: float | None = None
    needs_confirmation: bool = False  # confidence under ``TriageRules.confirm_below``
    #: why ``suggested_category``: the model's strongest features, then the rules' phrases
    category_reasons: tuple[str, ...] = ()
    rules_category: Category = Category.OTHER  # what the keyword rules alone suggest
    model_category: Category | None = None  # what the model alone suggests
    stated_ages: tuple[StatedAge, ...] = ()

    @property
    def signals(self) -> frozenset[str]:
        return frozenset(r.signal for r in self.reasons)

    @property
    def suggestion_differs(self) -> bool:
        """The text points elsewhere than the form: worth a look by whoever routes the case."""
        return self.category != self.suggested_category


# --- Rules ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WeightedPattern:
    pattern: re.Pattern[str]
    weight: int


@dataclass(frozen=True, slots=True)
class SignalRule:
    name: str
    weight: int
    label: str
    patterns: tuple[re.Pattern[str], ...]
    negatable: bool = True
    channels: frozenset[str] = frozenset()
    age_patterns: tuple[re.Pattern[str], ...] = ()  # elderly: an age of ``elderly_age`` or more
    #: elderly: words saying the person affected is old although no age is given (老人家,
    #: 老母亲); they raise the care priority as a stated age of ``care_age`` would
    care_patterns: tuple[re.Pattern[str], ...] = ()
    amount_patterns: tuple[re.Pattern[str], ...] = ()  # high_amount, when no amount was given


@dataclass(frozen=True, slots=True)
class TriageRules:
    version: str
    category_keywords: tuple[tuple[Category, tuple[WeightedPattern, ...]], ...]
    minimum_category_score: int
    signals: tuple[SignalRule, ...]
    negation: re.Pattern[str] | None
    negation_lookbehind: int
    high_amount_cny: Decimal
    care_age: int
    elderly_age: int
    repeat_min_earlier: int
    similarity: SimilarityParams
    clusters: ClusterParams
    rule_weight: float = 0.35  # the rules' share beside the model's probability
    confirm_below: float = 0.4  # a suggestion less sure than this awaits staff confirmation

    def signal(self, name: str) -> SignalRule:
        for rule in self.signals:
            if rule.name == name:
                return rule
        raise KeyError(name)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TriageRules:
        """Build rules from the parsed rules file; raises `ValidationFailed` naming the field."""
        thresholds = _table(data, "thresholds")
        category = _table(data, "category")
        keywords = _table(category, "keywords", "category.keywords")
        category_keywords = []
        for name, table in keywords.items():
            where = f"category.keywords.{name}"
            try:
                cat = Category(name)
            except ValueError:
                raise _invalid(where, "is not a known category") from None
            if not isinstance(table, Mapping):
                raise _invalid(where, "must be a table of pattern = weight")
            patterns = tuple(
                WeightedPattern(_regex(p, f"{where}.{p}"), _int(w, f"{where}.{p}", 0, 100))
                for p, w in table.items()
            )
            category_keywords.append((cat, tuple(p for p in patterns if p.weight > 0)))

        signals_table = _table(data, "signals")
        signals = tuple(
            _signal_rule(name, _table(signals_table, name, f"signals.{name}"))
            for name in signals_table
        )
        missing = [s for s in REQUIRED_SIGNALS if s not in signals_table]
        if missing:
            raise _invalid("signals", f"must define {', '.join(missing)}")

        negation = _table(data, "negation") if "negation" in data else {}
        negation_pattern = negation.get("pattern")
        similarity = _table(data, "similarity")
        clusters = _table(data, "clusters")
        try:
            similarity_params = SimilarityParams(
                shingle_size=_int(similarity.get("shingle_size", 2), "similarity.shingle_size"),
                num_perm=_int(similarity.get("num_perm", 128), "similarity.num_perm"),
                bands=_int(similarity.get("bands", 64), "similarity.bands"),
                seed=_str(similarity.get("seed", "odr-triage-1"), "similarity.seed"),
                stop_chars=_str(similarity.get("stop_chars", ""), "similarity.stop_chars"),
                stop_words=tuple(
                    _str_list(similarity.get("stop_words", []), "similarity.stop_words")
                ),
                min_shingles=_int(similarity.get("min_shingles", 8), "similarity.min_shingles"),
                near_duplicate=_float(
                    similarity.get("near_duplicate", 0.2), "similarity.near_duplicate"
                ),
            )
            cluster_params = ClusterParams(
                min_size=_int(clusters.get("min_size", 3), "clusters.min_size"),
                window=timedelta(
                    days=_float(clusters.get("window_days", 7), "clusters.window_days")
                ),
                similarity=_float(clusters.get("similarity", 0.1), "clusters.similarity"),
            )
        except OverflowError:
            raise _invalid("clusters.window_days", "is out of range") from None
        model = _table(data, "model") if "model" in data else {}
        rule_weight = _float(model.get("rule_weight", 0.35), "model.rule_weight")
        confirm_below = _float(model.get("confirm_below", 0.4), "model.confirm_below")
        if not 0.0 <= rule_weight <= 10.0:
            raise _invalid("model.rule_weight", "must be between 0 and 10")
        if not 0.0 <= confirm_below <= 1.0:
            raise _invalid("model.confirm_below", "must be between 0 and 1")
        return cls(
            rule_weight=rule_weight,
            confirm_below=confirm_below,
            version=_str(data.get("version", ""), "version"),
            category_keywords=tuple(category_keywords),
            minimum_category_score=_int(
                category.get("minimum_score", 1), "category.minimum_score", 1
            ),
            signals=signals,
            negation=_regex(negation_pattern, "negation.pattern") if negation_pattern else None,
            negation_lookbehind=_int(negation.get("lookbehind", 6), "negation.lookbehind", 0, 50),
            high_amount_cny=_decimal(
                thresholds.get("high_amount_cny"), "thresholds.high_amount_cny"
            ),
            care_age=_int(thresholds.get("care_age"), "thresholds.care_age", 1, 150),
            elderly_age=_int(thresholds.get("elderly_age"), "thresholds.elderly_age", 1, 150),
            repeat_min_earlier=_int(
                thresholds.get("repeat_min_earlier", 1), "thresholds.repeat_min_earlier", 1
            ),
            similarity=similarity_params,
            clusters=cluster_params,
        )


def _signal_rule(name: str, table: Mapping[str, Any]) -> SignalRule:
    where = f"signals.{name}"
    age_patterns = tuple(
        _regex(p.replace(AGE_TOKEN, _AGE_REGEX), f"{where}.age_patterns")
        for p in _str_list(table.get("age_patterns", []), f"{where}.age_patterns")
    )
    if any("age" not in p.groupindex for p in age_patterns):
        raise _invalid(f"{where}.age_patterns", f"each pattern must contain {AGE_TOKEN}")
    amount_patterns = tuple(
        _regex(p, f"{where}.amount_patterns")
        for p in _str_list(table.get("amount_patterns", []), f"{where}.amount_patterns")
    )
    if any("value" not in p.groupindex for p in amount_patterns):
        raise _invalid(f"{where}.amount_patterns", "each pattern needs a (?P<value>...) group")
    return SignalRule(
        name=name,
        weight=_int(table.get("weight"), f"{where}.weight", 0, MAX_RISK),
        label=_str(table.get("label", name), f"{where}.label"),
        patterns=tuple(
            _regex(p, f"{where}.patterns")
            for p in _str_list(table.get("patterns", []), f"{where}.patterns")
        ),
        negatable=_bool(table.get("negatable", True), f"{where}.negatable"),
        channels=frozenset(_str_list(table.get("channels", []), f"{where}.channels")),
        age_patterns=age_patterns,
        amount_patterns=amount_patterns,
        care_patterns=tuple(
            _regex(p, f"{where}.care_patterns")
            for p in _str_list(table.get("care_patterns", []), f"{where}.care_patterns")
        ),
    )


# --- Triage --------------------------------------------------------------------------------------


def triage(complaint: TriageInput, rules: TriageRules) -> TriageResult:
    """Judge one complaint: suggested category, risk score with reasons, care priority.

    **Category.** The keyword rules score each category (`_score_categories`); their best
    category, if it reaches ``minimum_score``, is ``rules_category`` (else "other"). With a
    model suggestion, each category gets ``(p + w * r) / (1 + w)``: ``p`` the model's
    probability, ``r`` the category's rule score divided by the best rule score (0 when no
    rule fired) and ``w`` the rules' weight ``rule_weight``. The highest is the suggestion
    and its combined score the ``confidence``; under ``confirm_below`` the suggestion needs
    staff confirmation. Without a model the rules decide alone, as they always did.
    """
    text = normalise_for_matching(complaint.text)
    scores, hits = _score_categories(text, rules)
    ranked = sorted(scores, key=lambda pair: -pair[1])  # stable: ties keep the rules' order
    best, best_score = ranked[0] if ranked else (Category.OTHER, 0)
    rules_category = best if best_score >= rules.minimum_category_score else Category.OTHER
    suggested, confidence, model_category = _combine(complaint.model, scores, rules_category, rules)

    age = age_on(complaint.birth_date, complaint.received_on) if complaint.birth_date else None
    ages = stated_ages(text, complaint.received_on, rules)
    reasons = []
    for rule in rules.signals:
        evidence = _signal_evidence(rule, text, complaint, age, ages, rules)
        if evidence is not None and rule.weight > 0:
            reasons.append(Reason(rule.name, rule.weight, evidence, rule.label))
    risk = min(MAX_RISK, sum(r.weight for r in reasons))

    oldest = max(ages, key=lambda a: a.age, default=None)
    if age is not None and age >= rules.care_age:
        care_reason: str | None = f"aged {age}"
    elif oldest is not None and oldest.age >= rules.care_age:
        care_reason = f"aged {oldest.age} according to the text"
    elif (phrase := _care_phrase(text, rules)) is not None:
        care_reason = f"an elderly person is affected: {phrase}"
    elif complaint.care_requested:
        care_reason = "requested by the consumer"
    else:
        care_reason = None

    category_reasons = [
        f"model: {phrase} ({weight:+.2f})"
        for phrase, weight in (complaint.model.features_of(suggested) if complaint.model else ())
    ]
    category_reasons += [f"rule: {h.phrase} (+{h.weight})" for h in hits if h.category is suggested]

    form = complaint.form_category
    return TriageResult(
        category=Category(form) if form is not None else suggested,
        suggested_category=suggested,
        category_scores=tuple(ranked),
        category_hits=tuple(hits),
        risk_score=risk,
        reasons=tuple(reasons),
        care_priority=care_reason is not None,
        care_reason=care_reason,
        age=age,
        confidence=confidence,
        needs_confirmation=confidence is not None and confidence < rules.confirm_below,
        category_reasons=tuple(category_reasons),
        rules_category=rules_category,
        model_category=model_category,
        stated_ages=ages,
    )


def _combine(
    model: ModelSuggestion | None,
    scores: Sequence[tuple[Category, int]],
    rules_category: Category,
    rules: TriageRules,
) -> tuple[Category, float | None, Category | None]:
    """The suggested category, its confidence and the model's own choice (see `triage`)."""
    if model is None or not model.probabilities:
        return rules_category, None, None
    model_category = max(model.probabilities, key=lambda pair: pair[1])[0]
    top = max((score for _, score in scores), default=0)
    share = {cat: (score / top if top >= rules.minimum_category_score else 0.0)
             for cat, score in scores}  # fmt: skip
    w = rules.rule_weight
    combined = [
        (cat, (model.probability(cat) + w * share.get(cat, 0.0)) / (1.0 + w)) for cat in Category
    ]
    best, confidence = max(combined, key=lambda pair: pair[1])  # ties: the enum's order
    return best, round(confidence, 4), model_category


def stated_ages(text: str, received_on: date, rules: TriageRules) -> tuple[StatedAge, ...]:
    """Every age of a person the (normalised) text states, in order of appearance: the
    ``age_patterns`` of the elderly rule (an age in digits or Chinese numerals next to a
    person: 我父亲今年78岁, 七十六岁的奶奶, 老爷子今年七十九), decades (年过七旬 is 70, 年近
    八旬 78) and birth years (1948年出生 is the age reached in the year of the complaint).
    An age that is a limit or a future date rather than someone's age (60岁以后开始领, 保到
    80岁) is not one."""
    found: list[tuple[int, int, StatedAge]] = []
    try:
        rule = rules.signal(ELDERLY)
    except KeyError:
        return ()
    for pattern in rule.age_patterns:
        for match in pattern.finditer(text):
            if _NOT_AN_AGE.match(text, match.end()):
                continue
            value = parse_number(match.group("age"))
            if value is not None and 0 < value < 130:
                found.append((match.start(), match.end(), StatedAge(value, match.group())))
    for match in _DECADES.finditer(text):
        value = _DIGITS[match.group("decade")] * 10 - (2 if match.group("near") else 0)
        found.append((match.start(), match.end(), StatedAge(value, match.group())))
    for match in _BIRTH_YEAR.finditer(text):
        year = int(match.group("year"))
        if 1900 <= year <= received_on.year:
            age = StatedAge(received_on.year - year, match.group())
            found.append((match.start(), match.end(), age))
    found.sort(key=lambda item: (item[0], -item[1]))
    kept: list[StatedAge] = []
    reach = -1
    for start, end, age in found:  # overlapping matches state one age once
        if start >= reach:
            kept.append(age)
            reach = end
    return tuple(kept)


# After an age: it is a limit or a date, not how old someone is (60岁以后, 80岁前, 65岁起).
_NOT_AN_AGE = re.compile(
    r"(?:以后|以上|以下|以内|之前|之后|为止|后|前|起|开始|时|的时候|才|退休|到期)"
)
_DECADES = re.compile(
    r"(?:(?P<near>年近|将近|快)|年过|年逾|年届|已过|年满)?(?P<decade>[六七八九])旬"
)
_BIRTH_YEAR = re.compile(
    r"(?P<year>(?:19|20)\d{2})年(?:\d{1,2}月)?(?:\d{1,2}[日号])?"
    r"(?:出生|生人|生的|生(?![效产活意病]))"
)


def _care_phrase(text: str, rules: TriageRules) -> str | None:
    try:
        rule = rules.signal(ELDERLY)
    except KeyError:
        return None
    for pattern in rule.care_patterns:
        match = pattern.search(text)
        if match:
            return match.group()
    return None


def normalise_for_matching(text: str) -> str:
    """Full-width letters, digits and punctuation to half-width (``１２３７８`` -> ``12378``);
    whitespace removed, since Chinese writing has none between words."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def age_on(birth_date: date, day: date) -> int:
    """Completed years of age on ``day`` (someone born on 29 February ages on 1 March)."""
    years = day.year - birth_date.year
    return years - ((day.month, day.day) < (birth_date.month, birth_date.day))


def _score_categories(
    text: str, rules: TriageRules
) -> tuple[list[tuple[Category, int]], list[CategoryHit]]:
    """Each pattern found adds its weight once; a specific phrase that also contains a general
    word (``保费大幅上涨`` and ``上涨``) earns both, which is how specific phrases weigh more."""
    scores = []
    hits = []
    for category, patterns in rules.category_keywords:
        score = 0
        for wp in patterns:
            match = wp.pattern.search(text)
            if match:
                score += wp.weight
                hits.append(CategoryHit(category, wp.weight, match.group()))
        scores.append((category, score))
    return scores, hits


def _signal_evidence(
    rule: SignalRule,
    text: str,
    complaint: TriageInput,
    age: int | None,
    ages: Sequence[StatedAge],
    rules: TriageRules,
) -> str | None:
    """Why this signal fires, or None. Facts from the form come before words in the text."""
    if complaint.channel is not None and complaint.channel in rule.channels:
        return f"received through channel {complaint.channel}"
    if rule.name == ELDERLY and age is not None and age >= rules.elderly_age:
        return f"consumer aged {age}"
    if rule.name == HIGH_AMOUNT:
        if complaint.amount_cny is not None:
            if complaint.amount_cny >= rules.high_amount_cny:
                return f"amount {complaint.amount_cny} CNY >= {rules.high_amount_cny}"
            return None  # the stated amount wins over figures quoted in the text
        found = _amount_in_text(rule.amount_patterns, text, rules.high_amount_cny)
        if found is not None:
            return found
    if rule.name == REPEAT and complaint.earlier_complaints >= rules.repeat_min_earlier:
        n = complaint.earlier_complaints
        return f"{n} earlier complaint{'s' if n > 1 else ''} by this consumer"
    for pattern in rule.patterns:
        phrase = _first_match(pattern, text, rules if rule.negatable else None)
        if phrase is not None:
            return phrase
    if rule.name == ELDERLY:
        for stated in ages:
            if stated.age >= rules.elderly_age:
                return stated.evidence
        for pattern in rule.care_patterns:
            if (match := pattern.search(text)) is not None:
                return match.group()
    return None


def _first_match(pattern: re.Pattern[str], text: str, rules: TriageRules | None) -> str | None:
    """The first match that is not negated (``不想起诉``, ``没有找媒体``)."""
    for match in pattern.finditer(text):
        if rules is not None and rules.negation is not None:
            before = text[max(0, match.start() - rules.negation_lookbehind) : match.start()]
            if rules.negation.search(before):
                continue
        return match.group()
    return None


def _amount_in_text(
    patterns: Sequence[re.Pattern[str]], text: str, threshold: Decimal
) -> str | None:
    for pattern in patterns:
        for match in pattern.finditer(text):
            groups = match.groupdict()
            raw = groups["value"].replace(",", "")
            try:
                value = Decimal(raw)
            except InvalidOperation:
                number = parse_number(raw)  # 三十六万: Chinese numerals
                if number is None:
                    continue
                value = Decimal(number)
            value *= _UNIT_MULTIPLIERS.get(groups.get("unit") or "", 1)
            if value >= threshold:
                return match.group()
    return None


_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
           "七": 7, "八": 8, "九": 9}  # fmt: skip


def parse_number(word: str) -> int | None:
    """An integer written in digits or in Chinese numerals up to 999 (``七十二``, ``一百零二``)."""
    if word.isascii() and word.isdigit():
        return int(word)
    total, current = 0, 0
    for ch in word:
        if ch in _DIGITS:
            current = _DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


# --- Parsing helpers ---------------------------------------------------------------------------


def _invalid(name: str, problem: str) -> ValidationFailed:
    return ValidationFailed(f"triage rules: {name} {problem}", details={"field": name})


def _table(data: Mapping[str, Any], key: str, where: str | None = None) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise _invalid(where or key, "must be a table")
    return value


def _int(value: Any, where: str, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(where, "must be a whole number")
    if (low is not None and value < low) or (high is not None and value > high):
        raise _invalid(where, f"must be between {low} and {high}")
    return value


def _float(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(where, "must be a number")
    return float(value)


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _invalid(where, "must be a number")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise _invalid(where, "must be a number") from None
    if not amount.is_finite() or amount < 0:
        raise _invalid(where, "must be a non-negative number")
    return amount


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _invalid(where, "must be a string")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid(where, "must be true or false")
    return value


def _str_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(where, "must be a list of strings")
    return list(value)


def _regex(value: Any, where: str) -> re.Pattern[str]:
    if not isinstance(value, str) or not value:
        raise _invalid(where, "must be a non-empty regular expression")
    try:
        return re.compile(value, re.IGNORECASE)
    except re.error as exc:
        raise _invalid(where, f"is not a valid regular expression ({exc})") from None
