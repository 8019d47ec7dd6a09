"""Browser tests of the web apps (the metrics dashboard, the console) in real headless Chromium.

Debian's Chromium is driven through Playwright, never a browser Playwright downloads: the
tests run offline and on the browser the machines have. Screenshots go to
``SALESOPS_TEST_ARTIFACTS`` (default ``test-artifacts/`` at the repository's root), at the
two widths every screen is checked at. The apps load nothing from elsewhere (no CDN, no
fonts), which :class:`RequestLog` lets a test assert.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Request, ViewportSize, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
#: Headless, and quiet: no update checks, sync or first-run screens reach out to the network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = ViewportSize(width=375, height=812)
DESKTOP = ViewportSize(width=1280, height=900)
REPO = Path(__file__).resolve().parents[2]


def chromium_executable(needed_by: str) -> str:
    """Debian's Chromium; a missing one fails the test (a skip would hide the gap in CI)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: {needed_by} needs Debian's Chromium "
            "(apt-get install chromium; make test and .ci/run install it when run as root)",
            pytrace=False,
        )
    return str(CHROMIUM)


@contextlib.asynccontextmanager
async def chromium(needed_by: str) -> AsyncIterator[Browser]:
    """Headless Chromium for the block, closed after it; ``needed_by`` ("the console's browser
    test") names the test in the failure when Chromium is not installed."""
    executable = chromium_executable(needed_by)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


def artifacts(subfolder: str | None = None, *, fresh: bool = False) -> Path:
    """The folder for screenshots (made if need be), or ``subfolder`` of it; ``fresh`` removes
    an earlier run's screenshots from it, for a test whose steps are numbered."""
    folder = Path(os.environ.get("SALESOPS_TEST_ARTIFACTS") or REPO / "test-artifacts")
    if subfolder:
        folder /= subfolder
    folder.mkdir(parents=True, exist_ok=True)
    if fresh:
        for old in folder.glob("*.png"):
            old.unlink()
    return folder


@dataclass
class RequestLog:
    """Every request the watched pages make, and those that leave the app: any whose URL
    starts with none of ``allowed`` (the app's base URL, and e.g. ``blob:``)."""

    allowed: tuple[str, ...]
    seen: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("request", self._record)

    def _record(self, request: Request) -> None:
        self.seen.append(request.url)
        if not request.url.startswith(self.allowed):
            self.outside.append(request.url)
