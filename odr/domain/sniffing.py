"""What an uploaded file really is, from its first bytes, against the evidence allow-list.

The name and the declared type of an upload are never trusted: `sniff` looks at the first
`HEAD_BYTES` bytes and answers with one of the allowed `MediaType`s or None (refuse). Rules, in
the order they are tried:

- refused outright: Windows/DOS executables (``MZ``), ELF (``\\x7fELF``), Mach-O and fat
  binaries (``FE ED FA CE/CF``, ``CE/CF FA ED FE``, ``CA FE BA BE``), scripts (``#!``);
- PDF: ``%PDF-`` + digit + ``.`` + digit at offset 0 (no leading junk, although readers allow it);
- PNG: the 8-byte signature followed by the ``IHDR`` chunk;
- JPEG: ``FF D8 FF``;
- WebP: ``RIFF`` size ``WEBP``; WAV: ``RIFF`` size ``WAVE`` (RIFX and RF64 are refused);
- ISO BMFF (``ftyp`` box at offset 4): major brand ``M4A `` or ``M4B `` → audio/mp4 (.m4a);
  ``isom``, ``iso2``–``iso6``, ``mp41``, ``mp42``, ``avc1``, ``M4V ``, ``MSNV``, ``mmp4``,
  ``dash`` → video/mp4. Other brands (QuickTime ``qt  ``, 3GPP, HEIC/AVIF images) are refused.
  The brand is what the file says of itself: an audio-only file branded ``mp42`` is video/mp4;
- WebM: an EBML header (``1A 45 DF A3``) whose DocType element is ``webm`` (Matroska refused);
- DOCX: a ZIP local file header (``PK\\x03\\x04``) at offset 0 with, among the local header
  names found in the head, an Office Open XML part (``[Content_Types].xml``, ``_rels/.rels``,
  ``docProps/…``, ``word/…``) and no part of another Office application (``xl/``, ``ppt/``).
  Writers order parts differently (some put ``[Content_Types].xml`` last), so the head alone
  cannot settle it: the verdict is *provisional* and the caller must run `confirm_docx` on the
  whole file (the central directory has ``word/document.xml`` and ``[Content_Types].xml``
  declares a Word document, not a macro-enabled one);
- MP3: an ID3v2 tag header (``ID3``, version 2–4, sync-safe size), or an MPEG audio frame
  header (11-bit sync ``0xFFE``, MPEG 1/2/2.5, layer III, valid bit rate and sample rate) that,
  when the head reaches that far, is followed by a second valid frame header;
- plain text: no NUL byte; valid UTF-8 (a BOM is allowed) → ``text/plain; charset=utf-8``;
  otherwise valid GB18030 containing at least one CJK ideograph (Chinese text saved as "ANSI" on
  Windows) → ``text/plain; charset=gb18030``; control characters other than tab, line feed,
  carriage return, form feed and vertical tab at most 1% of the characters (a multi-byte
  character cut by the end of the head is tolerated). Text that is markup or a script in
  disguise is refused: it starts (after whitespace and a BOM) with ``<`` and a letter, ``!``,
  ``?`` or ``/`` (HTML, XML, SVG), mentions an active HTML element (``<script``, ``<iframe``,
  ``<svg``, …) in its first 1024 characters, or starts with ``#!``, ``%!`` (PostScript) or
  ``{\\rtf``. UTF-16 text has NULs and is refused; so is an empty file.

Everything else is refused.
"""

from __future__ import annotations

import codecs
import os
import re
import struct
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Literal

HEAD_BYTES = 4096

SuggestedKind = Literal["document", "image", "audio", "video"]


@dataclass(frozen=True, slots=True)
class MediaType:
    """An allowed type: the MIME type to serve it with, its canonical extension (no dot), and
    the evidence kind it suggests. ``provisional`` means the head alone cannot settle it."""

    mime: str
    extension: str
    kind: SuggestedKind
    provisional: bool = False


PDF = MediaType("application/pdf", "pdf", "document")
JPEG = MediaType("image/jpeg", "jpg", "image")
PNG = MediaType("image/png", "png", "image")
WEBP = MediaType("image/webp", "webp", "image")
MP3 = MediaType("audio/mpeg", "mp3", "audio")
M4A = MediaType("audio/mp4", "m4a", "audio")
WAV = MediaType("audio/wav", "wav", "audio")
MP4 = MediaType("video/mp4", "mp4", "video")
WEBM = MediaType("video/webm", "webm", "video")
TEXT = MediaType("text/plain; charset=utf-8", "txt", "document")
TEXT_GB18030 = MediaType("text/plain; charset=gb18030", "txt", "document")
DOCX = MediaType(
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "docx",
    "document",
    provisional=True,
)

ALLOWED: tuple[MediaType, ...] = (
    PDF,
    JPEG,
    PNG,
    WEBP,
    MP3,
    M4A,
    WAV,
    MP4,
    WEBM,
    TEXT,
    TEXT_GB18030,
    DOCX,
)
_BY_MIME = {media.mime: media for media in ALLOWED}


