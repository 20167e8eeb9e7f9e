"""The screen bench's ceiling: the least a server-sent event costs from an aiohttp server to a handler in the same
Chromium, on the same machine in the same run -- no agent, no view, no DOM. Not a bench itself (``make bench`` runs
only ``bench/bench_*.py``); ``bench_screen.py`` prints it next to its own figure.

A bare aiohttp app on its own loop in a thread serves a page without CSP whose EventSource handler stamps the
browser's wall clock per message; the bench stamps ``time.time()`` as it hands each message to the loop, one at a
time, and aligns the clocks the same way (the quickest of many WebDriver reads).
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from selenium import webdriver

from tests.support.browser import chromium

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>raw sse</title></head><body><script>
window.seen = [];
window.wallNow = () => performance.timeOrigin + performance.now();
const stream = new EventSource('/sse');
stream.onmessage = (e) => { window.seen.push({n: Number(e.data), at: window.wallNow()}); };
stream.onopen = () => { document.body.dataset.ready = 'true'; };
</script></body></html>"""
WAIT_FOR = """
const [n, waitS, done] = arguments;
const deadline = Date.now() + 1000 * waitS;
(function check() {
  const hit = window.seen.find(s => s.n === n);
  if (hit) done(hit.at); else if (Date.now() > deadline) done(null); else setTimeout(check, 1);
})();
"""
WAIT_S = 30.0
"""Bounded waits: a stuck run ends with an error, never hangs."""
SHUTDOWN_S = 0.5
"""The one open stream waits on its queue forever; at the end it is cut after this long, not aiohttp's 60 s."""


CALIBRATION_READS = 50
"""Reads of the page's clock per calibration; the quickest round trip of 50 is within a millisecond here."""


def clock_offset(driver: webdriver.Chrome, read: str = "return Screen.wallNow();") -> tuple[float, float]:
    """(page clock - agent clock, uncertainty) in seconds, from the quickest of CALIBRATION_READS round trips."""
    best: tuple[float, float] | None = None
    for _ in range(CALIBRATION_READS):
        before = time.time()
        page_ms = float(driver.execute_script(read))
        after = time.time()
        half = (after - before) / 2
        if best is None or half < best[1]:
            best = (page_ms / 1000 - (before + half), half)
    assert best is not None
    return best


def round_trips(workdir: Path, n: int) -> list[float]:
    """Seconds from handing message i to the server's loop to the page's handler stamping it, for i < n."""
    loop = asyncio.new_event_loop()
    queue: asyncio.Queue[int] = asyncio.Queue()
    bound: list[int] = []

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def sse(request: web.Request) -> web.StreamResponse:
        stream = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await stream.prepare(request)
        while True:
            i = await queue.get()
            if i < 0:  # the end of the run
                return stream
            await stream.write(f"data: {i}\n\n".encode())

    async def serve() -> web.AppRunner:
        app = web.Application()
        app.router.add_get("/", page)
        app.router.add_get("/sse", sse)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_S)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        address: Any = runner.addresses[0]
        bound.append(int(address[1]))
        return runner

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runner = asyncio.run_coroutine_threadsafe(serve(), loop).result(WAIT_S)
    driver = chromium(workdir / "chromium-raw-sse")
    samples: list[float] = []
    try:
        driver.get(f"http://127.0.0.1:{bound[0]}/")
        deadline = time.monotonic() + WAIT_S
        while driver.execute_script("return document.body.dataset.ready;") != "true":
            if time.monotonic() > deadline:
                raise RuntimeError("raw SSE page never connected")
            time.sleep(0.01)
        offset, _uncertainty = clock_offset(driver, "return window.wallNow();")
        driver.set_script_timeout(WAIT_S + 5)
        for i in range(n):
            sent = time.time()
            loop.call_soon_threadsafe(queue.put_nowait, i)
            at = driver.execute_async_script(WAIT_FOR, i, WAIT_S)
            if at is None:
                raise RuntimeError(f"raw SSE message {i} never arrived")
            samples.append(float(at) / 1000 - offset - sent)
    finally:
        loop.call_soon_threadsafe(queue.put_nowait, -1)
        driver.quit()
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(WAIT_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(WAIT_S)
    return samples
