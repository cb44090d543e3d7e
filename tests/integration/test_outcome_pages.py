"""The outcome section of the case page: shown by state and role in both languages; its forms,
with CSRF, drive the agreement (drafted, signed after re-authentication, countersigned),
blind offers, offers, payment, ending, closing and the rating through the services."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from odr.services import demo
from tests.integration.helpers import ANKANG_REP, CONSUMER, MEDIATOR, SUPERVISOR, Session, login
from tests.integration.outcome_setup import answered_case, hearing_case, next_otp

SECRET = ("9876543", "98765.43", "98,765.43")  # the consumer's secret figure, in every form


async def page(session: Session, case_id: int, lang: str = "en") -> str:
    """The case page in ``lang``, chosen with the language switch."""
    resp = await session.client.get(f"/lang/{lang}", allow_redirects=False)
    assert resp.status == 303
    resp = await session.client.get(f"/cases/{case_id}")
    assert resp.status == 200, resp.status
    assert resp.headers["Content-Language"] == lang
    return str(await resp.text())


async def post(session: Session, path: str, data: dict[str, str] | None = None) -> Any:
    """A page form with the session's CSRF token."""
    body = {"csrf_token": session.token, **(data or {})}
    return await session.client.post(path, data=body, allow_redirects=False)


def done(resp: Any, case_id: int) -> None:
    assert resp.status == 303, resp.status
    assert resp.headers["Location"] == f"/cases/{case_id}#outcome"


def section(html: str) -> str:
    match = re.search(r'<section aria-labelledby="outcome-heading".*?</section>', html, re.S)
    assert match, "no outcome section"
    return match.group(0)


