"""What the tests of the texts people read share: every error code the code can raise (found
in the source), the glossary's words not to use, and the visible text of a page."""

from __future__ import annotations

import ast
import contextlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "docs" / "glossary.md"

#: Error classes whose first argument is the code (``HttpError(status, code, message)`` takes
#: it second).
_CODE_FIRST = {"ProtocolError": 0, "HttpError": 1}


def _string(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def error_codes(package: str, root: Path = ROOT) -> dict[str, set[str]]:
    """Every literal error code raised in ``package`` (``code="…"`` arguments, ``code = "…"``
    class attributes, the code argument of `HttpError` and `ProtocolError`), with the files
    that raise it."""
    found: dict[str, set[str]] = {}
    for path in sorted((root / package).rglob("*.py")):
        where = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # the file's own helpers that take a code (``_bad(message, code, field)``)
        takes_code = dict(_CODE_FIRST)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                names = [a.arg for a in node.args.args if a.arg not in ("self", "cls")]
                if "code" in names:
                    takes_code[node.name] = names.index("code")
        for node in ast.walk(tree):
            codes: list[str | None] = []
            if (isinstance(node, ast.keyword) and node.arg == "code") or (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "code" for t in node.targets)
            ):
                codes.append(_string(node.value))
            elif isinstance(node, ast.Call):
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                at = takes_code.get(str(name))
                if at is not None and len(node.args) > at:
                    codes.append(_string(node.args[at]))
            for code in codes:
                if code and re.fullmatch(r"[a-z][a-z0-9_]*", code):
                    found.setdefault(code, set()).add(where)
    return found


def glossary_words() -> tuple[dict[str, str], dict[str, str]]:
    """The glossary's words not to use: (everywhere, on a consumer's pages only), each mapped
    to the term to use instead."""
    everywhere: dict[str, str] = {}
    consumer: dict[str, str] = {}
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[1] == "中文" or not re.search(r"[\u4e00-\u9fff]", cells[1]):
            continue
        term, avoid = cells[1], cells[3]
        for word in filter(None, (w.strip() for w in avoid.split("、"))):
            if word.endswith("(consumer)"):
                consumer[word.removesuffix("(consumer)").strip()] = term
            else:
                everywhere[word] = term
    return everywhere, consumer


#: Attributes whose values people see or hear (the rest are for programs).
_SHOWN_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "aria-description"}
_SKIPPED = {"script", "style", "template", "noscript"}


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping: list[str] = []
        self.json_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in _SKIPPED:
            self.skipping.append(tag)
            self.json_script = (
                tag == "script"
                and values.get("type") == "application/json"
                and str(values.get("id") or "").endswith("-texts")
            )
            return
        for name in _SHOWN_ATTRIBUTES:
            if values.get(name):
                self.parts.append(str(values[name]))
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.parts.append(str(values["value"]))

    def handle_endtag(self, tag: str) -> None:
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()
            self.json_script = False

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)
        elif self.json_script:
            # texts a page's script shows (the hearing room's messages)
            with contextlib.suppress(ValueError):
                self.parts.extend(_strings(json.loads(data)))


def _strings(data: object) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for v in data.values() for s in _strings(v)]
    if isinstance(data, list):
        return [s for v in data for s in _strings(v)]
    return []


def visible_text(html: str) -> list[str]:
    """The pieces of text a page shows: element text and the attributes people read, without
    scripts, styles and attribute values for programs; one piece per line of text."""
    parser = _Visible()
    parser.feed(html)
    parser.close()
    lines = (line.strip() for part in parser.parts for line in part.splitlines())
    return [line for line in lines if line]
