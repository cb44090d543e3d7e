"""Notification preferences: what `notify` adds for a person's choices (legal notices always
reach the inbox; SMS only where asked for, or where there is no e-mail, unless switched off)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from odr.services import notifications as n
from odr.storage.models import Notification, OutboxMessage

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
PARAMS = {
    "number": "ODR-2026-000001",
    "due": "2026-12-17",
    "reason": "-",
    "url": "/",
    "when": "-",
    "zone": "-",
    "minutes": 60,
}


class Collect:
    def __init__(self) -> None:
        self.added: list[Any] = []

    def add(self, row: Any) -> None:
        self.added.append(row)


def sent(prefs: dict[str, Any] | None, kind: str, *, email: str | None = "a@b.example") -> set[str]:
    session = Collect()
    person = n.Recipient(1, email, "13800000001", "zh-CN", prefs)
    n.notify(session, [person], kind=kind, key="k", case_id=1, params=PARAMS, now=NOW)  # type: ignore[arg-type]
    media = {"inbox" for r in session.added if isinstance(r, Notification)}
    return media | {r.medium for r in session.added if isinstance(r, OutboxMessage)}


def test_without_choices_everything_goes_as_before() -> None:
    assert sent(None, "message_received") == {"inbox", "email"}
    assert sent(None, "message_received", email=None) == {"inbox", "sms"}


def test_choices_are_applied_per_group_and_medium() -> None:
    prefs = n.clean_preferences({"messages": ["sms"], "updates": []})
    assert sent(prefs, "message_received") == {"sms"}  # SMS asked for, e-mail switched off
    assert sent(prefs, "state_changed") == set()  # the person wants none of these
    assert sent(prefs, "hearing_proposed") == set()  # a group not ticked at all: off


def test_legal_notices_always_reach_the_inbox() -> None:
    prefs = n.clean_preferences({})  # everything switched off
    assert sent(prefs, "case_received") == {"inbox"}
    assert sent(prefs, "hearing_invitation") == {"inbox"}
    assert prefs["legal"]["inbox"] is True and prefs["work"]["inbox"] is True
    # a form cannot switch them off
    assert n.clean_preferences({"legal": []})["legal"]["inbox"] is True


def test_every_kind_of_notification_belongs_to_a_group() -> None:
    assert set(n.TEXTS) <= set(n.GROUP_OF_KIND)
    assert n.clean_preferences({"messages": ["inbox", "bogus"]})["messages"] == {
        "inbox": True,
        "email": False,
        "sms": False,
    }
