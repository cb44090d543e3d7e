"""Negotiation between the two sides: open offers and counter-offers, and blind offers.

Blind offers keep their figures in ``blind_offers`` only; the case's log and chain get a
commitment (`odr.domain.offers.commitment`). No view here returns the other side's figure:
only "no overlap" or the settlement amount is told.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from odr.domain.accounts import Actor
from odr.domain.authz import Action, authorize
from odr.domain.cases import NEGOTIATION_STATES, Case, CaseEvent, EventKind
from odr.domain.errors import Conflict, Forbidden
from odr.domain.offers import (
    BlindOfferRules,
    OpenOffer,
    Round,
    check_figure,
    commitment,
    offer_to_answer,
    round_for,
    settlement,
)
from odr.domain.sides import Side, side_of
from odr.services.case_changes import CaseChanges, display_names, iso, tell_parties
from odr.storage import cases as repo
from odr.storage.models import BlindOffer, BlindRound


def _blind_notice(case: Case, events: list[CaseEvent]) -> dict[str, Any] | None:
    """Tell both sides when a round ends (never a figure; the amount only when settled)."""
    if not events or events[-1].kind is not EventKind.BLIND_ROUND_ENDED:
        return None
    return {"to": "all"}


@dataclass
class OfferService:
    changes: CaseChanges
    rules: BlindOfferRules = field(default_factory=BlindOfferRules)

    # --- blind offers -------------------------------------------------------------------------

    async def _rounds(self, s: AsyncSession, case_id: int) -> list[Round]:
        offers = (
            await s.execute(select(BlindOffer).where(BlindOffer.case_id == case_id))
        ).scalars()
        ended = {
            r.round: r
            for r in (
                await s.execute(select(BlindRound).where(BlindRound.case_id == case_id))
            ).scalars()
        }
        sides: dict[int, set[Side]] = {}
        for o in offers:
            sides.setdefault(o.round, set()).add(Side(o.side))
        return [
            Round(
                n,
                frozenset(sides.get(n, set())),
                ended[n].overlap if n in ended else None,
                ended[n].amount_fen if n in ended else None,
            )
            for n in sorted(set(sides) | set(ended))
        ]

    async def submit_blind_offer(
        self, actor: Actor, case_id: int, amount_fen: int
    ) -> dict[str, Any]:
        """Enter the actor's side's secret figure; the second figure of a round ends it."""
        figure = check_figure(amount_fen)
        side = side_of(actor.role)
        rules = self.rules

        async def apply(s: AsyncSession, case: Case, now: datetime) -> dict[str, Any]:
            authorize(actor, Action.MAKE_OFFER, case.scope())
            if side is None:
                raise Forbidden("Only the two sides make offers.", code="forbidden")
            round_no = round_for(side, await self._rounds(s, case.id), rules)
            nonce = secrets.token_bytes(32)
            sealed = commitment(case.id, round_no, side, figure, nonce)
            case.submit_blind_offer(actor, now, round_no=round_no, commitment=sealed)
            s.add(
                BlindOffer(
                    case_id=case.id,
                    round=round_no,
                    side=side.value,
                    amount_fen=figure,
                    nonce=nonce,
                    commitment=sealed,
                    submitted_by=actor.user_id,
                    submitted_at=now,
                )
            )
            other = (
                await s.execute(
                    select(BlindOffer.amount_fen).where(
                        BlindOffer.case_id == case.id,
                        BlindOffer.round == round_no,
                        BlindOffer.side == side.other.value,
                    )
                )
            ).scalar_one_or_none()
            if other is None:
                return {"round": round_no, "ended": False}
            consumer, insurer = (figure, other) if side is Side.CONSUMER else (other, figure)
            settled = settlement(consumer, insurer, rules)
            case.end_blind_round(actor, now, round_no=round_no, settled_fen=settled)
            s.add(
                BlindRound(
                    case_id=case.id,
                    round=round_no,
                    overlap=settled is not None,
                    amount_fen=settled,
                    ended_at=now,
                )
            )
            return {"round": round_no, "ended": True}

        await self.changes.change(actor, case_id, apply, notice=_blind_notice)
        return await self.blind_offers_view(actor, case_id)

    async def blind_offers_view(self, actor: Actor, case_id: int) -> dict[str, Any]:
        """The rounds as ``actor`` may see them: its own side's figures only; the other side's
        never, not even after settlement (only the settlement amount is told)."""
        side = side_of(actor.role)
        async with self.changes.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            authorize(actor, Action.VIEW_CASE, case.scope())
            rounds = await self._rounds(s, case_id)
            mine: dict[int, int] = {}
            if side is not None and actor.user_id is not None:
                rows = (
                    await s.execute(
                        select(BlindOffer.round, BlindOffer.amount_fen).where(
                            BlindOffer.case_id == case_id, BlindOffer.side == side.value
                        )
                    )
                ).all()
                mine = {n: amount for n, amount in rows}
        settled = next((r for r in rounds if r.overlap), None)
        items = [
            {
                "round": r.number,
                "submitted": {s.value: s in r.submitted for s in Side},
                "my_figure_fen": mine.get(r.number),
                "outcome": None
                if r.overlap is None
                else ("settled" if r.overlap else "no_overlap"),
                "amount_fen": r.amount_fen if r.overlap else None,
            }
            for r in rounds
        ]
        try:
            next_round: int | None = round_for(side, rounds, self.rules) if side else None
        except Conflict:
            next_round = None
        return {
            "side": side.value if side else None,
            "rule": self.rules.rule.value,
            "max_rounds": self.rules.max_rounds,
            "rounds": items,
            "settled_amount_fen": settled.amount_fen if settled else None,
            "can_submit": next_round is not None
            and case.state.value in {s.value for s in NEGOTIATION_STATES},
            "round_open_for_me": next_round,
        }

    # --- open offers --------------------------------------------------------------------------

    async def _open_offers(self, s: AsyncSession, case_id: int) -> list[OpenOffer]:
        rows = await repo.events(s, case_id)
        answered = {
            r.payload.get("offer_sequence")
            for r in rows
            if r.kind == EventKind.OFFER_ANSWERED.value
        }
        return [
            OpenOffer(
                r.sequence,
                Side(r.payload["side"]),
                int(r.payload["amount_fen"]),
                r.sequence in answered,
            )
            for r in rows
            if r.kind == EventKind.OFFER_MADE.value
        ]

    async def make_offer(
        self, actor: Actor, case_id: int, *, amount_fen: int, text: str = ""
    ) -> dict[str, Any]:
        """An offer the other side sees; made while the other side's offer is open, it is a
        counter-offer to it."""
        figure = check_figure(amount_fen)

        async def apply(s: AsyncSession, case: Case, now: datetime) -> None:
            offers = await self._open_offers(s, case.id)
            latest = max(offers, key=lambda o: o.sequence) if offers else None
            side = side_of(actor.role)
            reply_to = (
                latest.sequence
                if latest and not latest.answered and latest.side is not side
                else None
            )
            case.make_offer(actor, now, amount_fen=figure, text=text, in_reply_to=reply_to)

        await self.changes.change(actor, case_id, apply, notice=tell_parties)
        return await self.offers_view(actor, case_id)

    async def answer_offer(
        self, actor: Actor, case_id: int, *, offer_sequence: int, accept: bool
    ) -> dict[str, Any]:
        async def apply(s: AsyncSession, case: Case, now: datetime) -> None:
            authorize(actor, Action.MAKE_OFFER, case.scope())
            side = side_of(actor.role)
            if side is None:
                raise Forbidden("Only the two sides answer offers.", code="forbidden")
            offer = offer_to_answer(side, await self._open_offers(s, case.id), offer_sequence)
            case.answer_offer(
                actor,
                now,
                offer_sequence=offer.sequence,
                amount_fen=offer.amount_fen,
                accept=accept,
            )

        await self.changes.change(actor, case_id, apply, notice=tell_parties)
        return await self.offers_view(actor, case_id)

    async def offers_view(self, actor: Actor, case_id: int) -> dict[str, Any]:
        async with self.changes.sessionmaker() as s:
            _, case = await repo.load(s, case_id)
            authorize(actor, Action.VIEW_CASE, case.scope())
            rows = await repo.events(s, case_id)
            names = await display_names(s, {r.actor_user_id for r in rows if r.actor_user_id})
        answers = {
            r.payload.get("offer_sequence"): r
            for r in rows
            if r.kind == EventKind.OFFER_ANSWERED.value
        }
        items = []
        for r in rows:
            if r.kind != EventKind.OFFER_MADE.value:
                continue
            answer = answers.get(r.sequence)
            items.append(
                {
                    "sequence": r.sequence,
                    "side": r.payload.get("side"),
                    "by": names.get(r.actor_user_id or 0, ""),
                    "amount_fen": r.payload.get("amount_fen"),
                    "text": r.payload.get("text", ""),
                    "in_reply_to": r.payload.get("in_reply_to"),
                    "at": iso(r.at),
                    "status": "open"
                    if answer is None
                    else ("accepted" if answer.payload.get("accepted") else "declined"),
                }
            )
        return {"state": case.state.value, "items": items}
