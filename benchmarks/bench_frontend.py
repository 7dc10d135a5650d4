"""Times the Threshold metrics tab in Chromium: from a threshold input event to every view repainted.

    python benchmarks/bench_frontend.py [--repeats 50] [--output benchmarks/results/frontend.json]
    python benchmarks/bench_frontend.py --first-data-only [--servers 3]

Logs are written to a temporary folder and served by a real TensorBoard (Rust loader, in this
process); headless Chromium opens the tab. Cases:

* `100 classes × 1000 thresholds`: one run, macro average over the 100 classes (every view derives
  its numbers from 100 × 1000 counts), threshold slider moved;
* `1000-class confusion matrix`: one run with a 1000 × 1000 matrix, threshold slider moved, and the
  normalisation changed (which redraws the whole heatmap);
* `5 runs × 100 classes` (issue 11 item 10), on a second logdir of 10 runs × 100 classes × 3 epochs
  (20,000 items each, so every class is on the default 960-threshold grid): 5 runs compared, macro
  average, every view open (DET included): threshold slider moved (p95 of the work and every long
  task over 50 ms while it moves), epoch changed, class changed; and the first data on screen after
  the tab opens on that logdir.

Epoch and class changes fetch and rebuild, which takes more than one frame: they are timed from the
event to the end of the render it causes (the app's `tbm-render` performance mark) and to the frame
painted after it. First data on screen: the first `tbm-render` mark in the plugin's iframe, from the
iframe's time origin (the tab opening) and from TensorBoard's page navigation, on `--servers` fresh
TensorBoards per loader (Rust and Python) once they have loaded the logdir, so the plugin is cold
(its first `tags` reads every run/tag); each is opened a second time, warm (median of each). The
plugin's first `tags`, `counts` and `summary` requests are timed from the iframe's resource entries.

Method, inside the page, `--repeats` times per case after two warm-ups: from a quiet task, set the
control and dispatch its `input` (or `change`) event, timing its handlers; then time the next frame
from its first `requestAnimationFrame` callback (registered before the event) to a message posted by
a rAF callback registered after the event, which runs once that frame's script, style, layout and
paint are done. `work` = handlers + frame: the main-thread time from the event to the finished
repaint, without the idle wait for the next vsync (headless Chromium's frame clock is too coarse to
time by counting frames). `latency` (event → painted frame, idle wait included) is reported too.
The reference, timed the same way in the same page, is an `input` event on an element nobody
listens to; `work_minus_reference_ms` subtracts it. Targets: work ≤ 16 ms (one frame at 60 Hz) for
the 100-class case; for 5 runs × 100 classes a p95 ≤ 16 ms and no long task over 50 ms while the
threshold moves, epoch or class change ≤ 50 ms, first data on screen ≤ 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the browser tests' page driver

from tb_metrics_plugin import SummaryWriter, summary  # noqa: E402
from tests.browser.plugin_page import PluginPage  # noqa: E402
from tests.browser.timing import RECORDER_JS, TIME_RENDERS_JS, TIME_REPAINTS_JS  # noqa: E402

DEFAULT_OUTPUT = REPO / "benchmarks" / "results" / "frontend.json"
TARGET_MS = 16.0
MANY_CURVES_RUN, MANY_CURVES_CLASSES, MANY_CURVES_THRESHOLDS = "classes100/validation", 100, 1000
BIG_MATRIX_RUN, BIG_MATRIX_CLASSES = "classes1000/validation", 1000
COMPARE_RUNS = [f"compare{index:02d}/validation" for index in range(10)]
COMPARE_SHOWN, COMPARE_CLASSES, COMPARE_EPOCHS, COMPARE_ITEMS = 5, 100, 3, 20_000
LONG_TASK_MS = 50.0
CHANGE_TARGET_MS = 50.0
FIRST_DATA_TARGET_MS = 1000.0
NORMALIZATION_SELECT = "[data-testid=view-confusion] select[data-control=normalization]"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run",
]

def write_logs(logdir: Path) -> None:
    """The 100-class run (curves on 1000 thresholds + matrix) and the 1000-class matrix run."""
    rng = np.random.default_rng(0)
    num_items = 20_000
    labels = rng.integers(0, MANY_CURVES_CLASSES, size=num_items)
    logits = rng.normal(size=(num_items, MANY_CURVES_CLASSES))
    logits[np.arange(num_items), labels] += 2.5
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    with SummaryWriter(logdir / MANY_CURVES_RUN) as writer:
        writer.add_summary(summary.threshold_curves_pb(
            "threshold_curves", labels, scores, num_thresholds=MANY_CURVES_THRESHOLDS), step=0)
        writer.add_summary(summary.confusion_matrix_pb("confusion_matrix", labels, scores), step=0)

    # Mostly right, with confusions concentrated on a few neighbours of each class.
    matrix = rng.poisson(0.05, size=(BIG_MATRIX_CLASSES, BIG_MATRIX_CLASSES)).astype(np.float64)
    classes = np.arange(BIG_MATRIX_CLASSES)
    matrix[classes, classes] += rng.integers(50, 200, size=BIG_MATRIX_CLASSES)
    matrix[classes, (classes + 1) % BIG_MATRIX_CLASSES] += rng.integers(0, 30, size=BIG_MATRIX_CLASSES)
    names = [f"class {index:04d}" for index in classes]
    with SummaryWriter(logdir / BIG_MATRIX_RUN) as writer:
        writer.add_summary(summary.confusion_matrix_pb_from_counts("confusion_matrix", matrix, names), step=0)


def write_compare_logs(logdir: Path) -> None:
    """10 runs × 100 classes × 3 epochs of threshold curves (grid) and confusion matrices."""
    rng = np.random.default_rng(1)
    for run_index, run in enumerate(COMPARE_RUNS):
        with SummaryWriter(logdir / run) as writer:
            for epoch in range(COMPARE_EPOCHS):
                labels = rng.integers(0, COMPARE_CLASSES, size=COMPARE_ITEMS)
                logits = rng.normal(size=(COMPARE_ITEMS, COMPARE_CLASSES))
                logits[np.arange(COMPARE_ITEMS), labels] += 1.5 + 0.2 * epoch + 0.05 * run_index
                scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
                writer.add_summary(summary.threshold_curves_pb("threshold_curves", labels, scores), step=epoch)
                writer.add_summary(summary.confusion_matrix_pb("confusion_matrix", labels, scores), step=epoch)


def start_tensorboard(logdir: Path, load_fast: bool = True) -> str:
    """TensorBoard (Rust loader, or the Python one), serving in a thread of this process; returns its URL."""
    from tensorboard import program

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    board = program.TensorBoard()
    board.configure(argv=[
        None, "--logdir", str(logdir), "--host", "127.0.0.1", "--port", str(port),
        f"--load_fast={'true' if load_fast else 'false'}",
    ])
    return board.launch().rstrip("/")


def wait_until_loaded(url: str, runs: list[str], settle_s: float = 2.0, timeout_s: float = 120.0) -> None:
    """Waits until TensorBoard lists every run, then `settle_s` for their tensors. Asks TensorBoard's
    own `runs` route, not the plugin's: the plugin's caches stay cold for the first opening."""
    deadline = time.monotonic() + timeout_s
    while True:
        with urllib.request.urlopen(f"{url}/data/runs") as response:
            if set(runs) <= set(json.loads(response.read())):
                break
        if time.monotonic() > deadline:
            raise TimeoutError(f"TensorBoard at {url} did not list {runs} within {timeout_s} s")
        time.sleep(0.2)
    time.sleep(settle_s)


# The plugin's requests in the iframe, from its resource timing entries: route, start and end in ms
# from the iframe's time origin.
_REQUESTS_JS = """() => performance.getEntriesByType('resource')
  .filter((entry) => /\\/(tags|counts|summary)(\\?|$)/.test(entry.name))
  .map((entry) => [entry.name.split('/').pop().split('?')[0], entry.startTime, entry.responseEnd])"""


def open_first_data(url: str, browser) -> dict:
    """Opens the tab in a fresh browser context; the first drawing and the plugin's first requests."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(RECORDER_JS)
    page = context.new_page()
    plugin = PluginPage(page, _Server(url)).open()
    plugin.frame.wait_for_function("() => window.__tbmRenders.length > 0")
    iframe_origin, first_render = plugin.frame.evaluate("() => [performance.timeOrigin, window.__tbmRenders[0]]")
    page_origin = page.evaluate("() => performance.timeOrigin")
    requests = {}
    for route, start, end in plugin.frame.evaluate(_REQUESTS_JS):
        requests.setdefault(route, (start, end))  # the first of each
    plugin.assert_no_errors()
    context.close()
    opening = {
        "after_tab_opens_ms": first_render,
        "after_page_navigation_ms": iframe_origin - page_origin + first_render,
    }
    for route, (start, end) in requests.items():
        opening[f"{route}_request_ms"] = end - start
        opening[f"{route}_sent_after_tab_opens_ms"] = start
    return opening


