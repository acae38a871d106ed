"""End to end: ``neuromask dashboard`` served for real, driven in headless Chromium.

The system browser (Debian's ``chromium``, installed by ``make test``) is driven by
Playwright with ``executable_path``; Playwright's own browser download is never used.
Screenshots go to ``$NEUROMASK_SCREENSHOTS`` when set (``make screenshots`` writes the
ones committed under ``docs/_static/``), else to the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("streamlit")
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs the system Chromium (apt chromium; `make test` installs it)"
    ),
]
TIMEOUT_MS = 90_000  # the machine is shared and loaded: generous, but a hang still fails


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The real CLI command, on a free port; stopped at the end."""
    port = _free_port()
    proc = subprocess.Popen(
        # One torch thread: the tests share a loaded machine (see logic.THREADS_ENV).
        [sys.executable, "-m", "neuromask.cli.main", "dashboard", "--port", str(port), "--threads", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "_stcore/health", timeout=2) as r:
                if r.read() == b"ok":
                    break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the dashboard did not start: {proc.stdout.read() if proc.stdout else ''}")
            time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(timeout=20)
    # SIGTERM to `neuromask dashboard` must stop the Streamlit server it started, not orphan it.
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(url + "_stcore/health", timeout=2).close()
        except OSError:
            break
        assert time.monotonic() < deadline, "the Streamlit server outlived `neuromask dashboard` after SIGTERM"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True)
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("NEUROMASK_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _open(browser: object, url: str):  # -> playwright Page
    page = browser.new_context(viewport={"width": 1400, "height": 1700}, accept_downloads=True).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.get_by_text("Explain an image").wait_for()
    return page


def _upload(page, path: Path) -> None:
    page.get_by_test_id("stSidebar").get_by_text("Upload", exact=True).click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))


def _select(page, label: str, option: str) -> None:
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").filter(has_text=label).click()
    page.get_by_role("option", name=option, exact=True).click()


def _triangle_png(path: Path) -> int:
    """A known-answer image of a triangle, written as a PNG; returns the shipped CNN's top class for it."""
    import neuromask
    from neuromask import datasets

    data = datasets.generate("triangles_squares", 1, seed=3)
    pixels = (data.images[0, 0] * 255).round().to(torch.uint8).numpy()
    Image.fromarray(pixels).save(path)
    model = neuromask.load_model("triangles_squares-cnn")
    inputs, _ = neuromask.preprocess_image(model, neuromask.load_image(path))
    with torch.no_grad():
        return int(model.module(inputs[None]).argmax())


def test_upload_two_methods_grid_download_and_sessions_apart(
    server: str, browser: object, shots: Path, tmp_path: Path
) -> None:
    image = tmp_path / "triangle.png"
    expected_target = _triangle_png(image)
    page = _open(browser, server)
    _upload(page, image)
    _select(page, "Model", "triangles_squares-cnn")
    steps = page.get_by_label("NeuroMask steps")
    steps.fill("150")
    steps.press("Enter")
    page.get_by_text("Press Explain to run the chosen methods.").wait_for()
    page.get_by_role("button", name="Explain", exact=True).click()

    # The grid: both methods' overlays with their captions, and the mask-evolution slider.
    page.get_by_text("neuromask (mask)").wait_for()
    page.get_by_text("gradcam (cam)").wait_for()
    page.get_by_text("NeuroMask's mask while it learns").wait_for()
    page.get_by_role("slider").wait_for()
    page.get_by_test_id("stDataFrame").wait_for()
    page.wait_for_timeout(1000)  # the table draws on a canvas after it appears (for the screenshot only)
    assert page.get_by_text("Traceback").count() == 0
    page.screenshot(path=str(shots / "dashboard_explain.png"), full_page=True)

    with page.expect_download() as download:
        page.get_by_role("button", name="Download results (.zip)").click()
    archive = tmp_path / "results.zip"
    download.value.save_as(archive)
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        record = json.loads(zf.read("triangle.neuromask.json"))
        mask = np.load(zf.open("triangle.neuromask.npy"))
    # The files neuromask explain writes, per method, and the picture the model saw.
    files = {f"triangle.{m}.{suffix}" for m in ("neuromask", "gradcam") for suffix in ("npy", "png", "json")}
    assert files | {"image.png"} <= names
    assert record["image"] == "triangle.png" and record["model"] == "triangles_squares-cnn"
    assert record["target"] == expected_target  # the default target is the model's own top class
    assert record["params"]["steps"] == 150
    assert mask.shape == (32, 32) and mask.min() >= 0.0 and mask.max() <= 1.0
    # The archive's mask area is the mean of the archive's mask.
    assert record["scores"]["mask_area"] == pytest.approx(float(mask.mean()), abs=1e-6)

    # A second browser session starts empty: it sees neither the upload nor the results.
    other = _open(browser, server)
    _select(other, "Model", "triangles_squares-cnn")
    other.get_by_text("Press Explain to run the chosen methods.").wait_for()
    assert other.get_by_text("triangle.png").count() == 0
    assert other.get_by_text("neuromask (mask)").count() == 0
    other.context.close()
    page.context.close()


def test_bad_uploads_give_one_clear_message(server: str, browser: object, shots: Path, tmp_path: Path) -> None:
    page = _open(browser, server)
    text = tmp_path / "notes.png"
    text.write_text("these are my notes, not a picture\n")
    _upload(page, text)
    page.get_by_text("'notes.png' is not an image file Pillow can read (it holds text)").wait_for()
    page.screenshot(path=str(shots / "dashboard_bad_upload.png"), full_page=True)

    huge = tmp_path / "huge.png"
    Image.new("L", (8000, 6000)).save(huge)  # 48 megapixels of black: a small file, a huge image
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(huge))  # replaces the first
    page.get_by_text("'huge.png' is 8000x6000 pixels (48 megapixels)").wait_for()
    assert page.get_by_text("Traceback").count() == 0
    page.context.close()


def test_results_page_opens_the_committed_benchmark(server: str, browser: object, shots: Path) -> None:
    folder = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "benchmark"
    groups = sorted(p.name for p in (folder / "charts").iterdir())
    page = _open(browser, server)
    page.get_by_test_id("stSidebar").get_by_text("Results", exact=True).click()
    box = page.get_by_label("Results folder")
    box.fill(str(folder))
    box.press("Enter")
    page.get_by_text("Benchmark", exact=True).wait_for()
    for group in groups:
        page.get_by_role("heading", name=group).wait_for()
    page.get_by_test_id("stVegaLiteChart").first.wait_for()
    page.wait_for_timeout(1000)  # the charts draw after they appear (for the screenshot only)
    assert page.get_by_text("Traceback").count() == 0
    page.screenshot(path=str(shots / "dashboard_results.png"))
    page.context.close()
