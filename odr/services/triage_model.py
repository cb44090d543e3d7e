"""The learned category model beside the triage rules: character n-gram TF-IDF and a
multinomial logistic regression, trained on the labelled corpus kept in ``odr/data/``.

**Corpus.** ``odr/data/triage_corpus/complaints.jsonl`` (complaints written across every
category, channel, style and product line), ``definitions.toml`` (each category's regulatory
definition, one more training example of it) and ``fresh.jsonl`` (complaints written apart,
in other words and about other products, for evaluation only). Corrections by staff,
exported with ``odr triage-export-corrections``, are added as further training lines with
``--extra``.

**Split.** Once, seeded (`SPLIT_SEED`): a complaint of ``complaints.jsonl`` is held out when
the SHA-256 of the seed and its id falls in the first `HELD_OUT_FRACTION` of the range;
``fresh.jsonl`` is always held out; definitions and corrections always train. The held-out
part is scored only by ``odr triage-eval``, never used to choose anything.

**Artefact.** Training (``odr triage-train``, or on first use when the artefact is missing or
was built from another corpus) writes a JSON file: the vocabulary with each n-gram's inverse
document frequency and per-category weights, the intercepts, the corpus digest and the
training parameters. It is small, reproducible (the same corpus and seed give the same file)
and read back without scikit-learn: `CategoryModel.suggest` scores a text in pure Python
(well under 2 ms for a complaint, see ``bench/intake.py``). scikit-learn is needed only to
train; without it (or without a writable place for the file) triage falls back to the rules.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from threading import Lock
from typing import Any

from odr.domain.categories import Category
from odr.domain.errors import ValidationFailed
from odr.domain.triage import ModelSuggestion

log = logging.getLogger(__name__)

CORPUS_DIR = "data/triage_corpus"
SPLIT_SEED = "odr-triage-split-1"
HELD_OUT_FRACTION = 0.2
TRAIN_SEED = 20250601
NGRAM_RANGE = (1, 2)
REGULARISATION_C = 50.0
FORMAT_VERSION = 1
TOP_FEATURES = 4  # features kept as the reasons of a suggestion
ARTEFACT_NAME = "triage-model.json"


@dataclass(frozen=True, slots=True)
class LabelledComplaint:
    """One labelled example: its category and, for evaluation, the expected signals and
    care priority (None for definitions and corrections, which carry only a category)."""

    id: str
    category: Category
    text: str
    source: str  # complaints | fresh | definitions | extra
    channel: str | None = None
    product: str | None = None
    signals: frozenset[str] | None = None
    care: bool | None = None
    birth_date: str | None = None
    amount_cny: int | None = None


def normalise(text: str) -> str:
    """What the model reads: width and case folded, whitespace removed, digits as ``0``
    (an amount or a date says nothing of the category, only that there is a number)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join("0" if ch.isdigit() else ch for ch in folded if not ch.isspace())


# --- The corpus ----------------------------------------------------------------------------------


def _corpus_file(name: str) -> str:
    return resources.files("odr").joinpath(f"{CORPUS_DIR}/{name}").read_text(encoding="utf-8")


def parse_lines(text: str, source: str) -> list[LabelledComplaint]:
    """Labelled complaints from JSON lines (``id``, ``category``, ``text`` and optionally
    ``signals``, ``care``, ``channel``, ``product``, ``birth_date``, ``amount_cny``)."""
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            category = Category(record["category"])
            body = record["text"]
            if not isinstance(body, str) or not body.strip():
                raise ValueError("empty text")
        except (ValueError, KeyError, TypeError) as exc:
            raise ValidationFailed(
                f"{source} line {number}: not a labelled complaint ({exc})",
                details={"field": "line", "line": number},
            ) from None
        signals = record.get("signals")
        out.append(
            LabelledComplaint(
                id=str(record.get("id") or f"{source}:{number}"),
                category=category,
                text=body,
                source=source,
                channel=record.get("channel"),
                product=record.get("product"),
                signals=frozenset(signals) if isinstance(signals, list) else None,
                care=record.get("care") if isinstance(record.get("care"), bool) else None,
                birth_date=record.get("birth_date"),
                amount_cny=record.get("amount_cny"),
            )
        )
    return out


