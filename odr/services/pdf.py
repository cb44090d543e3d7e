"""PDF documents (agreements, closing reports, referral letters) with reportlab.

Text is set in reportlab's built-in CID font ``STSong-Light`` (Adobe's Song, Simplified
Chinese, which also covers Latin), so no font file is needed and the text stays extractable.
Documents are a flat list of blocks; `render_pdf` is CPU work: call it through
`asyncio.to_thread` from the event loop.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

FONT = "STSong-Light"


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


@cache
def _styles() -> dict[str, object]:
    from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
    from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont  # type: ignore[import-untyped]

    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    base = {"fontName": FONT, "wordWrap": "CJK"}
    return {
        "title": ParagraphStyle("title", fontSize=18, leading=26, alignment=1, **base),
        "subtitle": ParagraphStyle("subtitle", fontSize=10, leading=14, alignment=1, **base),
        "heading": ParagraphStyle(
            "heading", fontSize=13, leading=20, spaceBefore=10, spaceAfter=4, **base
        ),
        "body": ParagraphStyle("body", fontSize=10.5, leading=16, **base),
        "small": ParagraphStyle("small", fontSize=8, leading=11, **base),
        "cell": ParagraphStyle("cell", fontSize=8.5, leading=12, **base),
    }


def _para(text: str, style: object) -> object:
    from reportlab.platypus import Paragraph  # type: ignore[import-untyped]

    return Paragraph(escape(text) or "&nbsp;", style)


def render_pdf(
    title: str,
    blocks: Sequence[Block],
    *,
    subtitle: str = "",
    author: str = "ODR",
    footer: str = "",
) -> bytes:
    """An A4 PDF of ``blocks`` under ``title``; every page carries ``footer`` and its number."""
    from reportlab.lib import colors  # type: ignore[import-untyped]
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
    from reportlab.lib.units import mm  # type: ignore[import-untyped]
    from reportlab.platypus import SimpleDocTemplate, Spacer
    from reportlab.platypus import Table as RLTable

    styles = _styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=title,
        author=author,
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
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
            if block.header:
                commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")))
            table.setStyle(commands)
            story.append(table)
            story.append(Spacer(1, 3 * mm))

    def decorate(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8)
        page = canvas.getPageNumber()
        canvas.drawString(18 * mm, 10 * mm, f"{footer}  · {page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue()