async def api(session: Session, path: str) -> Any:
    resp = await session.get(path)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_agreement_payment_and_rating_through_the_pages(new_client: Any) -> None:
    case_id, people, _app = await hearing_case(new_client)
    consumer, rep, mediator = people[CONSUMER], people[ANKANG_REP], people[MEDIATOR]
    base = f"/cases/{case_id}/outcome"

    html = section(await page(mediator, case_id, "en"))
    assert 'id="outcome-draft"' in html and "Draft the agreement" in html
    assert 'id="outcome-not_settled"' in html  # the mediator may end without agreement
    html = section(await page(mediator, case_id, "zh-CN"))
    assert "调解协议" in html and 'id="outcome-draft"' in html
    assert 'id="outcome-draft"' not in section(await page(consumer, case_id, "en"))

    # the terms left out: the form comes back, the field marked, what was typed kept
    draft = {
        "facts": "消费者住院手术后申请理赔，保险公司以免责条款为由拒赔。",
        "terms": "",
        "amount": "3,000",
        "due_on": date.today().isoformat(),
        "confidential": "1",
    }
    resp = await post(mediator, f"{base}/agreement", draft)
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "agreement_incomplete"
    again = section(await resp.text())
    assert re.search(r'<textarea[^>]*id="outcome-draft-terms"[^>]*aria-invalid="true"', again)
    assert 'id="outcome-error-summary"' in again and 'href="#outcome-draft-terms"' in again
    assert "以免责条款为由拒赔" in again
    draft["terms"] = "保险公司赔付3000元，双方再无争议。"
    done(await post(mediator, f"{base}/agreement", draft), case_id)
    assert "The agreement was saved" in section(await page(mediator, case_id, "en"))

    view = await api(consumer, f"/api/v1/cases/{case_id}/agreement")
    sha = view["agreement"]["sha256"]
    assert view["state"] == "agreement_pending"

    # the consumer reads the text and its hash; signing asks for the password only
    html = section(await page(consumer, case_id, "zh-CN"))
    assert "调解协议书" in html and sha in html and "密码" in html
    assert 'id="outcome-sign-password"' in html and 'id="outcome-sign-otp"' not in html
    html = section(await page(consumer, case_id, "en"))
    assert "Signing is binding." in html and "all signatures are removed" in html
    assert f'name="sha256" value="{sha}"' in html

    sign = {"sha256": sha, "read": "1", "password": "wrong-password-1"}
    resp = await post(consumer, f"{base}/agreement/sign", sign)
    assert resp.status == 401 and resp.headers["X-Error-Code"] == "invalid_credentials"
    again = section(await resp.text())
    assert re.search(r'<input[^>]*id="outcome-sign-password"[^>]*aria-invalid="true"', again)
    assert "The login or the password is wrong." in again
    assert "wrong-password-1" not in again  # a password is never sent back
    view = await api(consumer, f"/api/v1/cases/{case_id}/agreement")
    assert view["signatures"] == [] and view["state"] == "agreement_pending"

    sign["password"] = demo.DEMO_PASSWORD
    resp = await post(consumer, f"{base}/agreement/sign", {**sign, "read": ""})
    assert resp.status == 422  # the box confirming the reading is not ticked
    done(await post(consumer, f"{base}/agreement/sign", sign), case_id)
    html = section(await page(consumer, case_id, "en"))
    assert "You signed the agreement." in html and 'id="outcome-sign"' not in html

    # staff sign with the password and a one-time code (the next one: the login's is spent)
    html = section(await page(rep, case_id, "zh-CN"))
    assert 'id="outcome-sign-otp"' in html and "6 位验证码" in html
    resp = await post(rep, f"{base}/agreement/sign", sign)
    assert resp.status == 401 and resp.headers["X-Error-Code"] == "otp_required"
    assert re.search(r'id="outcome-sign-otp"[^>]*aria-invalid="true"', await resp.text())
    done(await post(rep, f"{base}/agreement/sign", {**sign, "otp": next_otp(ANKANG_REP)}), case_id)
    html = section(await page(mediator, case_id, "en"))
    assert "Countersign the agreement as mediator" in html
    done(
        await post(mediator, f"{base}/agreement/sign", {**sign, "otp": next_otp(MEDIATOR)}),
        case_id,
    )
    assert "All parties have signed" in section(await page(mediator, case_id, "en"))
    view = await api(consumer, f"/api/v1/cases/{case_id}/agreement")
    assert view["state"] == "settled"
    assert [s["party"] for s in view["signatures"]] == ["consumer", "insurer", "mediator"]

    # settled: the confirmation package with the days left; the insurer records the payment
    html = section(await page(consumer, case_id, "en"))
    assert f"/api/v1/cases/{case_id}/confirmation-package" in html
    days = view["confirmation_window"]["days_left"]
    assert f"{days} days left" in html
    assert 'id="outcome-confirm"' in html and 'id="outcome-payment"' not in html
    html = section(await page(rep, case_id, "en"))
    assert 'id="outcome-payment"' in html and 'value="3000.00"' in html
    payment = {"amount": "3000", "paid_on": date.today().isoformat(), "reference": "TX-88"}
    done(await post(rep, f"{base}/payments", payment), case_id)
    html = section(await page(consumer, case_id, "en"))
    assert "TX-88" in html and "Did you receive the money?" in html
    done(await post(consumer, f"{base}/payments/confirm"), case_id)
    html = section(await page(consumer, case_id, "zh-CN"))
    assert "消费者已确认收到款项" in html
    detail = await api(consumer, f"/api/v1/cases/{case_id}")
    assert detail["state"] == "fulfilled"

    # the mediator closes: the closing report; then the parties rate the service
    html = section(await page(mediator, case_id, "zh-CN"))
    assert 'id="outcome-close"' in html and "结案" in html
    # closing cannot be undone: without the box ticked the server refuses, nothing changes
    resp = await post(mediator, f"{base}/close")
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "confirmation_required"
    again = section(await resp.text())
    assert re.search(r'id="outcome-close-confirm"[^>]*aria-invalid="true"', again)
    assert (await api(mediator, f"/api/v1/cases/{case_id}"))["state"] == "fulfilled"
    resp = await post(mediator, f"{base}/close", {"confirm": "1"})
    assert resp.status == 303 and resp.headers["Location"] == f"/cases/{case_id}/report"
    html = section(await page(consumer, case_id, "en"))
    assert f'href="/cases/{case_id}/report"' in html and "report.pdf?lang=en" in html
    assert 'id="outcome-rating"' in html and html.count('type="radio"') == 5
    assert 'for="outcome-rating-score-5"' in html
    resp = await post(consumer, f"{base}/rating", {"comment": "还行"})
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "invalid_score"
    assert "还行" in await resp.text()
    done(await post(consumer, f"{base}/rating", {"score": "4", "comment": "调解员很耐心"}), case_id)
    html = section(await page(consumer, case_id, "en"))
    assert "Your rating: 4 of 5" in html and 'value="4" required checked' in html
    assert (await api(consumer, f"/api/v1/cases/{case_id}/rating"))["rating"]["score"] == 4
    assert 'id="outcome-rating"' not in section(await page(mediator, case_id, "en"))


async def test_blind_offers_never_show_the_other_sides_figure(new_client: Any) -> None:
    case_id, people = await answered_case(new_client)
    consumer, rep = people[CONSUMER], people[ANKANG_REP]
    supervisor = await login(new_client, SUPERVISOR)
    url = f"/cases/{case_id}/outcome/blind-offers"

    html = section(await page(consumer, case_id, "en"))
    assert "The least you accept, in yuan" in html and "Rounds left: 3 of 3" in html
    html = section(await page(rep, case_id, "zh-CN"))
    assert 'id="outcome-blind"' in html and 'id="outcome-offer"' in html

    resp = await post(consumer, url, {"amount": "abc"})
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "invalid_amount"
    assert re.search(r'id="outcome-blind-amount"[^>]*aria-invalid="true"', await resp.text())
    done(await post(consumer, url, {"amount": SECRET[1]}), case_id)
    html = section(await page(consumer, case_id, "en"))
    assert "Your figure: " in html and SECRET[2] in html  # one's own figure only
    assert 'id="outcome-blind"' not in html  # it waits for the other side

    for lang in ("en", "zh-CN"):
        html = await page(rep, case_id, lang)
        for form in SECRET:
            assert form not in html, f"the insurer's page ({lang}) shows {form}"
    assert "The other side has given its figure" in section(await page(rep, case_id, "en"))

    done(await post(rep, url, {"amount": "5000"}), case_id)
    for reader in (consumer, rep, supervisor):
        html = section(await page(reader, case_id, "en"))
        assert "No overlap" in html and "Rounds left: 2 of 3" in html
    for reader in (rep, supervisor):
        for lang in ("en", "zh-CN"):
            html = await page(reader, case_id, lang)
            for form in SECRET:
                assert form not in html
    assert "5,000.00" in section(await page(rep, case_id, "en"))
    assert "5,000.00" not in section(await page(consumer, case_id, "en"))

    # a second figure in the same round is refused, with the reason
    done(await post(consumer, url, {"amount": "8000"}), case_id)
    resp = await post(consumer, url, {"amount": "7000"})
    assert resp.status == 409
    assert resp.headers["X-Error-Code"] == "blind_offer_already_submitted"
    assert "You have already given your figure in this round" in section(await resp.text())


