"""Fixtures of the browser test: Airflow and moto on free ports, seeded S3, Chromium via Playwright.

On failure every open page is saved as a screenshot under ``test-output/`` (with the
Airflow component logs' location in the test report). Set ``MLOPS_UI_SCREENSHOTS`` to a
folder to also keep the named screenshots the test takes of each page (``docs/`` uses them).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.ui.stack import REPO, AirflowStack, free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
OUTPUT = REPO / "test-output"
BUCKET = "mlops-ui-test"
_PAGES: list = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed and _PAGES:
        OUTPUT.mkdir(exist_ok=True)
        for i, page in enumerate(_PAGES):
            path = OUTPUT / f"{item.name}-{i}.png"
            try:
                page.screenshot(path=str(path), full_page=True)
                report.sections.append(("screenshot", str(path)))
            except Exception as err:  # a crashed page must not hide the real failure
                report.sections.append(("screenshot", f"could not save {path}: {err}"))
    return report


@pytest.fixture(scope="module")
def s3_server():
    """A moto S3 server of its own (not the session one other tests clear), with a versioned bucket."""
    import boto3
    from moto.server import ThreadedMotoServer

    from mlops.storage import ensure_bucket

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    ensure_bucket(client, BUCKET)
    yield endpoint, client
    server.stop()


@pytest.fixture(scope="module")
def airflow(s3_server):
    """api-server, scheduler, dag-processor and triggerer on free ports; yields the stack and a token."""
    if not CHROMIUM:
        pytest.skip(
            "chromium is not installed; `make browser-deps` installs it (apt-get install -y chromium)"
        )
    pytest.importorskip("playwright", reason="playwright is in requirements.txt; run `make install`")
    endpoint, _ = s3_server
    home = Path(tempfile.mkdtemp(prefix="mlops-ui-airflow-"))
    stack = AirflowStack(home=home, api_port=free_port(), s3_endpoint=endpoint, bucket=BUCKET)
    stack.prepare()
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
        if os.environ.get("MLOPS_UI_KEEP_HOME") != "1":
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    _PAGES.append(page)
    yield page
    _PAGES.remove(page)
    context.close()


@pytest.fixture
def shot(page):
    """``shot(name)``: keep a named screenshot of the page when ``MLOPS_UI_SCREENSHOTS`` is set."""
    folder = os.environ.get("MLOPS_UI_SCREENSHOTS")

    def take(name: str, target=None) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            (target or page).screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

    return take


def poll(check, timeout: float, every: float = 2.0, what: str = "condition"):
    """Call ``check()`` until it returns a truthy value; raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what} not reached within {timeout:.0f}s (last: {last!r})")
