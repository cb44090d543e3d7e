"""The PDFs a court receives: the agreement and the closing report, in both languages, embed
every font they use, render, keep every character of their source text, number their pages,
carry the case number and the hash on every page, and never leave a heading alone at the
foot of a page."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from odr.services import outcome_documents, pdf, reports
from tests.conftest import IN_CI
from tests.unit.test_catalogue_texts import SHA, ZONE, agreement_data, report_data

LANGS = ("zh-CN", "en")
#: Names, Chinese sentences and the punctuation that used to print as boxes.
SOURCE = "王芳·欧阳 — 安康人寿“理赔”《保险法》第二十三条：核定应当及时；3,200.50 元！"
PO = Path(__file__).resolve().parents[2] / "odr/translations/zh_CN/LC_MESSAGES/messages.po"


def tool(name: str) -> str:
    """A poppler-utils command; missing outside CI, the test is skipped and says why."""
    found = shutil.which(name)
    if found is None:
        if IN_CI:
            pytest.fail(f"{name} (poppler-utils) is required in CI: .ci/run installs it")
        pytest.skip(f"{name} not installed: apt-get install poppler-utils to run this test")
    return found


def pages(data: bytes) -> list[str]:
    return [p.extract_text() for p in PdfReader(io.BytesIO(data)).pages]


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def agreement(lang: str) -> bytes:
    data = agreement_data(lang, confidential=False)
    text = data["agreement"]["text"].split("\n")
    data["agreement"]["text"] = "\n".join([text[0], SOURCE, *text[1:]])
    return outcome_documents.agreement_pdf("ODR-2026-000123", data, ZONE)


def report(lang: str, events: int = 60) -> bytes:
    data = report_data()
    data["parties"]["consumer"] = "王芳·欧阳"
    data["outcome"]["not_settled_reason"] = SOURCE
    data["timeline"] = [
        {**data["timeline"][n % len(data["timeline"])], "sequence": 2 * n + 1}
        for n in range(events)
    ]
    return reports.report_pdf(data, lang, ZONE)


DOCUMENTS = [
    pytest.param(make, lang, id=f"{make.__name__}-{lang}")
    for make in (agreement, report)
    for lang in LANGS
]


@pytest.mark.parametrize(("make", "lang"), DOCUMENTS)
def test_every_font_is_embedded_and_page_one_renders(make: Any, lang: str, tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(make(lang))
    listing = subprocess.run(
        [tool("pdffonts"), str(path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    fonts = listing[2:]  # under the two header lines
    assert fonts, listing
    for line in fonts:
        emb, sub = line.split()[-5:-3]
        assert (emb, sub) == ("yes", "yes"), line
    page_one = ["-r", "40", "-png", "-f", "1", "-l", "1"]
    subprocess.run(
        [tool("pdftoppm"), *page_one, str(path), str(tmp_path / "p")],
        check=True,
        capture_output=True,
    )
    [png] = tmp_path.glob("p-*.png")
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 2000


@pytest.mark.parametrize(("make", "lang"), DOCUMENTS)
def test_the_text_keeps_every_character_and_every_page_says_where_it_belongs(
    make: Any, lang: str
) -> None:
    data = make(lang)
    texts = pages(data)
    assert flat(SOURCE) in flat("".join(texts))  # no character lost or replaced
    pdf_lang = "第 %d 页 共 %d 页" if lang == "zh-CN" else "Page %d of %d"
    for number, text in enumerate(texts, 1):
        assert pdf_lang % (number, len(texts)) in text, text
        assert "ODR-2026-000123" in text and SHA in flat(text)
    info = PdfReader(io.BytesIO(data)).metadata
    assert info is not None
    title = "调解协议书" if make is agreement else "结案报告"
    if lang == "en":
        title = "Mediation agreement" if make is agreement else "Closing report"
    assert info.title == title
    assert info.author == ("ODR · 保险纠纷在线调解" if lang == "zh-CN" else pdf.PLATFORM)
    created = info.creation_date
    assert created is not None and abs(created - datetime.now(UTC)).total_seconds() < 600


def test_the_closing_report_runs_over_pages_with_its_rows_numbered_as_shown() -> None:
    texts = pages(report("zh-CN", events=120))
    assert len(texts) >= 3
    data = report_data()
    data["timeline"] = [{**e, "sequence": 2 * e["sequence"]} for e in data["timeline"]]
    data["evidence"] = [{**data["evidence"][0], "sequence": s} for s in (3, 9, 10)]
    _, _, blocks = reports.report_blocks(data, "zh-CN", ZONE)
    tables = [b for b in blocks if isinstance(b, pdf.Table)]
    timeline = next(t for t in tables if len(t.rows) == len(data["timeline"]) + 1)
    evidence = next(t for t in tables if len(t.rows) == 4 and t.rows[0][-1] == "SHA-256")
    # what the report does not show (a hidden item, a private event) leaves no gap
    assert [r[0] for r in timeline.rows[1:]] == [str(n) for n in range(1, len(timeline.rows))]
    assert [r[0] for r in evidence.rows[1:]] == ["1", "2", "3"]


@pytest.mark.parametrize("filler", range(38, 50, 2))
def test_a_heading_stays_with_its_table(filler: int) -> None:
    """Whatever text comes before, the heading lands on the page of its table's first row."""
    blocks: list[Any] = [pdf.Text("\n".join(f"第{n}行" for n in range(filler)))]
    blocks += [pdf.Heading("签署记录"), pdf.Table([["签署方", "时间"], ["消费者", "首行"]])]
    texts = pages(pdf.render_pdf("标题", blocks, lang="zh-CN", footer="ODR-1"))
    [page] = [t for t in texts if "签署记录" in t]
    assert "首行" in page, texts


def test_a_character_outside_the_embedded_font_still_prints() -> None:
    """A rare name (beyond GB 2312) falls back to the reader's Song font, not to a box."""
    rare = "张喆堃"
    assert not {ord(c) for c in rare[1:]} & pdf.covered()
    text = "".join(pages(pdf.render_pdf(rare, [pdf.Text(rare)], lang="zh-CN")))
    assert text.count(rare) == 2


def test_the_font_covers_every_chinese_text_of_the_catalogue() -> None:
    strings = re.findall(r'^msgstr "(.*)"$|^"(.*)"$', PO.read_text(), re.M)
    chars = {c for a, b in strings for c in (a or b) if not c.isspace() and c != "\\"}
    missing = sorted(c for c in chars if ord(c) not in pdf.covered())
    assert missing == [], f"add these to tools/make_pdf_font.py: {missing}"
