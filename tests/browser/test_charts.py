"""Charts as people read them: clicking a ROC or PR curve moves the threshold there, the PR chart's
labels and reference lines are legible and explained, the ROC legend says what its interval is,
IoU bars of several runs stand side by side under every class's name, and the zoomed confusion
matrix shows no cut numbers and a tooltip that follows the zoom."""

from __future__ import annotations

import json
import re

import numpy as np

from tb_metrics_plugin import core
from tests.browser import expected

LAST_STEP = 2

# Pixels of the first canvas of a view in a box in CSS px of the plugin's frame: {"r,g,b": count}.
_COLOURS_IN_BOX_JS = """([view, box]) => {
  const canvas = view.querySelector('canvas');
  const rect = canvas.getBoundingClientRect();
  const k = canvas.width / rect.width;
  const x = Math.round((box.left - rect.left) * k), y = Math.round((box.top - rect.top) * k);
  const w = Math.max(1, Math.round(box.width * k)), h = Math.max(1, Math.round(box.height * k));
  const pixels = canvas.getContext('2d').getImageData(x, y, w, h).data;
  const colours = {};
  for (let i = 0; i < pixels.length; i += 4) {
    if (pixels[i + 3] < 255) continue;
    const key = `${pixels[i]},${pixels[i + 1]},${pixels[i + 2]}`;
    colours[key] = (colours[key] || 0) + 1;
  }
  return colours;
}"""


def _colours_in(plugin_page, view: str, left: float, top: float, width: float, height: float) -> dict[str, int]:
    """Colours in a box given in the plugin frame's CSS px (see `_frame_box`)."""
    element = plugin_page.testid(view).element_handle()
    box = {"left": left, "top": top, "width": width, "height": height}
    return plugin_page.frame.evaluate(_COLOURS_IN_BOX_JS, [element, box])


def _frame_box(locator) -> dict:
    """An element's box in the plugin frame's CSS px (Playwright's `bounding_box` is in the page's)."""
    return locator.evaluate("""(node) => {
      const r = node.getBoundingClientRect();
      return {x: r.left, y: r.top, width: r.width, height: r.height};
    }""")


def _run_colour(plugin_page, run: str) -> str:
    """The run's colour as "r,g,b" (its swatch in the run list)."""
    css = plugin_page.testid("run-select").locator(f'input[value="{run}"] ~ .tbm-swatch').evaluate(
        "(swatch) => getComputedStyle(swatch).backgroundColor")
    return ",".join(re.findall(r"\d+", css)[:3])


def _plot_box(plugin_page, view: str) -> dict:
    """The plotting area of a uPlot view, in the plugin frame's CSS px."""
    return _frame_box(plugin_page.testid(view).locator(".u-over").first)


def test_clicking_the_roc_and_pr_curves_moves_the_threshold_to_the_clicked_point(plugin_page, browser_logdir):
    curves = expected.counts(browser_logdir, "binary/validation", LAST_STEP, "threshold_curves")
    positive, negative = curves.positive_histograms[0], curves.negative_histograms[0]
    # The class's own thresholds (format v2: its distinct scores when exact, else the grid).
    row = curves.per_class_thresholds[0]
    row = row[np.isfinite(row)]
    exact = bool(curves.exact[0])

    def counts(index: int) -> tuple[float, float, float, float]:
        return core.counts_at_index(positive, negative, index)

    plugin_page.open()
    plugin_page.show("binary/validation", "threshold_curves", "0")
    plugin_page.set_epoch(LAST_STEP)
    for view, target, point in (
        ("view-roc", 0.3, lambda tp, fp: (fp / negative.sum(), 1 - tp / positive.sum())),
        ("view-pr", 0.8, lambda tp, fp: (tp / positive.sum(), 1 - tp / (tp + fp) / 1.02)),
    ):
        plugin_page.set_threshold(0.5)
        index = core.threshold_index(row, target, exact=exact)
        tp, fp, _, _ = counts(index)
        x, y = point(tp, fp)
        box = _plot_box(plugin_page, view)
        plugin_page.testid(view).locator(".u-over").first.click(position={"x": box["width"] * x,
                                                                           "y": box["height"] * y})
        plugin_page.wait_until(lambda: plugin_page.metric("threshold") != 0.5,
                               f"a click on {view} to move the threshold")
        plugin_page.wait_idle()
        shown = {name: plugin_page.metric(name) for name in ("threshold", "tp", "fp")}
        assert shown["threshold"] in set(row.astype(np.float64).tolist()), shown
        # The clicked point: thresholds that share it have the same counts.
        assert (shown["tp"], shown["fp"]) == (tp, fp), (view, shown, tp, fp)


def test_pr_labels_lie_over_the_curves_and_the_legend_explains_every_line(plugin_page):
    plugin_page.open()
    plugin_page.show("multiclass/validation", "threshold_curves", "3")  # its curve crosses the F1=0.4 label
    colour = _run_colour(plugin_page, "multiclass/validation")
    box = _plot_box(plugin_page, "view-pr")
    for level in (0.2, 0.4, 0.6, 0.8):
        # "F1=f" is drawn right-aligned 3 px left of recall 1, its baseline 2 px above precision f / (2 − f).
        right = box["x"] + box["width"] - 3
        bottom = box["y"] + box["height"] * (1 - level / (2 - level) / 1.02) - 2
        colours = _colours_in(plugin_page, "view-pr", right - 26, bottom - 9, 25, 8)
        assert colour not in colours, f"the PR curve or prevalence line runs over the F1={level} label: {colours}"
    legend = plugin_page.testid("view-pr").locator(".tbm-chart-legend").inner_text()
    assert re.search(r"prevalence 0\.\d{3}", legend), legend
    assert "iso-F1" in legend


