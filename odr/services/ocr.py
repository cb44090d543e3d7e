"""Reading the text of an evidence item, out of the serving process: OCR of images and scanned
PDF pages (RapidOCR: PP-OCR's Chinese detection and recognition models in ONNX, shipped inside
the ``rapidocr-onnxruntime`` wheel; nothing is downloaded), a PDF's own text layer where it
has one (PDFium), and the redacted copy with personal numbers blacked out (Pillow).

The process keeps one child (spawned, one OCR thread, started on first use and shared by
every `TextReader`) and sends it one item at a time; an item that takes longer than the
timeout, or kills the child, ends the child (the next item starts a new one) and is reported
unreadable. Each item is bounded: `Limits` caps the pages read, the pixels of an image or a
rendered page, and the time. The child renders a PDF one page at a time, so memory stays that
of one page and the models (its peak resident size comes back with every answer).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from odr.domain.evidence_text import PageText, Region, TextLine, redaction_regions

#: PDF pages are rendered at this resolution for OCR, the redacted copy and the viewer.
RENDER_DPI = 150
#: A page with at least this many characters in its text layer is read from it, not OCR'd.
TEXT_LAYER_MIN_CHARS = 10
#: Images are shrunk to this longest side before OCR (the boxes are scaled back).
OCR_MAX_SIDE = 2400


@dataclass(frozen=True)
class Limits:
    max_pages: int = 50  # of a PDF; the rest is not read (the text says so)
    max_pixels: int = 40_000_000  # of an image or a rendered page; a larger one is refused
    timeout: float = 300.0  # seconds per item


@dataclass(frozen=True)
class ReadResult:
    method: str  # ocr | pdf_text | mixed | none
    pages: tuple[PageText, ...]
    regions: tuple[Region, ...]
    redacted: Path | None  # the redacted copy, when there was something to black out
    redacted_media_type: str | None
    pages_total: int  # pages the item has (more than ``pages`` when the limit cut it)
    seconds: float
    peak_rss_kb: int  # of the child, so far


class Unreadable(Exception):
    """The item could not be read (its reason is the message)."""


# --- the child process -----------------------------------------------------------------------

_ENGINE: Any = None


def _engine() -> Any:
    global _ENGINE
    if _ENGINE is None:
        import cv2
        from rapidocr_onnxruntime import RapidOCR  # type: ignore[import-untyped]

        cv2.setNumThreads(1)
        _ENGINE = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)
    return _ENGINE


def _ocr(image: Any, number: int) -> PageText:
    """The lines of a PIL image, boxes in its own pixels."""
    import numpy as np

    width, height = image.size
    scale = 1.0
    if max(width, height) > OCR_MAX_SIDE:
        scale = OCR_MAX_SIDE / max(width, height)
        image = image.resize((max(1, round(width * scale)), max(1, round(height * scale))))
    result, _ = _engine()(np.asarray(image.convert("RGB")))
    lines = []
    for points, text, _score in result or ():
        xs = [p[0] / scale for p in points]
        ys = [p[1] / scale for p in points]
        box = (
            max(0, int(min(xs))),
            max(0, int(min(ys))),
            min(width, int(max(xs) + 0.999)),
            min(height, int(max(ys) + 0.999)),
        )
        if str(text).strip():
            lines.append(TextLine(str(text), box))
    return PageText(number, width, height, tuple(lines))


def _open_image(path: Path, limits: Limits) -> Any:
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = None  # checked below, before the pixels are decoded
    opened = Image.open(path)
    if opened.width * opened.height > limits.max_pixels:
        raise Unreadable(f"image of {opened.width}x{opened.height} pixels is too large")
    return ImageOps.exif_transpose(opened).convert("RGB")


def _redact_image(image: Any, regions: list[Region], page: int) -> Any:
    from PIL import ImageDraw

    draw = ImageDraw.Draw(image)
    for region in regions:
        if region.page == page:
            draw.rectangle(region.box, fill="black")
    return image


_IMAGE_FORMATS = {"image/png": ("PNG", {}), "image/jpeg": ("JPEG", {"quality": 90})}


def _read_image(path: Path, media_type: str, out: Path, limits: Limits) -> dict[str, Any]:
    image = _open_image(path, limits)
    page = _ocr(image, 1)
    regions = redaction_regions([page])
    redacted = None
    if regions:
        # the copy holds the pixels only (no EXIF, no GPS position); WebP becomes PNG
        fmt, options = _IMAGE_FORMATS.get(media_type, ("PNG", {}))
        _redact_image(image, regions, 1).save(out, fmt, **options)
        redacted = "image/jpeg" if fmt == "JPEG" else "image/png"
    return {
        "method": "ocr",
        "pages": [page],
        "regions": regions,
        "redacted": redacted,
        "pages_total": 1,
    }


def _pdf_page_text(page: Any, number: int, scale: float) -> PageText | None:
    """The page's text layer as lines with boxes (in rendered pixels), or None without one."""
    width, height = page.get_size()
    textpage = page.get_textpage()
    try:
        if len("".join(textpage.get_text_range().split())) < TEXT_LAYER_MIN_CHARS:
            return None
        lines = []
        for i in range(textpage.count_rects()):
            left, bottom, right, top = textpage.get_rect(i)
            text = " ".join(textpage.get_text_bounded(left, bottom, right, top).split())
            if text:
                box = (
                    int(left * scale),
                    int((height - top) * scale),
                    int(right * scale + 0.999),
                    int((height - bottom) * scale + 0.999),
                )
                lines.append(TextLine(text, box))
    finally:
        textpage.close()
    return PageText(number, int(width * scale), int(height * scale), tuple(lines))


