"""Times the slice views in Chromium with 10 slices: threshold input to every view repainted, and the
per-slice optimiser (a mode change) — the same method and targets as bench_frontend.py's 5-run
comparison: a drag's work p95 ≤ 16 ms with no long task over 50 ms, a change (epoch, optimiser
mode) rendered ≤ 50 ms.

    python benchmarks/bench_slice_views.py [--repeats 30] [--output benchmarks/results/slice_views.json]

One binary run of 20,000 items over 5 epochs, logged with 10 slices of one key (2,000 items each;
scores noisier on some slices) by `summary.threshold_curves_pb(..., slices=...)`, served by a real
TensorBoard (Rust loader); the tab shows the run with the slice key chosen, so the slice table, the
three overlaid curve views, the gaps over epochs and the run's own views all redraw. Cases:

* the same run without a slice key: the run's own views alone, for comparison;
* threshold input: what a drag costs (slice curves are built once per epoch; a drag re-reads counts
  and recomputes intervals and the gaps over epochs): median, p95 and longest work per frame, and
  every long task (> 50 ms) while the threshold moves;
* epoch change: event → the render it causes (the app's `tbm-render` mark), as bench_frontend.py;
* optimiser mode change: the constrained per-slice search (equal opportunity / demographic parity /
  equal accuracy, tolerance 0.05) over the slices' aligned thresholds, timed as work (handlers + the
  next frame) and as event → render.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_frontend import (  # noqa: E402
    CHANGE_TARGET_MS,
    CHROMIUM_ARGS,
    LONG_TASK_MS,
    TARGET_MS,
    _alternating,
    _Server,
    start_tensorboard,
    summarise,
    summarise_renders,
    threshold_values,
    time_control,
    time_drag,
    time_renders,
)

from tests.browser.plugin_page import PluginPage  # noqa: E402
from tests.browser.sliced_logs import TEN_SLICE_EPOCHS, TEN_SLICE_RUN, TEN_SLICES, write_ten_slice_run  # noqa: E402
from tests.browser.timing import RECORDER_JS  # noqa: E402

DEFAULT_OUTPUT = REPO / "benchmarks" / "results" / "slice_views.json"
SLICE_MODES = ["equal_opportunity", "demographic_parity", "equal_accuracy"]


def measure(url: str, repeats: int) -> dict:
    from playwright.sync_api import sync_playwright

    results: dict[str, dict] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.add_init_script(RECORDER_JS)
        plugin = PluginPage(context.new_page(), _Server(url)).open()
        values = threshold_values(repeats)
        reference = summarise(time_control(plugin, None, values))
        results["reference: input event nobody listens to"] = reference
        plugin.show(TEN_SLICE_RUN, "threshold_curves", "0")
        results["same run, no slice key: threshold input"] = summarise(
            time_control(plugin, "[data-testid=threshold-slider]", values), reference)
        plugin.testid("slice-key").select_option("group")
        plugin.wait_idle()
        plugin.testid("slice-metrics").wait_for()
        results[f"{TEN_SLICES} slices × {TEN_SLICE_EPOCHS} epochs: threshold input"] = time_drag(
            plugin, "[data-testid=threshold-slider]", values)
        epochs = _alternating(list(range(TEN_SLICE_EPOCHS)), repeats)
        results[f"{TEN_SLICES} slices: epoch change"] = summarise_renders(
            time_renders(plugin, "[data-testid=epoch-slider]", epochs, "input"))
        modes = _alternating(SLICE_MODES, repeats)
        results[f"{TEN_SLICES} slices: optimiser mode change (tolerance 0.05)"] = summarise(
            time_control(plugin, "[data-testid=slice-mode]", modes, "change"), reference)
        after = (SLICE_MODES.index(modes[-1]) + 1) % len(SLICE_MODES)  # never the mode already set
        modes = _alternating(SLICE_MODES[after:] + SLICE_MODES[:after], repeats)
        results[f"{TEN_SLICES} slices: optimiser mode change, event → render"] = summarise_renders(
            time_renders(plugin, "[data-testid=slice-mode]", modes, "change"))
        plugin.assert_no_errors()
        results["browser"] = browser.version
        browser.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed repetitions per case (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON to write (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.repeats < 4:
        parser.error(f"--repeats={args.repeats} is too few for a median; use at least 4")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with tempfile.TemporaryDirectory() as logdir:
        write_ten_slice_run(Path(logdir))
        figures = measure(start_tensorboard(Path(logdir)), args.repeats)
    chromium_version = figures.pop("browser")
    report = {
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "chromium": chromium_version},
        "method": "as bench_frontend.py: work = event handlers + next frame; medians in ms",
        "targets_ms": {"drag_work_p95": TARGET_MS, "long_task": LONG_TASK_MS, "change_render": CHANGE_TARGET_MS},
        "milliseconds": figures,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    print("| case | median ms | p90 / p95 ms | longest ms | long tasks > 50 ms |")
    print("|---|---|---|---|---|")
    for case, figure in figures.items():
        if "work_median_ms" in figure:
            spread = f"{figure['work_p90_ms']} / {figure.get('work_p95_ms', '–')}"
            print(f"| {case} (work) | {figure['work_median_ms']} | {spread} | {figure.get('work_max_ms', '–')} "
                  f"| {figure.get('long_tasks_over_50ms', '–')} |")
        else:
            print(f"| {case} (render) | {figure['render_median_ms']} | – / {figure['render_p95_ms']} "
                  f"| {figure['longest_task_ms']} | {figure['long_tasks_over_50ms']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