def test_iou_bars_of_two_runs_stand_side_by_side_under_every_class_name(plugin_page):
    runs = ("multiclass/train", "multiclass/validation")
    plugin_page.open()
    plugin_page.select_tag("confusion_matrix")
    plugin_page.select_runs(*runs)
    labels = json.loads(plugin_page.testid("view-iou").get_attribute("data-class-labels"))
    assert labels == [str(index) for index in range(10)], "every class is labelled"
    colours = [_run_colour(plugin_page, run) for run in runs]
    box = _plot_box(plugin_page, "view-iou")
    slot = box["width"] / 10
    for index in range(10):
        # A line just above the axis across the class's slot: both runs' bars, each in its own
        # colour (not blended), the first run's left of the second's.
        left = box["x"] + index * slot
        row = plugin_page.testid("view-iou").element_handle()
        spans = plugin_page.frame.evaluate(
            """([view, left, top, width, colours]) => {
                 const canvas = view.querySelector('canvas');
                 const rect = canvas.getBoundingClientRect();
                 const k = canvas.width / rect.width;
                 const pixels = canvas.getContext('2d').getImageData(
                   Math.round((left - rect.left) * k), Math.round((top - rect.top) * k), Math.round(width * k), 1).data;
                 return colours.map((colour) => {
                   const xs = [];
                   for (let i = 0; i < pixels.length; i += 4) {
                     if (`${pixels[i]},${pixels[i + 1]},${pixels[i + 2]}` === colour) xs.push(i / 4);
                   }
                   return xs;
                 });
               }""",
            [row, left, box["y"] + box["height"] - 2, slot, colours])
        for run, xs in zip(runs, spans, strict=True):
            assert len(xs) >= 0.25 * slot / len(runs), f"class {index}: {run}'s bar is not drawn in its colour: {spans}"
        assert max(spans[0]) < min(spans[1]), f"class {index}: the bars overlap instead of standing side by side"


def _heatmap_geometry(canvas) -> tuple[list[float], list[float]]:
    plot = [float(value) for value in canvas.get_attribute("data-plot").split()]
    window = [float(value) for value in canvas.get_attribute("data-window").split()]
    return plot, window


def test_zoomed_matrix_shows_no_cut_numbers_and_its_tooltip_follows_the_zoom(plugin_page):
    plugin_page.open()
    plugin_page.show("multiclass/validation", "confusion_matrix")
    view = plugin_page.testid("view-confusion")
    canvas = view.locator("canvas").first
    (left, top, side), _ = _heatmap_geometry(canvas)
    # Hovering scrolls the matrix into the window; the mouse then works in page coordinates.
    canvas.hover(position={"x": left + side / 2, "y": top + side / 2})
    box = canvas.bounding_box()
    mouse = plugin_page.page.mouse

    # Zoom in at the middle, to 3 cells across.
    mouse.move(box["x"] + left + side / 2, box["y"] + top + side / 2)
    mouse.wheel(0, -1200)
    plugin_page.wait_until(lambda: _heatmap_geometry(canvas)[1][2] == 3, "the wheel to zoom in")
    # Pan so that the leftmost column is cut with its centre 3 px inside the edge: its number
    # would be cut in two, the rest of it looking like part of the row label beside it.
    _, (x0, _y0, span) = _heatmap_geometry(canvas)
    cell = side / span
    wanted_x0 = int(x0) + 0.5 - 3 / cell
    drag = (x0 - wanted_x0) * cell
    mouse.down()
    mouse.move(box["x"] + left + side / 2 + drag, box["y"] + top + side / 2, steps=4)
    mouse.up()
    plugin_page.wait_idle()
    _, (x0, y0, span) = _heatmap_geometry(canvas)
    cut = 1 - (x0 % 1)  # the visible part of the leftmost column, in cells
    assert abs(cut * cell - cell / 2 - 3) < 1, f"the pan should cut a column 3 px past its middle: x0={x0}"
    # The cut column's strip, in two fully visible rows: the cells' fill only, no digits.
    in_frame = _frame_box(canvas)
    strip = _colours_in(plugin_page, "view-confusion", in_frame["x"] + left + 1,
                        in_frame["y"] + top + (1 - y0 % 1) * cell + 2, cut * cell - 2, cell * 2 - 4)
    # Filled cells and grid lines are a few colours; digits add their anti-aliased shades.
    assert len(strip) <= 4, f"a cut number is drawn next to the row labels: {strip}"

    # Hover a cell near the left edge, then zoom out there: clamped at the matrix's edge, the view
    # shifts, and the cell under the pointer with it.
    mouse.move(box["x"] + left + side * 0.27, box["y"] + top + side * 0.27)
    tooltip = view.locator(".tbm-tooltip")
    tooltip.wait_for(state="visible")
    before = tooltip.inner_text()
    mouse.wheel(0, 3000)
    plugin_page.wait_until(lambda: _heatmap_geometry(canvas)[1][2] == 10, "the wheel to zoom out to the whole matrix")
    after_wheel = tooltip.inner_text()
    # What a fresh hover over the same place shows.
    mouse.move(box["x"] + left + side * 0.27 + 1, box["y"] + top + side * 0.27)
    mouse.move(box["x"] + left + side * 0.27, box["y"] + top + side * 0.27)
    plugin_page.wait_until(lambda: tooltip.inner_text() != before, "the hover to show the cell now under the pointer")
    assert after_wheel == tooltip.inner_text(), (before, after_wheel, tooltip.inner_text())
