"""Reading the text of evidence: pages per second on one core.

1. OCR: a scanned PDF (image pages, no text layer) of ``--pages`` pages through the OCR child
   process (`odr.services.ocr.TextReader`, one OCR thread), and the single pictures of the
   tests (a clean page, a chat screenshot, a skewed photo, an ID card) with their character
   accuracy.
2. Text layers: a PDF of ``--pages`` pages with a text layer, read directly (no OCR).

The child process runs one thread, so its pages per second are per core; the time is wall
time of the read (the child already started and its models loaded). The child's peak resident
memory is reported as well.

    .venv/bin/python bench/ocr.py [--pages 20]

The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from odr.services.ocr import Limits, ReadResult, TextReader
from tests import ocr_fixtures as fx


async def read(reader: TextReader, data: bytes, media_type: str) -> tuple[ReadResult, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "item"
        path.write_bytes(data)
        started = time.perf_counter()
        result = await reader.read(path, media_type, Path(tmp) / "redacted")
        return result, time.perf_counter() - started


def text_of(result: ReadResult) -> str:
    return "".join(line.text for page in result.pages for line in page.lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=20)
    args = parser.parse_args()
    reader = TextReader(Limits(max_pages=max(50, args.pages)))
    figures: dict[str, float | int] = {"pages": args.pages}

    clean, _ = fx.clean_png()
    _, warm = await read(reader, clean, "image/png")  # starts the child, loads the models
    figures["child_start_and_first_image_s"] = round(warm, 2)

    for name, (data, truth), media in (
        ("clean", fx.clean_png(), "image/png"),
        ("chat", fx.chat_screenshot(), "image/jpeg"),
        ("skewed", fx.skewed_photo(), "image/jpeg"),
        ("id_card", fx.id_card(), "image/png"),
    ):
        result, seconds = await read(reader, data, media)
        figures[f"{name}_seconds"] = round(seconds, 3)
        if name == "id_card":
            figures["id_card_regions"] = len(result.regions)
        else:
            figures[f"{name}_accuracy"] = round(fx.accuracy(truth, text_of(result)), 4)
        print(f"{name:8} {seconds:6.2f} s  {text_of(result)[:60]}")

    scan = fx.scanned_pdf(args.pages)
    result, seconds = await read(reader, scan, "application/pdf")
    assert result.method == "ocr" and len(result.pages) == args.pages
    figures["ocr_scanned_pdf_seconds"] = round(seconds, 2)
    figures["ocr_pages_per_second_per_core"] = round(args.pages / seconds, 2)
    print(f"scanned PDF, {args.pages} pages, OCR: {seconds:.2f} s, {args.pages / seconds:.2f}/s")

    layered = fx.text_pdf(pages=args.pages)
    result, seconds = await read(reader, layered, "application/pdf")
    assert result.method == "pdf_text" and len(result.pages) == args.pages
    figures["text_layer_pdf_seconds"] = round(seconds, 3)
    figures["text_layer_pages_per_second_per_core"] = round(args.pages / seconds, 1)
    print(f"text-layer PDF, {args.pages} pages: {seconds:.3f} s, {args.pages / seconds:.1f}/s")
    figures["child_peak_rss_mb"] = round(result.peak_rss_kb / 1024, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
