"""The learned category model, its combination with the rules, and ages read from the text."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from odr.domain.categories import Category
from odr.domain.triage import ModelSuggestion, TriageInput, triage
from odr.services import triage_model as tm
from odr.services.triage_rules import default_rules

RULES = default_rules()
DAY = date(2025, 6, 1)


@pytest.fixture(scope="module")
def model() -> tm.CategoryModel:
    got = tm.ModelSource(None).get()
    assert got is not None
    return got


def judge(text: str, model: tm.CategoryModel | None = None, **fields: object) -> object:
    suggestion = model.suggest(text) if model is not None else None
    return triage(TriageInput(text=text, received_on=DAY, model=suggestion, **fields), RULES)  # type: ignore[arg-type]


# --- ages and relations in the text ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("我父亲今年78岁，摔伤住院。", 78),
        ("七十六岁的奶奶让我帮她退保。", 76),
        ("家里老人年过七旬，确诊帕金森。", 70),
        ("我妈1948年出生，看不懂合同。", 77),
        ("老爷子今年七十九，做了支架。", 79),
        ("外公八十多岁了耳朵背。", 80),
        ("年近八旬的父亲被上门推销。", 78),
    ],
)
def test_an_age_in_the_text_gives_elderly_and_care(text: str, age: int) -> None:
    result = judge(text, birth_date=date(1990, 1, 1))  # filed by a younger relative
    assert "elderly" in result.signals  # type: ignore[attr-defined]
    assert result.care_priority  # type: ignore[attr-defined]
    assert result.care_reason == f"aged {age} according to the text"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "text",
    [
        "合同约定60岁以后开始领取养老金。",
        "当初说可以保证续保到80岁。",
        "我今年45岁，孩子3岁。",
        "我爸今年58岁。",
        "2019年生效的保单。",
    ],
)
def test_limits_dates_and_younger_ages_give_no_care(text: str) -> None:
    result = judge(text)
    assert "elderly" not in result.signals  # type: ignore[attr-defined]
    assert not result.care_priority  # type: ignore[attr-defined]


def test_an_elderly_person_affected_without_an_age_gives_care() -> None:
    result = judge("老人家眼睛不好，看不清手机上的字。")
    assert result.care_priority  # type: ignore[attr-defined]
    assert result.care_reason == "an elderly person is affected: 老人家"  # type: ignore[attr-defined]
    neighbours = judge("我们小区好多老人都被骗了。")
    assert "elderly" in neighbours.signals and not neighbours.care_priority  # type: ignore[attr-defined]


def test_amounts_in_chinese_numerals_are_high_amounts_but_not_product_names() -> None:
    assert "high_amount" in judge("三年共交了三十六万保费。").signals  # type: ignore[attr-defined]
    assert "high_amount" not in judge("买了一份百万医疗险。").signals  # type: ignore[attr-defined]


# --- the model -----------------------------------------------------------------------------------


def test_the_pure_python_scorer_reproduces_scikit_learn(model: tm.CategoryModel) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    records = tm.load_corpus()
    train, held = tm.split(records)
    vectorizer = TfidfVectorizer(
        analyzer="char",
        ngram_range=tm.NGRAM_RANGE,
        preprocessor=tm.normalise,
        lowercase=False,
        sublinear_tf=True,
    )
    x = vectorizer.fit_transform([r.text for r in train])
    clf = LogisticRegression(C=tm.REGULARISATION_C, max_iter=5000, random_state=tm.TRAIN_SEED)
    clf.fit(x, [r.category.value for r in train])
    texts = [r.text for r in held[:25]]
    expected = clf.predict_proba(vectorizer.transform(texts))
    for text, row in zip(texts, expected, strict=True):
        got = dict(model.suggest(text).probabilities)
        for j, cat in enumerate(clf.classes_):
            assert got[Category(cat)] == pytest.approx(row[j], abs=2e-3)


def test_training_is_reproducible_and_the_artefact_round_trips(
    model: tm.CategoryModel, tmp_path: Path
) -> None:
    again = tm.build()
    assert json.dumps(again.to_json()) == json.dumps(model.to_json())
    path = tmp_path / "m.json"
    tm.write(again, path)
    back = tm.read(path)
    text = "退保申请审核通过了，钱一直没到账。"
    assert back.suggest(text) == model.suggest(text)
    assert path.stat().st_size < 3_000_000  # a small artefact


def test_the_split_is_fixed_and_keeps_the_fresh_complaints_out_of_training() -> None:
    records = tm.load_corpus()
    train, held = tm.split(records)
    assert {r.source for r in held} == {"complaints", "fresh"}
    assert all(r.source == "fresh" for r in records if r.source == "fresh" and r in held)
    assert not {r.id for r in train} & {r.id for r in held}
    assert {r.category for r in train} == set(Category) == {r.category for r in held}
    assert 0.1 < sum(r.source == "complaints" for r in held) / 262 < 0.3
    assert [r.id for r in tm.split(tm.load_corpus())[1]] == [r.id for r in held]


def test_a_suggestion_has_reasons_and_a_confidence(model: tm.CategoryModel) -> None:
    result = judge("回访的时候客服念得飞快，我根本没听清就说我确认了。", model)
    assert result.suggested_category is Category.CALL_BACK  # type: ignore[attr-defined]
    assert 0.5 <= result.confidence <= 1  # type: ignore[attr-defined]
    assert not result.needs_confirmation  # type: ignore[attr-defined]
    reasons = result.category_reasons  # type: ignore[attr-defined]
    assert any(r.startswith("model: ") for r in reasons)
    assert any(r.startswith("rule: 回访") for r in reasons)


def test_the_model_finds_a_topic_the_rules_have_no_word_for(model: tm.CategoryModel) -> None:
    text = "推销员天天上门陪我奶奶聊天，送保健品，最后让她签了个合同，说是养老院床位预定。"
    assert judge(text).rules_category is not Category.MIS_SELLING  # type: ignore[attr-defined]
    assert judge(text, model).suggested_category is Category.MIS_SELLING  # type: ignore[attr-defined]


def test_an_unsure_suggestion_awaits_staff_confirmation() -> None:
    even = ModelSuggestion(tuple((c, 1 / len(Category)) for c in Category))
    result = triage(TriageInput(text="你好。", received_on=DAY, model=even), RULES)
    assert result.confidence is not None and result.confidence < RULES.confirm_below
    assert result.needs_confirmation
    sure = ModelSuggestion(tuple((c, 0.96 if c is Category.PRIVACY else 0.005) for c in Category))
    result = triage(TriageInput(text="你好。", received_on=DAY, model=sure), RULES)
    assert result.suggested_category is Category.PRIVACY and not result.needs_confirmation


def test_without_a_model_the_rules_decide_alone() -> None:
    result = judge("退保申请审核通过了，说好3个工作日到账，钱还没有退回来。")
    assert result.suggested_category is Category.PAYMENT_REFUND  # type: ignore[attr-defined]
    assert result.confidence is None and not result.needs_confirmation  # type: ignore[attr-defined]


def test_model_settings_are_checked() -> None:
    from odr.domain.errors import ValidationFailed
    from odr.services.triage_rules import load_rules

    with pytest.raises(ValidationFailed, match=r"model\.confirm_below"):
        load_rules(overrides={"model": {"confirm_below": 2}})
