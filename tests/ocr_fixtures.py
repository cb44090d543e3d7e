"""Evidence pictures made for the OCR tests and bench/ocr.py: Chinese text rendered with the
Noto CJK font into PNG, JPEG and PDF (a clean page, a chat screenshot, a photographed-looking
skewed page, an ID-card-like layout with a valid test number, a scanned PDF, a PDF with a text
layer). Each returns the bytes and the text it shows."""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIR = Path("/usr/share/fonts/opentype/noto")
FONT = FONT_DIR / "NotoSansCJK-Regular.ttc"


def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT), size)


def id_number(prefix17: str = "11010519491231002") -> str:
    """A resident ID number with a valid check character (ISO 7064 MOD 11-2)."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(prefix17, weights, strict=True))
    return prefix17 + "10X98765432"[total % 11]


TEST_ID = id_number()
TEST_MOBILE = "13912345678"

CLEAN_LINES = (
    "代理人承诺：这款产品保本保息，和存款一样稳赚。",
    "投保人王芳，保单号AK2023100188，年缴保费12000元。",
    "合同生效日期2023年10月18日，缴费期十年。",
    "如对理赔结果有异议，可申请调解。",
)

CHAT_LINES = (
    ("agent", "王姐，这个理财型保险保证收益4.5%"),
    ("me", "真的不会亏吗？"),
    ("agent", "放心，和存款一样，随时可以全额退"),
    ("me", "好的，我考虑一下"),
)

SKEWED_LINES = (
    "第十二条 责任免除",
    "因下列情形之一导致被保险人",
    "身故的，本公司不承担给付",
    "保险金的责任：投保人对被保",
    "险人的故意杀害、故意伤害。",
)


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def text_page(lines: tuple[str, ...], *, size: int = 30, width: int = 900) -> Image.Image:
    step = int(size * 1.9)
    image = Image.new("RGB", (width, 40 + step * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((30, 24 + i * step), line, font=font(size), fill=(20, 20, 20))
    return image


def clean_png() -> tuple[bytes, str]:
    return _encode(text_page(CLEAN_LINES), "PNG"), "".join(CLEAN_LINES)


def chat_screenshot() -> tuple[bytes, str]:
    """A phone chat: grey background, white bubbles on the left, green ones on the right."""
    width, size = 720, 28
    image = Image.new("RGB", (width, 120 + 110 * len(CHAT_LINES)), (237, 237, 237))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 80), fill=(247, 247, 247))
    draw.text((300, 22), "保险顾问", font=font(30), fill=(0, 0, 0))
    face = font(size)
    for i, (who, text) in enumerate(CHAT_LINES):
        y = 110 + i * 110
        text_width = draw.textlength(text, font=face)
        if who == "agent":
            draw.rectangle((20, y, 80, y + 60), fill=(90, 140, 200))
            box = (100, y, 100 + text_width + 40, y + 60)
            draw.rounded_rectangle(box, 10, fill=(255, 255, 255))
        else:
            draw.rectangle((width - 80, y, width - 20, y + 60), fill=(200, 120, 90))
            box = (width - 100 - text_width - 40, y, width - 100, y + 60)
            draw.rounded_rectangle(box, 10, fill=(149, 236, 105))
        draw.text((box[0] + 20, y + 12), text, font=face, fill=(0, 0, 0))
    return _encode(image, "JPEG", quality=88), "保险顾问" + "".join(t for _, t in CHAT_LINES)


def skewed_photo() -> tuple[bytes, str]:
    """A page photographed at a slant: rotated, slightly blurred, on a dark desk, with noise
    and uneven light, as a JPEG."""
    page = text_page(SKEWED_LINES, size=34, width=620)
    page = page.rotate(4.5, expand=True, fillcolor=(90, 80, 70), resample=Image.BICUBIC)
    desk = Image.new("RGB", (page.width + 80, page.height + 80), (90, 80, 70))
    desk.paste(page, (40, 40))
    light = Image.linear_gradient("L").resize(desk.size).point(lambda v: 200 + v // 5)
    desk = Image.composite(desk, Image.new("RGB", desk.size, (0, 0, 0)), light)
    desk = desk.filter(ImageFilter.GaussianBlur(0.8))
    rng = random.Random(7)
    pixels = desk.load()
    assert pixels is not None
    for _ in range(desk.width * desk.height // 40):
        x, y = rng.randrange(desk.width), rng.randrange(desk.height)
        r, g, b = pixels[x, y]  # type: ignore[misc]
        d = rng.randint(-30, 30)
        pixels[x, y] = (max(0, min(255, r + d)), max(0, min(255, g + d)), max(0, min(255, b + d)))
    return _encode(desk, "JPEG", quality=80), "".join(SKEWED_LINES)


def id_card() -> tuple[bytes, str]:
    """The front of an ID card, laid out like one, with `TEST_ID` and a mobile number noted on
    the photocopy."""
    image = Image.new("RGB", (860, 560), (238, 242, 246))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((20, 20, 840, 540), 24, fill=(226, 236, 240), outline=(160, 170, 180))
    label, value = font(26), font(30)
    rows = (("姓名", "王芳"), ("性别", "女   民族  汉"), ("出生", "1949年12月31日"))
    for i, (name, text) in enumerate(rows):
        draw.text((60, 60 + i * 70), name, font=label, fill=(70, 90, 140))
        draw.text((160, 56 + i * 70), text, font=value, fill=(10, 10, 10))
    draw.text((60, 270), "住址", font=label, fill=(70, 90, 140))
    draw.text((160, 266), "北京市朝阳区建国路88号", font=value, fill=(10, 10, 10))
    draw.rectangle((600, 60, 800, 300), fill=(200, 205, 210))  # the photograph
    draw.text((60, 400), "公民身份号码", font=label, fill=(70, 90, 140))
    draw.text((250, 394), TEST_ID, font=font(36), fill=(10, 10, 10))
    draw.text((60, 470), f"联系电话 {TEST_MOBILE}", font=label, fill=(10, 10, 10))
    return _encode(image, "PNG"), TEST_ID


def scanned_page(number: int) -> Image.Image:
    lines = (
        f"第{number}页 保险合同条款",
        "本合同的犹豫期为十五日，犹豫期内解除",
        f"合同退还全部保费。页码{number:02d}",
    )
    return text_page(lines, size=26, width=700).convert("L")


def scanned_pdf(pages: int = 20) -> bytes:
    """An image-only PDF (a scan: no text layer), one text page per page."""
    images = [scanned_page(n) for n in range(1, pages + 1)]
    return _encode(images[0], "PDF", resolution=150, save_all=True, append_images=images[1:])


def text_pdf(lines: tuple[str, ...] = CLEAN_LINES, pages: int = 1) -> bytes:
    """A PDF with a text layer (made with reportlab's built-in Chinese font)."""
    from reportlab.lib.pagesizes import A5
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A5)
    for _ in range(pages):
        pdf.setFont("STSong-Light", 11)
        for i, line in enumerate(lines):
            pdf.drawString(30, A5[1] - 50 - i * 22, line)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def accuracy(expected: str, got: str) -> float:
    """Character accuracy: 1 - edit distance / length of the expected text (spaces and
    punctuation width ignored)."""
    a, b = _norm(expected), _norm(got)
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return max(0.0, 1 - previous[-1] / max(1, len(a)))


def _norm(text: str) -> str:
    import unicodedata

    return "".join(unicodedata.normalize("NFKC", ch) for ch in text if not ch.isspace())