def measure_first_data(compare_logdir: Path, browser, load_fast: bool, servers: int) -> dict:
    """First data on screen on the 10-run logdir: `servers` fresh TensorBoards (the plugin cold: its
    first `tags` reads every run/tag), each opened twice (the second time its step cache is warm).
    Medians over the servers, in ms from the iframe's time origin; the request times are the
    plugin's first `tags`, `counts` and `summary` requests (start to response end)."""
    cold, warm = [], []
    for _ in range(servers):
        url = start_tensorboard(compare_logdir, load_fast=load_fast)
        wait_until_loaded(url, COMPARE_RUNS)
        cold.append(open_first_data(url, browser))
        warm.append(open_first_data(url, browser))
    figures = {key: round(statistics.median(opening[key] for opening in cold), 1) for key in cold[0]}
    figures["warm_after_tab_opens_ms"] = round(statistics.median(opening["after_tab_opens_ms"] for opening in warm), 1)
    figures["cold_after_tab_opens_all_ms"] = [round(opening["after_tab_opens_ms"], 1) for opening in cold]
    figures["servers"] = servers
    figures["target_ms"] = FIRST_DATA_TARGET_MS
    return figures


class _Server:
    def __init__(self, url: str):
        self.url = url


def time_control(plugin: PluginPage, selector: str | None, values: list, event_name: str = "input") -> list[dict]:
    """Per repetition {sync, frame, latency} in ms, after two untimed warm-up repetitions."""
    plugin.frame.evaluate(TIME_REPAINTS_JS, [selector, values[:2], event_name])
    return plugin.frame.evaluate(TIME_REPAINTS_JS, [selector, values, event_name])


