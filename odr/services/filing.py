"""Filing a complaint with files attached: each file is sniffed and stored as it arrives, with
the limits of any evidence upload; then the case and its files are entered in one change. If
a file is refused, or the complaint is, nothing is filed and the stored files are forgotten."""

from __future__ import annotations

from collections.abc import AsyncIterator

from odr.domain.accounts import Actor
from odr.domain.errors import DomainError, ValidationFailed
from odr.services.cases import Attachment, CaseService, ComplaintForm, Intake, check_form
from odr.services.evidence import EvidenceService

#: The most files a complaint may bring; more can be added on the case page afterwards.
MAX_FILING_FILES = 5

Files = AsyncIterator[tuple[str, AsyncIterator[bytes]]]


async def _none() -> Files:
    return
    yield  # pragma: no cover - makes this an async generator


def no_files() -> Files:
    return _none()


async def file_with_evidence(
    cases: CaseService,
    evidence: EvidenceService,
    actor: Actor,
    form: ComplaintForm,
    *,
    consumer_id: int,
    files: Files,
) -> Intake:
    """File ``form`` for ``consumer_id`` with ``files`` ((name, bytes) as they arrive) as the
    case's first evidence. A refused file's error names it in ``details['file']``."""
    check_form(form, accepting_terms=True)  # the complaint's own errors before any byte
    staged: list[Attachment] = []
    try:
        async for name, chunks in files:
            if len(staged) == MAX_FILING_FILES:
                raise ValidationFailed(
                    f"A complaint may bring at most {MAX_FILING_FILES} files.",
                    code="too_many_files",
                    details={"field": "file", "max": MAX_FILING_FILES},
                )
            used = sum(a.size for a in staged)
            room = min(evidence.max_file_bytes, evidence.max_case_bytes - used)
            try:
                staged.append(await evidence.stage(chunks, name=name, room=room))
            except DomainError as error:
                error.details.setdefault("field", "file")
                error.details["file"] = name
                raise
        return await cases.file(actor, form, consumer_id=consumer_id, attachments=staged)
    except BaseException:
        await evidence.discard(staged)
        raise