def load_corpus(extra: Iterable[Path] = ()) -> list[LabelledComplaint]:
    """The packaged corpus (complaints, fresh, definitions) and any extra JSON-lines files."""
    records = parse_lines(_corpus_file("complaints.jsonl"), "complaints")
    records += parse_lines(_corpus_file("fresh.jsonl"), "fresh")
    definitions = tomllib.loads(_corpus_file("definitions.toml"))
    records += [
        LabelledComplaint(f"definition:{name}", Category(name), table["definition"], "definitions")
        for name, table in definitions.items()
    ]
    for path in extra:
        records += parse_lines(path.read_text(encoding="utf-8"), "extra")
    return records


def is_held_out(record: LabelledComplaint) -> bool:
    if record.source == "fresh":
        return True
    if record.source != "complaints":
        return False
    digest = hashlib.sha256(f"{SPLIT_SEED}:{record.id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < HELD_OUT_FRACTION


def split(
    records: Sequence[LabelledComplaint],
) -> tuple[list[LabelledComplaint], list[LabelledComplaint]]:
    """(train, held out): see the module's documentation."""
    train = [r for r in records if not is_held_out(r)]
    held = [r for r in records if is_held_out(r)]
    return train, held


def corpus_digest(records: Sequence[LabelledComplaint]) -> str:
    h = hashlib.sha256()
    params = [FORMAT_VERSION, SPLIT_SEED, HELD_OUT_FRACTION, TRAIN_SEED, NGRAM_RANGE]
    h.update(json.dumps(params, default=str).encode())
    for r in records:
        h.update(f"{r.source}\x1f{r.id}\x1f{r.category}\x1f{r.text}\x1e".encode())
    return h.hexdigest()


# --- The model -----------------------------------------------------------------------------------


@dataclass(slots=True)
class CategoryModel:
    """Scores a text: TF-IDF of its character n-grams (sublinear term frequency, L2-normed),
    times each category's weights, plus the intercepts, through a softmax."""

    classes: tuple[Category, ...]
    intercepts: tuple[float, ...]
    #: n-gram -> (idf, weight per class)
    features: dict[str, tuple[float, tuple[float, ...]]]
    digest: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def suggest(self, text: str) -> ModelSuggestion:
        norm = normalise(text)
        low, high = NGRAM_RANGE
        counts: Counter[str] = Counter()
        for n in range(low, high + 1):
            for i in range(len(norm) - n + 1):
                counts[norm[i : i + n]] += 1
        present = []
        for gram, count in counts.items():
            entry = self.features.get(gram)
            if entry is not None:
                present.append((gram, (1.0 + math.log(count)) * entry[0], entry[1]))
        norm2 = math.sqrt(sum(v * v for _, v, _ in present)) or 1.0
        k = len(self.classes)
        scores = list(self.intercepts)
        contributions: list[list[tuple[float, str]]] = [[] for _ in range(k)]
        for gram, value, weights in present:
            x = value / norm2
            for c in range(k):
                part = x * weights[c]
                scores[c] += part
                contributions[c].append((part, gram))
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        probabilities = tuple(
            (cat, round(e / total, 6)) for cat, e in zip(self.classes, exps, strict=True)
        )
        ranked = sorted(range(k), key=lambda c: -scores[c])[:3]
        features = tuple(
            (
                self.classes[c],
                tuple(
                    (gram, round(part, 3))
                    for part, gram in _strongest(contributions[c], TOP_FEATURES)
                    if part > 0
                ),
            )
            for c in ranked
        )
        return ModelSuggestion(probabilities, features)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "digest": self.digest,
            "meta": self.meta,
            "classes": [c.value for c in self.classes],
            "intercepts": list(self.intercepts),
            "features": {g: [idf, list(w)] for g, (idf, w) in sorted(self.features.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CategoryModel:
        if data.get("format") != FORMAT_VERSION:
            raise ValueError("unknown artefact format")
        return cls(
            classes=tuple(Category(c) for c in data["classes"]),
            intercepts=tuple(float(v) for v in data["intercepts"]),
            features={
                g: (float(idf), tuple(float(w) for w in ws))
                for g, (idf, ws) in data["features"].items()
            },
            digest=str(data.get("digest", "")),
            meta=dict(data.get("meta", {})),
        )


def _strongest(items: list[tuple[float, str]], n: int) -> list[tuple[float, str]]:
    """The ``n`` largest contributions among n-grams with a letter in them: a digit or a
    punctuation mark counts in the score but explains nothing to a reader."""
    worded = [pair for pair in items if any(ch.isalpha() for ch in pair[1])]
    return sorted(worded, key=lambda pair: (-pair[0], pair[1]))[:n]


def train(records: Sequence[LabelledComplaint], *, digest: str = "") -> CategoryModel:
    """Fit the model on ``records`` (scikit-learn; seeded, so the same records give the same
    model)."""
    from sklearn import __version__ as sklearn_version  # type: ignore[import-untyped]
    from sklearn.feature_extraction.text import (  # type: ignore[import-untyped]
        TfidfVectorizer,
    )
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    vectorizer = TfidfVectorizer(
        analyzer="char",
        ngram_range=NGRAM_RANGE,
        preprocessor=normalise,
        lowercase=False,
        sublinear_tf=True,
        min_df=1,
    )
    x = vectorizer.fit_transform([r.text for r in records])
    y = [r.category.value for r in records]
    classifier = LogisticRegression(C=REGULARISATION_C, max_iter=5000, random_state=TRAIN_SEED)
    classifier.fit(x, y)
    classes = tuple(Category(c) for c in classifier.classes_)
    coef = classifier.coef_
    idf = vectorizer.idf_
    features = {
        gram: (round(float(idf[j]), 5), tuple(round(float(w), 5) for w in coef[:, j]))
        for gram, j in vectorizer.vocabulary_.items()
    }
    return CategoryModel(
        classes=classes,
        intercepts=tuple(round(float(b), 5) for b in classifier.intercept_),
        features=features,
        digest=digest,
        meta={
            "examples": len(records),
            "features": len(features),
            "sklearn": sklearn_version,
            "seed": TRAIN_SEED,
            "C": REGULARISATION_C,
            "ngram_range": list(NGRAM_RANGE),
        },
    )


def build(extra: Iterable[Path] = ()) -> CategoryModel:
    """Train on the training part of the corpus (plus ``extra`` labelled files)."""
    records = load_corpus(extra)
    training, _ = split(records)
    return train(training, digest=corpus_digest(records))


def write(model: CategoryModel, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    tmp.write_text(
        json.dumps(model.to_json(), ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
    )
    tmp.replace(path)


def read(path: Path) -> CategoryModel:
    return CategoryModel.from_json(json.loads(path.read_text(encoding="utf-8")))


# --- Where the running system gets its model -------------------------------------------------


_cache: dict[str, CategoryModel | None] = {}
_lock = Lock()


@cache
def packaged_digest() -> str:
    """The digest of the packaged corpus (read once per process)."""
    return corpus_digest(load_corpus())


class ModelSource:
    """The model of a deployment, loaded on first use (never at import or construction):
    the artefact at ``path`` when it was built from the packaged corpus, else a model trained
    now and written there (best effort). Kept once per process and path. ``None`` when no
    model can be had (scikit-learn missing and no artefact): triage then uses the rules.
    The model of one corpus is the same whatever the path, so one process trains it once."""

    def __init__(self, path: Path | None, *, enabled: bool = True) -> None:
        self.path = path
        self.enabled = enabled

    def get(self) -> CategoryModel | None:
        if not self.enabled:
            return None
        key = packaged_digest()
        if key in _cache:
            return _cache[key]
        with _lock:
            if key not in _cache:
                _cache[key] = self._load()
            return _cache[key]

    def suggest(self, text: str) -> ModelSuggestion | None:
        model = self.get()
        return model.suggest(text) if model is not None else None

    def _load(self) -> CategoryModel | None:
        digest = packaged_digest()
        if self.path is not None and self.path.exists():
            try:
                model = read(self.path)
                if model.digest == digest:
                    return model
                log.info("triage model %s was built from another corpus; retraining", self.path)
            except (OSError, ValueError, KeyError, TypeError):
                log.warning("triage model %s is unreadable; retraining", self.path)
        try:
            model = build()
        except ImportError:
            log.warning("scikit-learn is not installed: triage uses the keyword rules alone")
            return None
        if self.path is not None:
            try:
                write(model, self.path)
            except OSError as exc:
                log.warning("could not write the triage model to %s: %s", self.path, exc)
        return model


def default_path(var_dir: Path, configured: Path | None = None) -> Path:
    return configured if configured is not None else var_dir / ARTEFACT_NAME


def path_from_env() -> Path:
    """The artefact's path from ``ODR_TRIAGE_MODEL`` or ``ODR_VAR_DIR`` alone (for commands
    that need no other setting)."""
    configured = os.environ.get("ODR_TRIAGE_MODEL")
    var_dir = Path(os.environ.get("ODR_VAR_DIR") or "var")
    return default_path(var_dir, Path(configured) if configured else None)