def summarise(samples: list[dict], reference: dict | None = None) -> dict:
    """Medians (and the 90th percentile of the work) in ms; `work` = event handlers + the next frame."""
    work = [sample["sync"] + sample["frame"] for sample in samples]
    figures = {
        "work_median_ms": round(statistics.median(work), 3),
        "work_p90_ms": round(float(np.percentile(work, 90)), 3),
        "handlers_median_ms": round(statistics.median(sample["sync"] for sample in samples), 3),
        "frame_median_ms": round(statistics.median(sample["frame"] for sample in samples), 3),
        "latency_median_ms": round(statistics.median(sample["latency"] for sample in samples), 3),
        "repeats": len(samples),
    }
    if reference is not None:
        figures["work_minus_reference_ms"] = round(figures["work_median_ms"] - reference["work_median_ms"], 3)
    return figures


def threshold_values(repeats: int) -> list[float]:
    """Thresholds sweeping 0.05 … 0.95 and back, never the same twice in a row."""
    sweep = np.linspace(0.05, 0.95, num=max(repeats, 2))
    return [round(float(value), 4) for value in np.where(np.arange(sweep.size) % 2, sweep, sweep[::-1])]


def summarise_drag(samples: list[dict], long_tasks: list[float]) -> dict:
    """`summarise` plus the 95th percentile of the work and the long tasks while the threshold moved."""
    figures = summarise(samples)
    work = [sample["sync"] + sample["frame"] for sample in samples]
    figures["work_p95_ms"] = round(float(np.percentile(work, 95)), 3)
    figures["work_max_ms"] = round(max(work), 3)
    figures["long_tasks_over_50ms"] = len([duration for duration in long_tasks if duration > LONG_TASK_MS])
    figures["longest_task_ms"] = round(max(long_tasks, default=0.0), 3)
    return figures


