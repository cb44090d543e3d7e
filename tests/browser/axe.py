"""axe-core, the accessibility checker, fetched once from the npm registry with `npm pack`
into a cache directory and served to the pages from the server's own origin (a Playwright
route), so that the app's Content-Security-Policy (script-src 'self') lets it run unchanged."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any, NoReturn

import pytest
from playwright.async_api import BrowserContext, Page, Route

SPEC = "axe-core@4"
#: Where the pages load axe from: on the server's origin, answered by the test, never by the app.
ROUTE = "/__test__/axe.min.js"
#: WCAG 2.0/2.1 levels A and AA.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
#: What fails a page.
SERIOUS = ("serious", "critical")


def fetch_axe(cache: Path) -> str:
    """The text of axe.min.js from the newest axe-core 4.x, packed by npm into ``cache`` once.
    Without npm or the registry: skipped outside CI, failed in CI."""
    found = sorted(cache.glob("axe-core-*.tgz"))
    if not found:
        npm = shutil.which("npm")
        if npm is None:
            _unavailable("npm is not installed")
        cache.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(
                [npm, "pack", SPEC, "--pack-destination", str(cache)],
                cwd=cache,
                check=True,
                capture_output=True,
                text=True,
                timeout=120,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            output = getattr(exc, "stderr", "") or ""
            _unavailable(f"`npm pack {SPEC}` failed (no registry?): {output.strip()[-500:]}")
        found = sorted(cache.glob("axe-core-*.tgz"))
        assert found, f"npm pack {SPEC} left no archive in {cache}"
    with tarfile.open(found[-1]) as archive:
        member = archive.extractfile("package/axe.min.js")
        assert member is not None
        return member.read().decode("utf-8")


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"axe-core is required in CI: {reason}")
    pytest.skip(f"axe-core unavailable: {reason}")


async def serve_axe(context: BrowserContext, base: str, source: str) -> None:
    """Answers ``base + ROUTE`` with axe in every page of ``context``."""

    async def answer(route: Route) -> None:
        await route.fulfill(status=200, body=source, content_type="application/javascript")

    await context.route(base + ROUTE, answer)


async def check_page(page: Page) -> list[dict[str, Any]]:
    """axe's WCAG 2 A/AA violations on the page as it is now: id, impact, help and, for the
    first few nodes, the CSS target and the failure summary."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.add_script_tag(url=ROUTE)
    result: list[dict[str, Any]] = await page.evaluate(
        """async (tags) => {
          const r = await axe.run(document, {runOnly: {type: "tag", values: tags}});
          return r.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 4).map((n) => ({target: n.target.join(" "),
                                                   summary: n.failureSummary})),
            count: v.nodes.length,
          }));
        }""",
        TAGS,
    )
    return result


def serious(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v["impact"] in SERIOUS]
