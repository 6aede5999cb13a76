"""The dashboard in a real headless Chromium against a real daemon: live requests, the memory
review queue, a page that is not blank, and no reading from another origin."""

from __future__ import annotations

import http.server
import shutil
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest
from PySide6.QtGui import QImage

from tests.conftest import RunningDaemon
from tests.daemon.memory.daemon_helpers import attach

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHAT_MODEL = "local/smollm2-135m"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    if not shutil.which(DRIVER):
        pytest.skip("chromium-driver is not installed (.ci/run installs it)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
    yield driver
    driver.quit()


@pytest.fixture
def rh(start_daemon: Callable[..., RunningDaemon]) -> RunningDaemon:
    running = start_daemon(residency={"enabled": False}, routing={"knn": False})
    attach(running.daemon)
    return running


def test_requests_show_live_and_memories_are_approved(rh: RunningDaemon, browser: webdriver.Chrome) -> None:
    added = httpx.post(
        rh.url + "/control/v1/memory/insights",
        json={"text": "The user prefers answers in French.", "kind": "user"},
        timeout=120,
    ).json()
    memory_id = added["memory_id"]
    browser.get(rh.url + "/dashboard")
    wait = WebDriverWait(browser, 60)
    wait.until(lambda d: d.find_element(By.ID, "live").text == "live")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'#memories li[data-id="{memory_id}"]'))

    answer = httpx.post(
        rh.url + "/v1/chat/completions",
        json={"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 5},
        timeout=120,
    )
    request_id = answer.headers["x-roundhouse-request-id"]
    row = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'#requests tr[data-id="{request_id}"]'))[0]
    assert CHAT_MODEL in row.text and "local" in row.text

    item = browser.find_element(By.CSS_SELECTOR, f'#memories li[data-id="{memory_id}"]')
    item.find_element(By.XPATH, ".//button[text()='Approve']").click()
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, f'#memories li[data-id="{memory_id}"]'))
    status = httpx.get(rh.url + f"/control/v1/memory/{memory_id}", timeout=30).json()["status"]
    assert status == "approved"

    image = QImage.fromData(browser.get_screenshot_as_png(), "PNG")
    assert not image.isNull() and image.width() > 100
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 20


class _Page(http.server.BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args: object) -> None:
        pass


def test_another_origin_cannot_read_it(rh: RunningDaemon, browser: webdriver.Chrome) -> None:
    assert httpx.get(rh.url + "/dashboard", headers={"origin": "http://127.0.0.1:1"}).status_code == 403
    assert httpx.get(rh.url + "/dashboard", headers={"origin": "https://evil.example"}).status_code == 403
    _Page.page = (
        "<script>Promise.all(['/dashboard', '/control/v1/requests', '/metrics'].map(p => "
        f"fetch('{rh.url}' + p).then(r => 'read ' + r.status, e => 'refused')))"
        ".then(r => { document.title = r.join(','); });</script>"
    ).encode()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        browser.get(f"http://127.0.0.1:{server.server_address[1]}/")
        WebDriverWait(browser, 30).until(lambda d: "," in d.title)
        assert browser.title == "refused,refused,refused"
    finally:
        server.shutdown()
