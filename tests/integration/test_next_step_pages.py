"""The case page shows each reader exactly the steps of `odr.domain.next_step`: a representative
case per state, every control of a step marked with ``data-step``; the primary step leads the
page; steps that cannot be undone are refused by the server unless confirmed."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from typing import Any

from tests.builders import assign_mediator, mediation_case, user_id
from tests.integration.helpers import (
    ANKANG_REP,
    CONSUMER,
    LEAD,
    MEDIATOR,
    SUPERVISOR,
    Session,
    callers,
    login,
)
from tests.integration.outcome_setup import draft, hearing_case, sign

EN = {"Accept-Language": "en"}


async def page(session: Session, case_id: int) -> str:
    resp = await session.client.get(f"/cases/{case_id}", headers=EN)
    assert resp.status == 200, resp.status
    return str(await resp.text())


def shown(html: str) -> tuple[set[str], str | None, str]:
    """The steps a page offers (each once), its primary step and its next-step sentence."""
    steps = re.findall(r'data-step="([a-z_]+)"', html)
    assert not [s for s, n in Counter(steps).items() if n > 1], steps  # no control twice
    primary = re.findall(r'data-primary="([a-z_]+)"', html)
    assert len(primary) <= 1
    sentence = re.search(r'<p class="next-step" id="next-step">(.*?)</p>', html, re.S)
    assert sentence, "no next step"
    return set(steps), (primary[0] if primary else None), sentence.group(1).strip()


#: The insurer's staff and the mediator may set the case's category in every state.
CATEGORY = {"correct_category"}


async def expect(
    session: Session, case_id: int, steps: set[str], primary: str | None, sentence: str
) -> str:
    """The page of ``case_id`` offers ``session`` exactly ``steps`` (and the category step
    when the rule gives it: the insurer's staff and the mediator, in every state), with
    ``primary`` first, under ``sentence``."""
    detail = await (await session.get(f"/api/v1/cases/{case_id}")).json()
    steps = steps | (CATEGORY & set(detail["steps"]))
    html = await page(session, case_id)
    assert shown(html) == (steps, primary, f"Next step: {sentence}")
    head = html.index('<header class="case-head">')
    if primary is not None:  # the primary action comes with the status, before the case text
        assert head < html.index("data-primary=") < html.index('id="description-heading"')
    assert set(detail["steps"]) <= steps  # the page adds the reader's offers and choices
    return html


async def post(session: Session, path: str, data: dict[str, str] | None = None) -> Any:
    body = {"csrf_token": session.token, **(data or {})}
    return await session.client.post(path, data=body, allow_redirects=False, headers=EN)


async def state(session: Session, case_id: int) -> str:
    return str((await (await session.get(f"/api/v1/cases/{case_id}")).json())["state"])


async def test_each_state_shows_each_reader_exactly_its_steps(new_client: Any) -> None:
    people = {n: await login(new_client, n) for n in (CONSUMER, ANKANG_REP, LEAD, SUPERVISOR)}
    consumer, rep, lead, supervisor = (people[n] for n in (CONSUMER, ANKANG_REP, LEAD, SUPERVISOR))
    case_id = await mediation_case(callers(people))
    # mediation requested: the centre's lead assigns; the parties may offer and suggest
    await expect(
        consumer,
        case_id,
        {"make_offer", "blind_offer", "choose_mediator", "withdraw"},
        None,
        "Wait for the mediation centre to assign a mediator",
    )
    await expect(
        rep,
        case_id,
        {"make_offer", "blind_offer", "choose_mediator"},
        None,
        "Wait for the mediation centre to assign a mediator",
    )
    await expect(lead, case_id, {"assign_mediator"}, "assign_mediator", "Assign a mediator")
    await expect(
        supervisor, case_id, set(), None, "Wait for the mediation centre to assign a mediator"
    )
    # assigned: the mediator accepts first; the status no longer reads as waiting for it after
    mediator = await login(new_client, MEDIATOR)
    await assign_mediator(callers(people), case_id, await user_id(lead.client.app, MEDIATOR))
    mediator_steps = {"request_extension", "declare_not_settled", "decline_assignment"}
    await expect(
        mediator,
        case_id,
        mediator_steps | {"accept_assignment", "propose_hearing"},
        "accept_assignment",
        "Accept or decline the case",
    )
    assert (await post(mediator, f"/cases/{case_id}/act/accept_assignment")).status == 303
    await expect(
        mediator,
        case_id,
        mediator_steps | {"propose_hearing"},
        "propose_hearing",
        "Propose times for the hearing",
    )
    await expect(
        consumer,
        case_id,
        {"make_offer", "blind_offer", "withdraw"},
        None,
        "Wait for the mediator to propose times for the hearing",
    )


async def test_answer_decision_and_withdrawal_ask_for_the_right_things(new_client: Any) -> None:
    from tests.builders import answered_case, filed_case

    people = {n: await login(new_client, n) for n in (CONSUMER, ANKANG_REP, SUPERVISOR)}
    consumer, rep, supervisor = (people[n] for n in (CONSUMER, ANKANG_REP, SUPERVISOR))
    filed = await filed_case(callers(people))
    await expect(consumer, filed, {"withdraw"}, None, "Wait for the insurer&#39;s answer")
    await expect(
        rep,
        filed,
        {"answer", "request_extension"},
        "answer",
        "Answer the complaint before the deadline",
    )
    await expect(supervisor, filed, set(), None, "Wait for the insurer&#39;s answer")
    answered = await answered_case(callers(people))
    html = await expect(
        consumer,
        answered,
        {"accept_answer", "reject_answer", "make_offer", "blind_offer", "withdraw"},
        None,
        "Read the answer, then accept it or ask for mediation",
    )
    # one way to mediation, not two
    assert "/act/request_mediation" not in html and html.count("/act/reject_answer") == 1
    await expect(
        rep,
        answered,
        {"make_offer", "blind_offer"},
        None,
        "Wait for the consumer&#39;s decision on the answer",
    )

    # withdrawing cannot be undone: the consequence is spelled out, the box is required, and the
    # server refuses the step without it
    assert "it cannot be reopened" in html
    assert re.search(
        r'<input type="checkbox" id="withdraw-confirm" name="confirm"[^>]*required', html
    )
    resp = await post(consumer, f"/cases/{filed}/act/withdraw", {"reason": "不想继续"})
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "confirmation_required"
    again = await resp.text()
    assert re.search(r'id="withdraw-confirm"[^>]*aria-invalid="true"', again)
    assert "不想继续" in again  # what was typed is kept
    assert await state(consumer, filed) == "awaiting_insurer"
    resp = await post(consumer, f"/cases/{filed}/act/withdraw", {"confirm": "1"})
    assert resp.status == 303
    assert await state(consumer, filed) == "withdrawn"
    await expect(consumer, filed, set(), None, "Nothing more to do: the case will be closed")
    await expect(supervisor, filed, {"close"}, "close", "Close the case")


async def test_from_the_agreement_to_closing(new_client: Any) -> None:
    case_id, people, _app = await hearing_case(new_client)
    consumer, rep, mediator = people[CONSUMER], people[ANKANG_REP], people[MEDIATOR]
    # the hearing was set without a hearing room: the mediator drafts (or proposes a hearing)
    await expect(
        mediator,
        case_id,
        {"request_extension", "propose_hearing", "draft_agreement", "declare_not_settled"},
        "draft_agreement",
        "Draft the agreement",
    )
    await expect(
        consumer,
        case_id,
        {"make_offer", "blind_offer", "withdraw"},
        None,
        "Wait for the mediator&#39;s draft agreement",
    )
    sha = (await draft(people, case_id))["agreement"]["sha256"]
    await expect(
        consumer,
        case_id,
        {"sign_agreement", "withdraw"},
        "sign_agreement",
        "Read the agreement and sign it",
    )
    assert (await sign(people, CONSUMER, case_id, sha)).status == 200
    await expect(consumer, case_id, {"withdraw"}, None, "Wait for the others to sign the agreement")

    # a change to the draft voids the consumer's signature: only when the box says so
    html = await page(mediator, case_id)
    assert re.search(r'<input type="checkbox" value="1" required id="outcome-draft-confirm"', html)
    form = {
        "facts": "消费者住院手术后申请理赔。",
        "terms": "保险公司赔付3100元。",
        "amount": "3100",
        "due_on": "2030-01-31",
        "confidential": "1",
    }
    resp = await post(mediator, f"/cases/{case_id}/outcome/agreement", form)
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "signatures_not_voided"
    view = await (await consumer.get(f"/api/v1/cases/{case_id}/agreement")).json()
    assert view["agreement"]["sha256"] == sha and view["signatures"]  # nothing changed
    resp = await post(mediator, f"/cases/{case_id}/outcome/agreement", {**form, "confirm": "1"})
    assert resp.status == 303
    sha = (await (await consumer.get(f"/api/v1/cases/{case_id}/agreement")).json())["agreement"][
        "sha256"
    ]
    for who in (CONSUMER, ANKANG_REP, MEDIATOR):
        assert (await sign(people, who, case_id, sha)).status == 200

    # settled: the agreement binds, withdrawing is neither offered nor accepted
    await expect(
        consumer, case_id, {"confirm_payment"}, None, "Wait for the insurer to pay as agreed"
    )
    resp = await post(consumer, f"/cases/{case_id}/act/withdraw", {"confirm": "1"})
    assert resp.status == 409 and resp.headers["X-Error-Code"] == "illegal_transition"
    await expect(
        rep, case_id, {"record_payment"}, "record_payment", "Pay as agreed, then record the payment"
    )
    await expect(mediator, case_id, set(), None, "Wait for the insurer to pay as agreed")
    resp = await rep.post(
        f"/api/v1/cases/{case_id}/payments",
        {"amount_yuan": "3100", "paid_on": date.today().isoformat(), "reference": "T1"},
    )
    assert resp.status == 200, await resp.text()
    await expect(
        consumer,
        case_id,
        {"confirm_payment"},
        "confirm_payment",
        "The insurer recorded a payment: confirm that you received it",
    )
    await expect(
        rep, case_id, {"record_payment"}, None, "Wait for the consumer to confirm the payment"
    )
    assert (await consumer.post(f"/api/v1/cases/{case_id}/payments/confirm")).status == 200
    await expect(mediator, case_id, {"close"}, "close", "Close the case")
    await expect(consumer, case_id, set(), None, "Nothing more to do: the case will be closed")
    resp = await post(mediator, f"/cases/{case_id}/outcome/close", {"confirm": "1"})
    assert resp.status == 303
    await expect(consumer, case_id, {"rate_service"}, "rate_service", "Nothing more to do")
    await expect(mediator, case_id, set(), None, "Nothing more to do")
