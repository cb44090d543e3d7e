from __future__ import annotations

import io
import random
import struct
import wave
import zipfile
import zlib
from pathlib import Path

import pytest

from odr.domain.sniffing import (
    ALLOWED,
    DOCX,
    HEAD_BYTES,
    JPEG,
    M4A,
    MP3,
    MP4,
    PDF,
    PNG,
    TEXT,
    TEXT_GB18030,
    WAV,
    WEBM,
    WEBP,
    by_mime,
    confirm_docx,
    mpeg_frame_length,
    sniff,
)

# --- real minimal files ----------------------------------------------------------------------


def png_file() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def jpeg_file() -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def pdf_file() -> bytes:
    return (
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )


def riff_file(form: bytes, first_chunk: bytes) -> bytes:
    body = form + first_chunk
    return b"RIFF" + struct.pack("<I", len(body)) + body


def webp_file() -> bytes:
    vp8l = b"\x2f\x00\x00\x00\x00\x88\x88\x08"
    return riff_file(b"WEBP", b"VP8L" + struct.pack("<I", len(vp8l)) + vp8l)


def wav_file() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 800)
    return out.getvalue()


MP3_HEADER = b"\xff\xfb\x90\x64"  # MPEG 1 layer III, 128 kbit/s, 44.1 kHz: 417-byte frames


def mp3_frames(count: int = 3) -> bytes:
    return (MP3_HEADER + b"\x00" * 413) * count


def id3_file() -> bytes:
    return b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10 + mp3_frames(1)


def ftyp_file(major: bytes, *compatible: bytes) -> bytes:
    brands = b"".join(compatible)
    box = struct.pack(">I", 16 + len(brands)) + b"ftyp" + major + b"\x00\x00\x02\x00" + brands
    return box + struct.pack(">I", 8) + b"free" + struct.pack(">I", 8) + b"mdat"


def ebml_file(doctype: bytes) -> bytes:
    children = (
        b"\x42\x86\x81\x01"  # EBMLVersion 1
        + b"\x42\xf7\x81\x01"  # EBMLReadVersion 1
        + b"\x42\x82"
        + bytes([0x80 | len(doctype)])
        + doctype
        + b"\x42\x87\x81\x04"  # DocTypeVersion 4
    )
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(children)]) + children + b"\x18\x53\x80\x67"


CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Override PartName="/word/document.xml" ContentType="'
    '{main}"/></Types>'
)
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
DOCM_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"


def zip_file(parts: dict[str, str | bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def docx_file(main: str = DOCX_MAIN, *, content_types_last: bool = False) -> bytes:
    parts: dict[str, str | bytes] = {
        "_rels/.rels": "<Relationships/>",
        "docProps/core.xml": "<coreProperties/>",
        "word/document.xml": "<w:document><w:body><w:p>保单</w:p></w:body></w:document>",
    }
    types = {"[Content_Types].xml": CONTENT_TYPES.format(main=main)}
    return zip_file({**parts, **types} if content_types_last else {**types, **parts})


# --- allowed types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (pdf_file(), PDF),
        (png_file(), PNG),
        (jpeg_file(), JPEG),
        (webp_file(), WEBP),
        (wav_file(), WAV),
        (mp3_frames(), MP3),
        (mp3_frames(1), MP3),
        (id3_file(), MP3),
        (ftyp_file(b"M4A ", b"M4A ", b"mp42", b"isom"), M4A),
        (ftyp_file(b"M4B ", b"M4B "), M4A),
        (ftyp_file(b"isom", b"isom", b"iso2", b"avc1", b"mp41"), MP4),
        (ftyp_file(b"mp42", b"mp42", b"isom"), MP4),
        (ebml_file(b"webm"), WEBM),
        (docx_file(), DOCX),
        (docx_file(content_types_last=True), DOCX),
    ],
)
def test_allowed_files_are_recognised_from_their_bytes(data: bytes, expected: object) -> None:
    assert sniff(data) == expected


def test_each_type_says_its_extension_and_the_kind_it_suggests() -> None:
    table = {m.mime: (m.extension, m.kind) for m in ALLOWED}
    assert table["application/pdf"] == ("pdf", "document")
    assert table["image/jpeg"] == ("jpg", "image")
    assert table["audio/mp4"] == ("m4a", "audio")
    assert table["video/webm"] == ("webm", "video")
    assert by_mime("application/pdf") is PDF and by_mime("application/x-msdownload") is None
    assert [m for m in ALLOWED if m.provisional] == [DOCX]


def test_only_the_head_is_looked_at() -> None:
    assert sniff(pdf_file() + b"MZ" * HEAD_BYTES) == PDF
    assert sniff(b"a" * HEAD_BYTES + b"\x00" * 100) == TEXT


# --- DOCX ------------------------------------------------------------------------------------


def test_a_docx_is_confirmed_on_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "contract.docx"
    path.write_bytes(docx_file())
    assert confirm_docx(path)
    assert confirm_docx(str(path))
    assert confirm_docx(io.BytesIO(docx_file(content_types_last=True)))


def test_zips_that_are_not_word_documents_are_refused() -> None:
    assert sniff(zip_file({"readme.txt": "hello", "evil.exe": b"MZ"})) is None
    xlsx = zip_file({"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>"})
    assert sniff(xlsx) is None
    # looks like Office from the head, but the whole file says otherwise
    docm = docx_file(DOCM_MAIN)
    assert sniff(docm) == DOCX and not confirm_docx(io.BytesIO(docm))
    fake = zip_file({"word/readme.txt": "not a document"})
    assert sniff(fake) == DOCX and not confirm_docx(io.BytesIO(fake))
    with_macros = zip_file(
        {
            "[Content_Types].xml": CONTENT_TYPES.format(main=DOCX_MAIN),
            "word/document.xml": "<w:document/>",
            "word/vbaProject.bin": b"\xd0\xcf\x11\xe0",
        }
    )
    assert not confirm_docx(io.BytesIO(with_macros))
    assert not confirm_docx(io.BytesIO(docx_file()[:200]))
    assert not confirm_docx(io.BytesIO(b"not a zip at all"))


