"""Property-based tests of the parsers that read what strangers send: bounded JSON, the id and
number parsers, amounts of money, and the multipart upload form reader.

Each parser is given arbitrary input (any unicode, any bytes, nested JSON of any depth, forms
with any field names, values and file names, cut or mangled bodies) and must either return
what the input says or raise its one documented error; never anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import unicodedata
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odr import json_input
from odr.domain.errors import DomainError, ValidationFailed
from odr.domain.money import MAX_YUAN, fen_of_yuan, parse_yuan
from odr.domain.numbers import MAX_ID, is_ascii_number, parse_int
from odr.http.errors import status_of
from odr.http.multipart import MAX_FIELD_BYTES, read_upload_form
from odr.http.params import header_int, path_id, query_int

FUZZ = settings(max_examples=200, deadline=None, database=None)
ASCII_DIGITS = frozenset("0123456789")

# --- bounded JSON ------------------------------------------------------------------------------

CONTROL = st.sampled_from([chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20))])
#: Text without the refused control characters (tab, line feed and carriage return are fine).
CLEAN_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="".join(
        chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)
    )),
    max_size=20,
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | CLEAN_TEXT
)
VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(CLEAN_TEXT, children, max_size=4)
    ),
    max_leaves=30,
)


def depth(value: Any) -> int:
    """How many containers deep ``value`` nests (a scalar: 0)."""
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def nest(value: Any, levels: int, kinds: list[bool]) -> Any:
    for index in range(levels):
        value = {"k": value} if kinds[index % len(kinds)] else [value]
    return value


@FUZZ
@given(raw=st.text(max_size=300) | st.binary(max_size=300))
def test_any_text_or_bytes_is_read_or_rejected_with_a_reason(raw: str | bytes) -> None:
    try:
        json_input.loads(raw, max_bytes=200)
    except json_input.JsonRejected as exc:
        assert exc.reason in ("too_large", "too_deep", "malformed", "control_character")
        assert (exc.reason == "too_large") == (len(raw) > 200)


@FUZZ
@given(value=VALUES, extra=st.integers(min_value=0, max_value=40), kinds=st.lists(
    st.booleans(), min_size=1, max_size=5
))  # fmt: skip
def test_json_nested_to_32_levels_is_read_back_and_deeper_is_too_deep(
    value: Any, extra: int, kinds: list[bool]
) -> None:
    nested = nest(value, extra, kinds)
    raw = json.dumps(nested, ensure_ascii=bool(extra % 2))
    if depth(nested) <= json_input.MAX_DEPTH:
        assert json_input.loads(raw, max_bytes=10**7) == json.loads(raw)
    else:
        with pytest.raises(json_input.JsonRejected) as caught:
            json_input.loads(raw, max_bytes=10**7)
        assert caught.value.reason == "too_deep"


@FUZZ
@given(
    before=CLEAN_TEXT,
    control=CONTROL,
    after=CLEAN_TEXT,
    in_key=st.booleans(),
    path=st.lists(CLEAN_TEXT.filter(lambda k: "." not in k and k != ""), max_size=3),
)
def test_a_control_character_anywhere_is_refused_naming_the_field(
    before: str, control: str, after: str, in_key: bool, path: list[str]
) -> None:
    text = before + control + after
    leaf: Any = {text: 1} if in_key else text
    for key in reversed(path):
        leaf = {key: leaf}
    with pytest.raises(json_input.JsonRejected) as caught:
        json_input.loads(json.dumps(leaf), max_bytes=10**6)
    assert caught.value.reason == "control_character"
    assert caught.value.where == (".".join(path) or None)


@FUZZ
@given(
    depth_=st.integers(min_value=json_input.MAX_DEPTH + 1, max_value=100_000),
    opener=st.sampled_from(["[", '{"a":', '[{"b":']),
)
def test_unclosed_or_very_deep_nesting_is_a_refusal_not_a_recursion_error(
    depth_: int, opener: str
) -> None:
    with pytest.raises(json_input.JsonRejected) as caught:
        json_input.loads(opener * depth_, max_bytes=10**7)
    assert caught.value.reason in ("too_deep", "malformed")


def test_huge_numbers_and_non_json_constants_are_refused_or_read() -> None:
    with pytest.raises(json_input.JsonRejected):
        json_input.loads("1" * 5000, max_bytes=10**6)  # past Python's digit limit
    assert json_input.loads("[1e999]", max_bytes=100) == [float("inf")]


# --- ids and numbers ---------------------------------------------------------------------------

DIGITISH = st.text(
    st.sampled_from("0123456789") | st.characters(whitelist_categories=("Nd", "No", "Nl")),
    max_size=25,
)
ANY_TEXT = st.text(max_size=30) | DIGITISH | st.integers(min_value=0, max_value=2**70).map(str)
BOUNDS = st.tuples(
    st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=MAX_ID)
).map(sorted)


@FUZZ
@given(text=ANY_TEXT | st.none(), bounds=BOUNDS)
def test_parse_int_reads_only_ascii_digits_within_the_bounds(
    text: str | None, bounds: list[int]
) -> None:
    low, high = bounds
    value = parse_int(text, minimum=low, maximum=high)
    ascii_number = text is not None and text != "" and set(text) <= ASCII_DIGITS
    assert is_ascii_number(text) is ascii_number
    if value is not None:
        assert text is not None and ascii_number and int(text) == value and low <= value <= high
    elif ascii_number:
        assert text is not None
        assert len(text) > len(str(high)) or not low <= int(text) <= high


@FUZZ
@given(text=ANY_TEXT, bounds=BOUNDS, clamp=st.booleans(), absent=st.booleans())
def test_query_int_answers_a_number_or_invalid_field(
    text: str, bounds: list[int], clamp: bool, absent: bool
) -> None:
    low, high = bounds
    query = {} if absent else {"page": text}
    try:
        value = query_int(query, "page", 7, minimum=low, maximum=high, clamp=clamp)
    except ValidationFailed as exc:
        assert exc.code == "invalid_field" and exc.details == {"field": "page"}
        assert not clamp or not is_ascii_number(text)
        return
    if absent or text == "":
        assert value == 7
    else:
        assert is_ascii_number(text) and low <= value <= high
        if not clamp or len(text) <= len(str(high)):
            assert value == min(max(int(text), low), high) if clamp else value == int(text)


async def _numbers(request: web.Request) -> web.Response:
    try:
        case_id = path_id(request)
        sequence = header_int(request, "Upload-Offset", code="invalid_offset", message="No.")
    except ValidationFailed as exc:
        return web.json_response({"code": exc.code, "field": exc.details["field"]}, status=422)
    return web.json_response({"case_id": case_id, "offset": sequence})


@contextlib.contextmanager
def serving(app: web.Application) -> Iterator[tuple[asyncio.Runner, TestClient[Any, Any]]]:
    """A real HTTP server for ``app`` on its own event loop, and a client of it: hypothesis
    drives the examples synchronously, each one a request run on that loop."""
    with asyncio.Runner() as runner:

        async def start() -> TestClient[Any, Any]:
            client: TestClient[Any, Any] = TestClient(TestServer(app))
            await client.start_server()
            return client

        client = runner.run(start())
        try:
            yield runner, client
        finally:
            runner.run(client.close())


# header values: visible latin-1, digits of any script are not encodable in a header anyway
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=25)
PATH_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/?#%"),
    min_size=1,
    max_size=25,
)


def test_path_ids_and_header_numbers_over_http() -> None:
    app = web.Application()
    app.router.add_get("/ids/{case_id}", _numbers)
    with serving(app) as (runner, client):

        @settings(max_examples=100, deadline=None, database=None)
        @given(segment=PATH_TEXT | DIGITISH.filter(bool), header=HEADER_TEXT)
        def check(segment: str, header: str) -> None:
            runner.run(_check_numbers(client, segment, header))

        check()


async def _check_numbers(client: TestClient[Any, Any], segment: str, header: str) -> None:
    resp = await client.get(f"/ids/{quote(segment, safe='')}", headers={"Upload-Offset": header})
    status = resp.status
    body = await resp.json() if resp.content_type == "application/json" else None
    id_ok = parse_int(segment, minimum=1) is not None
    header_ok = parse_int(header.strip()) is not None
    if not id_ok:
        assert status == 404
    elif not header_ok:
        assert status == 422 and body == {"code": "invalid_offset", "field": "Upload-Offset"}
    else:
        assert status == 200 and body == {"case_id": int(segment), "offset": int(header.strip())}


# --- money -------------------------------------------------------------------------------------

DECIMALS = (
    st.decimals(allow_nan=True, allow_infinity=True)
    | st.decimals(min_value=0, max_value=MAX_YUAN * 2, places=2)
    | st.decimals(min_value=0, max_value=10**6, places=40)
    | st.builds(
        lambda digits, exponent: Decimal(f"{digits}E{exponent}"),
        st.integers(min_value=0, max_value=10**40),
        st.integers(min_value=-(10**9), max_value=10**9),
    )
    | st.sampled_from([Decimal("sNaN"), Decimal("-sNaN"), Decimal("-0"), Decimal("-0.00")])
)


@FUZZ
@given(amount=DECIMALS)
def test_fen_of_yuan_is_exact_or_invalid_amount(amount: Decimal) -> None:
    try:
        fen = fen_of_yuan(amount, "amount")
    except ValidationFailed as exc:
        assert exc.code == "invalid_amount" and exc.details == {"field": "amount"}
        if amount.is_finite() and 0 <= amount <= MAX_YUAN:
            assert amount != amount.quantize(Decimal("0.01"))  # more than two decimals
        return
    assert 0 <= fen <= MAX_YUAN * 100
    assert Decimal(fen) == amount * 100  # exactly: nothing rounded away


TYPED = st.one_of(
    st.text(max_size=20),
    st.builds(
        lambda whole, cents, sign, suffix, width: (
            sign + (f"{whole:,}" if width == 2 else str(whole)) + cents + suffix
        ),
        st.integers(min_value=0, max_value=10**13),
        st.sampled_from(["", ".5", ".05", ".50", ".123", "."]),
        st.sampled_from(["", "¥", "-", "+", " "]),
        st.sampled_from(["", "元", " ", "e3"]),
        st.integers(min_value=0, max_value=2),
    ),
    DIGITISH,
)


@FUZZ
@given(raw=TYPED, full_width=st.booleans())
def test_parse_yuan_reads_typed_yuan_or_invalid_amount(raw: str, full_width: bool) -> None:
    if full_width:  # the full-width forms a Chinese input method types
        raw = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in raw)
    try:
        fen = parse_yuan(raw, "amount")
    except ValidationFailed as exc:
        assert exc.code == "invalid_amount" and exc.details == {"field": "amount"}
        return
    text = unicodedata.normalize("NFKC", raw).strip().replace(",", "").replace(" ", "")
    text = text.removeprefix("¥").removesuffix("元")
    if fen is None:
        assert text == ""
        return
    assert set(text) <= ASCII_DIGITS | {"."}
    assert 0 <= fen <= MAX_YUAN * 100 and Decimal(fen) == Decimal(text) * 100


# --- the multipart upload form -----------------------------------------------------------------

FORM_FIELDS = ("name", "kind", "description")


async def _upload(request: web.Request) -> web.Response:
    """Reads the form the way the upload endpoint does and says what it got."""
    try:
        form = await read_upload_form(request, FORM_FIELDS)
        size, data = 0, b""
        if form.chunks is not None:
            async for chunk in form.chunks:
                size += len(chunk)
                data += chunk[:64]
        return web.json_response(
            {"fields": form.fields, "file": form.name, "size": size, "head": data.hex()}
        )
    except DomainError as exc:
        return web.json_response({"code": exc.code}, status=status_of(exc))


#: Names go into part headers: the client sends field names in ASCII only, file names
#: percent-encoded, and refuses control characters in either.
HEADER_SAFE = st.characters(blacklist_categories=("Cs", "Cc"))
FIELD_NAMES = st.sampled_from([*FORM_FIELDS, "other", "file"]) | st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E, blacklist_characters='"\\'),
    min_size=1,
    max_size=10,
)
FIELD_VALUES = st.text(max_size=50) | st.text(max_size=3).map(lambda t: t * 3000)
FILE_NAMES = st.text(HEADER_SAFE, max_size=40)


# aiohttp warns about a mangled Content-Disposition header or parameter, then reads on
@pytest.mark.filterwarnings("ignore::aiohttp.multipart.BadContentDispositionParam")
@pytest.mark.filterwarnings("ignore::aiohttp.multipart.BadContentDispositionHeader")
def test_the_upload_form_reader_reads_any_form_or_answers_a_4xx() -> None:
    """A well-formed form reads back as sent; a cut, mangled or mislabelled body is a 400 or a
    422 with a code, never a server error."""
    app = web.Application()
    app.router.add_post("/upload", _upload)
    with serving(app) as (runner, client):

        @settings(
            max_examples=150,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(
            fields=st.lists(st.tuples(FIELD_NAMES, FIELD_VALUES), max_size=5),
            file=st.none() | st.tuples(FILE_NAMES, st.binary(max_size=2000)),
            cut=st.none() | st.integers(min_value=0, max_value=3000),
            flip=st.none()
            | st.tuples(st.integers(min_value=0, max_value=3000), st.binary(min_size=1)),
            boundary=st.sampled_from(["", "; boundary=x", "; boundary=" + "b" * 80, None]),
        )
        def check(
            fields: list[tuple[str, str]],
            file: tuple[str, bytes] | None,
            cut: int | None,
            flip: tuple[int, bytes] | None,
            boundary: str | None,
        ) -> None:
            runner.run(_check_upload(client, fields, file, cut, flip, boundary))

        check()


async def _check_upload(
    client: TestClient[Any, Any],
    fields: list[tuple[str, str]],
    file: tuple[str, bytes] | None,
    cut: int | None,
    flip: tuple[int, bytes] | None,
    boundary: str | None,
) -> None:
    form = FormData(default_to_multipart=True)
    for name, value in fields:
        form.add_field(name, value)
    if file is not None:
        form.add_field("file", file[1], filename=file[0], content_type="application/octet-stream")
    payload = form()
    sink = _Sink()
    await payload.write(sink)
    body = b"".join(sink.chunks)
    content_type = payload.content_type
    mangled = cut is not None or flip is not None or boundary is not None
    if cut is not None:
        body = body[:cut]
    if flip is not None:
        at, junk = flip
        body = body[:at] + junk + body[at + len(junk) :]
    if boundary is not None:
        content_type = "multipart/form-data" + boundary

    resp = await client.post("/upload", data=body, headers={"Content-Type": content_type})
    status, answer = resp.status, await resp.json()
    assert status in (200, 400, 422), (status, answer)
    if status != 200:
        assert answer["code"] in ("bad_request", "invalid_field"), answer
    if mangled:
        return
    # well-formed: the known fields up to the file part, as sent (the last of each name wins)
    expected = dict.fromkeys(FORM_FIELDS, "")
    too_long = False
    for name, value in fields:
        if name == "file":
            break
        if name in FORM_FIELDS:
            too_long = too_long or len(value.encode()) > MAX_FIELD_BYTES
            expected[name] = value
    if too_long:
        assert status == 422 and answer["code"] == "invalid_field"
        return
    assert status == 200, answer
    assert answer["fields"] == {k: v.replace("\r\n", "\n") for k, v in expected.items()} or (
        answer["fields"] == expected
    )
    first_file = next((i for i, (n, _) in enumerate(fields) if n == "file"), None)
    if first_file is None and file is not None and file[0]:
        assert answer["size"] == len(file[1]) and answer["head"] == file[1][:64].hex()


class _Sink:
    """Where an aiohttp payload writes its bytes."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    async def write(self, data: bytes) -> None:
        self.chunks.append(bytes(data))
