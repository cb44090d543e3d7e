"""Evidence export bundles: build one, and verify one offline with nothing but this file.

Standard library only, so that ``odr verify-bundle FILE.zip`` needs no server, no database and
nothing but this package. A bundle is a ZIP archive holding:

- ``files/<sha256>-<safe name>``: every evidence file the requester may see, stored as is;
- ``index.html``: a readable summary (everything escaped; no script; not authoritative);
- ``manifest.json``::

      {"format": "odr-bundle/1",
       "case": {...},                       # the "case" member of chain entry 1's body
       "items": [{"path": "files/<sha256>-<name>", "sequence": 7, ...}],  # one per file shown
       "chain": [ChainEntry.to_dict(), ...],  # the case's whole chain, hidden entries redacted
       "head": "<hash of the last chain entry>",
       "index_sha256": "<SHA-256 of index.html>"}

  written as ``json.dumps(manifest, ensure_ascii=False, indent=2) + "\\n"`` in UTF-8.

Rules that tie it together (hash definitions in `odr.domain.ledger`):

- the chain verifies from `GENESIS` to ``head``; an entry may be redacted (body null) only when
  it is not visible to all parties — the chain's hashes commit to each entry's visibility;
- chain entry 1 is the case-filed event, unredacted, and ``case`` equals its body's ``case``;
- each item is ``{"path": ..., "sequence": n} + body of chain entry n`` exactly (entry n is an
  unredacted evidence entry whose body has ``sha256`` and ``size``); every unredacted evidence
  entry has exactly one item; ``path`` is ``files/<that sha256>-<a safe name>``;
- each listed file exists, with that size and SHA-256; no other member exists (directory entries
  aside); ``index.html`` has the SHA-256 ``index_sha256``;
- ``manifest.json`` is byte for byte the layout above (so no byte can change unnoticed, even in a
  way that parses to the same data).

What catches a changed byte (the verifier stops at the first problem, in this order):

==========================================  =================================================
changed                                      caught by / reported as
==========================================  =================================================
the ZIP structure itself (raw flip)          zipfile's CRC-32 and header checks → "bundle: not
                                             a readable ZIP archive", "<member>: damaged in the
                                             archive", or a changed name → missing / unlisted.
                                             A byte that holds no content (timestamps, entry
                                             counts, the local headers' copies of what zipfile
                                             reads from the central directory) may change and
                                             pass: every member's content is still the same
manifest.json, not UTF-8 / JSON              "manifest.json: not valid JSON (line L, …)"
``format``, a top-level key                  "manifest.json: format …", "missing field …"
chain entry n (any field, body included)     verify_chain → "manifest.json: chain entry n: …"
``head``                                     "manifest.json: head does not match chain entry N"
``case``                                     equality with chain entry 1 → "manifest.json:
                                             case.<key> does not match chain entry 1"
``items[i]`` (any field)                     equality with its chain entry → "manifest.json:
                                             items[i].<key> does not match chain entry n", or
                                             "items[i].path: … is not in the bundle"
a file under ``files/``                      its SHA-256 → "files/…: sha256 mismatch"
an added or removed file                     "files/…: not listed …", "… is not in the bundle"
index.html or ``index_sha256``               "index.html: sha256 does not match index_sha256 …"
an equivalent re-encoding of manifest.json   "manifest.json: line L: not in the layout …"
==========================================  =================================================

What a bundle cannot prove by itself: someone who rewrites the files, recomputes every hash of the
chain and writes a new manifest makes a self-consistent bundle. The chain's ``head`` (printed by
the verifier) is what to compare with the server's record of the case or a published daily digest
(`odr.domain.ledger.daily_digest`); everything but ``index.html`` and ``index_sha256`` is bound to
it. index.html is covered by its hash in the manifest only (it is rendered at export, after the
chain exists), which stops accidental or single-point changes, not a forger.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import io
import json
import os
import sys
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple
from urllib.parse import quote

from odr.domain.authz import Visibility
from odr.domain.filenames import sanitise_filename
from odr.domain.ledger import (
    ChainEntry,
    EntryKind,
    NotCanonicalJson,
    canonical_json,
    is_sha256_hex,
    sha256_hex,
    verify_chain,
)
from odr.domain.sniffing import (
    DOCX,
    JPEG,
    M4A,
    MP3,
    MP4,
    PNG,
    WEBM,
    WEBP,
    ZIP_ERRORS,
    by_mime,
)

FORMAT = "odr-bundle/1"
MANIFEST = "manifest.json"
INDEX = "index.html"
FILES_DIR = "files/"
CHUNK = 1 << 20
MAX_MANIFEST_BYTES = 64 << 20
#: Bytes allowed for the name part of ``files/<sha256>-<name>``, so that the member extracts on
#: file systems limiting a name to 255 bytes (64 hex + "-" + 150 < 255).
PATH_NAME_MAX_BYTES = 150

_MANIFEST_FIELDS = ("format", "case", "items", "chain", "head", "index_sha256")
_ITEM_OWN_FIELDS = ("path", "sequence")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same export gives the same bytes
_STORED_MIMES = frozenset(m.mime for m in (JPEG, PNG, WEBP, MP3, M4A, MP4, WEBM, DOCX))

Source = str | os.PathLike[str] | BinaryIO


class BundleError(ValueError):
    """`build_bundle` refused its input: the bundle would not verify."""


@dataclass(frozen=True, slots=True)
class BundleProblem:
    """The first thing wrong with a bundle: where (a member name, or ``bundle`` for the archive)
    and what."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True, slots=True)
