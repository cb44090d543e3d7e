"""No hand-written language tables: texts people read are translated by the catalogue
(`odr.i18n`), not looked up in dicts keyed by language nor chosen by branching on it."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("odr", "web", "signaling")
#: The catalogue's loader names its languages; nothing else may.
ALLOWED = {"odr/i18n.py"}
LANGUAGE_CODE = re.compile(r"^(zh|en)([-_][A-Za-z]{2,4})?$")
CJK = re.compile(r"[\u4e00-\u9fff]")


def is_code(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and LANGUAGE_CODE.match(node.value) is not None
    )


def branches_on_language(test: ast.AST) -> bool:
    """``lang == "en"``, ``lang in ("zh", "zh-CN")``, ``lang.startswith("zh")``."""
    for node in ast.walk(test):
        if isinstance(node, ast.Compare) and any(
            is_code(c)
            or (isinstance(c, ast.Tuple | ast.List | ast.Set) and any(map(is_code, c.elts)))
            for c in [node.left, *node.comparators]
        ):
            return True
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "startswith"
            and any(map(is_code, node.args))
        ):
            return True
    return False


def says_something(nodes: list[ast.AST]) -> bool:
    """A branch that holds a text in Chinese."""
    return any(
        isinstance(n, ast.Constant) and isinstance(n.value, str) and CJK.search(n.value)
        for node in nodes
        for n in ast.walk(node)
    )


def is_text(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and bool(node.value.strip())
        and not is_code(node)
    )


def findings(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict) and any(k is not None and is_code(k) for k in node.keys):
            yield node.lineno, "a dict keyed by language"
        elif isinstance(node, ast.IfExp) and branches_on_language(node.test):
            if (is_text(node.body) and is_text(node.orelse)) or says_something(
                [node.body, node.orelse]
            ):
                yield node.lineno, "a text chosen by language"
        elif (
            isinstance(node, ast.If)
            and branches_on_language(node.test)
            and says_something([*node.body, *node.orelse])
        ):
            yield node.lineno, "a branch per language"


def test_no_hand_written_language_tables() -> None:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name in ALLOWED:
                continue
            for line, what in findings(ast.parse(path.read_text(encoding="utf-8"))):
                found.append(f"{name}:{line}: {what}")
    assert found == [], "\n".join(found)


def test_the_scan_finds_what_it_looks_for() -> None:
    samples = {
        'T = {"zh-CN": "结案报告", "en": "Closing report"}': 1,
        'NAMES = {"filed": {"zh": "提交投诉"}}': 1,
        'yes = "yes" if lang == "en" else "是"': 1,
        'if lang.startswith("zh"):\n    title = "结案报告"': 1,
        'if language in ("zh", "zh-CN"):\n    pass\nelse:\n    x = "证据"': 1,
        'lang = "en" if wanted == "en" else "zh-CN"': 0,
        'if lang == "en":\n    name = row["name_en"]': 0,
        'title = _("Closing report")': 0,
    }
    for source, expected in samples.items():
        assert len(list(findings(ast.parse(source)))) == expected, source
