"""Export, hover, dragging, several runs, the empty state."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tb_metrics_plugin import SummaryWriter, core, summary
from tests.browser import expected
from tests.browser.conftest import MANY_CLASSES_RUN
from tests.browser.synthetic_logs import write_binary_steps

LAST_STEP = 2


def test_roc_exports_csv_json_and_png_with_the_cores_numbers(plugin_page, browser_logdir):
    curves = expected.counts(browser_logdir, "binary/validation", LAST_STEP, "threshold_curves")
    # The class's own stored thresholds (format v2: its distinct scores when exact, else the grid).
    positive, negative, thresholds, _ = expected.curve_inputs(curves, "0")
    tp, fp, tn, fn = core.confusion_at_thresholds(positive, negative)
    plugin_page.open()
    plugin_page.show("binary/validation", "threshold_curves", "0")
    plugin_page.set_epoch(LAST_STEP)

    rows = list(csv.DictReader(io.StringIO(plugin_page.download("view-roc", "csv").decode("utf-8"))))
    assert len(rows) == thresholds.size
    assert {row["run"] for row in rows} == {"binary/validation"}
    np.testing.assert_array_equal([float(row["threshold"]) for row in rows], thresholds)
    for name, want in (("tp", tp), ("fp", fp), ("tn", tn), ("fn", fn)):
        np.testing.assert_array_equal([float(row[name]) for row in rows], want, err_msg=name)
    np.testing.assert_allclose([float(row["tpr"]) for row in rows], tp / positive.sum(), rtol=1e-12)
    np.testing.assert_allclose([float(row["fpr"]) for row in rows], fp / negative.sum(), rtol=1e-12)
    assert math.isclose(float(rows[0]["roc_auc"]), core.roc_auc(positive, negative), rel_tol=1e-9)

    records = json.loads(plugin_page.download("view-roc", "json"))
    assert len(records) == thresholds.size
    assert plugin_page.download("view-roc", "png")[:8] == b"\x89PNG\r\n\x1a\n"


def _hover_counts(plugin_page, view: str, x: float, y: float) -> dict[str, float]:
    """Hovers a chart at (x, y) in fractions of its plotting area; the tooltip's threshold and counts."""
    plot = plugin_page.testid(view).locator(".u-over").first
    box = plot.bounding_box()
    plot.hover(position={"x": box["width"] * x, "y": box["height"] * y})
    tooltip = plugin_page.testid(view).locator(".tbm-chart-tooltip")
    tooltip.wait_for(state="visible")
    text = tooltip.inner_text()
    # An exact curve's threshold row reads "0.6200 (exact)": the counts hold at that score itself.
    shown = dict(re.findall(r"^(threshold|TP|FP|TN|FN)\s+(\S+)(?: \(exact\))?$", text, flags=re.MULTILINE))
    assert set(shown) == {"threshold", "TP", "FP", "TN", "FN"}, f"{view} tooltip: {text}"
    return {name: float(value) for name, value in shown.items()}


def test_hover_shows_the_threshold_and_its_counts(plugin_page, browser_logdir):
    curves = expected.counts(browser_logdir, "binary/validation", LAST_STEP, "threshold_curves")
    positive, negative = curves.positive_histograms[0], curves.negative_histograms[0]
    row, exact = expected.class_row(curves, 0)
    plugin_page.open()
    plugin_page.show("binary/validation", "threshold_curves", "0")
    plugin_page.set_epoch(LAST_STEP)

    def counts_at(index: int) -> list[float]:
        return list(core.counts_at_index(positive, negative, index))

    def assert_counts_of_shown_threshold(shown, near: float | None = None):
        counts = [shown[name] for name in ("TP", "FP", "TN", "FN")]
        if exact:
            # The tooltip prints the threshold to 4 decimals; the counts hold at a score within that
            # rounding (the hovered score, resolved to the largest stored one ≤ it, or a stored point).
            half = 5e-5 + 1e-7
            low = core.threshold_index(row, shown["threshold"] - half, exact=True)
            high = core.threshold_index(row, shown["threshold"] + half, exact=True)
            assert counts in [counts_at(index) for index in range(low, high + 1)], (shown, low, high)
        else:
            assert counts == counts_at(core.threshold_index(row, shown["threshold"])), shown
        if near is not None:
            assert abs(shown["threshold"] - near) < 0.05, shown

    # Metrics vs threshold: x is the threshold itself.
    assert_counts_of_shown_threshold(_hover_counts(plugin_page, "view-threshold", 0.62, 0.5), near=0.62)
    # ROC and PR (both axes 0…1): hover the point of the stored threshold standing for 0.5.
    tp, fp, _, _ = counts_at(core.threshold_index(row, 0.5, exact=exact))
    tpr, fpr = tp / positive.sum(), fp / negative.sum()
    precision = tp / (tp + fp)
    assert_counts_of_shown_threshold(_hover_counts(plugin_page, "view-roc", fpr, 1 - tpr))
    assert_counts_of_shown_threshold(_hover_counts(plugin_page, "view-pr", tpr, 1 - precision))


