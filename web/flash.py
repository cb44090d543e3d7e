"""One-time notices for the next case page, kept in the session: what was just done there.

Each part of the case page has its own slot (the page itself, the hearings section, the
outcome section), so that a notice shows where the action was taken and only once.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp_session import get_session

#: Session keys, one per part of the case page.
CASE_NOTICE = "flash"
HEARING_NOTICE = "hearing_notice"
OUTCOME_NOTICE = "outcome_notice"


async def flash(request: web.Request, slot: str, case_id: int, **notice: Any) -> None:
    """Leave ``notice`` for the next view of case ``case_id`` (replacing any earlier one)."""
    session = await get_session(request)
    session[slot] = {"case_id": case_id, **notice}


async def take_flash(request: web.Request, slot: str, case_id: int) -> dict[str, Any] | None:
    """The notice left for case ``case_id`` in ``slot``, removed as it is read."""
    session = await get_session(request)
    notice = session.get(slot)
    if not isinstance(notice, dict) or notice.get("case_id") != case_id:
        return None
    del session[slot]
    return dict(notice)