def by_mime(mime: str) -> MediaType | None:
    """The allowed type with exactly this MIME string, if any."""
    return _BY_MIME.get(mime)


def sniff(head: bytes) -> MediaType | None:
    """The allowed type of a file starting with ``head`` (its first `HEAD_BYTES` bytes, or the
    whole file when shorter), or None to refuse it. A `MediaType.provisional` answer (DOCX)
    must be confirmed on the whole file with `confirm_docx`."""
    head = bytes(head[:HEAD_BYTES])
    if not head or head.startswith(_EXECUTABLES):
        return None
    for check in _BINARY_CHECKS:
        found = check(head)
        if found is not None:
            return found
    return _sniff_text(head)


# --- executables -----------------------------------------------------------------------------

_EXECUTABLES = (
    b"MZ",  # DOS/Windows (PE) executables and DLLs
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",  # Mach-O 32-bit, big-endian
    b"\xfe\xed\xfa\xcf",  # Mach-O 64-bit, big-endian
    b"\xce\xfa\xed\xfe",  # Mach-O 32-bit, little-endian
    b"\xcf\xfa\xed\xfe",  # Mach-O 64-bit, little-endian
    b"\xca\xfe\xba\xbe",  # Mach-O fat binary (and Java class files)
    b"#!",  # scripts
)


# --- binary signatures -----------------------------------------------------------------------

_PDF = re.compile(rb"%PDF-\d\.\d")


def _pdf(head: bytes) -> MediaType | None:
    return PDF if _PDF.match(head) else None


def _png(head: bytes) -> MediaType | None:
    ok = head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR"
    return PNG if ok else None


def _jpeg(head: bytes) -> MediaType | None:
    return JPEG if head.startswith(b"\xff\xd8\xff") else None


def _riff(head: bytes) -> MediaType | None:
    if not head.startswith(b"RIFF") or len(head) < 12:
        return None
    return {b"WEBP": WEBP, b"WAVE": WAV}.get(head[8:12])


_MP4_AUDIO_BRANDS = frozenset({b"M4A ", b"M4B "})
_MP4_VIDEO_BRANDS = frozenset(
    {
        b"isom",
        b"iso2",
        b"iso3",
        b"iso4",
        b"iso5",
        b"iso6",
        b"mp41",
        b"mp42",
        b"avc1",
        b"M4V ",
        b"MSNV",
        b"mmp4",
        b"dash",
    }
)


def _iso_bmff(head: bytes) -> MediaType | None:
    if len(head) < 16 or head[4:8] != b"ftyp":
        return None
    size = int.from_bytes(head[0:4], "big")
    if size < 16 or size % 4:
        return None
    brand = head[8:12]
    if brand in _MP4_AUDIO_BRANDS:
        return M4A
    if brand in _MP4_VIDEO_BRANDS:
        return MP4
    return None


