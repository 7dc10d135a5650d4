"""Browser fixtures: demo logs written once, a real TensorBoard per loader, one headless Chromium.

Every test gets a fresh browser context (no shared localStorage) on the session's TensorBoard, with
console errors and uncaught page errors collected; a test fails if any appear. Every test here is
`slow` (Chromium and `tensorboard` processes): the fast lane, `pytest -m "not slow"`, leaves them out.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from tb_metrics_plugin import SummaryWriter, metadata, summary
from tests.browser.plugin_page import PluginPage
from tests.conftest import TensorBoardServer

DEMO_EPOCHS = 3
DEMO_TASKS = ("binary", "multiclass", "multilabel", "segmentation")
MANY_CLASSES_RUN = "many_classes/validation"
MANY_CLASSES = 100
MANY_CLASSES_STEPS = 3
CHROMIUM_ARGS = (
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run",
)
VIEWPORT = {"width": 1400, "height": 1000}


def write_many_classes_run(run_dir, num_classes: int = MANY_CLASSES, steps: int = MANY_CLASSES_STEPS) -> None:
    """Softmax scores of 4000 synthetic items over `num_classes` classes that sharpen step by step."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, num_classes, size=4000)
    names = [f"class {index:03d}" for index in range(num_classes)]
    with SummaryWriter(run_dir) as writer:
        for step in range(steps):
            logits = rng.normal(size=(labels.size, num_classes))
            logits[np.arange(labels.size), labels] += 1.5 + step
            scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
            writer.add_summary(summary.threshold_curves_pb("threshold_curves", labels, scores, class_names=names), step)
            writer.add_summary(summary.confusion_matrix_pb("confusion_matrix", labels, scores, class_names=names), step)


@pytest.fixture(scope="session")
def browser_logdir(tmp_path_factory):
    """The four demo tasks (3 epochs each) and a 100-class run, written once per session."""
    from tb_metrics_plugin import demo

    logdir = tmp_path_factory.mktemp("browser") / "logs"
    demo.run_tasks(str(logdir), epochs=DEMO_EPOCHS, task_names=DEMO_TASKS)
    write_many_classes_run(logdir / MANY_CLASSES_RUN)
    return logdir


# The multilabel task counts from `validation_data` in the callback: it has no "train" curves.
RUNS_WITH_CURVES = (
    "binary/train", "binary/validation", "multiclass/train", "multiclass/validation", "multilabel/validation",
    "segmentation/train", "segmentation/validation", MANY_CLASSES_RUN,
)


# A page test runs on the Rust loader (TensorBoard's default) unless what the page shows depends on
# the loader serving the data (the tab's registration, the steps it lists): those also run on the
# Python loader. Tests of data arriving live or of damaged logs start their own servers.
both_loaders = pytest.mark.parametrize("tensorboard", [True, False], indirect=True,
                                       ids=["rust_loader", "python_loader"])


def pytest_collection_modifyitems(config, items):
    """Marks every test of this folder `slow`; pytest hands this hook the whole session's items."""
    browser_tests = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.path).startswith(browser_tests + os.sep):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", params=[True], ids=["rust_loader"])
def tensorboard(request, browser_logdir):
    """A `tensorboard` process on the session's logs that already lists every run's last step
    (`both_loaders` asks for one per loader)."""
    server = TensorBoardServer(browser_logdir, load_fast=request.param)

    def all_loaded(listing) -> bool:
        return all(
            listing.get(run, {}).get("threshold_curves", {}).get("num_steps") == (
                MANY_CLASSES_STEPS if run == MANY_CLASSES_RUN else DEMO_EPOCHS)
            for run in RUNS_WITH_CURVES
        )

    try:
        server.wait_until(all_loaded, f"/data/plugin/{metadata.PLUGIN_NAME}/tags", timeout=120)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def chromium():
    """Headless Chromium: Debian's `chromium` when installed, else Playwright's own download."""
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=list(CHROMIUM_ARGS))
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture
def plugin_page(request, chromium, tensorboard, artifacts_dir):
    """A fresh page on TensorBoard's "Threshold metrics" tab; fails the test on console errors."""
    context = chromium.new_context(viewport=VIEWPORT)
    page = PluginPage(context.new_page(), tensorboard)
    yield page
    call_failed = getattr(request.node, "rep_call_failed", False)
    if call_failed:
        page.screenshot(artifacts_dir / f"FAILED-{_safe_name(request.node.name)}.png")
    context.close()
    if not call_failed:  # errors logged after the test's last check still fail it
        page.assert_no_errors()


@pytest.fixture
def page_on(request, chromium):
    """`page_on(server)`: a fresh page for a test's own TensorBoard; fails the test on console errors.

    Request it after `start_tensorboard`, so that pages close before their server stops.
    """
    opened = []

    def open_page(server) -> PluginPage:
        context = chromium.new_context(viewport=VIEWPORT)
        opened.append((context, PluginPage(context.new_page(), server)))
        return opened[-1][1]

    yield open_page
    for context, page in opened:
        context.close()
        if not getattr(request.node, "rep_call_failed", False):
            page.assert_no_errors()


@pytest.fixture(scope="session")
def artifacts_dir(request):
    """Screenshots land in `<repo>/artifacts/browser/` (ignored by git); old failure shots are removed."""
    path = request.config.rootpath / "artifacts" / "browser"
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("FAILED-*.png"):
        stale.unlink()
    return path


def _safe_name(name: str) -> str:
    return "".join(char if char.isalnum() or char in "-_" else "_" for char in name)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call_failed = report.failed
    return report
