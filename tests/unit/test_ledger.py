from __future__ import annotations

import copy
import hashlib
from dataclasses import replace
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import pytest

from odr.domain.ledger import (
    GENESIS,
    ChainEntry,
    ChainFault,
    EntryKind,
    NotCanonicalJson,
    append,
    body_digest,
    canonical_json,
    daily_digest,
    entry_hash,
    head_of,
    verify_chain,
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_chain(n: int = 5) -> list[ChainEntry]:
    entries: list[ChainEntry] = []
    head = GENESIS
    for sequence in range(1, n + 1):
        kind = EntryKind.EVENT if sequence % 2 else EntryKind.EVIDENCE
        body = {"n": sequence, "text": f"第{sequence}条", "tags": ["a", "b"]}
        entry = append(head, sequence, kind, body)
        entries.append(entry)
        head = entry.hash
    return entries


# --- canonical JSON --------------------------------------------------------------------------


def test_canonical_json_sorts_keys_drops_whitespace_and_keeps_unicode() -> None:
    value = {"b": 1, "a": [True, None, "理赔 被拒"], "c": {"z": 0.5, "y": -3}}
    assert (
        canonical_json(value) == '{"a":[true,null,"理赔 被拒"],"b":1,"c":{"y":-3,"z":0.5}}'.encode()
    )


def test_canonical_json_escapes_only_quotes_backslashes_and_controls() -> None:
    text = 'q"b\\n\nt\tu\x01d\x7f/é'
    assert canonical_json(text) == b'"q\\"b\\\\n\\nt\\tu\\u0001d\x7f/\xc3\xa9"'


def test_canonical_json_accepts_tuples_mappingproxies_and_str_enums() -> None:
    class Colour(StrEnum):
        RED = "red"

    value = MappingProxyType({Colour.RED: (1, Colour.RED)})
    assert canonical_json(value) == b'{"red":[1,"red"]}'


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        {"at": datetime(2024, 5, 1)},
        {1: "int key"},
        [b"bytes"],
        {"big": 2**53},
        "\ud800",
        {1.5},
    ],
)
def test_canonical_json_refuses_what_it_cannot_represent(value: object) -> None:
    with pytest.raises(NotCanonicalJson):
        canonical_json(value)


def test_canonical_json_names_where_the_bad_value_is() -> None:
    with pytest.raises(NotCanonicalJson, match=r"\$\.a\[1\]"):
        canonical_json({"a": [1, float("nan")]})


# --- hashes ----------------------------------------------------------------------------------


def test_entry_hash_is_sha256_of_previous_newline_canonical_json() -> None:
    assert entry_hash(GENESIS, {"b": 2, "a": "是"}) == sha(
        b"0" * 64 + b"\n" + '{"a":"是","b":2}'.encode()
    )
    with pytest.raises(ValueError):
        entry_hash("ABC", {})


def test_an_entry_hashes_its_header_which_commits_to_the_body_digest() -> None:
    entry = append(GENESIS, 1, EntryKind.EVENT, {"event": "filed"})
    body_sha = sha(b'{"event":"filed"}')
    header = (
        '{"body_sha256":"' + body_sha + '","kind":"event","sequence":1,"visibility":"all_parties"}'
    )
    assert entry.body_sha256 == body_sha == body_digest({"event": "filed"})
    assert entry.hash == sha(GENESIS.encode() + b"\n" + header.encode())
    assert entry.previous_hash == GENESIS


def test_the_body_is_frozen_on_creation() -> None:
    body: dict[str, Any] = {"list": [1, 2], "inner": {"x": 1}}
    entry = append(GENESIS, 1, "event", body)
    body["list"].append(3)
    body["inner"]["x"] = 2
    assert entry.body_dict() == {"list": [1, 2], "inner": {"x": 1}}
    assert copy.deepcopy(entry) is entry
    assert verify_chain([entry]).ok


def test_append_refuses_a_bad_head_or_sequence_or_body() -> None:
    with pytest.raises(ValueError):
        append("not-a-hash", 1, "event", {})
    with pytest.raises(ValueError):
        append(GENESIS, 0, "event", {})
    with pytest.raises(NotCanonicalJson):
        append(GENESIS, 1, "event", {"at": datetime(2024, 5, 1)})


# --- verifying -------------------------------------------------------------------------------


def test_a_good_chain_verifies_and_its_head_is_the_last_hash() -> None:
    entries = make_chain()
    assert verify_chain(entries) == verify_chain([]) == verify_chain(iter(entries))
    assert verify_chain(entries).ok
    assert head_of(entries) == entries[-1].hash
    assert head_of([]) == GENESIS


