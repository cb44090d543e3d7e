"""Reading an upload form without holding the file: text fields are read whole (with a cap),
the file part is left to be streamed to storage."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from urllib.parse import unquote

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import BadHttpMessage

from odr.domain.errors import ValidationFailed
from odr.http.auth import CSRF_FIELD
from odr.http.errors import HttpError
from odr.json_input import has_control_character

READ_CHUNK = 64 * 1024
MAX_FIELD_BYTES = 8000  # a 1,000-character Chinese description is about 3,000 bytes
MAX_TOKEN_BYTES = 256  # a CSRF token is 43 characters
#: The reader of a multipart form whose first part, the CSRF token, the check already read.
_READER = "odr.multipart_reader"
#: What aiohttp's multipart reader raises on a body that is not a well-formed form (no
#: boundary, a missing boundary line, a bad part header, a body cut short).
_MALFORMED = (ValueError, BadHttpMessage)


def _malformed() -> HttpError:
    return HttpError(400, "bad_request", "The upload form could not be read.")


@dataclass
class UploadForm:
    """The form's text fields, and the file's bytes as they arrive (``None``: no file)."""

    fields: dict[str, str] = field(default_factory=dict)
    name: str = ""
    chunks: AsyncIterator[bytes] | None = None

    def require_file(self) -> AsyncIterator[bytes]:
        if self.chunks is None:
            raise ValidationFailed(
                "Attach a file.", code="file_required", details={"field": "file"}
            )
        return self.chunks


async def leading_token(request: web.Request) -> str:
    """The CSRF token of a multipart form, sent as its first part (``csrf_token``, the form's
    first control), so that no token travels in a URL and the file is still streamed. The
    reader stays with the request, after that part, for `read_upload_form`. Anything else
    first, or a body that cannot be read, gives no token (the form is refused)."""
    try:
        reader = await request.multipart()
        request[_READER] = reader
        part = await reader.next()
        if not isinstance(part, BodyPartReader) or part.name != CSRF_FIELD:
            return ""
        data = b""
        while chunk := await part.read_chunk(MAX_TOKEN_BYTES):
            data += chunk
            if len(data) > MAX_TOKEN_BYTES:
                return ""
    except _MALFORMED:
        return ""
    return data.decode("ascii", "replace")


async def read_upload_form(request: web.Request, names: Collection[str]) -> UploadForm:
    """Read the fields in ``names`` up to the ``file`` part and leave its bytes unread. An empty
    file input sends no file. A body that is not a well-formed form is a ``400
    bad_request``."""
    try:
        return await _read_form(request, names)
    except _MALFORMED:
        raise _malformed() from None


async def _read_form(request: web.Request, names: Collection[str]) -> UploadForm:
    form = UploadForm(fields={name: "" for name in names})
    reader: MultipartReader = request.get(_READER) or await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "file":
            # some clients percent-encode non-ASCII names in the header
            form.name = unquote(part.filename or "")
            if form.name:
                form.chunks = file_chunks(part)
            break
        if part.name is not None and part.name in names:
            form.fields[part.name] = await _text(part)
    return form


@dataclass
class FilesForm:
    """A form with text fields first and then any number of ``file`` parts: `files` yields
    each file as it comes, (name, bytes as they arrive); each must be read to its end (or
    given up) before the next one. Empty file inputs (no name) are skipped."""

    fields: dict[str, str]
    reader: MultipartReader | None
    first: BodyPartReader | None = None

    async def files(self) -> AsyncIterator[tuple[str, AsyncIterator[bytes]]]:
        part = self.first
        while part is not None:
            if part.name == "file":
                name = unquote(part.filename or "")
                if name:
                    yield name, file_chunks(part)
            else:
                raise ValidationFailed(
                    "The files come last in the form.",
                    code="invalid_field",
                    details={"field": part.name or ""},
                )
            part = await self._next()

    async def _next(self) -> BodyPartReader | None:
        if self.reader is None:
            return None
        try:
            while (part := await self.reader.next()) is not None:
                if isinstance(part, BodyPartReader):
                    return part
        except _MALFORMED:
            raise _malformed() from None
        return None


async def read_files_form(
    request: web.Request, names: Collection[str], *, max_field_bytes: int = MAX_FIELD_BYTES
) -> FilesForm:
    """The fields in ``names`` (others are ignored) up to the first ``file`` part, each at
    most ``max_field_bytes``, the files left to be streamed (`FilesForm.files`). A body that
    is not a well-formed form is a ``400 bad_request``; a field with control characters is
    ``invalid_characters``."""
    form = FilesForm(fields={name: "" for name in names}, reader=None)
    try:
        reader: MultipartReader = request.get(_READER) or await request.multipart()
        form.reader = reader
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "file":
                form.first = part
                break
            if part.name is not None and part.name in names:
                form.fields[part.name] = await _text(part, max_field_bytes)
    except _MALFORMED:
        raise _malformed() from None
    for name, value in form.fields.items():
        if has_control_character(value):
            raise ValidationFailed(
                "Text may not contain control characters (such as NUL).",
                code="invalid_characters",
                details={"field": name},
            )
    return form


async def _text(part: BodyPartReader, limit: int = MAX_FIELD_BYTES) -> str:
    data = b""
    while chunk := await part.read_chunk(READ_CHUNK):
        data += chunk
        if len(data) > limit:
            raise ValidationFailed(
                "This field is too long.", code="invalid_field", details={"field": part.name or ""}
            )
    return data.decode("utf-8", "replace")


async def file_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while True:
        try:
            chunk = await part.read_chunk(READ_CHUNK)
        except _MALFORMED:
            raise _malformed() from None
        if not chunk:
            return
        yield chunk