async def test_offers_answered_through_the_pages(new_client: Any) -> None:
    case_id, people = await answered_case(new_client)
    consumer, rep = people[CONSUMER], people[ANKANG_REP]
    base = f"/cases/{case_id}/outcome/offers"
    done(await post(consumer, base, {"amount": "3000", "text": "按合同应赔3000元"}), case_id)
    html = section(await page(rep, case_id, "en"))
    assert "按合同应赔3000元" in html and "Do you accept?" in html
    first = int(re.search(r"offers/(\d+)/answer", html)[1])  # type: ignore[index]
    assert "Make a counter-offer" in html
    done(await post(rep, base, {"amount": "2000", "text": "最多2000元"}), case_id)

    # the consumer cannot answer its own (superseded) offer
    resp = await post(consumer, f"{base}/{first}/answer", {"accept": "1"})
    assert resp.status == 409 and resp.headers["X-Error-Code"] == "offer_superseded"
    html = section(await page(consumer, case_id, "zh-CN"))
    counter = int(re.search(r"offers/(\d+)/answer", html)[1])  # type: ignore[index]
    assert counter > first
    done(await post(consumer, f"{base}/{counter}/answer", {"accept": "1"}), case_id)
    html = section(await page(consumer, case_id, "en"))
    assert "You accepted the offer." in html and "Accepted" in html
    assert (await api(consumer, f"/api/v1/cases/{case_id}"))["state"] == "resolved"


async def test_not_settled_closed_referred_and_rated(new_client: Any) -> None:
    case_id, people, _app = await hearing_case(new_client)
    consumer, rep, mediator = people[CONSUMER], people[ANKANG_REP], people[MEDIATOR]
    base = f"/cases/{case_id}/outcome"
    resp = await post(mediator, f"{base}/not-settled", {"reason": "  "})
    assert resp.status == 422 and resp.headers["X-Error-Code"] == "reason_required"
    again = section(await resp.text())
    assert re.search(r'id="outcome-not_settled-reason"[^>]*aria-invalid="true"', again)
    # a party may not end the mediation
    resp = await post(consumer, f"{base}/not-settled", {"reason": "不谈了"})
    assert resp.status == 403
    done(await post(mediator, f"{base}/not-settled", {"reason": "双方对金额分歧过大"}), case_id)
    html = section(await page(mediator, case_id, "en"))
    assert "referral-package?forum=arbitration" in html
    assert "referral-package?forum=court" in html
    resp = await post(mediator, f"{base}/close", {"confirm": "1"})
    assert resp.status == 303 and resp.headers["Location"] == f"/cases/{case_id}/report"
    for reader, lang in ((consumer, "zh-CN"), (rep, "en")):
        html = section(await page(reader, case_id, lang))
        assert 'id="outcome-rating"' in html and "referral-package" in html
    resp = await rep.get(f"/api/v1/cases/{case_id}/referral-package?forum=court")
    assert resp.status == 200 and resp.content_type == "application/zip"


async def test_every_outcome_form_needs_the_csrf_token(new_client: Any) -> None:
    case_id, people, _app = await hearing_case(new_client)
    base = f"/cases/{case_id}/outcome"
    paths = [
        "agreement",
        "agreement/sign",
        "blind-offers",
        "offers",
        "offers/1/answer",
        "payments",
        "payments/confirm",
        "payments/dispute",
        "not-settled",
        "close",
        "rating",
    ]
    for who in (MEDIATOR, CONSUMER):
        session = people[who]
        for path in paths:
            resp = await session.client.post(
                f"{base}/{path}", data={"reason": "x", "amount": "1"}, allow_redirects=False
            )
            assert resp.status == 403, path
            resp = await session.client.post(
                f"{base}/{path}", data={"csrf_token": "forged"}, allow_redirects=False
            )
            assert resp.status == 403, path
    detail = await api(people[CONSUMER], f"/api/v1/cases/{case_id}")
    assert detail["state"] == "hearing_scheduled"
    timeline = await api(people[CONSUMER], f"/api/v1/cases/{case_id}/timeline")
    assert not {e["kind"] for e in timeline["items"]} & {
        "agreement_proposed",
        "not_settled",
        "offer_made",
        "blind_offer_submitted",
    }
