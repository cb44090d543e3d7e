from __future__ import annotations

import pytest

from odr.domain.filenames import MAX_CHARS, sanitise_filename


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("C:\\Windows\\x.exe", "x.exe"),
        ("/var/www/../x.pdf", "x.pdf"),
        ("C:x.exe", "C_x.exe"),
        ("..", "file"),
        ("...", "file"),
        (".htaccess", "htaccess"),
        ("photo.jpg.", "photo.jpg"),
        ("", "file"),
        ("   ", "file"),
        ("a/", "file"),
        ("保单 第二页.pdf", "保单 第二页.pdf"),
        ("理赔\u3000\u3000材料\t清单.docx", "理赔 材料 清单.docx"),
        ('what?<are>"these"|*.txt', "what__are__these___.txt"),
        ("合同.第二版", "合同.第二版"),
    ],
)
def test_names_lose_directories_and_dangerous_characters(name: str, expected: str) -> None:
    assert sanitise_filename(name) == expected


def test_nul_and_control_characters_are_removed() -> None:
    assert sanitise_filename("report\x00.pdf") == "report.pdf"
    assert sanitise_filename("evil.pdf\x00.exe") == "evil.pdf.exe"
    assert sanitise_filename("line\nbreak\r\n.txt") == "line break.txt"
    assert sanitise_filename("bell\x07\x1b[31m.txt") == "bell[31m.txt"


def test_bidi_overrides_and_invisible_characters_are_removed() -> None:
    # "invoice‮fdp.exe" shows as "invoiceexe.pdf" in a right-to-left override
    assert sanitise_filename("invoice\u202efdp.exe") == "invoicefdp.exe"
    assert sanitise_filename("a\u2066b\u2069c\u200bd\ufeff.txt") == "abcd.txt"
    assert sanitise_filename("x\u200f\u061c.pdf") == "x.pdf"


def test_the_sniffed_extension_replaces_the_given_one() -> None:
    assert sanitise_filename("x.exe", extension="pdf") == "x.pdf"
    assert sanitise_filename("C:\\Windows\\x.exe", extension=".PDF") == "x.pdf"
    assert sanitise_filename("录音", extension="mp3") == "录音.mp3"
    assert sanitise_filename("", extension="pdf") == "file.pdf"
    assert sanitise_filename("../..", extension="pdf") == "file.pdf"
    assert sanitise_filename("合同.第二版", extension="docx") == "合同.第二版.docx"
    with pytest.raises(ValueError):
        sanitise_filename("x", extension="p/df")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("CON.txt", "_CON.txt"),
        ("con", "_con"),
        ("Nul.tar.gz", "_Nul.tar.gz"),
        ("COM1.pdf", "_COM1.pdf"),
        ("lpt9", "_lpt9"),
        ("COM¹.txt", "_COM¹.txt"),
        ("CON .txt", "_CON.txt"),
        ("CONTRACT.pdf", "CONTRACT.pdf"),
        ("console.log", "console.log"),
    ],
)
def test_reserved_windows_names_are_defused(name: str, expected: str) -> None:
    assert sanitise_filename(name) == expected


def test_long_chinese_names_are_cut_keeping_the_extension() -> None:
    name = "保" * 300 + ".pdf"
    safe = sanitise_filename(name)
    assert len(safe) == MAX_CHARS
    assert safe == "保" * (MAX_CHARS - 4) + ".pdf"
    assert sanitise_filename("保" * 300, extension="docx") == "保" * (MAX_CHARS - 5) + ".docx"
    assert len(sanitise_filename("a" * 300)) == MAX_CHARS


def test_a_byte_limit_can_be_asked_for() -> None:
    safe = sanitise_filename("保" * 300 + ".pdf", max_bytes=150)
    assert len(safe.encode()) <= 150 and safe.endswith(".pdf")
    assert safe == "保" * 48 + ".pdf"


def test_the_result_is_already_safe() -> None:
    for name in ["../../etc/passwd", "CON.txt", "保" * 300 + ".pdf", "a\u202eb.exe", ". x ."]:
        safe = sanitise_filename(name, extension="pdf")
        assert sanitise_filename(safe, extension="pdf") == safe
        assert safe and "/" not in safe and "\\" not in safe and not safe.startswith(".")
