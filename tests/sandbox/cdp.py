"""A small Chrome DevTools Protocol client over aiohttp's websocket: enough to drive headless
Chromium in a test (navigate, evaluate, real mouse clicks and typing, screenshots).

    async with Browser.launch(executable, profile_dir) as browser:
        page = await browser.new_page(1600, 1000)
        await page.navigate("http://127.0.0.1:8080/")
        await page.click("document.querySelector('button')")
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

LAUNCH_TIMEOUT = 30.0
CALL_TIMEOUT = 30.0
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The first Chromium-like browser on PATH (Debian's is /usr/bin/chromium)."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class CdpError(RuntimeError):
    """The browser refused a command, or a page script threw."""


class Browser:
    """One headless Chromium process and its DevTools websocket."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        session: aiohttp.ClientSession,
        socket: aiohttp.ClientWebSocketResponse,
    ) -> None:
        self.process = process
        self.session = session
        self.socket = socket
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def launch(cls, executable: str, profile: Path) -> AsyncIterator[Browser]:
        """Start headless Chromium with a fresh profile; close it (and the process) at exit."""
        await asyncio.to_thread(profile.mkdir, parents=True, exist_ok=True)
        process = await asyncio.create_subprocess_exec(
            executable,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--hide-scrollbars",
            "--mute-audio",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        session: aiohttp.ClientSession | None = None
        browser: Browser | None = None
        try:
            port_file = profile / "DevToolsActivePort"
            deadline = asyncio.get_running_loop().time() + LAUNCH_TIMEOUT
            lines: list[str] = []
            while len(lines) < 2:
                if process.returncode is not None:
                    raise CdpError(f"chromium exited at start (code {process.returncode})")
                if asyncio.get_running_loop().time() > deadline:
                    raise CdpError("chromium did not open its DevTools port in time")
                with contextlib.suppress(OSError):
                    lines = (await asyncio.to_thread(port_file.read_text)).split()
                await asyncio.sleep(0.05)
            url = f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            session = aiohttp.ClientSession()
            socket = await session.ws_connect(
                url, max_msg_size=0, timeout=aiohttp.ClientWSTimeout()
            )
            browser = cls(process, session, socket)
            yield browser
        finally:
            if browser is not None:
                await browser.close()
            elif session is not None:
                await session.close()
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 5)
                except TimeoutError:
                    process.kill()
                    await process.wait()

    async def close(self) -> None:
        """Ask the browser to quit and close the websocket."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.send("Browser.close"), 5)
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        await self.socket.close()
        await self.session.close()

    async def _read(self) -> None:
        async for message in self.socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            waiter = self._waiting.pop(data["id"], None) if "id" in data else None
            if waiter is not None and not waiter.done():
                waiter.set_result(data)
            elif "method" in data:
                self.events.append(data)
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(CdpError("the browser closed its DevTools connection"))

    async def send(
        self, method: str, params: dict[str, Any] | None = None, session_id: str | None = None
    ) -> dict[str, Any]:
        """One command; its result, or CdpError."""
        number = next(self._ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": params or {}}
        if session_id is not None:
            message["sessionId"] = session_id
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[number] = waiter
        await self.socket.send_str(json.dumps(message))
        reply = await asyncio.wait_for(waiter, CALL_TIMEOUT)
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error'].get('message')}")
        return dict(reply.get("result") or {})

    async def new_page(self, width: int, height: int) -> Page:
        """A new tab of the given viewport size, attached in flat session mode."""
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        page = Page(self, attached["sessionId"])
        await page.send("Page.bringToFront")
        await page.send("Page.enable")
        await page.send("Runtime.enable")
        await page.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        return page


class Page:
    """One tab."""

    def __init__(self, browser: Browser, session_id: str) -> None:
        self.browser = browser
        self.session_id = session_id

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """A command in this tab's session."""
        return await self.browser.send(method, params, self.session_id)

    def errors(self) -> list[str]:
        """Uncaught exceptions and console errors the page produced so far."""
        found: list[str] = []
        for event in self.browser.events:
            if event.get("sessionId") != self.session_id:
                continue
            params = event.get("params") or {}
            if event["method"] == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails") or {}
                exception = details.get("exception") or {}
                found.append(str(exception.get("description") or details.get("text")))
            elif event["method"] == "Runtime.consoleAPICalled" and params.get("type") == "error":
                found.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                )
        return found

    async def navigate(self, url: str) -> None:
        """Open a URL and wait until its document has loaded."""
        await self.send("Page.navigate", {"url": url})
        await self.wait_for("document.readyState === 'complete'", what=f"{url} to load")

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited); CdpError if it throws."""
        reply = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
        )
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            exception = details.get("exception") or {}
            raise CdpError(str(exception.get("description") or details.get("text")))
        return (reply.get("result") or {}).get("value")

    async def wait_for(self, expression: str, *, timeout: float = 15.0, what: str = "") -> Any:
        """Poll an expression until it is truthy; its value. TimeoutError names `what`."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            with contextlib.suppress(CdpError):
                value = await self.evaluate(expression)
                if value:
                    return value
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"waited {timeout:.0f} s for {what or expression}")
            await asyncio.sleep(0.1)

    async def click(self, element: str, *, what: str = "", timeout: float = 15.0) -> None:
        """A real mouse click in the middle of the element `element` (a JS expression) evaluates
        to, once it exists; scrolled into view first."""
        locate = (
            f"(() => {{ const e = ({element}); if (!e) return null;"
            " e.scrollIntoView({block: 'center', inline: 'center'});"
            " const r = e.getBoundingClientRect();"
            " if (!r.width || !r.height) return null;"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        x, y = await self.wait_for(locate, timeout=timeout, what=what or element)
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            params: dict[str, Any] = {"type": kind, "x": x, "y": y}
            if kind != "mouseMoved":
                params.update(button="left", clickCount=1)
            await self.send("Input.dispatchMouseEvent", params)

    async def type_text(self, text: str) -> None:
        """Type into the focused element (as an input method would commit it)."""
        await self.send("Input.insertText", {"text": text})

    async def press_enter(self) -> None:
        """Press and release Enter."""
        for kind in ("keyDown", "keyUp"):
            await self.send(
                "Input.dispatchKeyEvent",
                {
                    "type": kind,
                    "key": "Enter",
                    "code": "Enter",
                    "windowsVirtualKeyCode": 13,
                    "nativeVirtualKeyCode": 13,
                    **({"text": "\r"} if kind == "keyDown" else {}),
                },
            )

    async def screenshot(self, path: Path) -> None:
        """Save the viewport as a PNG."""
        shot = await self.send("Page.captureScreenshot", {"format": "png"})
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))
