"""What of a case goes into its hash chain: one entry per event, in event order.

An ``evidence_added`` event becomes an ``evidence`` entry whose body describes the item (what
`odr.bundle` expects: sha256, size, name, media_type) and whose visibility is the item's; every
other event becomes an ``event`` entry. The ``filed`` entry carries the case's identity under
``"case"``, which an export bundle repeats."""

from __future__ import annotations

from typing import Any

from odr.domain.authz import Visibility
from odr.domain.cases import CaseEvent, EventKind
from odr.domain.ledger import EntryKind


def case_identity(event: CaseEvent) -> dict[str, Any]:
    """The case as its ``filed`` event describes it."""
    payload = event.payload_dict()
    return {
        "id": event.case_id,
        "number": payload.get("number"),
        "consumer_id": payload.get("consumer_id"),
        "insurer_id": payload.get("insurer_id"),
        "policy_numbers": payload.get("policy_numbers"),
        "category": payload.get("category"),
        "channel_kind": payload.get("channel_kind"),
        "received_at": payload.get("received_at"),
    }


def chain_entry_of(event: CaseEvent) -> tuple[EntryKind, dict[str, Any], Visibility]:
    """The chain entry (kind, body, visibility) that records ``event``."""
    payload = event.payload_dict()
    if event.kind is EventKind.EVIDENCE_ADDED:
        body = {
            "sha256": payload["sha256"],
            "size": payload["size"],
            "name": payload["name"],
            "media_type": payload["media_type"],
            "kind": payload["kind"],
            "description": payload.get("description", ""),
            "submitted_at": event.at.isoformat(),
            "submitted_by": {"user_id": event.actor_user_id, "role": str(event.actor_role)},
        }
        return EntryKind.EVIDENCE, body, Visibility(payload.get("visibility", "all_parties"))
    body = {
        "event": str(event.kind),
        "at": event.at.isoformat(),
        "actor": {
            "user_id": event.actor_user_id,
            "role": str(event.actor_role),
            "channel_id": event.actor_channel_id,
        },
        "from_state": str(event.from_state) if event.from_state else None,
        "to_state": str(event.to_state),
        "payload": payload,
    }
    if event.kind is EventKind.FILED:
        body["case"] = case_identity(event)
    if event.kind in (EventKind.EVIDENCE_REDACTED, EventKind.REDACTION_REQUESTED):
        # about one item: seen by whoever sees the item
        return EntryKind.EVENT, body, Visibility(payload.get("visibility", "all_parties"))
    return EntryKind.EVENT, body, Visibility.ALL_PARTIES
