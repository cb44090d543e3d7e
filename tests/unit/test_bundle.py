from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from odr.bundle import (
    INDEX,
    MANIFEST,
    BundleError,
    BundleReport,
    build_bundle,
    main_verify,
    verify_bundle,
)
from odr.domain.ledger import GENESIS, ChainEntry, EntryKind, append

CASE = {"id": 42, "number": "ODR-2024-000042", "consumer": "张三", "insurer": "某保险公司"}
SECRET_NAME = "调解员备忘-caucus-secret.txt"

POLICY = b"%PDF-1.7\n" + "保单 policy 第 1 页\n".encode() * 40 + b"%%EOF\n"
PHOTO = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 2
RECORDING = b"\xff\xfb\x90\x64" + b"\x55" * 413 + b"\xff\xfb\x90\x64" + b"\xaa" * 413
CAUCUS_NOTE = "只给调解员看的内容".encode()


@dataclass
class Case:
    chain: list[ChainEntry]
    files: dict[int, bytes]  # chain sequence -> content, for the items a party may see

    @property
    def export_chain(self) -> list[ChainEntry]:
        return [e.redacted() if e.visibility == "mediator_only" else e for e in self.chain]

    @property
    def items(self) -> list[tuple[dict[str, Any], bytes]]:
        return [({"sequence": seq}, data) for seq, data in self.files.items()]


def evidence_body(evidence_id: int, name: str, mime: str, kind: str, data: bytes) -> dict[str, Any]:
    return {
        "evidence_id": evidence_id,
        "kind": kind,
        "name": name,
        "description": f"{name} 的说明\n<script>alert(1)</script>",
        "media_type": mime,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "submitted_at": f"2024-05-0{evidence_id}T10:00:00+08:00",
        "submitter": {"user_id": 7, "role": "consumer"},
    }


def make_case() -> Case:
    chain: list[ChainEntry] = []
    files: dict[int, bytes] = {}

    def add(kind: str, body: dict[str, Any], visibility: str = "all_parties") -> int:
        head = chain[-1].hash if chain else GENESIS
        chain.append(append(head, len(chain) + 1, kind, body, visibility=visibility))
        return len(chain)

    add(EntryKind.EVENT, {"event": "filed", "at": "2024-05-01T09:00:00+08:00", "case": CASE})
    seq = add(
        EntryKind.EVIDENCE, evidence_body(1, "保单.pdf", "application/pdf", "document", POLICY)
    )
    files[seq] = POLICY
    add(EntryKind.EVENT, {"event": "triaged", "risk": 35, "reasons": ["12378"]})
    seq = add(EntryKind.EVIDENCE, evidence_body(2, "<i>photo.png", "image/png", "image", PHOTO))
    files[seq] = PHOTO
    add(
        EntryKind.EVIDENCE,
        evidence_body(3, SECRET_NAME, "text/plain; charset=utf-8", "document", CAUCUS_NOTE),
        "mediator_only",
    )
    seq = add(EntryKind.EVIDENCE, evidence_body(4, "录音.mp3", "audio/mpeg", "audio", RECORDING))
    files[seq] = RECORDING
    add(EntryKind.EVENT, {"event": "message_sent", "text": "请补充材料", "amount": 1.5})
    return Case(chain, files)


def build(case: Case | None = None) -> bytes:
    case = case or make_case()
    out = io.BytesIO()
    build_bundle(out, CASE, case.items, case.export_chain)
    return out.getvalue()