def _render(page: Any, scale: float, limits: Limits) -> Any:
    width, height = page.get_size()
    if width * scale * height * scale > limits.max_pixels:
        raise Unreadable("a page is too large to render")
    return page.render(scale=scale).to_pil().convert("RGB")


def _read_pdf(path: Path, out: Path, limits: Limits) -> dict[str, Any]:
    import pypdfium2 as pdfium  # type: ignore[import-untyped]

    scale = RENDER_DPI / 72
    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        raise Unreadable(f"not a readable PDF ({exc})") from None
    try:
        total = len(pdf)
        pages, methods = [], set()
        for index in range(min(total, limits.max_pages)):
            page = pdf[index]
            try:
                found = _pdf_page_text(page, index + 1, scale)
                if found is None:
                    found = _ocr(_render(page, scale, limits), index + 1)
                    methods.add("ocr")
                else:
                    methods.add("pdf_text")
            finally:
                page.close()
            pages.append(found)
        regions = redaction_regions(pages)
        redacted = None
        if regions:
            _redacted_pdf(pdf, pages, regions, out, scale, limits)
            redacted = "application/pdf"
    finally:
        pdf.close()
    method = methods.pop() if len(methods) == 1 else ("mixed" if methods else "none")
    return {
        "method": method,
        "pages": pages,
        "regions": regions,
        "redacted": redacted,
        "pages_total": total,
    }


def _redacted_pdf(
    pdf: Any, pages: list[PageText], regions: list[Region], out: Path, scale: float, limits: Limits
) -> None:
    """A PDF of the pages read, as images, with the regions blacked out: nothing of the
    original's text layer survives in it. Pages are kept as JPEG-compressed greyscale."""
    images = []
    for page_text in pages:
        page = pdf[page_text.number - 1]
        try:
            image = _redact_image(_render(page, scale, limits), regions, page_text.number)
        finally:
            page.close()
        images.append(image.convert("L"))
    first, rest = images[0], images[1:]
    first.save(out, "PDF", resolution=RENDER_DPI, save_all=True, append_images=rest)


def read_item(path: Path, media_type: str, out: Path, limits: Limits) -> dict[str, Any]:
    """Read one item (in the child): its pages, the regions to black out and, when there are
    any, the redacted copy written to ``out``."""
    if media_type.startswith("image/"):
        return _read_image(path, media_type, out, limits)
    if media_type.startswith("application/pdf"):
        return _read_pdf(path, out, limits)
    raise Unreadable(f"no text is read from {media_type}")


