"""A headless Chromium driven by Selenium, for end-to-end tests of the web console.

Selenium is synchronous and the console's server runs in the test's event
loop, so every browser call goes through `asyncio.to_thread`: the loop keeps
serving while the browser waits for a page.

The browser never needs the network: every background service Chromium would
reach out to is switched off, and each browser gets its own fresh profile.
Every page a test looks at is saved as a PNG in test-artifacts/browser/.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
import struct
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--disable-quic", "--window-size=1280,1000", "--lang=vi",
)
WAIT_SECONDS = 15.0
POLL_SECONDS = 0.1

_shots = itertools.count(1)


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing_tools() -> list[str]:
    """What the browser tests need and this machine lacks."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    return missing


def require_tools() -> None:
    """Skip when Chromium, chromedriver or Selenium are missing, except on CI, which installs them."""
    missing = missing_tools()
    if not missing:
        return
    reason = ("browser tests need Chromium, chromedriver and Selenium; missing: " + ", ".join(missing)
              + " (apt-get install chromium chromium-driver; pip install selenium)")
    if on_ci():
        pytest.fail(reason + " -- CI is set, so this is a failure, not a skip", pytrace=False)
    pytest.skip(reason)


def start_chromium(profile: Path) -> WebDriver:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.binary_location = str(CHROMIUM)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def tiny_png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid PNG of one colour, written by hand (no imaging library needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width  # filter type 0, then the pixels
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height))
            + chunk(b"IEND", b""))