class BundleReport:
    problem: BundleProblem | None
    files: int = 0
    items: int = 0
    entries: int = 0
    head: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Fail(Exception):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


class _Item(NamedTuple):
    position: int
    path: str
    sequence: int
    sha256: str
    size: int


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- rules shared by building and verifying --------------------------------------------------


def item_path(sha256: str, name: object, media_type: object) -> str:
    """``files/<sha256>-<safe name>``, the name sanitised with the media type's extension."""
    media = by_mime(media_type) if isinstance(media_type, str) else None
    safe = sanitise_filename(
        name if isinstance(name, str) else "",
        extension=media.extension if media else None,
        max_bytes=PATH_NAME_MAX_BYTES,
    )
    return f"{FILES_DIR}{sha256}-{safe}"


def _check_entries(entries: Sequence[ChainEntry], head: object) -> None:
    if not entries:
        raise _Fail(MANIFEST, "chain: empty (a case's chain starts with the filed event)")
    check = verify_chain(entries)
    if not check.ok:
        raise _Fail(
            MANIFEST, f"chain entry {check.first_bad_sequence}: {check.reason} ({check.detail})"
        )
    for entry in entries:
        if entry.is_redacted and entry.visibility == Visibility.ALL_PARTIES:
            raise _Fail(
                MANIFEST, f"chain entry {entry.sequence}: redacted although visible to all parties"
            )
    if head != entries[-1].hash:
        raise _Fail(MANIFEST, f"head does not match chain entry {entries[-1].sequence}")


def _compare(shown: object, committed: Mapping[str, Any], label: str, entry: str) -> None:
    """``shown`` must be exactly ``committed`` (compared as canonical JSON, key by key)."""
    if not isinstance(shown, Mapping):
        raise _Fail(MANIFEST, f"{label}: must be an object")
    for key in sorted(set(shown) | set(committed)):
        if key not in committed:
            raise _Fail(MANIFEST, f"{label}.{key} is not in {entry}")
        if key not in shown:
            raise _Fail(MANIFEST, f"{label}.{key} is missing (it is in {entry})")
        try:
            same = canonical_json(shown[key]) == canonical_json(committed[key])
        except NotCanonicalJson as exc:
            raise _Fail(MANIFEST, f"{label}.{key}: {exc}") from None
        if not same:
            raise _Fail(MANIFEST, f"{label}.{key} does not match {entry}")


def _check_case(case: object, entries: Sequence[ChainEntry]) -> None:
    first = entries[0]
    if first.kind != EntryKind.EVENT or first.body is None or "case" not in first.body:
        raise _Fail(
            MANIFEST, "chain entry 1: must be the unredacted filed event with a 'case' member"
        )
    committed = first.body["case"]
    if not isinstance(committed, Mapping):
        raise _Fail(MANIFEST, "chain entry 1: its 'case' member is not an object")
    _compare(case, committed, "case", "chain entry 1")