def test_dragging_the_distribution_line_moves_the_threshold_to_stored_ones(plugin_page, browser_logdir):
    """On a grid the drag snaps to stored thresholds; an exact class has counts at any score, so the
    threshold follows the pointer; either way the counts are those the threshold resolves to."""
    curves = expected.counts(browser_logdir, "binary/validation", LAST_STEP, "threshold_curves")
    row, exact = expected.class_row(curves, 0)
    grid = set(row.tolist())
    plugin_page.open()
    plugin_page.show("binary/validation", "threshold_curves", "0")
    plugin_page.set_threshold(0.5)
    plot = plugin_page.testid("view-distribution").locator(".u-over").first
    box = plot.bounding_box()
    mouse = plugin_page.page.mouse
    mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
    mouse.down()
    plugin_page.wait_until(lambda: plugin_page.metric("threshold") != 0.5, "the press to move the threshold")
    pressed = plugin_page.metric("threshold")
    mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] / 2, steps=8)
    mouse.up()
    plugin_page.wait_until(lambda: plugin_page.metric("threshold") > pressed, "the drag to raise the threshold")
    # The drag applies its last pointer position in a later frame than mouse.up: read the threshold
    # and the TP cell together, once two idle reads agree (no render between them).
    readings = []

    def settled() -> bool:
        plugin_page.wait_idle()
        readings.append(plugin_page.frame.evaluate(
            """() => ['[data-testid=readout] [data-metric=threshold]', '[data-testid=confusion-binary] [data-cell=tp]']
                 .map((selector) => Number(document.querySelector(selector).dataset.value))"""))
        return len(readings) >= 2 and readings[-1] == readings[-2]

    plugin_page.wait_until(settled, "the threshold and the confusion cells to settle after the drag")
    dragged, shown_tp = readings[-1]
    assert dragged > pressed
    if exact:
        assert 0 <= pressed < dragged <= 1, (pressed, dragged)
    else:
        assert pressed in grid and dragged in grid, (pressed, dragged)
    index = core.threshold_index(row, dragged, exact=exact)
    assert shown_tp == core.counts_at_index(curves.positive_histograms[0], curves.negative_histograms[0], index)[0]


def test_two_runs_side_by_side_each_match_the_core(plugin_page, browser_logdir):
    runs = ("binary/train", "binary/validation")
    curves = {run: expected.counts(browser_logdir, run, LAST_STEP, "threshold_curves") for run in runs}
    # One typed threshold; each run resolves it in its own thresholds (format v2: per-run exact scores).
    threshold = expected.stored_value_near(curves[runs[1]], 0.45)
    plugin_page.open()
    plugin_page.select_tag("threshold_curves")
    plugin_page.select_runs(*runs)
    plugin_page.set_epoch(LAST_STEP)
    plugin_page.set_threshold(repr(threshold))
    plugin_page.wait_threshold(threshold)
    for run in runs:
        want = expected.metrics_at_threshold(curves[run], "0", threshold)
        for name in ("precision", "recall", "f1", "tp", "fp", "tn", "fn"):
            assert math.isclose(plugin_page.metric(name, run), want[name], rel_tol=1e-9), (run, name)
    swatches = plugin_page.testid("run-select").evaluate(
        """(list, runs) => runs.map((run) => getComputedStyle(
             list.querySelector(`input[value="${run}"]`).parentElement.querySelector('.tbm-swatch')).backgroundColor)""",
        list(runs),
    )
    assert len(set(swatches)) == 2, f"both runs drawn in one colour: {swatches}"
    legends = plugin_page.frame.evaluate(
        """(runs) => Object.fromEntries(['view-roc', 'view-pr', 'view-calibration'].map((view) => [view,
             runs.map((run) => {
               const item = [...document.querySelectorAll(`[data-testid=${view}] .tbm-chart-legend-item`)]
                 .find((candidate) => candidate.textContent.trim().startsWith(run + ' '));
               const line = item && item.querySelector('line');
               if (!line) return null;
               const probe = document.createElement('span');
               probe.style.color = line.getAttribute('stroke');
               document.body.append(probe);
               const colour = getComputedStyle(probe).color;
               probe.remove();
               return colour;
             })]))""",
        list(runs),
    )
    assert all(colours == swatches for colours in legends.values()), f"run colours differ: {swatches} {legends}"