def summarise_renders(samples: list[dict]) -> dict:
    """Medians and 95th percentiles of event → render and event → painted frame, in ms."""
    renders = [sample["render"] for sample in samples]
    latencies = [sample["latency"] for sample in samples]
    long_tasks = [duration for sample in samples for duration in sample["long_tasks"]]
    return {
        "render_median_ms": round(statistics.median(renders), 3),
        "render_p95_ms": round(float(np.percentile(renders, 95)), 3),
        "latency_median_ms": round(statistics.median(latencies), 3),
        "latency_p95_ms": round(float(np.percentile(latencies, 95)), 3),
        "long_tasks_over_50ms": len([duration for duration in long_tasks if duration > LONG_TASK_MS]),
        "longest_task_ms": round(max(long_tasks, default=0.0), 3),
        "repeats": len(samples),
    }


def time_renders(plugin: PluginPage, selector: str, values: list, event_name: str) -> list[dict]:
    """Per repetition {render, latency, long_tasks}, after two untimed warm-up repetitions."""
    plugin.frame.evaluate(TIME_RENDERS_JS, [selector, values[:2], event_name])
    return plugin.frame.evaluate(TIME_RENDERS_JS, [selector, values, event_name])


def time_drag(plugin: PluginPage, selector: str, values: list) -> dict:
    """`summarise_drag` of `input` events on `selector` through `values`, after two untimed warm-ups,
    with the long tasks that started while they were timed (the page needs `RECORDER_JS`)."""
    plugin.frame.evaluate(TIME_REPAINTS_JS, [selector, values[:2], "input"])
    since = plugin.frame.evaluate("() => performance.now()")
    samples = plugin.frame.evaluate(TIME_REPAINTS_JS, [selector, values, "input"])
    return summarise_drag(samples, long_tasks_since(plugin, since))


def long_tasks_since(plugin: PluginPage, since: float) -> list[float]:
    return plugin.frame.evaluate(
        "(since) => window.__tbmLongTasks.filter(([start]) => start >= since).map(([, d]) => d)", since)


def measure_comparison(url: str, repeats: int, browser) -> dict:
    """The 5-runs × 100-classes cases on the 10-run logdir, in a fresh browser context."""
    results: dict[str, dict] = {}
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(RECORDER_JS)
    page = context.new_page()
    plugin = PluginPage(page, _Server(url)).open()
    plugin.select_tag("threshold_curves")
    plugin.select_runs(*COMPARE_RUNS[:COMPARE_SHOWN])
    plugin.select_class("macro")
    plugin.frame.get_by_label("DET curve").check()
    plugin.wait_idle()
    case = f"{COMPARE_SHOWN} runs × {COMPARE_CLASSES} classes (macro, every view)"
    results[f"{case}: threshold input"] = time_drag(plugin, "[data-testid=threshold-slider]", threshold_values(repeats))
    results[f"{case}: epoch change"] = summarise_renders(
        time_renders(plugin, "[data-testid=epoch-slider]", _alternating(list(range(COMPARE_EPOCHS)), repeats), "input"))
    classes = [str(k % COMPARE_CLASSES) for k in range(repeats)]
    results[f"{case}: class change"] = summarise_renders(
        time_renders(plugin, "[data-testid=class-select]", classes, "change"))
    plugin.assert_no_errors()
    context.close()
    return results


def _alternating(options: list, count: int) -> list:
    """`count` values cycling through `options`, never the same twice in a row."""
    return [options[index % len(options)] for index in range(count)]


FIRST_DATA_CASE = "10-run logdir: first data on screen"
FIRST_DATA_PYTHON_CASE = "10-run logdir: first data on screen (Python loader)"