def _check_items(raw: object, entries: Sequence[ChainEntry]) -> list[_Item]:
    if not isinstance(raw, list):
        raise _Fail(MANIFEST, "items: must be a list")
    items: list[_Item] = []
    listed: dict[int, int] = {}
    for index, item in enumerate(raw):
        label = f"items[{index}]"
        if not isinstance(item, Mapping):
            raise _Fail(MANIFEST, f"{label}: must be an object")
        sequence = item.get("sequence")
        if not isinstance(sequence, int) or isinstance(sequence, bool):
            raise _Fail(MANIFEST, f"{label}.sequence: {_short(sequence)} is not a chain entry")
        if not 1 <= sequence <= len(entries):
            raise _Fail(MANIFEST, f"{label}.sequence: there is no chain entry {sequence}")
        entry = entries[sequence - 1]
        if entry.kind != EntryKind.EVIDENCE or entry.body is None:
            raise _Fail(
                MANIFEST,
                f"{label}.sequence: chain entry {sequence} is not an unredacted evidence entry",
            )
        if sequence in listed:
            raise _Fail(
                MANIFEST,
                f"{label}.sequence: chain entry {sequence} is already items[{listed[sequence]}]",
            )
        listed[sequence] = index
        if any(key in entry.body for key in _ITEM_OWN_FIELDS):
            raise _Fail(MANIFEST, f"chain entry {sequence}: its body has a 'path' or 'sequence'")
        shown = {k: v for k, v in item.items() if k not in _ITEM_OWN_FIELDS}
        _compare(shown, entry.body, label, f"chain entry {sequence}")
        sha256, size = entry.body.get("sha256"), entry.body.get("size")
        if not is_sha256_hex(sha256):
            raise _Fail(MANIFEST, f"chain entry {sequence}: evidence without a valid sha256")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise _Fail(MANIFEST, f"chain entry {sequence}: evidence without a valid size")
        path = item.get("path")
        if not isinstance(path, str) or not _is_file_path(path, str(sha256)):
            raise _Fail(MANIFEST, f"{label}.path: must be files/<its sha256>-<a safe name>")
        items.append(_Item(index, path, sequence, str(sha256), size))
    for entry in entries:
        evidence = entry.kind == EntryKind.EVIDENCE and not entry.is_redacted
        if evidence and entry.sequence not in listed:
            raise _Fail(MANIFEST, f"chain entry {entry.sequence}: evidence missing from items")
    return items


def _is_file_path(path: str, sha256: str) -> bool:
    prefix = f"{FILES_DIR}{sha256}-"
    name = path[len(prefix) :]
    return (
        path.startswith(prefix)
        and bool(name)
        and name not in (".", "..")
        and not any(ch in name for ch in "/\\")
        and all(ch >= " " and ch != "\x7f" for ch in name)
    )


def _dump_manifest(manifest: Mapping[str, Any]) -> bytes:
    return (json.dumps(manifest, ensure_ascii=False, indent=2, allow_nan=False) + "\n").encode()


# --- building --------------------------------------------------------------------------------

Content = bytes | bytearray | memoryview | BinaryIO


def build_bundle(
    out: BinaryIO | str | os.PathLike[str],
    case: Mapping[str, Any],
    items: Sequence[tuple[Mapping[str, Any], Content]],
    chain: Sequence[ChainEntry],
) -> None:
    """Write a bundle to ``out`` (a path, or a binary file object that need not be seekable).

    ``chain`` is the case's whole chain with the entries the requester may not see already
    redacted (`ChainEntry.redacted`); ``case`` must equal the ``case`` member of the first
    entry's body; ``items`` pairs, for every unredacted evidence entry, its metadata (at least
    ``{"sequence": n}``; any other key must equal the entry body's) with its content (bytes or a
    binary file object read in chunks, never whole; a file already written for an earlier item,
    same SHA-256 and name, is not read again). Raises `BundleError` before writing
    anything when the bundle would not verify, or when a content's SHA-256 or size differs from
    its entry (then a partly written ``out`` path is removed)."""
    entries = list(chain)
    try:
        _check_entries(entries, entries[-1].hash if entries else None)
        _check_case(case, entries)
        planned = [_plan_item(i, meta, entries) for i, (meta, _) in enumerate(items)]
        _check_items(planned, entries)
    except _Fail as fail:
        raise BundleError(fail.message) from None
    except NotCanonicalJson as exc:
        raise BundleError(str(exc)) from None
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "case": json.loads(canonical_json(case)),
        "items": planned,
        "chain": [entry.to_dict() for entry in entries],
        "head": entries[-1].hash,
    }
    contents = [content for _, content in items]
    if isinstance(out, str | os.PathLike):
        target = Path(out)
        try:
            with target.open("wb") as fileobj:
                _write(fileobj, manifest, contents)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
    else:
        _write(out, manifest, contents)


