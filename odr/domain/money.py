"""Amounts of money: kept as integer fen (分, 1/100 yuan); written and read as yuan.

The one place that turns yuan into fen (typed text from a form, a JSON number from the API) and
fen into plain yuan text (agreements, reports, form values). Pages show localised amounts with
the currency sign through `web.formatting.format_money`.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from odr.domain.errors import ValidationFailed

FEN_PER_YUAN = 100
#: 100 billion yuan: more than any insurance dispute.
MAX_YUAN = Decimal("100000000000")
_CENT = Decimal("0.01")
_TYPED = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,2})?")


def fen_of_yuan(amount_yuan: Decimal, field: str = "amount_yuan") -> int:
    """Yuan with at most two decimals, from 0 to `MAX_YUAN`, as integer fen.

    Checked before any arithmetic, and exactly: ``1E+999999`` would overflow the decimal
    context and ``1.000…001`` would round to a whole number of fen."""
    if (
        not amount_yuan.is_finite()
        or not 0 <= amount_yuan <= MAX_YUAN
        or amount_yuan != amount_yuan.quantize(_CENT)
    ):
        raise ValidationFailed(
            "Enter an amount in yuan with at most two decimals.",
            code="invalid_amount",
            details={"field": field},
        )
    return int(amount_yuan.quantize(_CENT) * FEN_PER_YUAN)


def parse_yuan(raw: str, field: str) -> int | None:
    """Typed yuan as fen: ``"3,200.50"`` (optionally with ¥ or 元, full-width digits allowed)
    is 320050; ``None`` when left empty; at most `MAX_YUAN`, like `fen_of_yuan`."""
    text = unicodedata.normalize("NFKC", raw).strip().replace(",", "").replace(" ", "")
    text = text.removeprefix("¥").removesuffix("元")
    if not text:
        return None
    if not _TYPED.fullmatch(text) or Decimal(text) > MAX_YUAN:
        raise ValidationFailed(
            "Enter the amount in yuan, like 3200 or 3200.50.",
            code="invalid_amount",
            details={"field": field},
        )
    return int(Decimal(text) * FEN_PER_YUAN)


def yuan(fen: int, *, grouped: bool = True) -> str:
    """``320050`` → ``"3,200.50"`` (``"3200.50"`` ungrouped, as typed into a form)."""
    whole, cents = divmod(fen, FEN_PER_YUAN)
    return f"{whole:,}.{cents:02d}" if grouped else f"{whole}.{cents:02d}"