def test_a_changed_body_is_a_hash_mismatch_at_that_entry() -> None:
    entries = make_chain()
    entries[2] = replace(entries[2], body={**(entries[2].body_dict() or {}), "n": 99})
    check = verify_chain(entries)
    assert (check.ok, check.first_bad_sequence, check.reason) == (
        False,
        3,
        ChainFault.HASH_MISMATCH,
    )


@pytest.mark.parametrize(
    "change",
    [
        {"hash": "f" * 64},
        {"kind": "evidencf"},
        {"visibility": "mediator_only"},
        {"body_sha256": "0" * 64},
    ],
)
def test_any_changed_header_field_is_a_hash_mismatch(change: dict[str, Any]) -> None:
    entries = make_chain()
    entries[1] = replace(entries[1], **change)
    check = verify_chain(entries)
    assert (check.first_bad_sequence, check.reason) == (2, ChainFault.HASH_MISMATCH)


def test_a_changed_link_is_a_broken_link() -> None:
    entries = make_chain()
    entries[3] = replace(entries[3], previous_hash=entries[1].hash)
    check = verify_chain(entries)
    assert (check.first_bad_sequence, check.reason) == (4, ChainFault.BROKEN_LINK)


def test_a_removed_or_renumbered_entry_is_a_sequence_gap() -> None:
    entries = make_chain()
    check = verify_chain(entries[:2] + entries[3:])
    assert (check.first_bad_sequence, check.reason) == (3, ChainFault.SEQUENCE_GAP)
    entries[4] = replace(entries[4], sequence=9)
    check = verify_chain(entries)
    assert (check.first_bad_sequence, check.reason) == (5, ChainFault.SEQUENCE_GAP)


def test_a_chain_must_start_at_genesis() -> None:
    entries = make_chain()
    check = verify_chain(entries[1:])
    assert (check.first_bad_sequence, check.reason) == (1, ChainFault.BAD_GENESIS)


def test_redacted_entries_still_verify_but_cannot_be_altered() -> None:
    entries = make_chain()
    redacted = [e.redacted() if e.sequence == 2 else e for e in entries]
    assert redacted[1].is_redacted and redacted[1].body is None
    assert redacted[1].hash == entries[1].hash
    assert verify_chain(redacted).ok
    redacted[1] = replace(redacted[1], body_sha256="1" * 64)
    assert verify_chain(redacted).reason == ChainFault.HASH_MISMATCH


def test_entries_round_trip_through_dicts_strictly() -> None:
    for entry in [*make_chain(), make_chain()[0].redacted()]:
        assert ChainEntry.from_dict(entry.to_dict()) == entry
    data = make_chain()[0].to_dict()
    with pytest.raises(ValueError, match="missing field 'hash'"):
        ChainEntry.from_dict({k: v for k, v in data.items() if k != "hash"})
    with pytest.raises(ValueError, match="unexpected field 'extra'"):
        ChainEntry.from_dict({**data, "extra": 1})
    for bad in ({"sequence": True}, {"sequence": "1"}, {"kind": ""}, {"body": [1]}):
        with pytest.raises(ValueError):
            ChainEntry.from_dict({**data, **bad})
    with pytest.raises(ValueError):
        ChainEntry.from_dict([data])


# --- daily digest ----------------------------------------------------------------------------


def test_the_daily_digest_is_sha256_of_the_day_and_the_sorted_heads() -> None:
    a, b = "a" * 64, "b" * 64
    heads: dict[str | int, str] = {10: a, "2": b}
    digest = daily_digest(date(2024, 5, 1), heads)
    expected = '{"day":"2024-05-01","heads":{"10":"' + a + '","2":"' + b + '"}}'
    assert digest == sha(expected.encode())
    assert daily_digest(date(2024, 5, 1), {"2": b, "10": a}) == digest
    assert daily_digest(date(2024, 5, 2), heads) != digest
    assert daily_digest(date(2024, 5, 1), {10: b, 2: a}) != digest
    assert daily_digest(date(2024, 5, 1), {}) == sha(b'{"day":"2024-05-01","heads":{}}')


def test_the_daily_digest_refuses_ambiguous_ids_and_bad_heads() -> None:
    ambiguous: dict[str | int, str] = {1: "a" * 64, "1": "b" * 64}
    with pytest.raises(ValueError, match="twice"):
        daily_digest(date(2024, 5, 1), ambiguous)
    with pytest.raises(ValueError):
        daily_digest(date(2024, 5, 1), {1: "A" * 64})
    with pytest.raises(ValueError):
        daily_digest(date(2024, 5, 1), {1: GENESIS[:-1]})
    with pytest.raises(ValueError):
        daily_digest(date(2024, 5, 1), {(1,): "a" * 64})  # type: ignore[arg-type]