def _serve(conn: Connection) -> None:
    """The child's loop: one request at a time, until the pipe closes."""
    import resource

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    while True:
        try:
            path, media_type, out, limits = conn.recv()
        except (EOFError, OSError):
            return
        started = time.monotonic()
        try:
            answer: dict[str, Any] = {"ok": True, **read_item(path, media_type, out, limits)}
        except Unreadable as exc:
            answer = {"ok": False, "reason": str(exc)}
        except Exception as exc:  # a broken file must not end the reader
            answer = {"ok": False, "reason": f"{type(exc).__name__}: {exc}"[:200]}
        answer["seconds"] = time.monotonic() - started
        answer["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        conn.send(answer)


# --- the parent's side -----------------------------------------------------------------------


class _Child:
    """The OCR child process of this process: started on first use, shared by every
    `TextReader` (the models load once), one item at a time."""

    def __init__(self) -> None:
        self._busy = threading.Lock()  # one item at a time, whichever event loop asks
        self._guard = threading.Lock()
        self._process: Any = None
        self._conn: Connection | None = None

    def _start(self) -> Connection:
        with self._guard:
            if self._process is not None and self._process.is_alive() and self._conn:
                return self._conn
            context = multiprocessing.get_context("spawn")
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(child,), daemon=True, name="odr-ocr")
            process.start()
            child.close()
            self._process, self._conn = process, parent
            return parent

    def stop(self) -> None:
        with self._guard:
            process, conn = self._process, self._conn
            self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is not None:
            process.kill()
            process.join(5)

    def call(self, request: tuple[Any, ...], timeout: float) -> dict[str, Any]:
        with self._busy:
            conn = self._start()
            conn.send(request)
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.stop()
                    raise Unreadable(f"reading took longer than {timeout:.0f} s")
                try:
                    if conn.poll(min(left, 0.5)):
                        answer: dict[str, Any] = conn.recv()
                        return answer
                except (EOFError, OSError):
                    self.stop()
                    raise Unreadable("the reader stopped (out of memory or a crash)") from None


_CHILD = _Child()

#: Images smaller than this (either side, pixels) hold no readable text.
MIN_SIDE = 16


def preflight(path: Path, media_type: str, limits: Limits) -> None:
    """Cheap checks in this process before the child is asked: a broken image or a PDF
    without pages is unreadable at once."""
    if media_type.startswith("image/"):
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as image:
                if min(image.size) < MIN_SIDE:
                    raise Unreadable("the image is too small to hold text")
                if image.width * image.height > limits.max_pixels:
                    raise Unreadable(f"image of {image.width}x{image.height} pixels is too large")
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise Unreadable(f"not a readable image ({exc})"[:200]) from None
    elif media_type.startswith("application/pdf"):
        import pypdfium2 as pdfium

        try:
            pdf = pdfium.PdfDocument(path)
        except pdfium.PdfiumError as exc:
            raise Unreadable(f"not a readable PDF ({exc})") from None
        try:
            if len(pdf) == 0:
                raise Unreadable("the PDF has no pages")
        finally:
            pdf.close()
    else:
        raise Unreadable(f"no text is read from {media_type}")


class TextReader:
    """Reads items with this process's OCR child, within `Limits`."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()

    async def read(self, path: Path, media_type: str, out: Path) -> ReadResult:
        """Read the item at ``path``; `Unreadable` when it cannot be read in the limits."""
        await asyncio.to_thread(preflight, path, media_type, self.limits)
        request = (path, media_type, out, self.limits)
        try:
            answer = await asyncio.to_thread(_CHILD.call, request, self.limits.timeout)
        except asyncio.CancelledError:
            _CHILD.stop()  # the thread's wait ends with the child
            raise
        if not answer["ok"]:
            raise Unreadable(answer["reason"])
        return ReadResult(
            method=answer["method"],
            pages=tuple(answer["pages"]),
            regions=tuple(answer["regions"]),
            redacted=out if answer["redacted"] else None,
            redacted_media_type=answer["redacted"],
            pages_total=answer["pages_total"],
            seconds=answer["seconds"],
            peak_rss_kb=answer["peak_rss_kb"],
        )

    async def aclose(self) -> None:
        """Nothing to close: the child is the process's and ends with it."""


def stop_reader() -> None:
    """End this process's OCR child (the next item starts a new one)."""
    _CHILD.stop()


__all__ = ["Limits", "ReadResult", "TextReader", "Unreadable", "read_item", "stop_reader"]
