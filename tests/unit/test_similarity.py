"""Near-duplicate texts and clusters: shingles, MinHash, LSH index, early warnings."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from odr.domain.errors import ValidationFailed
from odr.domain.similarity import (
    ClusterItem,
    ClusterParams,
    Fingerprinter,
    MinHasher,
    NearDuplicateIndex,
    SimilarityParams,
    band_keys,
    detect_clusters,
    estimate_similarity,
    jaccard,
    normalise_text,
    pack_signature,
    packed_agreement,
    shingles,
    signature_from_bytes,
    signature_to_bytes,
)
from odr.services.triage_rules import default_rules

PARAMS = default_rules().similarity

ORIGINAL = (
    "我于2021年在银行网点购买了该公司的分红型年金保险，销售人员称该产品是存款，保本且收益高于"
    "定期存款，现在才发现是保险产品，要求全额退还本金。"
)
PARAPHRASE = (
    "本人2020年在某银行网点买了这家公司的分红型年金险，当时销售人员说这个产品就是存款，保本而且"
    "收益比定期存款高，现在才发现买的是保险，要求全额退还本金。"
)
# The same kind of grievance told by someone else: similar, but not the same complaint.
SAME_TOPIC = (
    "业务员说这个是银行存款，利息比定期高，我就存了2万8，现在要用钱取不出来，才知道买的是分红"
    "保险，我们小区好多老人都被骗了。"
)
UNRELATED = (
    "回访的时候客服语速特别快，问我是否已经了解犹豫期和免责条款，我说没听清楚，对方直接说那就"
    "默认了解了，然后挂断电话。"
)


@pytest.fixture(scope="module")
def fingerprint() -> Fingerprinter:
    return Fingerprinter(PARAMS)


def test_normalisation_folds_width_and_drops_punctuation() -> None:
    assert normalise_text("ＡＢＣ１２３，退保！ 12378") == "abc123退保12378"
    assert normalise_text("的退保了", stop_chars="的了") == "退保"


def test_shingles_are_character_ngrams() -> None:
    assert shingles("退保难", 2) == frozenset({"退保", "保难"})
    assert shingles("退", 2) == frozenset({"退"})
    assert shingles("，。", 2) == frozenset()


def test_jaccard() -> None:
    a, b = frozenset({"ab", "bc", "cd"}), frozenset({"bc", "cd", "de"})
    assert jaccard(a, b) == pytest.approx(0.5)
    assert jaccard(frozenset(), frozenset()) == 0.0


def test_signatures_are_deterministic_and_order_free() -> None:
    hasher = MinHasher(64, "seed")
    grams = ["退保", "保难", "难办"]
    assert hasher.signature(grams) == hasher.signature(list(reversed(grams)))
    assert hasher.signature(grams) == MinHasher(64, "seed").signature(grams)
    assert hasher.signature(grams) != MinHasher(64, "other seed").signature(grams)
    assert hasher.signature([]) == ()


def test_band_keys_are_stable_plain_integers(fingerprint: Fingerprinter) -> None:
    fp = fingerprint(ORIGINAL)
    assert len(fp.band_keys) == PARAMS.bands
    assert [band for band, _ in fp.band_keys] == list(range(PARAMS.bands))
    assert all(isinstance(key, int) and 0 <= key < 2**63 for _, key in fp.band_keys)
    assert band_keys(fp.signature, PARAMS.bands) == fp.band_keys


def test_hashing_is_pinned() -> None:
    """Signatures and band keys stored in a database must not change between releases or
    machines: these values were computed once and are fixed."""
    signature = MinHasher(4, "pin").signature(["退保"])
    assert signature == (
        6555817250500761420,
        6596154431825971187,
        10466197794033266146,
        16269722669816633656,
    )
    assert band_keys(signature, 2) == ((0, 1556425681919473124), (1, 7542861746679780803))


def test_signature_round_trips_through_bytes(fingerprint: Fingerprinter) -> None:
    signature = fingerprint(ORIGINAL).signature
    data = signature_to_bytes(signature)
    assert len(data) == 8 * PARAMS.num_perm
    assert signature_from_bytes(data) == signature
    with pytest.raises(ValidationFailed):
        signature_from_bytes(b"123")


def test_packed_agreement_counts_equal_values() -> None:
    a = tuple(range(1, 129))
    b = tuple(v if i % 4 else v + 1_000 for i, v in enumerate(a))
    assert packed_agreement(pack_signature(a), pack_signature(b), 128) == 96
    assert packed_agreement(pack_signature(a), pack_signature(a), 128) == 128
    # Values that differ only in the top bit or only in the lowest bit still count as different.
    c = (2**63, 1, *a[2:])
    d = (0, 0, *a[2:])
    assert packed_agreement(pack_signature(c), pack_signature(d), 128) == 126
    assert estimate_similarity(a, b) == pytest.approx(0.75)


def test_estimate_tracks_exact_similarity(fingerprint: Fingerprinter) -> None:
    for text in (PARAPHRASE, SAME_TOPIC, UNRELATED):
        a, b = fingerprint(ORIGINAL), fingerprint(text)
        exact = jaccard(a.shingles, b.shingles)
        assert estimate_similarity(a.signature, b.signature) == pytest.approx(exact, abs=0.12)


def test_shingles_of_matches_the_fingerprint(fingerprint: Fingerprinter) -> None:
    assert fingerprint.shingles_of(ORIGINAL) == fingerprint(ORIGINAL).shingles
    assert "保险" not in fingerprint.shingles_of(ORIGINAL)  # a stop word's n-gram


def test_paraphrase_is_near_duplicate_and_same_topic_is_not(fingerprint: Fingerprinter) -> None:
    original = fingerprint(ORIGINAL)
    assert jaccard(original.shingles, fingerprint(PARAPHRASE).shingles) >= PARAMS.near_duplicate
    assert jaccard(original.shingles, fingerprint(SAME_TOPIC).shingles) < PARAMS.near_duplicate / 2
    assert jaccard(original.shingles, fingerprint(UNRELATED).shingles) < PARAMS.near_duplicate / 2


def test_lsh_finds_texts_at_the_threshold_with_high_probability() -> None:
    assert PARAMS.candidate_probability(PARAMS.near_duplicate) > 0.9
    assert PARAMS.candidate_probability(0.3) > 0.99
    assert PARAMS.candidate_probability(0.02) < 0.05


def test_index_query(fingerprint: Fingerprinter) -> None:
    index = NearDuplicateIndex(PARAMS)
    assert index.add("A", fingerprint(ORIGINAL), {"insurer": "华信财险"})
    assert index.add("B", fingerprint(SAME_TOPIC))
    assert index.add("C", fingerprint(UNRELATED))
    assert len(index) == 3 and "A" in index

    found = index.query(fingerprint(PARAPHRASE))
    assert [c.item_id for c in found] == ["A"]
    assert found[0].exact and found[0].similarity >= PARAMS.near_duplicate
    assert found[0].meta == {"insurer": "华信财险"}

    # The same text again: a perfect match, ranked before weaker ones.
    assert index.add("D", fingerprint(ORIGINAL))
    found = index.query(fingerprint(ORIGINAL))
    assert [c.item_id for c in found] == ["A", "D"]
    assert found[0].similarity == 1.0


def test_index_without_shingles_uses_the_estimate(fingerprint: Fingerprinter) -> None:
    index = NearDuplicateIndex(PARAMS)
    index.add(1, fingerprint(ORIGINAL), keep_shingles=False)
    (candidate,) = index.query(fingerprint(ORIGINAL))
    assert candidate.item_id == 1 and not candidate.exact and candidate.similarity == 1.0


def test_short_texts_are_neither_indexed_nor_matched(fingerprint: Fingerprinter) -> None:
    index = NearDuplicateIndex(PARAMS)
    short = fingerprint("请处理")
    assert not short.indexable and short.signature == () and short.band_keys == ()
    assert not index.add("S", short)
    assert index.query(short) == []
    assert len(index) == 0


def test_index_rejects_a_second_entry_for_an_id(fingerprint: Fingerprinter) -> None:
    index = NearDuplicateIndex(PARAMS)
    index.add("A", fingerprint(ORIGINAL))
    with pytest.raises(ValidationFailed):
        index.add("A", fingerprint(UNRELATED))


def test_params_are_validated() -> None:
    with pytest.raises(ValidationFailed) as err:
        SimilarityParams(num_perm=128, bands=60)
    assert err.value.details == {"field": "similarity.bands"}
    with pytest.raises(ValidationFailed):
        SimilarityParams(near_duplicate=0)
    with pytest.raises(ValidationFailed):
        ClusterParams(min_size=1)


# --- Clusters -------------------------------------------------------------------------------

NOW = datetime(2025, 6, 1, 12, 0)
CLUSTER = ClusterParams(min_size=3, window=timedelta(days=7), similarity=0.3)

# Several consumers tell of the same scheme against one insurer (a campaign, or one bad agent).
SCHEME = [
    "我在银行网点被销售人员推荐买了分红型年金保险，对方说这是存款产品保本保息，现在取钱才发现"
    "是保险，要扣很多本金。",
    "在银行网点被销售人员推荐了分红型年金保险，说是存款产品，保本保息，结果取钱的时候才发现是"
    "保险，要损失本金。",
    "我母亲在银行网点被销售人员推荐购买分红型年金保险，销售说是存款产品保本保息，现在要取钱才"
    "发现是保险，本金要扣很多。",
]


def _item(
    item_id: str, text: str, fp: Fingerprinter, *, insurer: str = "安康人寿", days_ago: float = 1
) -> ClusterItem:
    return ClusterItem(
        item_id=item_id,
        insurer=insurer,
        product="mis_selling",
        received_at=NOW - timedelta(days=days_ago),
        signature=fp(text).signature,
    )


def test_similar_complaints_against_one_insurer_raise_an_early_warning(
    fingerprint: Fingerprinter,
) -> None:
    items = [_item(f"K{i}", text, fingerprint, days_ago=3 - i) for i, text in enumerate(SCHEME)]
    items.append(_item("U", UNRELATED, fingerprint))
    (warning,) = detect_clusters(items, now=NOW, params=CLUSTER)
    assert warning.item_ids == ("K0", "K1", "K2")
    assert warning.insurer == "安康人寿" and warning.product == "mis_selling"
    assert warning.size == 3
    assert warning.first_at == NOW - timedelta(days=3)
    assert warning.mean_similarity >= CLUSTER.similarity


def test_no_warning_across_insurers_outside_the_window_or_below_size(
    fingerprint: Fingerprinter,
) -> None:
    spread = [
        _item("K0", SCHEME[0], fingerprint),
        _item("K1", SCHEME[1], fingerprint, insurer="华信财险"),
        _item("K2", SCHEME[2], fingerprint),
    ]
    assert detect_clusters(spread, now=NOW, params=CLUSTER) == []
    old = [
        _item(f"K{i}", t, fingerprint, days_ago=8 if i == 0 else 1) for i, t in enumerate(SCHEME)
    ]
    assert detect_clusters(old, now=NOW, params=CLUSTER) == []
    future = [_item(f"K{i}", t, fingerprint, days_ago=-1 if i else 1) for i, t in enumerate(SCHEME)]
    assert detect_clusters(future, now=NOW, params=CLUSTER) == []
    dissimilar = [
        _item("A", SCHEME[0], fingerprint),
        _item("B", UNRELATED, fingerprint),
        _item("C", SAME_TOPIC, fingerprint),
    ]
    assert detect_clusters(dissimilar, now=NOW, params=CLUSTER) == []