# --- refused ---------------------------------------------------------------------------------

PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 44 + b"\x80\x00\x00\x00"


@pytest.mark.parametrize(
    "data",
    [
        PE + b"\x00" * 64 + b"PE\x00\x00",
        b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56,
        b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + b"\x00" * 24,
        b"\xca\xfe\xba\xbe\x00\x00\x00\x02",
        b"#!/bin/sh\nrm -rf /\n",
        b"#!/usr/bin/env python3\nprint('hi')\n",
    ],
    ids=["exe", "elf", "macho", "fat", "sh", "python"],
)
def test_executables_and_scripts_are_refused(data: bytes) -> None:
    assert sniff(data) is None


def test_an_executable_renamed_pdf_is_refused() -> None:
    # the name is never looked at: only the bytes, and these are a Windows executable
    assert sniff(PE + b"%PDF-1.7\n") is None


@pytest.mark.parametrize(
    "data",
    [
        ftyp_file(b"qt  ", b"qt  "),  # QuickTime
        ftyp_file(b"heic", b"mif1", b"heic"),  # HEIC image
        ftyp_file(b"3gp4", b"3gp4"),
        ebml_file(b"matroska"),
        b"RIFF\x24\x00\x00\x00AVI LIST",
        b"GIF89a\x01\x00\x01\x00",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,  # old .doc / .xls
        b"Rar!\x1a\x07\x00",
        b"7z\xbc\xaf\x27\x1c",
        b"\x1f\x8b\x08\x00",
        b"%PDF-\x00\x01\x02\x03",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIDAT",
        b"\xff\xfb\x90\x64" + b"\x00" * 413 + b"garbage!",  # one MP3 frame then not a frame
        b"\xff\xf1\x50\x80\x00\x1f\xfc",  # AAC ADTS, not layer III
        b"",
    ],
)
def test_other_formats_are_refused(data: bytes) -> None:
    assert sniff(data) is None


def test_binary_garbage_is_refused() -> None:
    rng = random.Random(12378)
    for _ in range(200):
        assert sniff(bytes(rng.randrange(256) for _ in range(512))) is None


def test_mpeg_frame_lengths() -> None:
    assert mpeg_frame_length(MP3_HEADER) == 417
    assert mpeg_frame_length(b"\xff\xfb\x92\x64") == 418  # padded
    assert mpeg_frame_length(b"\xff\xf3\x80\xc4") == 208  # MPEG 2, 64 kbit/s, 22.05 kHz
    assert mpeg_frame_length(b"\xff\xfb\xf0\x64") is None  # bad bit rate
    assert mpeg_frame_length(b"\xff\xfb\x9c\x64") is None  # reserved sample rate
    assert mpeg_frame_length(b"\xff\xfd\x90\x64") is None  # layer II


# --- plain text ------------------------------------------------------------------------------


def test_chinese_text_is_plain_text() -> None:
    complaint = "投诉：保险公司拒绝理赔，理由是“既往症”。\n金额 3,200.00 元 < 保额。\n"
    assert sniff(complaint.encode()) == TEXT
    assert sniff(b"\xef\xbb\xbf" + complaint.encode()) == TEXT
    assert sniff(b"plain ASCII\r\nwith tabs\tand form feeds\f") == TEXT
    assert sniff("I <3 this; 价格 < 100 元".encode()) == TEXT


def test_a_multibyte_character_cut_by_the_head_is_tolerated() -> None:
    text = ("理赔被拒" * 2000).encode()
    assert len(text) > HEAD_BYTES and HEAD_BYTES % 3
    assert sniff(text) == TEXT


def test_chinese_text_saved_as_gb18030_is_plain_text_with_its_charset() -> None:
    complaint = "投诉：保险公司拒绝理赔。\r\n联系电话见附件。\r\n".encode("gb18030")
    assert sniff(complaint) == TEXT_GB18030
    assert TEXT_GB18030.mime == "text/plain; charset=gb18030"


@pytest.mark.parametrize(
    "text",
    [
        "<!DOCTYPE html><html><body>hi</body></html>",
        "  \n<html><script>alert(1)</script></html>",
        '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        '<?xml version="1.0"?><svg><script>alert(1)</script></svg>',
        "<script>alert(1)</script>",
        "<!-- comment -->",
        "\ufeff<a href='javascript:alert(1)'>x</a>",
        "投诉内容\n<iframe src=//evil.example></iframe>",
        "看这里 javascript:alert(1)",
        "%!PS-Adobe-3.0\n",
        "{\\rtf1\\ansi hello}",
    ],
)
def test_markup_and_scripts_do_not_pass_as_text(text: str) -> None:
    assert sniff(text.encode()) is None


@pytest.mark.parametrize(
    "data",
    [
        "投诉".encode("utf-16"),  # NULs
        b"hello\x00world",
        b"text" + b"\x01\x02\x03\x04" * 10,
        b"\x80\x81\xfe\xff not any text",
        "ascii but no chinese \x80".encode("latin-1"),
    ],
)
def test_text_that_is_not_clean_text_is_refused(data: bytes) -> None:
    assert sniff(data) is None