def measure_first_data_cases(compare_logdir: Path, servers: int) -> dict:
    """Only the first-data cases, on both loaders."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        results = {
            FIRST_DATA_CASE: measure_first_data(compare_logdir, browser, load_fast=True, servers=servers),
            FIRST_DATA_PYTHON_CASE: measure_first_data(compare_logdir, browser, load_fast=False, servers=servers),
            "browser": browser.version,
        }
        browser.close()
    return results


def measure(url: str | None, compare_url: str, repeats: int, compare_logdir: Path, servers: int) -> dict:
    from playwright.sync_api import sync_playwright

    results: dict[str, dict] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        results[FIRST_DATA_CASE] = measure_first_data(compare_logdir, browser, load_fast=True, servers=servers)
        results[FIRST_DATA_PYTHON_CASE] = measure_first_data(compare_logdir, browser, load_fast=False, servers=servers)
        if url is None:
            results.update(measure_comparison(compare_url, repeats, browser))
            results["browser"] = browser.version
            browser.close()
            return results
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        plugin = PluginPage(page, _Server(url)).open()
        slider = "[data-testid=threshold-slider]"
        values = threshold_values(repeats)
        reference = summarise(time_control(plugin, None, values))
        results["reference: input event nobody listens to"] = reference

        plugin.show(MANY_CURVES_RUN, "threshold_curves", "macro")
        results[f"{MANY_CURVES_CLASSES} classes × {MANY_CURVES_THRESHOLDS} thresholds (macro): threshold input"] = (
            summarise(time_control(plugin, slider, values), reference))

        plugin.show(BIG_MATRIX_RUN, "confusion_matrix")
        results[f"{BIG_MATRIX_CLASSES}-class confusion matrix: threshold input"] = (
            summarise(time_control(plugin, slider, values), reference))
        normalizations = ["true", "pred", "all", "none"] * (repeats // 4 + 1)
        results[f"{BIG_MATRIX_CLASSES}-class confusion matrix: normalisation change"] = summarise(
            time_control(plugin, NORMALIZATION_SELECT, normalizations[:repeats], "change"),
            reference)
        plugin.assert_no_errors()
        results.update(measure_comparison(compare_url, repeats, browser))
        results["browser"] = browser.version
        browser.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50, help="timed repetitions per case (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON to write (default: %(default)s)")
    parser.add_argument("--comparison-only", action="store_true",
                        help="only the 5-runs × 100-classes cases on the 10-run logdir")
    parser.add_argument("--first-data-only", action="store_true",
                        help="only the first-data cases (both loaders); the other figures of --output are kept")
    parser.add_argument("--servers", type=int, default=3,
                        help="fresh TensorBoards per loader for the first-data cases (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.repeats < 4:
        parser.error(f"--repeats={args.repeats} is too few for a median; use at least 4")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with tempfile.TemporaryDirectory() as logdir, tempfile.TemporaryDirectory() as compare_logdir:
        write_compare_logs(Path(compare_logdir))
        if args.first_data_only:
            figures = measure_first_data_cases(Path(compare_logdir), args.servers)
        else:
            if not args.comparison_only:
                write_logs(Path(logdir))
            url = None if args.comparison_only else start_tensorboard(Path(logdir))
            compare_url = start_tensorboard(Path(compare_logdir))
            wait_until_loaded(compare_url, COMPARE_RUNS)
            figures = measure(url, compare_url, args.repeats, Path(compare_logdir), args.servers)
    if args.first_data_only and args.output.exists():  # keep the figures not measured now
        figures = {**json.loads(args.output.read_text())["milliseconds"], **figures}
    chromium_version = figures.pop("browser")
    import playwright._repo_version as playwright_version

    report = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "playwright": playwright_version.version,
            "chromium": chromium_version,
        },
        "method": "work = event handlers + next frame (first rAF → message after paint); medians in ms; "
                  "changes: render = event → tbm-render mark, latency = event → painted frame",
        "target_ms": TARGET_MS,
        "milliseconds": figures,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    print("| case | work median ms | work p90 ms | handlers ms | frame ms | latency to painted frame ms |")
    print("|---|---|---|---|---|---|")
    for case, figure in figures.items():
        if "work_median_ms" in figure:
            print(f"| {case} | {figure['work_median_ms']} | {figure['work_p90_ms']} | {figure['handlers_median_ms']} "
                  f"| {figure['frame_median_ms']} | {figure['latency_median_ms']} |")
    print()
    for case, figure in figures.items():
        if "work_median_ms" not in figure or "work_p95_ms" in figure:
            print(f"{case}: {json.dumps(figure, ensure_ascii=False)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
