"""The case page and the case lists name whose deadline runs: the insurer's answer while the
insurer must answer, the mediation once the case is in mediation (never a bare "deadline")."""

from __future__ import annotations

import html
import re
from typing import Any

from tests.builders import mediation_case
from tests.integration.helpers import (
    ANKANG_REP,
    CONSUMER,
    LEAD,
    MEDIATOR,
    callers,
    complaint,
    insurer_id,
    login,
)

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}


async def text(session: Any, path: str, headers: dict[str, str]) -> str:
    resp = await session.client.get(path, headers=headers)
    assert resp.status == 200, path
    return str(await resp.text())


def case_page_deadline(page: str) -> str:
    found = re.search(r"<dt>([^<]*)</dt><dd>\s*<span class=\"deadline", page)
    assert found, "the case page shows no running deadline"
    return html.unescape(found.group(1))


async def test_the_deadline_says_whose_it_is(new_client: Any) -> None:
    people = {who: await login(new_client, who) for who in (CONSUMER, ANKANG_REP, LEAD, MEDIATOR)}
    consumer, rep = people[CONSUMER], people[ANKANG_REP]
    resp = await consumer.post("/api/v1/cases", complaint(await insurer_id(consumer)))
    answering = (await resp.json())["id"]
    mediating = await mediation_case(callers(people))

    page = await text(consumer, f"/cases/{answering}", ZH)
    assert case_page_deadline(page) == "保险公司答复期限"
    assert case_page_deadline(await text(rep, f"/cases/{answering}", EN)) == "Insurer's answer due"
    page = await text(consumer, f"/cases/{mediating}", ZH)
    assert case_page_deadline(page) == "调解期限"
    assert case_page_deadline(await text(rep, f"/cases/{mediating}", EN)) == "Mediation due"

    # the lists: each row names its deadline (on a phone, as the cell's label too)
    listed = await text(consumer, "/cases", ZH)
    assert 'data-label="保险公司答复期限"' in listed and 'data-label="调解期限"' in listed
    assert '<span class="small muted">保险公司答复期限</span>' in listed
    assert '<span class="small muted">调解期限</span>' in listed
    for page in (listed, await text(consumer, f"/cases/{answering}", ZH)):
        assert "办理期限" not in page