def test_a_logdir_without_our_summaries_shows_the_empty_state_with_a_snippet(start_tensorboard, page_on, tmp_path):
    """Opened from TensorBoard's "inactive" menu (or a bookmark) before any of our data exists."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(tmp_path / "logs" / "run"))
    scalar = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="loss", simple_value=0.5)])
    writer.add_event(event_pb2.Event(step=0, wall_time=0.0, summary=scalar))
    writer.close()
    server = start_tensorboard(tmp_path / "logs", load_fast=True)
    server.wait_until(lambda listing: "run" in listing, "/data/plugin/scalars/tags")
    plugin_page = page_on(server).open()
    empty = plugin_page.testid("empty-state")
    assert empty.is_visible()
    assert "tb_metrics_plugin" in empty.inner_text()
    assert plugin_page.testid("readout").count() == 0 or plugin_page.testid("readout").is_hidden()


def _rounded(value: float, digits: int = 4) -> str:
    """JavaScript's `toFixed(digits)` (ties away from zero)."""
    return str(Decimal(float(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def test_legends_show_the_cores_auc_with_its_interval_ap_and_ece(plugin_page, browser_logdir):
    curves = expected.counts(browser_logdir, "binary/validation", LAST_STEP, "threshold_curves")
    positive, negative, thresholds, _ = expected.curve_inputs(curves, "0")
    auc = core.roc_auc(positive, negative)
    auc_se = core.hanley_mcneil_se(auc, positive.sum(), negative.sum())
    plugin_page.open()
    plugin_page.show("binary/validation", "threshold_curves", "0")
    plugin_page.set_epoch(LAST_STEP)
    roc, pr, calibration = (
        plugin_page.testid(view).inner_text() for view in ("view-roc", "view-pr", "view-calibration"))
    # The 95 % interval, as the readout gives its Wilson intervals (a bare "±" would not say what it is).
    low, high = max(0.0, auc - 1.959963984540054 * auc_se), min(1.0, auc + 1.959963984540054 * auc_se)
    assert f"AUC {_rounded(auc)} (95 % CI {_rounded(low, 3)}–{_rounded(high, 3)})" in roc, roc
    assert f"AP {_rounded(core.average_precision(positive, negative))}" in pr, pr
    if curves.exact[0]:
        ece = expected.exact_calibration_error(positive, negative, thresholds, num_bins=10)
    else:
        ece = core.expected_calibration_error(positive, negative, thresholds, num_bins=10)
    assert f"ECE {_rounded(ece)}" in calibration, calibration


def test_threshold_slider_arrow_keys_move_in_fine_and_coarse_steps(plugin_page):
    plugin_page.open()
    plugin_page.show("binary/validation", "threshold_curves", "0")
    plugin_page.set_threshold(0.5)
    slider = plugin_page.testid("threshold-slider")
    slider.focus()
    slider.press("ArrowRight")
    plugin_page.wait_threshold(0.501)
    slider.press("Shift+ArrowRight")
    plugin_page.wait_threshold(0.51)
    slider.press("ArrowLeft")
    plugin_page.wait_threshold(0.509)
    assert plugin_page.testid("threshold-input").input_value() == "0.509"


def test_a_tag_written_by_a_newer_format_is_reported_in_words(start_tensorboard, page_on, tmp_path):
    """A run with a summary this plugin cannot read: the other runs still work, the error names it."""
    from tb_metrics_plugin import metadata

    logdir = tmp_path / "logs"
    write_binary_steps(logdir / "good", steps=(0,))
    future = summary.threshold_curves_pb("threshold_curves", [0, 1, 1], [0.2, 0.9, 0.4])
    plugin_data = json.loads(future.value[0].metadata.plugin_data.content)
    plugin_data["version"] = metadata.FORMAT_VERSION + 1
    future.value[0].metadata.plugin_data.content = json.dumps(plugin_data).encode()
    with SummaryWriter(logdir / "future") as writer:
        writer.add_summary(future, step=0)
    server = start_tensorboard(logdir, load_fast=True)
    server.wait_until(lambda listing: {"good", "future"} <= set(listing), "/data/plugin/tb_metrics/tags")
    plugin_page = page_on(server).open()
    error = plugin_page.testid("error")
    error.wait_for(state="visible")
    assert "future" in error.inner_text() and "newer" in error.inner_text(), error.inner_text()
    plugin_page.show("good", "threshold_curves")
    plugin_page.assert_drawn("view-roc")


def test_heatmap_hover_names_the_cell_and_its_count_and_wheel_zooms(plugin_page, browser_logdir):
    counts = expected.counts(browser_logdir, MANY_CLASSES_RUN, 2, "confusion_matrix")
    index_of = {name: index for index, name in enumerate(counts.class_names)}
    plugin_page.open()
    plugin_page.show(MANY_CLASSES_RUN, "confusion_matrix")
    plugin_page.set_epoch(2)
    view = plugin_page.testid("view-confusion")
    canvas = view.locator("canvas").first
    box = canvas.bounding_box()
    canvas.hover(position={"x": box["width"] * 0.5, "y": box["height"] * 0.6})
    tooltip = view.locator(".tbm-tooltip")
    tooltip.wait_for(state="visible")
    text = tooltip.inner_text()
    found = re.search(r"true (.+) → predicted (.+)\ncount (\d+)", text)
    assert found, text
    true_class, predicted, count = index_of[found[1]], index_of[found[2]], int(found[3])
    assert count == counts.matrix[true_class, predicted], text
    assert "of all" in text

    whole = plugin_page.canvas_fingerprint("view-confusion")
    canvas.hover(position={"x": box["width"] * 0.5, "y": box["height"] * 0.5})
    plugin_page.page.mouse.wheel(0, -1500)  # zoom in
    plugin_page.wait_until(lambda: plugin_page.canvas_fingerprint("view-confusion") != whole, "the wheel to zoom")
    view.get_by_role("button", name="Reset zoom").click()
    plugin_page.wait_until(lambda: plugin_page.canvas_fingerprint("view-confusion") == whole, "reset to show all")


@pytest.mark.parametrize(("tag", "views"), [
    ("threshold_curves", ("view-roc", "view-pr", "view-threshold", "view-distribution", "view-calibration",
                          "view-confusion", "view-iou", "view-epochs")),
    ("confusion_matrix", ("view-confusion", "view-iou", "view-epochs")),
])
def test_every_view_exports_csv_json_and_png(plugin_page, tag, views):
    plugin_page.open()
    plugin_page.show("multiclass/validation", tag)
    checks = {
        "csv": lambda data: len(rows := list(csv.reader(io.StringIO(data.decode("utf-8"))))) >= 2 and len(rows[0]) >= 2,
        "json": lambda data: bool(json.loads(data)),
        "png": lambda data: data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000,
    }
    problems = {}
    for view in views:
        for file_format, looks_right in checks.items():
            try:
                data = plugin_page.download(view, file_format, timeout_ms=5000)
            except PlaywrightTimeoutError:
                # Headless Chromium drops about every eleventh of many downloads saved in quick
                # succession (no download event; none when paced a second apart): click once more.
                try:
                    data = plugin_page.download(view, file_format, timeout_ms=5000)
                except PlaywrightTimeoutError:
                    error_bar = plugin_page.testid("error")
                    shown = error_bar.inner_text() if error_bar.is_visible() else ""
                    problems[f"{view} {file_format}"] = f"no download after two clicks; error bar: {shown!r}"
                    continue
            if not looks_right(data):
                problems[f"{view} {file_format}"] = data[:80]
    assert not problems, problems


def test_a_thousand_class_matrix_draws_and_zooms(start_tensorboard, page_on, tmp_path):
    """1000 classes (8 MB per step): the heatmap draws, hover reads a cell, the wheel zooms in."""
    rng = np.random.default_rng(0)
    size = 1000
    matrix = rng.poisson(0.05, size=(size, size)).astype(np.float64)
    matrix[np.arange(size), np.arange(size)] += 100
    names = [f"c{index}" for index in range(size)]
    with SummaryWriter(tmp_path / "logs" / "big") as writer:
        writer.add_summary(summary.confusion_matrix_pb_from_counts("confusion_matrix", matrix, names), step=0)
    server = start_tensorboard(tmp_path / "logs", load_fast=True)
    server.wait_until(lambda listing: "big" in listing, "/data/plugin/tb_metrics/tags")
    plugin_page = page_on(server).open()
    plugin_page.show("big", "confusion_matrix")
    plugin_page.assert_drawn("view-confusion")
    view = plugin_page.testid("view-confusion")
    canvas = view.locator("canvas").first
    box = canvas.bounding_box()
    canvas.hover(position={"x": box["width"] * 0.5, "y": box["height"] * 0.5})
    text = view.locator(".tbm-tooltip").inner_text()
    found = re.search(r"true c(\d+) → predicted c(\d+)\ncount (\d+)", text)
    assert found and int(found[3]) == matrix[int(found[1]), int(found[2])], text
    whole = plugin_page.canvas_fingerprint("view-confusion")
    plugin_page.page.mouse.wheel(0, -3000)
    plugin_page.wait_until(lambda: plugin_page.canvas_fingerprint("view-confusion") != whole, "the wheel to zoom")
