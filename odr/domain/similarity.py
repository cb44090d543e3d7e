"""Near-duplicate texts and clusters of similar complaints: MinHash over character n-grams.

Chinese has no spaces between words, so texts are compared as sets of character n-grams
("shingles") after normalisation, not as words. Two texts are near duplicates when the Jaccard
similarity of their shingle sets is high. MinHash turns a shingle set into a fixed-size
signature whose agreement rate estimates that Jaccard similarity; LSH banding cuts the signature
into bands whose hashes ("band keys") are bucket names, so a lookup only compares a complaint
with those sharing a bucket instead of with every complaint ever filed.

Pure and deterministic: no I/O, no randomness beyond a fixed seed, the same text gives the same
signature and band keys on every machine (so band keys can be stored in a table
``(band_no, key) -> complaint id`` for a persistent index).
"""

from __future__ import annotations

import hashlib
import operator
import sys
import unicodedata
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from odr.domain.errors import ValidationFailed

ItemId = str | int
Signature = tuple[int, ...]
BandKey = tuple[int, int]  # (band number, 63-bit key): fits a signed BIGINT column

_KEY_MASK = (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class SimilarityParams:
    """How texts become signatures and when two of them are near duplicates.

    ``num_perm`` hash functions make a signature; it is cut into ``bands`` bands of
    ``num_perm // bands`` rows. Two texts share a bucket in a band with probability ``J ** rows``
    (``J`` their Jaccard similarity), so more, thinner bands find lower similarities at the price
    of more candidates. ``stop_chars`` are dropped before shingling (function characters that
    paraphrases add or remove freely); the shingles of ``stop_words`` are dropped after it:
    words nearly every insurance complaint uses (保险公司, 理赔) say nothing about whether two
    complaints are the same one, so they are left out, a fixed stand-in for inverse document
    frequency. Texts with fewer than ``min_shingles`` shingles left are too short to compare
    reliably and are neither indexed nor matched. ``near_duplicate`` is the Jaccard similarity
    of the remaining shingles from which two texts count as near duplicates.
    """

    shingle_size: int = 2
    num_perm: int = 128
    bands: int = 64
    seed: str = "odr-triage-1"
    stop_chars: str = ""
    stop_words: tuple[str, ...] = ()
    min_shingles: int = 8
    near_duplicate: float = 0.2

    def __post_init__(self) -> None:
        if not 1 <= self.shingle_size <= 8:
            raise _invalid("similarity.shingle_size", "must be between 1 and 8")
        if not 1 <= self.num_perm <= 1024:
            raise _invalid("similarity.num_perm", "must be between 1 and 1024")
        if self.bands < 1 or self.num_perm % self.bands:
            raise _invalid("similarity.bands", "must divide num_perm")
        if self.min_shingles < 1:
            raise _invalid("similarity.min_shingles", "must be at least 1")
        if not 0.0 < self.near_duplicate <= 1.0:
            raise _invalid("similarity.near_duplicate", "must be in (0, 1]")

    @property
    def rows(self) -> int:
        return self.num_perm // self.bands

    def candidate_probability(self, jaccard: float) -> float:
        """Probability that two texts of this similarity share at least one bucket."""
        return 1.0 - (1.0 - jaccard**self.rows) ** self.bands


# --- Text to shingles --------------------------------------------------------------------------


def normalise_text(text: str, stop_chars: str = "") -> str:
    """Fold width and case (full-width ``ＡＢＣ１２３`` becomes ``abc123``), then keep only
    letters and digits: punctuation, symbols and whitespace carry no meaning for similarity."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    drop = set(stop_chars)
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN" and ch not in drop)


def shingles(text: str, size: int = 2, stop_chars: str = "") -> frozenset[str]:
    """The set of character n-grams of the normalised text (the whole text if it is shorter)."""
    norm = normalise_text(text, stop_chars)
    if len(norm) <= size:
        return frozenset({norm}) if norm else frozenset()
    return frozenset(norm[i : i + size] for i in range(len(norm) - size + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Exact Jaccard similarity of two shingle sets (0.0 when both are empty)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


# --- MinHash ---------------------------------------------------------------------------------


class MinHasher:
    """MinHash signatures with ``num_perm`` independent 64-bit hash functions.

    Each shingle is hashed once with SHAKE-128 (an extendable-output hash) keyed by the seed,
    and its ``8 * num_perm`` output bytes are read as ``num_perm`` 64-bit values: value ``i`` is
    the shingle's hash under function ``i``. The signature keeps, per function, the minimum over
    the shingles. This costs one hash call per shingle (the minimum runs in C), which is several
    times faster in pure Python than ``num_perm`` universal-hash multiplications per shingle.
    """

    def __init__(self, num_perm: int, seed: str) -> None:
        self.num_perm = num_perm
        self._base = hashlib.shake_128(b"odr-minhash\x00" + seed.encode())

    def _row(self, shingle: str) -> array[int]:
        h = self._base.copy()
        h.update(shingle.encode())
        values = array("Q")
        values.frombytes(h.digest(8 * self.num_perm))
        if sys.byteorder == "big":  # the same signature on every machine
            values.byteswap()
        return values

    def signature(self, items: Iterable[str]) -> Signature:
        rows = [self._row(s) for s in items]
        if not rows:
            return ()
        return tuple(map(min, zip(*rows, strict=True)))


def estimate_similarity(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity: the share of positions where two signatures agree."""
    if not a or len(a) != len(b):
        return 0.0
    return packed_agreement(pack_signature(a), pack_signature(b), len(a)) / len(a)


def signature_to_bytes(signature: Signature) -> bytes:
    """8 little-endian bytes per value: how a database column stores a signature."""
    values = array("Q", signature)
    if sys.byteorder == "big":
        values.byteswap()
    return values.tobytes()


def signature_from_bytes(data: bytes) -> Signature:
    if len(data) % 8:
        raise _invalid("signature", "must be a whole number of 8-byte values")
    values = array("Q")
    values.frombytes(data)
    if sys.byteorder == "big":
        values.byteswap()
    return tuple(values)


def pack_signature(signature: Signature) -> int:
    """The signature as one integer, 64 bits per value: compact, and compared in a few big-integer
    operations (see `packed_agreement`) instead of a Python loop over the values."""
    return int.from_bytes(signature_to_bytes(signature), "little")


@cache
def _lane_masks(lanes: int) -> tuple[int, int]:
    high = int.from_bytes(b"\x00" * 7 + b"\x80", "little")
    low = (1 << 63) - 1
    return _repeat(low, lanes), _repeat(high, lanes)


def _repeat(word: int, lanes: int) -> int:
    return int.from_bytes(word.to_bytes(8, "little") * lanes, "little")


def packed_agreement(a: int, b: int, num_perm: int) -> int:
    """How many of the ``num_perm`` 64-bit values of two packed signatures are equal.

    ``x = a ^ b`` is zero exactly in the agreeing lanes. For each lane, adding the lane's low 63
    bits to all-ones-but-the-top carries into the top bit unless those bits are zero; or-ing ``x``
    back adds the lane's own top bit: the top bit of each lane is then set iff the lane is not
    zero, and a popcount counts the disagreements.
    """
    low, high = _lane_masks(num_perm)
    x = a ^ b
    return num_perm - ((((x & low) + low) | x) & high).bit_count()


def band_keys(signature: Signature, bands: int) -> tuple[BandKey, ...]:
    """The LSH bucket of each band: ``(band_no, key)`` with a non-negative 63-bit key.

    Plain integers, so a database can hold them as ``(band_no BIGINT, key BIGINT)``.
    """
    if not signature:
        return ()
    rows = len(signature) // bands
    keys = []
    for band in range(bands):
        chunk = array("Q", signature[band * rows : (band + 1) * rows])
        if sys.byteorder == "big":
            chunk.byteswap()
        digest = hashlib.blake2b(chunk.tobytes(), digest_size=8, person=b"odr-lsh").digest()
        keys.append((band, int.from_bytes(digest, "little") & _KEY_MASK))
    return tuple(keys)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Everything similarity needs to know about one text."""

    shingles: frozenset[str]
    signature: Signature
    band_keys: tuple[BandKey, ...]
    indexable: bool  # long enough to be compared at all


class Fingerprinter:
    """Turns texts into fingerprints under fixed parameters (build once, reuse for every text)."""

    def __init__(self, params: SimilarityParams) -> None:
        self.params = params
        self._hasher = MinHasher(params.num_perm, params.seed)
        self._stop = frozenset().union(
            *(shingles(word, params.shingle_size, params.stop_chars) for word in params.stop_words)
        )

    def shingles_of(self, text: str) -> frozenset[str]:
        """The shingles a fingerprint of ``text`` would have, without the cost of a signature:
        to check LSH candidates by exact Jaccard when only their texts are stored."""
        p = self.params
        return shingles(text, p.shingle_size, p.stop_chars) - self._stop

    def __call__(self, text: str) -> Fingerprint:
        p = self.params
        grams = self.shingles_of(text)
        if len(grams) < p.min_shingles:
            return Fingerprint(grams, (), (), indexable=False)
        signature = self._hasher.signature(grams)  # a minimum: order does not matter
        return Fingerprint(grams, signature, band_keys(signature, p.bands), indexable=True)


# --- In-memory LSH index -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """An indexed text similar to the query; ``exact`` says whether shingles were compared."""

    item_id: ItemId
    similarity: float
    exact: bool
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Entry:
    seq: int
    packed: int  # the signature as one integer (see `pack_signature`)
    shingles: frozenset[str] | None
    meta: Mapping[str, Any] | None


class NearDuplicateIndex:
    """LSH buckets in memory (one table per band: ``key -> item ids``) and each item's signature.

    A query looks up its band keys, counts how many bands each indexed item shares with it (in C,
    through ``Counter``), and scores only those items: by exact Jaccard when both sides have
    shingles, else by the signature estimate. The cost grows with the size of the matching
    buckets, not with the size of the index. A database keeps the same thing as rows
    ``(band_no, key, complaint_id)`` with an index on ``(band_no, key)``.
    """

    def __init__(self, params: SimilarityParams) -> None:
        self.params = params
        # A bucket holding one item stores the bare id (most buckets do), else a list of ids.
        self._bands: list[dict[int, ItemId | list[ItemId]]] = [{} for _ in range(params.bands)]
        self._entries: dict[ItemId, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._entries

    def add(
        self,
        item_id: ItemId,
        fingerprint: Fingerprint,
        meta: Mapping[str, Any] | None = None,
        *,
        keep_shingles: bool = True,
    ) -> bool:
        """Index one text; returns False (and indexes nothing) if it is too short to compare.

        ``keep_shingles=False`` saves memory; matches are then scored by the signature estimate.
        """
        if not fingerprint.indexable:
            return False
        if len(fingerprint.signature) != self.params.num_perm:
            raise _invalid("signature", "was made with other parameters")
        if item_id in self._entries:
            raise _invalid("item_id", f"{item_id!r} is already indexed")
        self._entries[item_id] = _Entry(
            seq=len(self._entries),
            packed=pack_signature(fingerprint.signature),
            shingles=fingerprint.shingles if keep_shingles else None,
            meta=dict(meta) if meta else None,
        )
        for band, key in fingerprint.band_keys:
            table = self._bands[band]
            bucket = table.get(key)
            if bucket is None:
                table[key] = item_id
            elif isinstance(bucket, list):
                bucket.append(item_id)
            else:
                table[key] = [bucket, item_id]
        return True

    def candidates(self, keys: Iterable[BandKey]) -> Counter[ItemId]:
        """Indexed items sharing at least one bucket, with the number of shared bands."""
        hits: Counter[ItemId] = Counter()
        for band, key in keys:
            bucket = self._bands[band].get(key)
            if bucket is None:
                continue
            if isinstance(bucket, list):
                hits.update(bucket)
            else:
                hits[bucket] += 1
        return hits

    def query(self, fingerprint: Fingerprint, *, threshold: float | None = None) -> list[Candidate]:
        """Indexed items at least ``threshold`` similar (default: the near-duplicate threshold),
        most similar first, ties in the order they were added."""
        if not fingerprint.indexable:
            return []
        limit = self.params.near_duplicate if threshold is None else threshold
        num_perm = self.params.num_perm
        packed = pack_signature(fingerprint.signature)
        found: list[tuple[float, int, Candidate]] = []
        for item_id in self.candidates(fingerprint.band_keys):
            entry = self._entries[item_id]
            if entry.shingles is not None:
                score, exact = jaccard(fingerprint.shingles, entry.shingles), True
            else:
                score, exact = packed_agreement(packed, entry.packed, num_perm) / num_perm, False
            if score >= limit:
                candidate = Candidate(item_id, score, exact, entry.meta or {})
                found.append((-score, entry.seq, candidate))
        found.sort(key=operator.itemgetter(0, 1))
        return [candidate for _, _, candidate in found]


# --- Clusters: early warnings --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClusterParams:
    """A cluster is at least ``min_size`` complaints against one insurer and product, received
    within ``window`` before now, linked by pairwise similarity of at least ``similarity``."""

    min_size: int = 3
    window: timedelta = timedelta(days=7)
    similarity: float = 0.1

    def __post_init__(self) -> None:
        if self.min_size < 2:
            raise _invalid("clusters.min_size", "must be at least 2")
        if self.window <= timedelta(0):
            raise _invalid("clusters.window_days", "must be positive")
        if not 0.0 < self.similarity <= 1.0:
            raise _invalid("clusters.similarity", "must be in (0, 1]")


@dataclass(frozen=True, slots=True)
class ClusterItem:
    item_id: ItemId
    insurer: str
    product: str  # a product name, or the category when the product is unknown
    received_at: datetime
    signature: Signature


@dataclass(frozen=True, slots=True)
class EarlyWarning:
    """Similar complaints piling up against one insurer and product: for supervisors."""

    insurer: str
    product: str
    item_ids: tuple[ItemId, ...]  # in order of receipt
    first_at: datetime
    last_at: datetime
    mean_similarity: float  # over the linked pairs

    @property
    def size(self) -> int:
        return len(self.item_ids)


def detect_clusters(
    items: Iterable[ClusterItem], *, now: datetime, params: ClusterParams
) -> list[EarlyWarning]:
    """Groups of similar complaints against one insurer and product within the window.

    Items are grouped by (insurer, product); within a group every pair is compared by signature
    estimate and similar pairs are joined (single linkage). Comparing pairs is quadratic in the
    size of one group within one window, which the caller bounds by passing recent complaints
    only. Warnings come largest first, then by insurer and product.
    """
    start = now - params.window
    groups: dict[tuple[str, str], list[ClusterItem]] = defaultdict(list)
    for item in items:
        if start <= item.received_at <= now and item.signature:
            groups[(item.insurer, item.product)].append(item)
    warnings = []
    for (insurer, product), members in groups.items():
        if len(members) < params.min_size:
            continue
        members.sort(key=lambda m: (m.received_at, str(m.item_id)))
        for component, pair_scores in _linked_components(members, params.similarity):
            if len(component) < params.min_size:
                continue
            chosen = [members[i] for i in component]
            warnings.append(
                EarlyWarning(
                    insurer=insurer,
                    product=product,
                    item_ids=tuple(m.item_id for m in chosen),
                    first_at=chosen[0].received_at,
                    last_at=chosen[-1].received_at,
                    mean_similarity=round(sum(pair_scores) / len(pair_scores), 4),
                )
            )
    warnings.sort(key=lambda w: (-w.size, w.insurer, w.product, w.first_at))
    return warnings


def _linked_components(
    members: Sequence[ClusterItem], threshold: float
) -> Iterator[tuple[list[int], list[float]]]:
    parent = list(range(len(members)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    links: list[tuple[int, int, float]] = []
    packed = [pack_signature(m.signature) for m in members]
    for i in range(len(members)):
        width = len(members[i].signature)
        for j in range(i + 1, len(members)):
            if len(members[j].signature) != width:
                continue
            score = packed_agreement(packed[i], packed[j], width) / width
            if score >= threshold:
                links.append((i, j, score))
                parent[find(j)] = find(i)
    components: dict[int, list[int]] = defaultdict(list)
    for i in range(len(members)):
        components[find(i)].append(i)
    scores: dict[int, list[float]] = defaultdict(list)
    for i, _, score in links:
        scores[find(i)].append(score)
    for root, component in components.items():
        if len(component) > 1:
            yield sorted(component), scores[root]


def _invalid(name: str, problem: str) -> ValidationFailed:
    return ValidationFailed(f"triage rules: {name} {problem}", details={"field": name})