def _plan_item(
    index: int, meta: Mapping[str, Any], entries: Sequence[ChainEntry]
) -> dict[str, Any]:
    label = f"items[{index}]"
    sequence = meta.get("sequence")
    if not isinstance(sequence, int) or isinstance(sequence, bool):
        raise _Fail(MANIFEST, f"{label}: 'sequence' must be the number of its chain entry")
    if not 1 <= sequence <= len(entries):
        raise _Fail(MANIFEST, f"{label}.sequence: there is no chain entry {sequence}")
    body = entries[sequence - 1].body_dict()
    if entries[sequence - 1].kind != EntryKind.EVIDENCE or body is None:
        raise _Fail(
            MANIFEST, f"{label}: chain entry {sequence} is not an unredacted evidence entry"
        )
    for key, value in meta.items():
        if key != "sequence" and (
            key not in body or canonical_json(value) != canonical_json(body[key])
        ):
            raise _Fail(MANIFEST, f"{label}.{key} does not match chain entry {sequence}")
    sha256 = body.get("sha256")
    if not is_sha256_hex(sha256):
        raise _Fail(MANIFEST, f"chain entry {sequence}: evidence without a valid sha256")
    path = item_path(str(sha256), body.get("name"), body.get("media_type"))
    return {"path": path, "sequence": sequence, **body}


def _zip_info(name: str, *, stored: bool = False) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _write(fileobj: BinaryIO, manifest: dict[str, Any], contents: Sequence[Content]) -> None:
    with zipfile.ZipFile(fileobj, "w") as archive:
        written: set[str] = set()
        for item, content in zip(manifest["items"], contents, strict=True):
            if item["path"] not in written:
                written.add(item["path"])
                _write_file(archive, item, content)
        index = _render_index(manifest).encode()
        archive.writestr(_zip_info(INDEX), index)
        manifest["index_sha256"] = sha256_hex(index)
        archive.writestr(_zip_info(MANIFEST), _dump_manifest(manifest))


def _write_file(archive: zipfile.ZipFile, item: Mapping[str, Any], content: Content) -> None:
    info = _zip_info(item["path"], stored=item.get("media_type") in _STORED_MIMES)
    info.file_size = item["size"]  # lets zipfile choose ZIP64 up front for large files
    source = io.BytesIO(content) if isinstance(content, bytes | bytearray | memoryview) else content
    digest = hashlib.sha256()
    size = 0
    with archive.open(info, "w") as member:
        while chunk := source.read(CHUNK):
            member.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    if size != item["size"] or digest.hexdigest() != item["sha256"]:
        raise BundleError(
            f"{item['path']}: the content does not match chain entry "
            f"{item['sequence']} (sha256 or size)"
        )


# --- index.html ------------------------------------------------------------------------------

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:80em;padding:0 1em}"
    "table{border-collapse:collapse;width:100%;margin-bottom:1.5em}"
    "th,td{border:1px solid #bbb;padding:.3em .5em;text-align:left;vertical-align:top}"
    "code{word-break:break-all;font-size:.9em}"
)


def _text(value: object) -> str:
    if isinstance(value, str):
        return html.escape(value)
    return html.escape(canonical_json(value).decode())


def _render_index(manifest: Mapping[str, Any]) -> str:
    case: Mapping[str, Any] = manifest["case"]
    rows = "".join(f"<tr><th>{_text(k)}</th><td>{_text(v)}</td></tr>" for k, v in case.items())
    parts = [
        "<!doctype html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>证据包 Evidence bundle</title><style>{_STYLE}</style></head><body>",
        "<h1>证据包 Evidence bundle</h1>",
        "<p>本页仅供阅读，以 manifest.json 为准；"
        "可离线校验：<code>odr verify-bundle 文件.zip</code>。"
        "<br>This page is for reading only; manifest.json is authoritative. Check the bundle "
        "offline with <code>odr verify-bundle FILE.zip</code>.</p>",
        f"<h2>案件 Case</h2><table>{rows}</table>",
        _items_table(manifest["items"]),
        _chain_table(manifest["chain"]),
        "<p>案件记录校验码（案件记录的任何改动都会改变它）"
        " Case record fingerprint (changes with any change to the record): "
        f"<code>{_text(manifest['head'])}</code></p>",
        "</body></html>",
        "",
    ]
    return "\n".join(parts)