def _read_vint(data: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at ``pos``: (value, position after it)."""
    if pos >= len(data) or data[pos] == 0:
        return None
    first = data[pos]
    length = 9 - first.bit_length()
    if pos + length > len(data):
        return None
    value = first if keep_marker else first & ((1 << (8 - length)) - 1)
    for byte in data[pos + 1 : pos + length]:
        value = (value << 8) | byte
    return value, pos + length


_EBML_HEADER = 0x1A45DFA3
_EBML_DOCTYPE = 0x4282


def _webm(head: bytes) -> MediaType | None:
    if not head.startswith(b"\x1a\x45\xdf\xa3"):
        return None
    element = _read_vint(head, 0, keep_marker=True)
    size = element and _read_vint(head, element[1], keep_marker=False)
    if not element or not size or element[0] != _EBML_HEADER:
        return None
    pos, end = size[1], min(size[1] + size[0], len(head))
    while pos < end:
        child = _read_vint(head, pos, keep_marker=True)
        length = child and _read_vint(head, child[1], keep_marker=False)
        if not child or not length:
            return None
        start, pos = length[1], length[1] + length[0]
        if child[0] == _EBML_DOCTYPE:
            return WEBM if head[start:pos].rstrip(b"\x00") == b"webm" else None
    return None


_OOXML_PARTS = ("[Content_Types].xml", "_rels/.rels")
_OOXML_PREFIXES = ("docProps/", "word/")
_OTHER_OFFICE_PREFIXES = ("xl/", "ppt/", "visio/")


def _zip_names_in(head: bytes) -> list[str]:
    """Names of the ZIP local file headers found in ``head`` (by signature, so entries whose
    sizes are only in a trailing data descriptor do not stop the scan)."""
    names: list[str] = []
    pos = head.find(b"PK\x03\x04")
    while pos != -1 and pos + 30 <= len(head):
        length = int.from_bytes(head[pos + 26 : pos + 28], "little")
        raw = head[pos + 30 : pos + 30 + length]
        if len(raw) == length:
            names.append(raw.decode("utf-8", "replace"))
        pos = head.find(b"PK\x03\x04", pos + 4)
    return names


def _docx(head: bytes) -> MediaType | None:
    if not head.startswith(b"PK\x03\x04"):
        return None
    names = _zip_names_in(head)
    if any(name.startswith(_OTHER_OFFICE_PREFIXES) for name in names):
        return None
    ooxml = any(name in _OOXML_PARTS or name.startswith(_OOXML_PREFIXES) for name in names)
    return DOCX if ooxml else None


_ID3 = re.compile(rb"ID3[\x02-\x04][\x00-\xfe][\x00-\xff][\x00-\x7f]{4}")
_MPEG1_L3_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MPEG2_L3_KBPS = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def mpeg_frame_length(header: bytes) -> int | None:
    """The length in bytes of the MPEG layer III frame starting with ``header``, or None when
    those 4 bytes are not a valid layer III frame header (free-format bit rate refused)."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version = (header[1] >> 3) & 3  # 3: MPEG 1, 2: MPEG 2, 0: MPEG 2.5, 1: reserved
    layer = (header[1] >> 1) & 3  # 1: layer III
    bitrate_index = header[2] >> 4
    rate_index = (header[2] >> 2) & 3
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    if header[3] & 3 == 2:  # reserved emphasis
        return None
    padding = (header[2] >> 1) & 1
    rate = _SAMPLE_RATES[version][rate_index]
    if version == 3:
        return 144_000 * _MPEG1_L3_KBPS[bitrate_index] // rate + padding
    return 72_000 * _MPEG2_L3_KBPS[bitrate_index] // rate + padding


def _mp3(head: bytes) -> MediaType | None:
    if _ID3.match(head):
        return MP3
    length = mpeg_frame_length(head[:4])
    if length is None:
        return None
    if len(head) >= length + 4 and mpeg_frame_length(head[length : length + 4]) is None:
        return None
    return MP3


_BINARY_CHECKS = (_pdf, _png, _jpeg, _riff, _iso_bmff, _webm, _docx, _mp3)


# --- plain text ------------------------------------------------------------------------------

_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")
_MARKUP_START = re.compile(r"<\s*[A-Za-z!?/]")
_ACTIVE_MARKUP = re.compile(
    r"<\s*/?\s*(script|iframe|frame|object|embed|svg|html|body|head|meta|link|style|form|img"
    r"|math|base|!doctype|\?xml)\b|javascript:",
    re.IGNORECASE,
)
_DISGUISED_STARTS = ("#!", "%!", "{\\rtf")


def _decode(head: bytes, encoding: str) -> str | None:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        text: str = decoder.decode(head, final=False)
    except UnicodeDecodeError:
        return None
    return text


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in text)


def _sniff_text(head: bytes) -> MediaType | None:
    if b"\x00" in head:
        return None
    media = TEXT
    text = _decode(head, "utf-8-sig")
    if text is None:
        text = _decode(head, "gb18030")
        if text is None or not _has_cjk(text):
            return None
        media = TEXT_GB18030
    if not text.strip():
        return media if text else None
    controls = sum(
        1 for ch in text if ch not in _ALLOWED_CONTROLS and unicodedata.category(ch) == "Cc"
    )
    if controls * 100 > len(text):
        return None
    start = text.lstrip("\ufeff \t\r\n\f\v")
    if _MARKUP_START.match(start) or start.startswith(_DISGUISED_STARTS):
        return None
    if _ACTIVE_MARKUP.search(text[:1024]):
        return None
    return media


# --- DOCX confirmation -----------------------------------------------------------------------

_DOCX_MAIN = b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_MAX_CONTENT_TYPES = 1 << 20
#: What reading a damaged or hostile ZIP can raise (zipfile does not wrap them all).
ZIP_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    OverflowError,
    struct.error,
)


def confirm_docx(source: str | os.PathLike[str] | BinaryIO) -> bool:
    """True when the whole file (a path or a seekable binary file object) is a Word document:
    a readable ZIP whose central directory lists ``word/document.xml`` and
    ``[Content_Types].xml``, whose content types declare the main part as a Word document
    (so macro-enabled .docm is refused), and which holds no ``vbaProject.bin``."""
    try:
        with zipfile.ZipFile(source) as archive:
            names = archive.namelist()
            if "word/document.xml" not in names or "[Content_Types].xml" not in names:
                return False
            if any(name.lower().endswith("vbaproject.bin") for name in names):
                return False
            info = archive.getinfo("[Content_Types].xml")
            if info.file_size > _MAX_CONTENT_TYPES:
                return False
            with archive.open(info) as part:
                content_types = part.read(_MAX_CONTENT_TYPES + 1)
    except ZIP_ERRORS:
        return False
    return _DOCX_MAIN in content_types
