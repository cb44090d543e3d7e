"""Build the font the PDFs embed: Noto Serif CJK SC (SIL Open Font License 1.1), cut down to
GB 2312 and the Latin letters, punctuation and symbols the documents use, with its cubic (CFF)
outlines turned into quadratic TrueType ones, because ReportLab embeds TrueType fonts only.

    pip install fonttools
    python tools/make_pdf_font.py /usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc

writes ``odr/data/fonts/ODRSerifSC-Regular.ttf``. The source is Debian's ``fonts-noto-cjk``
(or ``NotoSerifCJKsc-Regular.otf`` from the Noto CJK release); docs/pdf-font.md says more.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.recordingPen import DecomposingRecordingPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont, newTable

OUT = Path(__file__).resolve().parent.parent / "odr" / "data" / "fonts" / "ODRSerifSC-Regular.ttf"
FAMILY = "ODR Serif SC"
POSTSCRIPT = "ODRSerifSC-Regular"
#: How far (in font units of 1000 an em) a quadratic curve may stray from the cubic one.
MAX_ERR = 1.0


def gb2312() -> set[int]:
    """Every character of GB 2312 (rows 0xA1-0xF7, cells 0xA1-0xFE)."""
    found: set[int] = set()
    for row in range(0xA1, 0xF8):
        for cell in range(0xA1, 0xFF):
            try:
                found.add(ord(bytes((row, cell)).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return found


def wanted() -> set[int]:
    ranges = [
        (0x20, 0x7E),  # ASCII
        (0xA0, 0x17F),  # Latin-1 and Latin Extended-A (names, ·, ×, ÷, ¥)
        (0x2010, 0x2027),  # dashes, quotes, bullets, ellipsis
        (0x2030, 0x203B),  # per mille, primes, reference mark
        (0x2100, 0x2122),  # letterlike (℃, №, ™)
        (0x2160, 0x216B),  # Roman numerals
        (0x2190, 0x2199),  # arrows
        (0x2460, 0x249B),  # circled and parenthesised numbers
        (0x25A0, 0x25CF),  # squares, triangles, circles
        (0x2605, 0x2606),  # stars
        (0x2610, 0x2612),  # ballot boxes
        (0x2713, 0x2717),  # check and cross marks
        (0x3000, 0x303F),  # CJK symbols and punctuation
        (0xFF01, 0xFF5E),  # full-width forms
        (0xFFE0, 0xFFE6),  # full-width signs (￥)
    ]
    chars = gb2312()
    for lo, hi in ranges:
        chars.update(range(lo, hi + 1))
    chars.update((0x20AC, 0x2116, 0x2103, 0x00B7, 0x2014, 0x2015, 0x2026, 0x30FB))
    return chars


def load(source: Path) -> TTFont:
    if source.suffix.lower() in (".ttc", ".otc"):
        for font in TTCollection(str(source)).fonts:
            if font["name"].getDebugName(1).endswith(" SC"):
                return font
        sys.exit(f"{source}: no Simplified Chinese (SC) face in the collection")
    return TTFont(str(source))


def to_truetype(font: TTFont) -> None:
    """Replace the CFF table with glyf/loca (quadratic outlines)."""
    order = font.getGlyphOrder()
    glyphs = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        recording = DecomposingRecordingPen(glyphs)
        glyphs[name].draw(recording)
        pen = TTGlyphPen(None)
        recording.replay(Cu2QuPen(pen, MAX_ERR, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["glyf"] = glyf
    font["loca"] = newTable("loca")
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for attr in (
        "maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs",
        "maxInstructionDefs", "maxStackElements", "maxSizeOfInstructions",
        "maxComponentElements",
    ):  # fmt: skip
        setattr(maxp, attr, 0)
    maxp.maxZones = 1
    maxp.maxComponentDepth = 0
    font["head"].indexToLocFormat = 0
    font["head"].glyphDataFormat = 0
    post = font["post"]
    post.formatType = 2.0
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = order
    font.sfntVersion = "\x00\x01\x00\x00"


def rename(font: TTFont) -> None:
    """A subset is a Modified Version under the OFL: it carries its own name."""
    name = font["name"]
    keep = {0, 7, 11, 13, 14}
    name.names = [n for n in name.names if n.nameID in keep]
    for nid, text in (
        (1, FAMILY),
        (2, "Regular"),
        (3, f"{POSTSCRIPT}; subset of Noto Serif CJK SC 2.001"),
        (4, f"{FAMILY} Regular"),
        (5, "Version 2.001; ODR subset"),
        (6, POSTSCRIPT),
    ):
        name.setName(text, nid, 3, 1, 0x409)
        name.setName(text, nid, 1, 0, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="Noto Serif CJK (.ttc or SC .otf)")
    parser.add_argument("-o", "--output", type=Path, default=OUT)
    args = parser.parse_args()
    font = load(args.source)
    options = subset.Options()
    options.layout_features = []  # ReportLab neither shapes nor kerns
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "vhea", "vmtx", "VORG"]
    options.hinting = False
    options.desubroutinize = True
    options.notdef_outline = True
    options.name_IDs = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(wanted()))
    subsetter.subset(font)
    to_truetype(font)
    rename(font)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(args.output))
    cmap = font.getBestCmap()
    size = args.output.stat().st_size
    glyphs = len(font.getGlyphOrder())
    print(f"{args.output}: {len(cmap)} characters, {glyphs} glyphs, {size} bytes")


if __name__ == "__main__":
    main()