class Browser:
    """One Chromium (one cookie jar: one person) pointed at one running console."""

    def __init__(self, driver: WebDriver, base_url: str = "") -> None:
        self.driver = driver
        self.base_url = base_url

    async def call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    # -- pages ----------------------------------------------------------------------

    async def open(self, path: str) -> None:
        await self.call(self.driver.get, self.base_url + path)
        # Off the loop: chromedriver may still be following a redirect, and asking for the address
        # waits for it; asked on the loop (`path`), that wait would block the server it waits for.
        await self.call(lambda: self.driver.current_url)
        if path.split("?")[0] == "/chat":
            await self.wait_for(self._chat_caught_up, "the chat page to show the conversation so far")

    @property
    def path(self) -> str:
        url = self.driver.current_url
        return url.removeprefix(self.base_url)

    async def resize(self, width: int, height: int) -> None:
        """The window's size: 390 × 844 is a phone, 1280 × 1000 the default desktop."""
        await self.call(self.driver.set_window_size, width, height)

    async def sign_in(self, username: str, password: str, then: str = "/admin") -> None:
        """The login form filled in as a person would; lands on `then`."""
        await self.open(f"/login?next={then}")
        await self.fill('input[name="username"]', username)
        await self.fill('input[name="password"]', password)
        await self.submit("form#login")
        assert self.path == then

    async def screenshot(self, what: str) -> Path:
        """Save the page as test-artifacts/browser/NN-<what>.png (NN counts up through the run)."""
        number = next(_shots)
        if number == 1:  # a new run: the old pictures would only mislead
            shutil.rmtree(ARTIFACTS, ignore_errors=True)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^a-z0-9]+", "-", what.lower()).strip("-")
        path = ARTIFACTS / f"{number:02d}-{name}.png"
        assert await self.call(self.driver.save_screenshot, str(path)), f"could not save {path}"
        return path

    # -- elements -------------------------------------------------------------------

    async def all(self, css: str, within: WebElement | None = None) -> list[WebElement]:
        from selenium.webdriver.common.by import By

        return await self.call((within or self.driver).find_elements, By.CSS_SELECTOR, css)

    async def one(self, css: str, within: WebElement | None = None) -> WebElement:
        """The element `css` selects, waiting for it to appear."""
        found = await self.wait_for(lambda: self._first(css, within), f"an element {css!r} on {self.path}")
        return found

    def _first(self, css: str, within: WebElement | None) -> WebElement | None:
        from selenium.webdriver.common.by import By

        elements = (within or self.driver).find_elements(By.CSS_SELECTOR, css)
        return elements[0] if elements else None

    async def text(self, element: WebElement) -> str:
        return await self.call(lambda: element.text)

    async def wait_for(self, probe: Any, what: str, timeout: float = WAIT_SECONDS) -> Any:
        """Call `probe` (in a thread) until it returns something truthy; fail saying `what` never came."""
        from selenium.common.exceptions import StaleElementReferenceException

        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                result = await self.call(probe)
            except StaleElementReferenceException:  # the page re-rendered under us: look again
                result = None
            if result:
                return result
            if asyncio.get_running_loop().time() > deadline:
                await self.screenshot("timeout")
                raise AssertionError(f"waited {timeout:.0f} s for {what}; the page shows:\n"
                                     f"{self.driver.find_element('tag name', 'body').text}")
            await asyncio.sleep(POLL_SECONDS)

    async def fill(self, css: str, text: str, within: WebElement | None = None) -> None:
        field = await self.one(css, within)

        def type_in() -> None:
            field.clear()
            field.send_keys(text)

        await self.call(type_in)

    async def click(self, css: str, within: WebElement | None = None) -> None:
        element = await self.one(css, within)
        await self.call(element.click)

    async def choose(self, css: str, value: str, within: WebElement | None = None) -> None:
        """Pick the option with `value` in the <select> `css`."""
        from selenium.webdriver.support.select import Select

        select = await self.one(css, within)
        await self.call(lambda: Select(select).select_by_value(value))

    async def submit(self, form: str | WebElement) -> None:
        """Press the submit button of a form (as a person would), waiting for the next page."""
        form_css = form if isinstance(form, str) else "the form"
        if isinstance(form, str):
            form = await self.one(form)
        button = await self.one("button[type=submit], input[type=submit], button:not([type])", form)
        await self.script("window.__submitted = true")  # gone once the next page has replaced this one
        await self.call(button.click)
        await self.wait_for(self._next_page_loaded, f"the page after submitting {form_css}")

    def _next_page_loaded(self) -> bool:
        from selenium.common.exceptions import WebDriverException

        try:
            return self.driver.execute_script("return !window.__submitted && document.readyState === 'complete'")
        except WebDriverException:  # caught between two pages
            return False

    async def script(self, js: str, *args: Any) -> Any:
        return await self.call(self.driver.execute_script, js, *args)

    # -- /chat: the official's side, whose messages arrive by polling ------------------

    def _chat_caught_up(self) -> bool:
        """Whether the page shows every message the server holds for this chat (it fetches them after loading)."""
        return self.driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch("/chat/api/messages?after=0", {credentials: "same-origin"})
              .then(r => r.json())
              .then(d => done(d.messages.length === document.querySelectorAll("#messages .msg").length),
                    () => done(false));""")

    async def bot_texts(self) -> list[str]:
        return await self.script(
            "return [...document.querySelectorAll('#messages .msg.bot')]"
            ".map(m => (m.querySelector('.text') || m).innerText.trim())")

    async def wait_bot(self, contains: str = "", *, after: int = 0, startswith: str = "") -> str:
        """The first bot message from index `after` on that contains (or starts with) the given text."""
        def probe() -> str | None:
            texts = self.driver.execute_script(
                "return [...document.querySelectorAll('#messages .msg.bot')]"
                ".map(m => (m.querySelector('.text') || m).innerText.trim())")
            for text in texts[after:]:
                if contains in text and text.startswith(startswith):
                    return text
            return None

        wanted = " and ".join(filter(None, (contains and f"containing {contains!r}",
                                             startswith and f"starting {startswith!r}")))
        return await self.wait_for(probe, f"a new bot message {wanted or '(any)'}")

    async def say(self, text: str, expect: str = "", *, photo: Path | None = None,
                  startswith: str = "") -> str:
        """Type `text` (and attach `photo`), send, and wait for a new bot message containing `expect`."""
        before = len(await self.bot_texts())
        if text:
            await self.fill("#send-form #text", text)
        if photo is not None:
            field = await self.one("#send-form #photo")
            await self.call(field.send_keys, str(photo))
        await self.click("#send-form #send")
        return await self.wait_bot(expect, after=before, startswith=startswith)

    async def press(self, action: str, expect: str = "", *, startswith: str = "") -> str:
        """Click the newest choice button with `action`; wait for a new bot message with the given text."""
        css = f'#messages .msg.bot button.choice[data-action="{action}"]'
        await self.wait_for(lambda: self.driver.find_elements("css selector", css),
                            f"a choice button data-action={action!r}")
        before = len(await self.bot_texts())
        buttons = await self.all(css)
        await self.call(buttons[-1].click)
        return await self.wait_bot(expect, after=before, startswith=startswith)


@contextmanager
def chromium_driver(width: int | None = None, height: int | None = None) -> Iterator[WebDriver]:
    """A fresh headless Chromium with its own profile (no cookie survives from another test), quit after."""
    require_tools()
    profile = fresh_profile()
    driver = start_chromium(profile)
    if width and height:
        driver.set_window_size(width, height)
    try:
        yield driver
    finally:
        driver.quit()
        remove_profile(profile)


def fresh_profile() -> Path:
    return Path(tempfile.mkdtemp(prefix="chromium-profile-"))


def remove_profile(profile: Path) -> None:
    shutil.rmtree(profile, ignore_errors=True)
