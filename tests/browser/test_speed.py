"""The tab stays fast on a big comparison: 5 runs × 100 classes, macro average, every view open;
and with 10 slices of one run (the slice table, its overlaid curves and gaps).

The targets (`benchmarks/bench_frontend.py`, docs/benchmarks.md) are a threshold drag within one
frame (16 ms), an epoch or class change within 50 ms and the first data on screen within 1 s. CI
machines are slower and busier than the one the benchmark describes, so this test bounds medians
at 5× the drag target (80 ms) and the first data at 5 s, and epoch and class changes at 125 ms,
about 5× their medians on a loaded 2-core machine (21 and 26 ms to the render): loose enough not
to fail on a loaded machine, tight enough that redoing per-frame work that belongs to an epoch and
class (the curves, averages and areas each view derives) fails it. The 10-slice drag has the same
80 ms bound (`benchmarks/bench_slice_views.py`: a median of 14–26 ms on a quiet 2-core machine; 97 ms
at load 4–8 before the views out of sight waited).
"""

from __future__ import annotations

import statistics

import numpy as np

from tb_metrics_plugin import SummaryWriter, summary
from tests.browser.conftest import VIEWPORT
from tests.browser.plugin_page import PluginPage
from tests.browser.sliced_logs import TEN_SLICE_EPOCHS, TEN_SLICE_RUN, write_ten_slice_run
from tests.browser.timing import RECORDER_JS, TIME_RENDERS_JS, TIME_REPAINTS_JS

RUNS = [f"compare{index}/validation" for index in range(5)]
NUM_CLASSES, NUM_EPOCHS, NUM_ITEMS = 100, 3, 20_000
DRAG_MEDIAN_BOUND_MS = 5 * 16.0
CHANGE_MEDIAN_BOUND_MS = 125.0
FIRST_DATA_BOUND_MS = 5 * 1000.0


def write_runs(logdir) -> None:
    """Five runs of 100 classes on the default grid (20,000 items: too many to store exactly)."""
    rng = np.random.default_rng(3)
    for run_index, run in enumerate(RUNS):
        with SummaryWriter(logdir / run) as writer:
            for epoch in range(NUM_EPOCHS):
                labels = rng.integers(0, NUM_CLASSES, size=NUM_ITEMS)
                logits = rng.normal(size=(NUM_ITEMS, NUM_CLASSES))
                logits[np.arange(NUM_ITEMS), labels] += 1.5 + 0.2 * epoch + 0.05 * run_index
                scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
                writer.add_summary(summary.threshold_curves_pb("threshold_curves", labels, scores), step=epoch)


def test_threshold_epoch_and_class_changes_stay_fast_with_5_runs_of_100_classes(
    tmp_path, start_tensorboard, chromium
):
    write_runs(tmp_path)
    server = start_tensorboard(tmp_path, load_fast=True)
    server.wait_until(
        lambda listing: all(
            listing.get(run, {}).get("threshold_curves", {}).get("num_steps") == NUM_EPOCHS for run in RUNS),
        "/data/plugin/tb_metrics/tags", timeout=120,
    )
    context = chromium.new_context(viewport=VIEWPORT)
    try:
        context.add_init_script(RECORDER_JS)
        plugin = PluginPage(context.new_page(), server).open()
        plugin.frame.wait_for_function("() => window.__tbmRenders.length > 0")
        first_data_ms = plugin.frame.evaluate("() => window.__tbmRenders[0]")
        assert first_data_ms <= FIRST_DATA_BOUND_MS, f"first data on screen after {first_data_ms:.0f} ms"

        plugin.select_runs(*RUNS)
        plugin.select_class("macro")
        plugin.frame.get_by_label("DET curve").check()
        plugin.wait_idle()
        assert plugin.testid("view-det").count() == 1

        thresholds = [round(0.05 + 0.9 * k / 29, 4) for k in range(30)]
        drag = plugin.frame.evaluate(TIME_REPAINTS_JS, ["[data-testid=threshold-slider]", thresholds, "input"])
        drag_ms = statistics.median(sample["sync"] + sample["frame"] for sample in drag)
        assert drag_ms <= DRAG_MEDIAN_BOUND_MS, f"threshold drag: median {drag_ms:.1f} ms per frame"
        plugin.wait_threshold(thresholds[-1])

        # Epochs visited before (their curves are kept) and classes not seen yet (built on demand).
        epochs = plugin.frame.evaluate(TIME_RENDERS_JS, ["[data-testid=epoch-slider]", [0, 1, 2] * 4, "input"])
        epoch_ms = statistics.median(sample["render"] for sample in epochs[3:])
        assert epoch_ms <= CHANGE_MEDIAN_BOUND_MS, f"epoch change: median {epoch_ms:.1f} ms to the render"
        assert plugin.epoch() == 2

        classes = plugin.frame.evaluate(
            TIME_RENDERS_JS, ["[data-testid=class-select]", [str(c) for c in range(10)], "change"])
        class_ms = statistics.median(sample["render"] for sample in classes)
        assert class_ms <= CHANGE_MEDIAN_BOUND_MS, f"class change: median {class_ms:.1f} ms to the render"
        assert plugin.testid("class-select").input_value() == "9"
        plugin.assert_no_errors()
    finally:
        context.close()


def test_threshold_drag_stays_fast_with_10_slices(tmp_path, start_tensorboard, chromium):
    write_ten_slice_run(tmp_path)
    server = start_tensorboard(tmp_path, load_fast=True)
    server.wait_until(
        lambda listing: listing.get(TEN_SLICE_RUN, {}).get("threshold_curves", {}).get("num_steps") == TEN_SLICE_EPOCHS,
        "/data/plugin/tb_metrics/tags", timeout=120,
    )
    context = chromium.new_context(viewport=VIEWPORT)
    try:
        plugin = PluginPage(context.new_page(), server).open()
        plugin.show(TEN_SLICE_RUN, "threshold_curves", "0")
        plugin.testid("slice-key").select_option("group")
        plugin.wait_idle()
        plugin.testid("slice-metrics").wait_for()

        thresholds = [round(0.05 + 0.9 * k / 29, 4) for k in range(30)]
        drag = plugin.frame.evaluate(TIME_REPAINTS_JS, ["[data-testid=threshold-slider]", thresholds, "input"])
        drag_ms = statistics.median(sample["sync"] + sample["frame"] for sample in drag)
        assert drag_ms <= DRAG_MEDIAN_BOUND_MS, f"10-slice threshold drag: median {drag_ms:.1f} ms per frame"
        plugin.wait_threshold(thresholds[-1])
        plugin.assert_no_errors()
    finally:
        context.close()
