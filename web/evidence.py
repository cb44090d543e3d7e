"""The evidence section of the case page: the items the reader may see, and the upload form
read as a stream (a classic multipart POST, for browsers without JavaScript)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from odr.api.evidence import PREVIEWABLE
from odr.domain.errors import DomainError
from odr.http.multipart import UploadForm, read_upload_form
from odr.services.evidence import Item
from web.i18n import N_, _
from web.messages import message_for

#: The form's name in the case page's ``operation`` (where a sent-back error belongs).
OPERATION = "upload_evidence"
#: The text fields of the form, in the order the browser sends them (before the file).
FIELDS = ("kind", "visibility", "description")
KINDS = ("document", "image", "audio", "video", "callback_recording")
MAX_DESCRIPTION = 1000

#: Where the evidence form's message differs from the page-wide one for the same code.
_MESSAGES = {
    "description_too_long": N_("The description may have at most 1,000 characters."),
}


#: Error codes the upload script may meet, shown in the reader's language.
SCRIPT_ERRORS = (
    "file_required",
    "file_empty",
    "file_too_large",
    "unsupported_media_type",
    "invalid_evidence_kind",
    "invalid_visibility",
    "upload_offset_mismatch",
    "upload_incomplete",
    "upload_not_found",
    "upload_busy",
    "forbidden",
    "csrf_failed",
    "case_not_found",
    "illegal_transition",
    "rate_limited",
)


def script_texts() -> dict[str, str]:
    """What `static/evidence.js` says, by key: its own texts, then error messages by code.
    ``{percent}`` and ``{seconds}`` are filled in by the script."""
    texts = {
        "starting": _("Preparing the upload…"),
        "progress": _("Uploaded: {percent}"),
        "retrying": _("The connection was lost. Trying again in {seconds} seconds…"),
        "finishing": _("Checking the file…"),
        "done": _("The file was added. Showing it…"),
        "cancelled": _("The upload was cancelled."),
        "offline": _("The upload stopped: the connection is lost. Try again later."),
        "failed": _("The upload failed. Please try again."),
    }
    texts.update((code, message_for(code, "")) for code in SCRIPT_ERRORS)
    texts.update((code, _(text)) for code, text in _MESSAGES.items())
    return texts


@dataclass(frozen=True)
class ItemView:
    """One item as the list shows it."""

    sequence: int
    name: str
    kind: str
    size: int
    media_type: str
    description: str
    submitted_at: str  # ISO 8601, for <time datetime> and the moment filter
    submitter_role: str
    mine: bool
    mediator_only: bool
    download_url: str
    preview_url: str | None  # images and PDFs only
    thumbnail_url: str | None  # images only


def description(item: Item) -> str:
    """What the list says about an item. The platform's own documents carry a hash as their
    description (older ones a sentence ending with it); the list names it in the reader's
    language."""
    if not item.description or item.kind not in ("agreement", "report"):
        return item.description
    value = item.description.rsplit(" ", 1)[-1]
    if item.kind == "agreement":
        return _("SHA-256 of the signed agreement text: %(sha)s", sha=value)
    return _("Case record fingerprint when the case was closed: %(value)s", value=value)


def items_view(
    request: web.Request, case_id: int, user_id: int, items: list[Item]
) -> list[ItemView]:
    route = request.app.router["api.evidence.content"]
    views = []
    for i in items:
        url = route.url_for(case_id=str(case_id), sequence=str(i.sequence))
        inline = str(url.with_query(inline="1"))
        media = i.media_type.split(";")[0]
        views.append(
            ItemView(
                sequence=i.sequence,
                name=i.name,
                kind=i.kind,
                size=i.size,
                media_type=media,
                description=description(i),
                submitted_at=i.submitted_at.isoformat(),
                submitter_role=i.submitter_role,
                mine=i.submitter_id == user_id,
                mediator_only=i.visibility == "mediator_only",
                download_url=str(url),
                preview_url=inline if media.startswith(PREVIEWABLE) else None,
                thumbnail_url=inline if media.startswith("image/") else None,
            )
        )
    return views


def hide_unseen(events: list[dict[str, Any]], items: list[Item]) -> list[dict[str, Any]]:
    """The timeline without the evidence the reader may not see (another party's material for
    the mediator only): `odr.services.case_views.timeline` gives every event's payload. An item
    no longer listed (withdrawn) stays in the timeline only if it was for all parties."""
    seen = {i.sequence for i in items}
    shown = {
        e["sequence"]
        for e in events
        if e["kind"] == "evidence_added"
        and (e["sequence"] in seen or (e.get("payload") or {}).get("visibility") == "all_parties")
    }

    def visible(e: dict[str, Any]) -> bool:
        if e["kind"] == "evidence_added":
            return e["sequence"] in shown
        if e["kind"] in ("evidence_withdrawn", "evidence_redacted", "redaction_requested"):
            return (e.get("payload") or {}).get("sequence") in shown
        return True

    return [e for e in events if visible(e)]


def error_message(error: DomainError) -> str:
    text = _MESSAGES.get(error.code)
    return _(text) if text is not None else message_for(error.code, error.message)


def error_field(error: DomainError) -> str:
    """The form control an error is about: the file unless the service names a field."""
    named = error.details.get("field")
    return named if named in FIELDS else "file"


async def read_form(request: web.Request) -> UploadForm:
    """The upload form's fields and file (see `odr.http.multipart`)."""
    if request.content_type != "multipart/form-data":
        return UploadForm(fields={name: "" for name in FIELDS})
    return await read_upload_form(request, FIELDS)
