"""PDF documents (agreements, closing reports, referral letters) with reportlab.

Text is set in ODR Serif SC (``odr/data/fonts``: Noto Serif CJK SC under the SIL Open Font
License, cut down to GB 2312 with Latin, punctuation and symbols, with TrueType outlines;
docs/pdf-font.md says how it is made), embedded as a subset in every document, so a document
reads the same in every reader and its text stays extractable. A rare character the font
lacks (a name outside GB 2312) is set in reportlab's CID font ``STSong-Light`` rather than
shown as a box. Every page carries the document's footer (case number and hash) and
"Page 1 of 3"; a heading is never left alone at the foot of a page.

Documents are a flat list of blocks; `render_pdf` is CPU work: call it through
`asyncio.to_thread` from the event loop.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any
from xml.sax.saxutils import escape

from odr.i18n import LANGUAGES, N_, NC_, translate, translate_in

FONT = "ODRSerifSC"
FONT_FILE = "ODRSerifSC-Regular.ttf"
#: For the characters ODR Serif SC lacks: a font every PDF reader supplies (not embedded).
FALLBACK_FONT = "STSong-Light"

#: The catalogue context of the texts of every PDF.
CONTEXT = "pdf"
PAGE_OF = NC_("pdf", "Page %(page)s of %(pages)s")
#: The footer's name for the head of the case's hash chain (`odr.domain.case_chain`).
RECORD_HASH = NC_("pdf", "Case record fingerprint")
#: The PDFs' author: the platform, named as the pages name it.
PLATFORM = N_("ODR · Insurance dispute resolution")


@dataclass(frozen=True, slots=True)
class Heading:
    text: str


@dataclass(frozen=True, slots=True)
class Text:
    """Paragraphs: one per line of ``text`` (blank lines leave a gap)."""

    text: str
    small: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    rows: Sequence[Sequence[str]]
    header: bool = True
    widths: Sequence[float] = field(default_factory=tuple)  # fractions of the width


Block = Heading | Text | Table


def font_path() -> str:
    return str(resources.files("odr") / "data" / "fonts" / FONT_FILE)


@cache
def covered() -> frozenset[int]:
    """Register the fonts once; the code points ODR Serif SC has glyphs for."""
    from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont  # type: ignore[import-untyped]
    from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]

    font = TTFont(FONT, font_path())
    pdfmetrics.registerFont(font)
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
    return frozenset(font.face.charToGlyph)


def markup(text: str) -> str:
    """``text`` as paragraph markup: escaped, runs of characters the font lacks set in the
    fallback font."""
    have = covered()
    out: list[str] = []
    run: list[str] = []
    for ch in text:
        if ord(ch) in have or ch in "\t\n\r":
            if run:
                out.append(f'<font name="{FALLBACK_FONT}">{escape("".join(run))}</font>')
                run = []
            out.append(escape(ch))
        else:
            run.append(ch)
    if run:
        out.append(f'<font name="{FALLBACK_FONT}">{escape("".join(run))}</font>')
    return "".join(out)


@cache
def _styles() -> dict[str, object]:
    from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]

    covered()
    base = {"fontName": FONT, "wordWrap": "CJK"}
    return {
        "title": ParagraphStyle(
            "title", fontSize=18, leading=26, alignment=1, keepWithNext=1, **base
        ),
        "subtitle": ParagraphStyle(
            # small enough for a case number and a whole SHA-256 on one line
            "subtitle",
            fontSize=8.5,
            leading=13,
            alignment=1,
            keepWithNext=1,
            **base,
        ),
        "heading": ParagraphStyle(
            "heading", fontSize=13, leading=20, spaceBefore=10, spaceAfter=4, keepWithNext=1, **base
        ),
        "body": ParagraphStyle("body", fontSize=10.5, leading=16, **base),
        "small": ParagraphStyle("small", fontSize=8, leading=11, **base),
        "cell": ParagraphStyle("cell", fontSize=8.5, leading=12, **base),
    }


def _para(text: str, style: object) -> object:
    from reportlab.platypus import Paragraph  # type: ignore[import-untyped]

    return Paragraph(markup(text) or "&nbsp;", style)


def page_label(page: int, pages: int, lang: str | None) -> str:
    """``第 1 页 共 3 页`` / ``Page 1 of 3``; without a language, both (letters are in both)."""
    langs = LANGUAGES if lang is None else (lang,)
    return " / ".join(translate_in(one, CONTEXT, PAGE_OF, page=page, pages=pages) for one in langs)


def record_hash(lang: str | None, head: str | None) -> str:
    """``Case record fingerprint 3f…`` for a footer; without a language, named in every language."""
    langs = LANGUAGES if lang is None else (lang,)
    label = " / ".join(translate_in(one, CONTEXT, RECORD_HASH) for one in langs)
    return f"{label} {head or '-'}"


def platform_name(lang: str | None) -> str:
    langs = LANGUAGES if lang is None else (lang,)
    return " / ".join(dict.fromkeys(translate(one, PLATFORM) for one in langs))


FOOTER_SIZE = 7


def render_pdf(
    title: str,
    blocks: Sequence[Block],
    *,
    lang: str | None,
    subtitle: str = "",
    footer: str = "",
) -> bytes:
    """An A4 PDF of ``blocks`` under ``title`` in ``lang`` (None: a letter in every
    language); every page carries ``footer`` and "Page n of N". Its metadata: the title, the
    platform as author, the creation date."""
    from reportlab.lib import colors  # type: ignore[import-untyped]
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
    from reportlab.lib.units import mm  # type: ignore[import-untyped]
    from reportlab.pdfbase.pdfmetrics import stringWidth  # type: ignore[import-untyped]
    from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]
    from reportlab.platypus import SimpleDocTemplate, Spacer
    from reportlab.platypus import Table as RLTable

    styles = _styles()
    buffer = io.BytesIO()
    margin = 18 * mm
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=title,
        author=platform_name(lang),
        creator=platform_name(lang),
        subject=subtitle or title,
    )
    story: list[object] = [_para(title, styles["title"])]
    if subtitle:
        story.append(_para(subtitle, styles["subtitle"]))
    story.append(Spacer(1, 6 * mm))
    for block in blocks:
        if isinstance(block, Heading):
            story.append(_para(block.text, styles["heading"]))
        elif isinstance(block, Text):
            style = styles["small" if block.small else "body"]
            for line in block.text.split("\n"):
                story.append(_para(line, style) if line.strip() else Spacer(1, 3 * mm))
        else:
            if not block.rows:
                continue
            width = doc.width
            columns = max(len(r) for r in block.rows)
            fractions = list(block.widths) or [1 / columns] * columns
            table = RLTable(
                [[_para(str(c), styles["cell"]) for c in row] for row in block.rows],
                colWidths=[f * width for f in fractions],
                repeatRows=1 if block.header else 0,
            )
            commands = [
                ("FONTNAME", (0, 0), (-1, -1), FONT),  # the table's own default: Helvetica
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
            if block.header:
                commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")))
            table.setStyle(commands)
            story.append(table)
            story.append(Spacer(1, 3 * mm))

    page_width = A4[0]

    class NumberedCanvas(Canvas):  # type: ignore[misc]
        """Keeps each page until the last, so that every footer can say how many there are."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            # the embedded font from the start: no reader-supplied Helvetica in the file
            kwargs["initialFontName"] = FONT
            kwargs.setdefault("lang", "en" if lang == "en" else "zh-CN")
            super().__init__(*args, **kwargs)
            self._kept: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._kept.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            pages = len(self._kept)
            for state in self._kept:
                self.__dict__.update(state)
                self._footer(pages)
                super().showPage()
            super().save()

        def _footer(self, pages: int) -> None:
            label = page_label(self._pageNumber, pages, lang)
            self.saveState()
            self.setFont(FONT, FOOTER_SIZE)
            self.setStrokeColor(colors.grey)
            self.setLineWidth(0.4)
            self.line(margin, 13 * mm, page_width - margin, 13 * mm)
            left = stringWidth(footer, FONT, FOOTER_SIZE)
            right = stringWidth(label, FONT, FOOTER_SIZE)
            # the page number to the right of the footer, or under it when both do not fit
            self.drawRightString(page_width - margin, 9.5 * mm, label)
            y = 9.5 * mm if left + right + 4 * mm < page_width - 2 * margin else 6 * mm
            self.drawString(margin, y, footer)
            self.restoreState()

    doc.build(story, canvasmaker=NumberedCanvas)
    return buffer.getvalue()
