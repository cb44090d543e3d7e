"""Negotiation rules: blind offers (保密报价) and open offers between the two sides.

Blind offers: in each round each side submits a secret figure, the consumer the least it
accepts and the insurer the most it pays. Neither sees the other's. When the insurer's figure
reaches the consumer's, the case settles at the midpoint (or as `BlindOfferRules.rule` says);
otherwise only "no overlap" is told. The rounds are limited.

The log keeps a *commitment* to each figure, ``sha256`` over the case, round, side, figure and
a random 32-byte nonce kept only in the offers table, so the chain proves later what was
offered without telling anyone the figure now (the nonce makes guessing the figure hopeless).
Money is in integer fen.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from odr.domain.errors import Conflict, ValidationFailed
from odr.domain.sides import Side

MAX_FIGURE_FEN = 10**13  # 100 billion yuan: more than any insurance dispute


class SettlementRule(StrEnum):
    MIDPOINT = "midpoint"  # halfway between the two figures
    CONSUMER_FIGURE = "consumer_figure"  # the least the consumer accepts
    INSURER_FIGURE = "insurer_figure"  # the most the insurer pays


@dataclass(frozen=True, slots=True)
class BlindOfferRules:
    max_rounds: int = 3
    rule: SettlementRule = SettlementRule.MIDPOINT
    round_to_fen: int = 1  # 100: settle on whole yuan (rounded half up)

    def __post_init__(self) -> None:
        if not 1 <= self.max_rounds <= 20 or self.round_to_fen not in (1, 10, 100):
            raise ValueError("max_rounds is 1 to 20; round_to_fen is 1, 10 or 100")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> BlindOfferRules:
        return cls(
            max_rounds=int(data.get("max_rounds", 3)),
            rule=SettlementRule(data.get("rule", "midpoint")),
            round_to_fen=int(data.get("round_to_fen", 1)),
        )


def check_figure(amount_fen: int) -> int:
    if (
        isinstance(amount_fen, bool)
        or not isinstance(amount_fen, int)
        or not 0 < amount_fen <= MAX_FIGURE_FEN
    ):
        raise ValidationFailed(
            "A figure is a positive amount.", code="invalid_amount", details={"field": "amount"}
        )
    return amount_fen


def commitment(case_id: int, round_no: int, side: Side, amount_fen: int, nonce: bytes) -> str:
    """The hash the log keeps instead of the figure."""
    if len(nonce) < 16:
        raise ValueError("the nonce must have at least 16 random bytes")
    text = f"odr-blind-offer/1|{case_id}|{round_no}|{side.value}|{amount_fen}|{nonce.hex()}"
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def settlement(consumer_min_fen: int, insurer_max_fen: int, rules: BlindOfferRules) -> int | None:
    """The settlement amount when the figures overlap (the insurer pays at least what the
    consumer accepts), else None."""
    if insurer_max_fen < consumer_min_fen:
        return None
    if rules.rule is SettlementRule.CONSUMER_FIGURE:
        raw2 = 2 * consumer_min_fen
    elif rules.rule is SettlementRule.INSURER_FIGURE:
        raw2 = 2 * insurer_max_fen
    else:
        raw2 = consumer_min_fen + insurer_max_fen  # twice the midpoint, exact
    step = rules.round_to_fen
    amount = (raw2 + step) // (2 * step) * step  # half up to the step
    return max(consumer_min_fen, min(insurer_max_fen, amount)) if step > 1 else amount


@dataclass(frozen=True, slots=True)
class Round:
    """One round as stored: which sides submitted, and how it ended (None while open)."""

    number: int
    submitted: frozenset[Side]
    overlap: bool | None = None
    amount_fen: int | None = None


def round_for(side: Side, rounds: Sequence[Round], rules: BlindOfferRules) -> int:
    """The round ``side`` submits into now: the open one, or a new one; `Conflict` when the
    side already submitted in the open round, the offers settled, or no round is left."""
    ordered = sorted(rounds, key=lambda r: r.number)
    if any(r.overlap for r in ordered):
        raise Conflict("The blind offers have already settled.", code="blind_offers_settled")
    if ordered and ordered[-1].overlap is None:
        if side in ordered[-1].submitted:
            raise Conflict(
                "You have already submitted a figure in this round; wait for the other side.",
                code="blind_offer_already_submitted",
            )
        return ordered[-1].number
    if len(ordered) >= rules.max_rounds:
        raise Conflict("No blind-offer round is left.", code="no_rounds_left")
    return len(ordered) + 1


# --- open offers ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenOffer:
    """An offer event as read from the log."""

    sequence: int
    side: Side
    amount_fen: int
    answered: bool = False


def offer_to_answer(side: Side, offers: Sequence[OpenOffer], sequence: int) -> OpenOffer:
    """The offer ``side`` may accept or decline: the latest offer, made by the other side, not
    yet answered; `Conflict` otherwise."""
    if not offers:
        raise Conflict("There is no offer to answer.", code="no_offer")
    latest = max(offers, key=lambda o: o.sequence)
    if latest.sequence != sequence:
        raise Conflict("Only the latest offer can be answered.", code="offer_superseded")
    if latest.side is side:
        raise Conflict("You cannot answer your own offer.", code="own_offer")
    if latest.answered:
        raise Conflict("This offer has already been answered.", code="offer_answered")
    return latest
