"""The sandbox page in a real browser: headless Chromium driven over the DevTools protocol.

A customer orders by clicking, the staff group works the card, the clock moves half an hour,
the survey is answered and the manager's /stats chart shows up; bad input is tried on the way.
Screenshots of each step go to build/sandbox-screenshots/ (or $O2O_SANDBOX_SCREENSHOTS; the
README's copies in docs/sandbox/ are made with O2O_SANDBOX_SCREENSHOTS=docs/sandbox).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bot.demo import GROUP_ID
from tests.sandbox.cdp import Browser, Page, find_chromium
from tests.sandbox.conftest import Running, StartSandbox

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium found (chromium, chromium-browser or google-chrome on PATH); "
    "install Debian's `chromium` package (scripts/test.sh does where it may) to run it",
)

SHOTS = Path(
    os.environ.get("O2O_SANDBOX_SCREENSHOTS")
    or Path(__file__).resolve().parents[2] / "build" / "sandbox-screenshots"
)
ALICE = 1001


def pane(name: str) -> str:
    return f"document.querySelector('[data-pane=\"{name}\"]')"


def button(where: str, label: str, kind: str = "ib") -> str:
    """The last enabled button of a pane whose label contains `label` (the newest message's)."""
    return (
        f"(() => {{ const all = [...{pane(where)}.querySelectorAll('button.{kind}')]"
        f".filter(b => !b.disabled && b.textContent.includes({json.dumps(label)}));"
        " return all[all.length - 1] || null; })()"
    )


def says(where: str, text: str, *, who: str = "bot") -> str:
    """Whether a message of the pane (from the bot, or the user) contains `text`."""
    return (
        f"[...{pane(where)}.querySelectorAll('.msg.{who}')]"
        f".some(m => m.textContent.includes({json.dumps(text)}))"
    )


def count(where: str, selector: str) -> str:
    return f"{pane(where)}.querySelectorAll({json.dumps(selector)}).length"


async def click(page: Page, where: str, label: str, kind: str = "ib") -> None:
    await page.click(button(where, label, kind), what=f"a {label!r} button in the {where} pane")


async def type_into(page: Page, where: str, text: str, *, enter: bool = True) -> None:
    await page.click(f"{pane(where)}.querySelector('textarea')", what=f"the {where} composer")
    await page.type_text(text)
    if enter:
        await page.press_enter()


async def see(page: Page, where: str, text: str, *, who: str = "bot", timeout: float = 15) -> None:
    await page.wait_for(says(where, text, who=who), timeout=timeout, what=f"{text!r} in {where}")


async def test_a_customer_orders_staff_work_it_and_the_manager_sees_the_chart(
    start_sandbox: StartSandbox, tmp_path: Path
) -> None:
    assert CHROMIUM is not None
    async with (
        start_sandbox(history=True) as running,
        Browser.launch(CHROMIUM, tmp_path / "profile") as browser,
    ):
        page = await browser.new_page(1600, 1000)
        try:
            await _play(page, running)
        except BaseException:
            await page.screenshot(tmp_path / "failure.png")
            panes = await page.evaluate(
                "[...document.querySelectorAll('[data-pane]')].map(p => p.dataset.pane + ':\\n'"
                " + p.querySelector('.messages').innerText.slice(-1500)).join('\\n\\n')"
            )
            print(f"screenshot: {tmp_path / 'failure.png'}\n{panes}")
            raise


async def _play(page: Page, running: Running) -> None:
    fake = running.sandbox.fake
    assert fake is not None
    await page.navigate(running.url + "/")
    await page.wait_for("document.body.dataset.live === '1'", what="the live event stream")
    await see(page, "group", "Olly is now staff")  # the sandbox's own set-up, shown live

    # The customer: the store's QR deep link, the menu, a croissant, the cart.
    await type_into(page, "customer", "/start scentral")
    await see(page, "customer", "Central Café")
    await click(page, "customer", "Menu")
    await click(page, "customer", "Bakery")
    await click(page, "customer", "Croissant")
    await click(page, "customer", "➕")
    await page.wait_for(f"!!{button('customer', '🛒 1')}", what="the cart button counting 1")
    await page.screenshot(SHOTS / "01-menu.png")
    await click(page, "customer", "🛒 1")
    await click(page, "customer", "Checkout")
    await click(page, "customer", "Pickup")
    await click(page, "customer", "As soon as possible")
    # The phone number through the reply keyboard's contact button, confirmed like Telegram.
    await click(page, "customer", "Share my phone number", kind="rb")
    await page.click(
        f"{pane('customer')}.querySelector('[data-role=confirm]')", what="Share contact"
    )
    await see(page, "customer", "+8613800138000", who="user")
    await click(page, "customer", "Skip")
    await click(page, "customer", "Place order")
    await see(page, "customer", "placed.")
    await page.screenshot(SHOTS / "02-order-placed.png")

    # A stale button: the pickup time asked before, pressed after the order was placed.
    await click(page, "customer", "As soon as possible")
    await page.wait_for(
        f"{pane('customer')}.querySelector('.toast:not(.error)')?.textContent"
        ".includes('out of date')",
        what="the bot's toast for a stale button",
    )

    # The staff group: Ann accepts (10 min), marks it ready, completes it.
    await see(page, "group", "👤 Alice")
    await click(page, "group", "10 min")
    await click(page, "group", "Ready")
    await click(page, "group", "Completed")
    await page.wait_for(f"!{button('group', 'Completed')}", what="the card done")
    await page.screenshot(SHOTS / "03-staff-group.png")

    # Half an hour later the survey arrives; Alice gives 5 stars and skips the comment.
    await page.click("document.querySelector('[data-minutes=\"31\"]')", what="+31 min")
    await see(page, "customer", "How was", timeout=20)
    await click(page, "customer", "5")
    await click(page, "customer", "Skip")
    await see(page, "customer", "Thank you for your feedback")
    await page.screenshot(SHOTS / "04-survey.png")

    # The manager asks for the figures; the chart is an image that loaded.
    await type_into(page, "manager", "/stats")
    await page.wait_for(
        f"[...{pane('manager')}.querySelectorAll('img.photo')]"
        ".some(i => i.complete && i.naturalWidth > 0)",
        timeout=30,
        what="the /stats chart in the manager pane",
    )
    await page.wait_for("!document.querySelector('.toast')", what="the toasts to fade")
    await page.screenshot(SHOTS / "05-stats.png")

    # Bad input. An empty (blank) message is not sent: the send button stays disabled and
    # Enter only shows a note.
    before = len(fake.transcript())
    await type_into(page, "manager", "   ")
    await page.wait_for(
        f"{pane('manager')}.querySelector('.toast.error')?.textContent.includes('empty')",
        what="the note that an empty message can't be sent",
    )
    assert await page.evaluate(f"{pane('manager')}.querySelector('button.send').disabled")
    assert len(fake.transcript()) == before
    await page.evaluate(f"{pane('manager')}.querySelector('textarea').value = ''")

    # 5,000 characters go as two messages (4,096 + the rest), as Telegram clients split them.
    long_text = ("lorem ipsum " * 420)[:5000]
    await type_into(page, "customer", long_text, enter=False)
    await page.wait_for(
        f"{pane('customer')}.querySelector('.counter')?.textContent === '5,000 / 4,096'",
        what="the length counter",
    )
    await page.press_enter()
    await page.wait_for(
        f"{pane('customer')}.querySelector('.toast.info')?.textContent.includes('2 messages')",
        what="the note that the text went as two messages",
    )
    sent = [
        event["text"]
        for event in fake.transcript()
        if event["dir"] == "in" and event["chat_id"] == ALICE and event["kind"] == "text"
    ][-2:]
    assert [len(part) <= 4096 for part in sent] == [True, True]
    assert " ".join(sent).split() == long_text.split()
    await page.screenshot(SHOTS / "06-long-message.png")

    # The group pane spoke as Ann throughout; nothing reached the page as a server error.
    assert await page.evaluate(count("group", ".msg.user")) >= 2
    assert GROUP_ID in {event["chat_id"] for event in fake.transcript()}
    assert page.errors() == []
    assert running.server.server_errors == 0
    assert not [status for status in running.server.statuses if status >= 500]
