"""What follows a committed change of a case, as `CaseService` subscribers
(`CaseService.subscribe`, registered where the services are composed)."""

from __future__ import annotations

from typing import Protocol

from odr.domain.cases import EventKind
from odr.services.cases import CaseChange, Subscriber


class ClosingReports(Protocol):
    async def after_operation(self, case_id: int, operation: str) -> None: ...


def closing_report(closing: ClosingReports) -> Subscriber:
    """Closing, whichever way, enters the closing report into the evidence."""

    async def enter_closing_report(change: CaseChange) -> None:
        if any(e.kind is EventKind.CLOSED for e in change.events):
            await closing.after_operation(change.case.id, "close")

    return enter_closing_report