def _items_table(items: Sequence[Mapping[str, Any]]) -> str:
    shown = ("path", "sequence", "name", "kind", "submitted_at", "media_type", "size", "sha256")
    rows = []
    for item in items:
        others = "<br>".join(f"{_text(k)}: {_text(v)}" for k, v in item.items() if k not in shown)
        href = html.escape(quote(item["path"]))
        rows.append(
            f"<tr><td>{_text(item['sequence'])}</td>"
            f'<td><a href="{href}">{_text(item.get("name", ""))}</a></td>'
            f"<td>{_text(item.get('kind', ''))}</td><td>{_text(item.get('submitted_at', ''))}</td>"
            f"<td>{_text(item.get('media_type', ''))}</td><td>{_text(item.get('size', ''))}</td>"
            f"<td><code>{_text(item.get('sha256', ''))}</code></td><td>{others}</td></tr>"
        )
    return (
        f"<h2>证据 Evidence ({len(items)})</h2><table><tr><th>#</th><th>名称 Name</th>"
        "<th>类别 Kind</th><th>提交时间 Submitted</th><th>类型 Type</th><th>字节 Bytes</th>"
        f"<th>SHA-256</th><th>其他 Details</th></tr>{''.join(rows)}</table>"
    )


def _chain_table(chain: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for entry in chain:
        body = entry["body"]
        content = "已隐去 redacted" if body is None else _text(body)
        rows.append(
            f"<tr><td>{_text(entry['sequence'])}</td><td>{_text(entry['kind'])}</td>"
            f"<td>{_text(entry['visibility'])}</td><td><code>{content}</code></td>"
            f"<td><code>{_text(entry['hash'])}</code></td></tr>"
        )
    return (
        f"<h2>哈希链 Hash chain ({len(chain)})</h2><table><tr><th>#</th><th>Kind</th>"
        f"<th>Visibility</th><th>内容 Content</th><th>Hash</th></tr>{''.join(rows)}</table>"
    )


# --- verifying -------------------------------------------------------------------------------


def verify_bundle(source: Source) -> BundleReport:
    """Check a bundle completely offline and report the first problem (rules in the module
    docstring). Raises `OSError` only when ``source`` is a path that cannot be opened; anything
    wrong inside the file is a problem in the report, never an exception."""
    with _opened(source) as fileobj:
        verifier = _Verifier()
        try:
            verifier.run(fileobj)
        except _Fail as fail:
            return verifier.report(BundleProblem(fail.where, fail.message))
        return verifier.report(None)


@contextmanager
def _opened(source: Source) -> Iterator[BinaryIO]:
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as fileobj:
            yield fileobj
    else:
        yield source


class _Verifier:
    def __init__(self) -> None:
        self.files = 0
        self.items = 0
        self.entries = 0
        self.head: str | None = None

    def report(self, problem: BundleProblem | None) -> BundleReport:
        return BundleReport(problem, self.files, self.items, self.entries, self.head)

    def run(self, fileobj: BinaryIO) -> None:
        try:
            archive = zipfile.ZipFile(fileobj)
        except ZIP_ERRORS as exc:
            raise _Fail("bundle", f"not a readable ZIP archive ({exc})") from None
        with archive:
            self._check_archive(archive)

    def _check_archive(self, archive: zipfile.ZipFile) -> None:
        infos = {}
        for info in archive.infolist():
            if info.filename in infos:
                raise _Fail(info.filename, "appears twice in the archive")
            infos[info.filename] = info
        if MANIFEST not in infos:
            raise _Fail(MANIFEST, "missing")
        if infos[MANIFEST].file_size > MAX_MANIFEST_BYTES:
            raise _Fail(MANIFEST, f"larger than {MAX_MANIFEST_BYTES} bytes")
        raw = self._read(archive, MANIFEST, MAX_MANIFEST_BYTES)
        manifest = _parse_manifest(raw)

        entries = _parse_chain(manifest["chain"])
        _check_entries(entries, manifest["head"])
        self.entries, self.head = len(entries), entries[-1].hash
        _check_case(manifest["case"], entries)
        items = _check_items(manifest["items"], entries)
        self.items = len(items)

        found: dict[str, tuple[str, int]] = {}
        for item in items:
            if item.path not in found:
                if item.path not in infos:
                    raise _Fail(
                        MANIFEST, f"items[{item.position}].path: {item.path} is not in the bundle"
                    )
                found[item.path] = self._digest(archive, item.path)
            digest, size = found[item.path]
            if size != item.size:
                raise _Fail(
                    item.path,
                    f"size mismatch: {size} bytes, chain entry {item.sequence} says {item.size}",
                )
            if digest != item.sha256:
                raise _Fail(
                    item.path,
                    f"sha256 mismatch: {digest}, chain entry {item.sequence} says {item.sha256}",
                )
        self.files = len(found)

        for name, info in infos.items():
            if name in (MANIFEST, INDEX) or name in found:
                continue
            if name.endswith("/") and info.file_size == 0:
                continue  # a directory entry (added when someone re-zips the bundle)
            raise _Fail(name, "not listed in the manifest")

        if INDEX not in infos:
            raise _Fail(INDEX, "missing")
        if not is_sha256_hex(manifest["index_sha256"]):
            raise _Fail(MANIFEST, "index_sha256: not 64 lower-case hex characters")
        if self._digest(archive, INDEX)[0] != manifest["index_sha256"]:
            raise _Fail(INDEX, "sha256 does not match index_sha256 in manifest.json")

        _check_layout(raw, manifest)

    def _read(self, archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
        try:
            with archive.open(name) as member:
                data: bytes = member.read(limit + 1)
        except ZIP_ERRORS as exc:
            raise _Fail(name, f"damaged in the archive ({exc})") from None
        if len(data) > limit:
            raise _Fail(name, f"larger than {limit} bytes")
        return data

    def _digest(self, archive: zipfile.ZipFile, name: str) -> tuple[str, int]:
        digest = hashlib.sha256()
        size = 0
        try:
            with archive.open(name) as member:
                while chunk := member.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
        except ZIP_ERRORS as exc:
            raise _Fail(name, f"damaged in the archive ({exc})") from None
        return digest.hexdigest(), size


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _parse_manifest(raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Fail(MANIFEST, f"not valid UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise _Fail(
            MANIFEST, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except _DuplicateKey as exc:
        raise _Fail(
            MANIFEST, f"not valid: key {_short(str(exc))} appears twice in an object"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise _Fail(MANIFEST, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise _Fail(MANIFEST, "not a JSON object")
    if "format" not in data:
        raise _Fail(MANIFEST, "missing field 'format'")
    if data["format"] != FORMAT:
        raise _Fail(MANIFEST, f"format: {_short(data['format'])} is not {FORMAT!r}")
    for key in _MANIFEST_FIELDS:
        if key not in data:
            raise _Fail(MANIFEST, f"missing field {key!r}")
    for key in data:
        if key not in _MANIFEST_FIELDS:
            raise _Fail(MANIFEST, f"unexpected field {_short(key)}")
    return data


def _parse_chain(raw: object) -> list[ChainEntry]:
    if not isinstance(raw, list):
        raise _Fail(MANIFEST, "chain: must be a list")
    entries = []
    for position, data in enumerate(raw, start=1):
        try:
            entries.append(ChainEntry.from_dict(data))
        except ValueError as exc:
            raise _Fail(MANIFEST, f"chain entry {position}: {exc}") from None
    return entries


def _check_layout(raw: bytes, manifest: Mapping[str, Any]) -> None:
    try:
        expected = _dump_manifest(manifest)
    except (ValueError, UnicodeEncodeError) as exc:
        raise _Fail(MANIFEST, f"not representable ({exc})") from None
    if expected == raw:
        return
    have, want = raw.split(b"\n"), expected.split(b"\n")
    line = next(
        (i for i, (a, b) in enumerate(zip(have, want, strict=False)) if a != b),
        min(len(have), len(want)),
    )
    raise _Fail(MANIFEST, f"line {line + 1}: not in the layout odr writes (same data, other bytes)")


# --- command line ----------------------------------------------------------------------------


def main_verify(argv: Sequence[str] | None = None) -> int:
    """``odr verify-bundle FILE.zip`` (``argv`` without the program name): prints ``OK`` with the
    counts and the chain head, or ``FAILED`` and the first problem. Exit status 0 when the
    bundle verifies, 1 when it does not, 2 when the file cannot be read (or bad arguments)."""
    parser = argparse.ArgumentParser(
        prog="odr verify-bundle",
        description="Check an evidence export bundle offline: every file's hash, the manifest "
        "and the case's hash chain.",
    )
    parser.add_argument("bundle", help="the exported .zip file")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    try:
        report = verify_bundle(args.bundle)
    except OSError as exc:
        print(
            f"odr verify-bundle: cannot read {args.bundle}: {exc.strerror or exc}", file=sys.stderr
        )
        return 2
    if report.ok:
        print(
            f"OK {args.bundle}: {report.files} files, {report.items} items, "
            f"{report.entries} chain entries; head {report.head}"
        )
        return 0
    print(f"FAILED {args.bundle}: {report.problem}")
    return 1