def verify(data: bytes) -> BundleReport:
    return verify_bundle(io.BytesIO(data))


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rewrite(data: bytes, change: Callable[[dict[str, bytes]], dict[str, bytes]]) -> bytes:
    """The same bundle with its members changed by ``change`` (the ZIP itself stays valid)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        contents = change({name: archive.read(name) for name in infos})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in contents.items():
            info = infos.get(name) or zipfile.ZipInfo(name)
            archive.writestr(info, content)
    return out.getvalue()


def flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


def with_member_flipped(data: bytes, name: str, position: int) -> bytes:
    return rewrite(data, lambda m: {**m, name: flip(m[name], position)})


@pytest.fixture(scope="module")
def bundle() -> bytes:
    return build()


# --- the untouched bundle --------------------------------------------------------------------


def test_an_untouched_bundle_verifies(bundle: bytes) -> None:
    report = verify(bundle)
    assert report.ok, report.problem
    case = make_case()
    assert (report.files, report.items, report.entries) == (3, 3, 7)
    assert report.head == case.chain[-1].hash


def test_a_bundle_holds_the_visible_files_a_manifest_and_an_index(bundle: bytes) -> None:
    contents = members(bundle)
    files = sorted(name for name in contents if name.startswith("files/"))
    assert len(files) == 3
    assert set(contents) == {*files, MANIFEST, INDEX}
    assert sorted(contents[name] for name in files) == sorted([POLICY, PHOTO, RECORDING])
    manifest = json.loads(contents[MANIFEST])
    assert manifest["format"] == "odr-bundle/1"
    assert manifest["case"] == CASE
    assert [item["path"] for item in manifest["items"]] == [
        f"files/{hashlib.sha256(POLICY).hexdigest()}-保单.pdf",
        f"files/{hashlib.sha256(PHOTO).hexdigest()}-_i_photo.png",
        f"files/{hashlib.sha256(RECORDING).hexdigest()}-录音.mp3",
    ]
    assert [item["sequence"] for item in manifest["items"]] == [2, 4, 6]
    assert manifest["head"] == manifest["chain"][-1]["hash"]


def test_hidden_evidence_is_redacted_and_never_leaks(bundle: bytes) -> None:
    contents = members(bundle)
    manifest = json.loads(contents[MANIFEST])
    hidden = manifest["chain"][4]
    assert hidden["visibility"] == "mediator_only" and hidden["body"] is None
    raw = b"".join(contents.values())
    assert SECRET_NAME.encode() not in raw and CAUCUS_NOTE not in raw


def test_index_html_is_readable_and_escapes_everything(bundle: bytes) -> None:
    index = members(bundle)[INDEX].decode()
    assert "保单.pdf" in index and "ODR-2024-000042" in index and "张三" in index
    assert "<script" not in index and "<i>photo" not in index
    assert "&lt;script&gt;" in index and "&lt;i&gt;photo.png" in index
    assert "default-src 'none'" in index


def test_the_same_export_gives_the_same_bytes(bundle: bytes) -> None:
    assert build() == bundle


def test_files_are_streamed_from_file_objects(tmp_path: Path) -> None:
    case = make_case()
    paths = {}
    for seq, data in case.files.items():
        paths[seq] = tmp_path / f"{seq}.bin"
        paths[seq].write_bytes(data)
    handles = [(meta, paths[meta["sequence"]].open("rb")) for meta, _ in case.items]
    try:
        target = tmp_path / "bundle.zip"
        build_bundle(target, CASE, handles, case.export_chain)
    finally:
        for _, handle in handles:
            handle.close()
    assert verify_bundle(target).ok
    assert verify_bundle(str(target)).ok


# --- one flipped byte anywhere ---------------------------------------------------------------


def test_a_flipped_byte_in_any_stored_file_is_caught_and_named(bundle: bytes) -> None:
    names = [name for name in members(bundle) if name.startswith("files/")]
    for name in names:
        size = len(members(bundle)[name])
        for position in (0, size // 2, size - 1):
            report = verify(with_member_flipped(bundle, name, position))
            assert not report.ok
            assert report.problem is not None
            assert report.problem.where == name
            assert "sha256 mismatch" in report.problem.message


def manifest_line_labels(text: str) -> list[str]:
    """For each line of manifest.json: the part of the manifest it belongs to."""
    labels: list[str] = []
    top, element = "", -1
    for line in text.split("\n")[:-1]:
        indent = len(line) - len(line.lstrip(" "))
        if indent == 2 and line.lstrip().startswith('"'):
            top, element = line.split('"')[1], -1
        elif indent == 4 and line.lstrip().startswith("{"):
            element += 1
        if indent == 0:
            labels.append("")
        elif top == "items" and indent >= 4:
            labels.append(f"items[{element}]")
        elif top == "chain" and indent >= 4:
            labels.append(f"chain entry {element + 1}")
        else:
            labels.append(top)
    return labels


def test_a_flipped_byte_in_any_line_of_the_manifest_is_caught_and_named(bundle: bytes) -> None:
    raw = members(bundle)[MANIFEST]
    labels = manifest_line_labels(raw.decode())
    assert {"case", "items[2]", "chain entry 7", "head", "index_sha256"} <= set(labels)
    start = 0
    for number, (line, label) in enumerate(zip(raw.split(b"\n"), labels, strict=False), 1):
        content = len(line) - len(line.lstrip(b" "))
        positions = {start + content, start + (content + len(line)) // 2, start + len(line) - 1}
        for position in positions:
            report = verify(with_member_flipped(bundle, MANIFEST, position))
            problem = report.problem
            assert problem is not None, f"line {number}: {line!r} flipped at {position} passed"
            if label == "index_sha256":
                assert problem.where == INDEX or f"line {number}" in problem.message, problem
            else:
                assert problem.where == MANIFEST, problem
                assert f"line {number}" in problem.message or (
                    label and label in problem.message
                ), (label, str(problem))
        start += len(line) + 1


def test_every_byte_of_the_manifest_matters(bundle: bytes) -> None:
    raw = members(bundle)[MANIFEST]
    for position in range(0, len(raw), 7):
        assert not verify(with_member_flipped(bundle, MANIFEST, position)).ok, position


def test_item_fields_are_checked_against_their_chain_entry(bundle: bytes) -> None:
    def edit(change: Callable[[dict[str, Any]], None]) -> BundleReport:
        def apply(m: dict[str, bytes]) -> dict[str, bytes]:
            manifest = json.loads(m[MANIFEST])
            change(manifest)
            return {
                **m,
                MANIFEST: (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode(),
            }

        return verify(rewrite(bundle, apply))

    def set_sha(m: dict[str, Any]) -> None:
        m["items"][2]["sha256"] = "0" * 64

    problem = edit(set_sha).problem
    assert str(problem) == "manifest.json: items[2].sha256 does not match chain entry 6"

    def drop_item(m: dict[str, Any]) -> None:
        del m["items"][1]

    assert (
        str(edit(drop_item).problem) == "manifest.json: chain entry 4: evidence missing from items"
    )

    def redact_visible(m: dict[str, Any]) -> None:
        m["chain"][1]["body"] = None

    assert "redacted although visible to all parties" in str(edit(redact_visible).problem)

    def change_case(m: dict[str, Any]) -> None:
        m["case"]["insurer"] = "另一家保险公司"

    assert (
        str(edit(change_case).problem) == "manifest.json: case.insurer does not match chain entry 1"
    )

    def extra_field(m: dict[str, Any]) -> None:
        m["exported_by"] = "someone"

    assert str(edit(extra_field).problem) == "manifest.json: unexpected field 'exported_by'"


def test_a_flipped_byte_in_index_html_is_caught(bundle: bytes) -> None:
    size = len(members(bundle)[INDEX])
    for position in (0, size // 3, size // 2, size - 1):
        problem = verify(with_member_flipped(bundle, INDEX, position)).problem
        assert problem is not None and problem.where == INDEX
        assert "index_sha256" in problem.message


def test_added_removed_or_duplicated_members_are_caught(bundle: bytes) -> None:
    added = rewrite(bundle, lambda m: {**m, "files/extra.exe": b"MZ"})
    assert str(verify(added).problem) == "files/extra.exe: not listed in the manifest"

    name = next(n for n in members(bundle) if n.endswith("录音.mp3"))
    removed = rewrite(bundle, lambda m: {k: v for k, v in m.items() if k != name})
    assert (
        str(verify(removed).problem) == f"manifest.json: items[2].path: {name} is not in the bundle"
    )

    for missing in (MANIFEST, INDEX):
        gone = rewrite(bundle, lambda m, x=missing: {k: v for k, v in m.items() if k != x})  # type: ignore[misc]
        assert str(verify(gone).problem) == f"{missing}: missing"

    out = io.BytesIO(bundle)
    out.seek(0, io.SEEK_END)
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(out, "a") as archive:
        archive.writestr(INDEX, b"<h1>forged</h1>")
    assert str(verify(out.getvalue()).problem) == "index.html: appears twice in the archive"


def test_a_re_zipped_bundle_with_directory_entries_still_verifies(bundle: bytes) -> None:
    assert verify(rewrite(bundle, lambda m: {"files/": b"", **m})).ok


def test_an_equivalent_but_different_manifest_is_caught(bundle: bytes) -> None:
    def reindent(m: dict[str, bytes]) -> dict[str, bytes]:
        manifest = json.loads(m[MANIFEST])
        return {**m, MANIFEST: (json.dumps(manifest, ensure_ascii=False, indent=4) + "\n").encode()}

    problem = verify(rewrite(bundle, reindent)).problem
    assert problem is not None and problem.where == MANIFEST
    assert "line 2: not in the layout" in problem.message


def test_a_raw_byte_flip_in_the_zip_fails_cleanly_or_changes_nothing() -> None:
    data = make_tiny_bundle()
    original = members(data)
    caught = 0
    for position in range(len(data)):
        flipped = flip(data, position)
        report = verify(flipped)  # never raises
        if report.ok:
            # only bytes that hold no content (timestamps, permissions, …) may pass
            assert members(flipped) == original, position
        else:
            assert report.problem is not None and report.problem.message
            caught += 1
    assert caught > len(data) * 3 // 4


def make_tiny_bundle() -> bytes:
    content = b"short evidence text\n"
    filed = append(GENESIS, 1, "event", {"event": "filed", "case": {"id": 1}})
    body = {"name": "a.txt", "media_type": "text/plain; charset=utf-8", "size": len(content)}
    item = append(
        filed.hash, 2, "evidence", {**body, "sha256": hashlib.sha256(content).hexdigest()}
    )
    out = io.BytesIO()
    build_bundle(out, {"id": 1}, [({"sequence": 2}, content)], [filed, item])
    return out.getvalue()


def test_something_that_is_not_a_zip_is_reported_not_raised() -> None:
    for data in (b"", b"not a zip", b"PK\x03\x04" + b"\x00" * 100):
        problem = verify(data).problem
        assert problem is not None and problem.where == "bundle"
        assert "not a readable ZIP archive" in problem.message


# --- building refuses what would not verify --------------------------------------------------


def test_building_refuses_content_that_does_not_match_its_chain_entry(tmp_path: Path) -> None:
    case = make_case()
    items = [(meta, b"tampered" if meta["sequence"] == 4 else data) for meta, data in case.items]
    target = tmp_path / "bundle.zip"
    with pytest.raises(BundleError, match="does not match chain entry 4"):
        build_bundle(target, CASE, items, case.export_chain)
    assert not target.exists()


def test_building_refuses_inconsistent_input() -> None:
    case = make_case()
    out = io.BytesIO()
    with pytest.raises(BundleError, match=r"case\.insurer"):
        build_bundle(out, {**CASE, "insurer": "x"}, case.items, case.export_chain)
    with pytest.raises(BundleError, match="chain entry 6: evidence missing from items"):
        build_bundle(out, CASE, case.items[:2], case.export_chain)
    with pytest.raises(BundleError, match="not an unredacted evidence entry"):
        build_bundle(out, CASE, [*case.items, ({"sequence": 5}, CAUCUS_NOTE)], case.export_chain)
    with pytest.raises(BundleError, match="redacted although visible to all parties"):
        build_bundle(
            out,
            CASE,
            case.items[1:],
            [e.redacted() if e.sequence == 2 else e for e in case.export_chain],
        )
    with pytest.raises(BundleError, match=r"items\[0\].name does not match chain entry 2"):
        build_bundle(
            out,
            CASE,
            [({"sequence": 2, "name": "other.pdf"}, POLICY), *case.items[1:]],
            case.export_chain,
        )
    with pytest.raises(BundleError, match="chain entry 3: hash_mismatch"):
        broken = list(case.export_chain)
        broken[2] = replace(broken[2], body={"event": "triaged", "risk": 99})
        build_bundle(out, CASE, case.items, broken)
    with pytest.raises(BundleError, match="empty"):
        build_bundle(out, CASE, [], [])
    assert out.getvalue() == b""


# --- the command -----------------------------------------------------------------------------


def test_the_command_exits_0_1_or_2(
    tmp_path: Path, bundle: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.zip"
    good.write_bytes(bundle)
    assert main_verify([str(good)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"OK {good}: 3 files, 3 items, 7 chain entries; head ")

    name = next(n for n in members(bundle) if n.endswith("保单.pdf"))
    bad = tmp_path / "bad.zip"
    bad.write_bytes(with_member_flipped(bundle, name, 100))
    assert main_verify([str(bad)]) == 1
    assert f"FAILED {bad}: {name}: sha256 mismatch" in capsys.readouterr().out

    assert main_verify([str(tmp_path / "missing.zip")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main_verify([str(tmp_path)]) == 2
    assert main_verify([]) == 2
