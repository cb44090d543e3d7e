"""The shape of the code: no import cycles between modules, a domain of pure rules.

The layer contracts themselves are in pyproject.toml (``lint-imports``, run by ``make lint``).
"""

from __future__ import annotations

import re
import sys
from functools import cache
from pathlib import Path

import grimp

PACKAGES = ("odr", "web", "signaling")


@cache
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None, exclude_type_checking_imports=True)


def cycles(g: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(g.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(g.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(g.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    g = grimp.ImportGraph()
    for name in ("a", "a.x", "a.y", "a.z"):
        g.add_module(name)
    g.add_import(importer="a.x", imported="a.y")
    g.add_import(importer="a.y", imported="a.x")
    g.add_import(importer="a.z", imported="a.x")
    assert cycles(g) == [["a.x", "a.y"]]


def test_no_import_cycles_among_modules() -> None:
    """Function-local imports count too: a lazy import does not hide a cycle."""
    assert cycles(graph()) == []


def test_the_domain_imports_only_the_standard_library() -> None:
    g = graph()
    stdlib = sys.stdlib_module_names | {"__future__"}
    wrong = set()
    for module in g.find_descendants("odr.domain") | {"odr.domain"}:
        for imported in g.find_modules_directly_imported_by(module):
            if not imported.startswith("odr.domain"):
                wrong.add(f"{module} -> {imported}")
        for external in _externals(module):
            if external not in stdlib:
                wrong.add(f"{module} -> {external}")
    assert sorted(wrong) == []


@cache
def _with_externals() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None, include_external_packages=True)


def _externals(module: str) -> set[str]:
    """Top-level names of everything ``module`` imports from outside the three packages."""
    g = _with_externals()
    return {
        imported.split(".")[0]
        for imported in g.find_modules_directly_imported_by(module)
        if imported.split(".")[0] not in PACKAGES
    }


#: What a handler must not do itself: open a unit of work or a session, or reach for the
#: sessionmaker at all (services own their sessions; `odr.bootstrap` hands it to them).
HANDLER_FORBIDDEN = re.compile(r"UnitOfWork\(|SESSIONMAKER\]|\.sessionmaker\b|async_sessionmaker")
HANDLER_PACKAGES = ("odr/api", "web")
#: Modules still allowed to break the rule, each with its reason (none now).
HANDLER_EXCEPTIONS: frozenset[str] = frozenset()


def handler_transactions(root: Path) -> list[str]:
    """``path:line: text`` of every line under the handler packages that breaks the rule."""
    found = []
    for package in HANDLER_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            name = path.relative_to(root).as_posix()
            if name in HANDLER_EXCEPTIONS:
                continue
            for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
                if HANDLER_FORBIDDEN.search(line):
                    found.append(f"{name}:{number}: {line.strip()}")
    return found


def test_the_handler_check_finds_a_handler_that_opens_a_transaction(tmp_path: Path) -> None:
    (tmp_path / "odr" / "api").mkdir(parents=True)
    (tmp_path / "web").mkdir()
    (tmp_path / "odr" / "api" / "fine.py").write_text("x = request.app[CASE_VIEWS]\n", "utf-8")
    (tmp_path / "odr" / "api" / "bad.py").write_text(
        "async with UnitOfWork(request.app[X]) as uow:\n", "utf-8"
    )
    (tmp_path / "web" / "bad.py").write_text(
        "async with request.app[SESSIONMAKER]() as s:\n", "utf-8"
    )
    assert handler_transactions(tmp_path) == [
        "odr/api/bad.py:1: async with UnitOfWork(request.app[X]) as uow:",
        "web/bad.py:1: async with request.app[SESSIONMAKER]() as s:",
    ]


def test_no_handler_opens_its_own_session_or_unit_of_work() -> None:
    """Handlers parse, call one service method, render or reply: a service owns its session
    (reads) or its unit of work (writes), so a transaction never spans a handler's own code."""
    assert handler_transactions(Path(__file__).resolve().parents[2]) == []
