"""The slice views in real Chromium on a real TensorBoard, both loaders: the slice selector, per-slice
metrics and gaps against scikit-learn on each slice's subset, the small-slice warning, the per-slice
optimiser's thresholds (checked against the constraint on the subsets), the overlaid curves, the
gaps over epochs and the exports."""

from __future__ import annotations

import csv
import io
import math
import re

import numpy as np
import pytest
from sklearn import metrics as sk

from tb_metrics_plugin import metadata
from tb_metrics_plugin.fairness_intervals import newcombe_difference_interval
from tests.browser.sliced_logs import SITE_SIZES, SLICED_RUN, SLICED_STEPS, sliced_data, write_sliced_run

TAG = "threshold_curves"
LAST = SLICED_STEPS - 1


@pytest.fixture(scope="module")
def sliced_logdir(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("sliced") / "logs"
    write_sliced_run(logdir / SLICED_RUN)
    return logdir


def start_sliced_tensorboard(sliced_logdir, start_tensorboard, load_fast: bool):
    """A TensorBoard on the sliced run that lists every step of its slices."""
    server = start_tensorboard(sliced_logdir, load_fast=load_fast)
    server.wait_until(
        lambda tags: tags.get(SLICED_RUN, {}).get(f"{TAG}/site=d", {}).get("num_steps") == SLICED_STEPS,
        f"/data/plugin/{metadata.PLUGIN_NAME}/tags",
        timeout=120,
    )
    return server


def open_site_slices(sliced_logdir, start_tensorboard, page_on, viewport=None, reference=None):
    """The sliced run on the Rust loader with the slice key `site` chosen (and `reference` as the
    reference slice), in a window of `viewport` (width, height) when given."""
    page = page_on(start_sliced_tensorboard(sliced_logdir, start_tensorboard, True))
    if viewport is not None:
        page.page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    page.open()
    page.show(SLICED_RUN, TAG, "0")
    page.testid("slice-key").select_option("site")
    page.wait_idle()
    if reference is not None:
        page.testid("slice-reference").select_option(reference)
    return page


@pytest.fixture(params=[True, False], ids=["rust_loader", "python_loader"])
def sliced_page(request, sliced_logdir, start_tensorboard, page_on):
    page = page_on(start_sliced_tensorboard(sliced_logdir, start_tensorboard, request.param)).open()
    page.show(SLICED_RUN, TAG, "0")
    return page


def subset_rates(step: int, threshold: float, site: str) -> dict[str, float]:
    labels, scores, slices = sliced_data(step)
    chosen = slices["site"] == site
    truth, predicted = labels[chosen], (scores[chosen] > threshold).astype(int)
    return {
        "recall": sk.recall_score(truth, predicted, zero_division=0),
        "precision": sk.precision_score(truth, predicted, zero_division=0),
        "accuracy": sk.accuracy_score(truth, predicted),
        "tp": float(np.sum((truth == 1) & (predicted == 1))),
        "positives": float(np.sum(truth == 1)),
    }


# What the TPR gap cell of site c holds, read at once after a drag (`PluginPage.drag_threshold`).
GAP_READ_JS = """() => {
  const cell = document.querySelector('[data-testid=slice-gaps] [data-gap=tpr][data-slice=c]');
  return {
    stale: document.querySelector('[data-testid=view-slices]').dataset.stale === 'true',
    value: Number(cell.dataset.value),
    text: cell.innerText,
  };
}"""


def shown_ratio(gap_text: str) -> float:
    """The ratio a gap cell's text shows ("× 0.9123 [...]", below the difference)."""
    return float(re.search(r"× (\S+)", gap_text).group(1))


def slice_value(page, metric: str, site: str) -> float:
    cell = page.locator(f"[data-testid=slice-metrics] [data-metric={metric}][data-slice={site}]")
    return float(cell.get_attribute("data-value"))


def test_slice_views_on_both_loaders(sliced_page):
    page = sliced_page
    # Slice tags are reached through the selector, never listed as tags of their own.
    assert page.testid("tag-select").locator("option").all_inner_texts() == [TAG]
    assert page.testid("slice-select").is_visible()
    assert page.testid("slice-key").locator("option").all_inner_texts() == ["none", "sex (2)", "site (4)"]
    page.testid("slice-key").select_option("site")
    page.wait_idle()
    page.testid("slice-reference").select_option("a")
    page.set_threshold(0.5)
    page.testid("slice-metrics").wait_for()

    # Every slice's metrics equal scikit-learn's on that slice's samples (exact counts at 0.5).
    for site in SITE_SIZES:
        expected = subset_rates(LAST, 0.5, site)
        page.wait_until(lambda site=site, expected=expected: math.isclose(
            slice_value(page, "recall", site), expected["recall"], rel_tol=1e-9), f"recall of site {site}")
        assert slice_value(page, "precision", site) == pytest.approx(expected["precision"], rel=1e-9)
        assert slice_value(page, "accuracy", site) == pytest.approx(expected["accuracy"], rel=1e-9)
    samples = page.locator("[data-testid=slice-metrics] [data-metric=samples]").all_inner_texts()
    assert samples == [str(size) for size in SITE_SIZES.values()]

    # The small slice is shown, flagged, never hidden.
    warning = page.locator(".tbm-slice-warning").inner_text()
    assert "site=d" in warning and "30" in warning
    assert page.locator("[data-testid=slice-metrics] th[data-slice=d] .tbm-slice-small").count() == 1

    # The TPR gap of site c to site a: difference of the subsets' recalls, Newcombe's interval.
    c, a = subset_rates(LAST, 0.5, "c"), subset_rates(LAST, 0.5, "a")
    gap_cell = page.locator("[data-testid=slice-gaps] [data-gap=tpr][data-slice=c]")
    assert float(gap_cell.get_attribute("data-value")) == pytest.approx(c["recall"] - a["recall"], rel=1e-9)
    _, low, high = newcombe_difference_interval(c["tp"], c["positives"], a["tp"], a["positives"])
    assert f"[{low:.3f}, {high:.3f}]" in gap_cell.inner_text()

    # A drag: the values follow every frame, the ratios and intervals once the threshold rests (data-stale meanwhile).
    during = page.drag_threshold([0.45, 0.4, 0.35, 0.3], GAP_READ_JS)
    c, a = subset_rates(LAST, 0.3, "c"), subset_rates(LAST, 0.3, "a")
    assert during["stale"], "the slice table wrote its intervals during the drag"
    assert during["value"] == pytest.approx(c["recall"] - a["recall"], rel=1e-9), "the gap follows the drag at once"
    assert f"[{low:.3f}, {high:.3f}]" in during["text"], "the interval at 0.5 stays until the threshold rests"
    page.wait_idle()
    _, low_at_03, high_at_03 = newcombe_difference_interval(c["tp"], c["positives"], a["tp"], a["positives"])
    assert f"[{low_at_03:.3f}, {high_at_03:.3f}]" in gap_cell.inner_text()
    page.set_threshold(0.5)

    # Equal opportunity within 0.05: each slice's threshold keeps the subsets' TPRs within it.
    page.testid("slice-mode").select_option("equal_opportunity")
    page.set_number("slice-tolerance", 0.05)
    page.wait_until(lambda: "Overall" in page.testid("slice-optimiser-summary").inner_text(), "the optimiser")
    optimiser = page.testid("slice-optimiser")
    thresholds = {
        site: float(optimiser.locator(f"[data-slice-threshold={site}]").get_attribute("data-value"))
        for site in SITE_SIZES
    }
    recalls = [subset_rates(LAST, thresholds[site], site)["recall"] for site in SITE_SIZES]
    assert max(recalls) - min(recalls) <= 0.05 + 1e-12
    assert "cost of this mode" in page.testid("slice-optimiser-summary").inner_text()

    # The slices' curves overlaid, a legend entry per slice; the gaps over epochs drawn.
    for view in ("view-slice-roc", "view-slice-pr", "view-slice-threshold", "view-slice-epochs"):
        page.assert_drawn(view)
    legend = page.testid("view-slice-roc").locator(".tbm-chart-legend").inner_text()
    assert all(f"site={site}" in legend for site in SITE_SIZES)
    page.testid("slice-gap-rate").select_option("selection_rate")
    page.wait_idle()
    name, body = page.download_file("view-slice-epochs", "csv")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert "slices-site" in name and "t0.5" in name
    assert {row["slice"] for row in rows} == {"site=b", "site=c", "site=d"}
    assert {row["rate"] for row in rows} == {"selection_rate"} and len(rows) == 3 * SLICED_STEPS
    assert {row["slices_of_run"] for row in rows} == {SLICED_RUN} and {row["reference_slice"] for row in rows} == {"a"}
    first_c = next(row for row in rows if row["slice"] == "site=c" and row["step"] == "0")
    labels, scores, slices = sliced_data(0)
    selection = {site: np.mean(scores[slices["site"] == site] > 0.5) for site in ("a", "c")}
    assert float(first_c["difference"]) == pytest.approx(selection["c"] - selection["a"], rel=1e-9)

    # The table's export names the slice, the run and the threshold in its rows.
    name, body = page.download_file("view-slices", "csv")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert [row["slice"] for row in rows] == list(SITE_SIZES)
    assert {row["selected_threshold"] for row in rows} == {"0.5"} and {row["slice_key"] for row in rows} == {"site"}

    # Back to no key: the slice views go away.
    page.testid("slice-key").select_option("")
    page.wait_idle()
    assert page.testid("view-slices").count() == 0


# A cell in sight (site c's recall) and one below the window (site c's TPR gap): stale mark, value,
# first text (the value) and whole text (with the ratio and intervals).
CELLS_READ_JS = """() => Object.fromEntries(Object.entries({
  recall: '[data-testid=slice-metrics] [data-metric=recall][data-slice=c]',
  gap: '[data-testid=slice-gaps] [data-gap=tpr][data-slice=c]',
}).map(([name, selector]) => {
  const cell = document.querySelector(selector);
  return [name, {stale: cell.dataset.stale === 'true', value: Number(cell.dataset.value),
          text: cell.querySelector('.tbm-line').firstChild.data,
                 whole: cell.innerText}];
}))"""
GAP_BELOW_FOLD_JS = """() => document.querySelector('[data-testid=slice-gaps] [data-gap=tpr][data-slice=c]')
  .getBoundingClientRect().top - innerHeight"""
GAP_INTO_SIGHT_JS = f"""async () => {{
  document.querySelector('[data-testid=slice-gaps] [data-gap=tpr][data-slice=c]').scrollIntoView();
  for (let frames = 0; frames < 4; frames++) {{
    await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  }}
  return ({CELLS_READ_JS})();
}}"""
EXPORT_DURING_DRAG_JS = f"""() => {{
  document.querySelector('[data-testid=view-slices] [data-export=csv]').click();
  return ({CELLS_READ_JS})();
}}"""


def test_slice_table_cells_out_of_sight_wait_during_a_drag(sliced_logdir, start_tensorboard, page_on):
    """A drag writes the values of the table's cells in sight; the others, the gaps' ratios and the
    intervals wait until the threshold rests, or the cells come into sight, or the table is exported;
    every cell's `data-value` is current meanwhile."""
    # The gaps table well below the window.
    page = open_site_slices(sliced_logdir, start_tensorboard, page_on, viewport=(1400, 600), reference="a")
    page.set_threshold(0.5)
    page.frame.evaluate("() => window.scrollTo(0, 0)")
    page.wait_idle()
    assert page.frame.evaluate(GAP_BELOW_FOLD_JS) > 100, "the gap cell is within the margin of the window"

    def gap_at(threshold: float) -> tuple[float, float]:  # TPR of site c − site a, and c / a
        c, a = subset_rates(LAST, threshold, "c"), subset_rates(LAST, threshold, "a")
        return c["recall"] - a["recall"], c["recall"] / a["recall"]

    def shows(text: str, value: float) -> bool:  # `text` is `value` to 4 decimals
        return abs(float(text) - value) <= 5e-5 + 1e-12

    # Site c's TPR differs at 0.5, 0.2, 0.1 and 0.25 (see `sliced_data`), so each write shows.
    during = page.drag_threshold([0.45, 0.35, 0.25, 0.2], CELLS_READ_JS)
    assert not during["recall"]["stale"]
    assert shows(during["recall"]["text"], subset_rates(LAST, 0.2, "c")["recall"]), "a cell in sight follows at once"
    assert during["gap"]["stale"], "a cell out of sight was written during the drag"
    assert shows(during["gap"]["text"], gap_at(0.5)[0]), "a cell out of sight keeps its text during the drag"
    assert during["gap"]["value"] == pytest.approx(gap_at(0.2)[0], rel=1e-9), "data-value follows the drag everywhere"
    page.wait_idle()
    rested = page.frame.evaluate(CELLS_READ_JS)["gap"]
    assert shows(rested["text"], gap_at(0.2)[0])
    assert shown_ratio(rested["whole"]) == pytest.approx(gap_at(0.2)[1], abs=5e-5)

    # Scrolled into sight during a drag: its difference is written within a few frames, well before
    # the threshold rests; its ratio waits for the rest, as the intervals do.
    during = page.drag_threshold([0.15, 0.1], GAP_INTO_SIGHT_JS)
    assert not during["gap"]["stale"] and shows(during["gap"]["text"], gap_at(0.1)[0])
    assert shown_ratio(during["gap"]["whole"]) == pytest.approx(gap_at(0.2)[1], abs=5e-5)
    page.wait_idle()
    assert shown_ratio(page.frame.evaluate(CELLS_READ_JS)["gap"]["whole"]) == pytest.approx(gap_at(0.1)[1], abs=5e-5)

    # Exported during a drag (a script click, which scrolls nothing into sight): the file holds the
    # threshold the drag reached, whatever the cells out of sight show.
    page.frame.evaluate("() => window.scrollTo(0, 0)")
    page.wait_idle()
    with page.page.expect_download() as download_info:
        during = page.drag_threshold([0.15, 0.2, 0.25], EXPORT_DURING_DRAG_JS)
    assert during["gap"]["stale"] and shows(during["gap"]["text"], gap_at(0.1)[0])
    with open(download_info.value.path(), encoding="utf-8") as file:
        rows = {row["slice"]: row for row in csv.DictReader(file)}
    assert float(rows["c"]["tpr_difference"]) == pytest.approx(gap_at(0.25)[0], rel=1e-9)
    assert float(rows["c"]["tpr_ratio"]) == pytest.approx(gap_at(0.25)[1], rel=1e-9)
    assert float(rows["c"]["selected_threshold"]) == 0.25


# Site c's recall (a rate), TP (a count) and stored threshold in the metrics table: stale mark, value,
# first text (the value), text colour and where the cell is in the window.
COUNT_READ_JS = """() => Object.fromEntries(['recall', 'tp', 'threshold'].map((metric) => {
  const cell = document.querySelector(`[data-testid=slice-metrics] [data-metric=${metric}][data-slice=c]`);
  const box = cell.getBoundingClientRect();
  return [metric, {stale: cell.dataset.stale === 'true', value: Number(cell.dataset.value),
          text: cell.querySelector('.tbm-line').firstChild.data,
                   color: getComputedStyle(cell).color,
                   inWindow: box.top >= 0 && box.bottom <= innerHeight}];
}))"""
COUNT_EXPORT_DURING_DRAG_JS = f"""() => {{
  document.querySelector('[data-testid=view-slices] [data-export=csv]').click();
  return ({COUNT_READ_JS})();
}}"""


def test_slice_table_count_rows_wait_for_the_threshold_to_rest(sliced_logdir, start_tensorboard, page_on):
    """The TP/FP/TN/FN rows and the threshold row are written once the threshold rests, even in sight
    (dimmed and `data-stale` meanwhile, their `data-value` current), while the rates follow every
    frame; an export during the drag holds the counts at the threshold it reached."""
    page = open_site_slices(sliced_logdir, start_tensorboard, page_on)
    page.set_threshold(0.5)
    page.frame.evaluate("() => window.scrollTo(0, 0)")
    page.wait_idle()
    rested = page.frame.evaluate(COUNT_READ_JS)
    assert rested["tp"]["inWindow"] and rested["recall"]["inWindow"], "the cells are in the window"
    assert not rested["tp"]["stale"]
    color_at_rest = rested["tp"]["color"]
    tp_at = {threshold: subset_rates(LAST, threshold, "c")["tp"] for threshold in (0.5, 0.25, 0.2)}
    assert tp_at[0.5] != tp_at[0.2] != tp_at[0.25], "the count changes along the drag"
    assert int(rested["tp"]["text"]) == tp_at[0.5]
    threshold_at_rest = rested["threshold"]["text"]
    assert float(threshold_at_rest) == pytest.approx(0.5, abs=0.01)

    during = page.drag_threshold([0.45, 0.35, 0.25, 0.2], COUNT_READ_JS)
    assert not during["recall"]["stale"]
    assert float(during["recall"]["text"]) == pytest.approx(subset_rates(LAST, 0.2, "c")["recall"], abs=5e-5 + 1e-12)
    assert during["tp"]["stale"], "a count in sight was written during the drag"
    assert int(during["tp"]["text"]) == tp_at[0.5], "a count keeps its text during the drag"
    assert during["tp"]["value"] == tp_at[0.2], "data-value follows the drag"
    assert during["tp"]["color"] != color_at_rest, "a waiting count is dimmed"
    assert during["threshold"]["stale"] and during["threshold"]["text"] == threshold_at_rest
    assert during["threshold"]["color"] != color_at_rest
    page.wait_idle()
    rested = page.frame.evaluate(COUNT_READ_JS)
    assert not rested["threshold"]["stale"] and float(rested["threshold"]["text"]) == pytest.approx(0.2, abs=0.01)
    rested = rested["tp"]
    assert not rested["stale"] and rested["color"] == color_at_rest and int(rested["text"]) == tp_at[0.2]

    with page.page.expect_download() as download_info:
        during = page.drag_threshold([0.25], COUNT_EXPORT_DURING_DRAG_JS)
    assert during["tp"]["stale"] and int(during["tp"]["text"]) == tp_at[0.2]
    with open(download_info.value.path(), encoding="utf-8") as file:
        rows = {row["slice"]: row for row in csv.DictReader(file)}
    assert float(rows["c"]["tp"]) == tp_at[0.25]
    page.wait_idle()
    assert int(page.frame.evaluate(COUNT_READ_JS)["tp"]["text"]) == tp_at[0.25]


# Site d's precision, in the last column of the metrics table: stale mark, value, first text, and whether
# its column is within the table's scroll box.
LAST_COLUMN_READ_JS = """() => {
  const cell = document.querySelector('[data-testid=slice-metrics] [data-metric=precision][data-slice=d]');
  const box = cell.closest('.tbm-table-scroll').getBoundingClientRect(), rect = cell.getBoundingClientRect();
  return {stale: cell.dataset.stale === 'true', value: Number(cell.dataset.value),
          text: cell.querySelector('.tbm-line').firstChild.data,
          inBox: rect.left < box.right && rect.right > box.left};
}"""
LAST_COLUMN_INTO_SIGHT_JS = f"""async () => {{
  const scroll = document.querySelector('[data-testid=slice-metrics]').closest('.tbm-table-scroll');
  scroll.scrollLeft = scroll.scrollWidth;
  for (let frames = 0; frames < 4; frames++) {{
    await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  }}
  return ({LAST_COLUMN_READ_JS})();
}}"""


def test_slice_table_columns_scrolled_out_of_sight_wait_during_a_drag(sliced_logdir, start_tensorboard, page_on):
    """In a window too narrow for the table, a drag leaves the columns scrolled out of the table's box
    as they are (`data-stale`, `data-value` current) and writes them once the threshold rests or as
    soon as they are scrolled into the box."""
    # The last column ~60 px past the table's box.
    page = open_site_slices(sliced_logdir, start_tensorboard, page_on, viewport=(640, 1000), reference="a")
    page.set_threshold(0.5)
    page.frame.evaluate("() => document.querySelector('[data-testid=slice-metrics]').scrollIntoView()")
    page.wait_idle()
    precision_at = {threshold: subset_rates(LAST, threshold, "d")["precision"] for threshold in (0.5, 0.2, 0.1)}
    assert len({round(value, 4) for value in precision_at.values()}) == 3, "site d's precision changes along the drag"
    rested = page.frame.evaluate(LAST_COLUMN_READ_JS)
    assert not rested["inBox"], "site d's column is scrolled out of the table's box"

    def shows(text: str, value: float) -> bool:  # `text` is `value` to 4 decimals
        return abs(float(text) - value) <= 5e-5 + 1e-12

    during = page.drag_threshold([0.45, 0.35, 0.25, 0.2], LAST_COLUMN_READ_JS)
    assert during["stale"], "a column out of sight was written during the drag"
    assert shows(during["text"], precision_at[0.5]) and during["value"] == pytest.approx(precision_at[0.2], rel=1e-9)
    page.wait_idle()
    rested = page.frame.evaluate(LAST_COLUMN_READ_JS)
    assert not rested["stale"] and shows(rested["text"], precision_at[0.2])

    during = page.drag_threshold([0.15, 0.1], LAST_COLUMN_INTO_SIGHT_JS)
    assert during["inBox"] and not during["stale"], "a column scrolled into sight is written at once"
    assert shows(during["text"], precision_at[0.1])


# Every value line of the slice tables (a relayout boundary: size- and layout-contained) and whether
# its text overflows it; the threshold's slider and typed box against their fixed boxes.
LINES_READ_JS = """() => {
  const lines = [...document.querySelectorAll('.tbm-slice-table td[data-slice] .tbm-line')];
  const cells = document.querySelectorAll('.tbm-slice-table td[data-slice]');
  const contained = (element) => { const contain = getComputedStyle(element).contain;
    return contain === 'strict' || (contain.includes('size') && contain.includes('layout')); };
  const fit = (id, margin) => {
    const input = document.querySelector(`[data-testid=${id}]`), box = input.closest('.tbm-fixed-box');
    const r = input.getBoundingClientRect(), b = box.getBoundingClientRect();
    return {contained: contained(box), dx: Math.abs(r.left - margin - b.left) + Math.abs(r.right + margin - b.right),
            dy: Math.abs(r.top - margin - b.top) + Math.abs(r.bottom + margin - b.bottom)};
  };
  return {
    cells: cells.length,
    lines: lines.length,
    uncontained: lines.filter((line) => !contained(line)).length,
    clipped: lines.filter((line) => line.scrollWidth > line.clientWidth || line.scrollHeight > line.clientHeight)
      .map((line) => `${line.textContent} (${line.scrollWidth} > ${line.clientWidth})`),
    empty: lines.filter((line) => !line.textContent.trim()).length,
    slider: fit('threshold-slider', 2),
    typed: fit('threshold-input', 0),
  };
}"""


@pytest.mark.parametrize("width", [1400, 900])
def test_slice_table_values_sit_whole_in_their_contained_lines(sliced_logdir, start_tensorboard, page_on, width):
    """Each slice value's line is size- and layout-contained (a drag frame's new number lays out its
    line alone) and holds its whole text at rest: nothing overflows, light or dark, at the extremes of
    the threshold. The threshold's slider and typed box fill their fixed, contained boxes exactly."""
    page = open_site_slices(sliced_logdir, start_tensorboard, page_on, viewport=(width, 1000))
    for theme in ("light", "dark"):
        if theme == "dark":
            page.page.evaluate("() => document.body.classList.add('dark-mode')")
            page.wait_until(lambda: page.frame.evaluate("() => document.documentElement.dataset.theme") == "dark",
                            "the dark theme")
        for threshold in (0.0, 0.03, 0.5, 0.97, 1.0):
            page.set_threshold(threshold)
            page.wait_idle()
            read = page.frame.evaluate(LINES_READ_JS)
            assert read["cells"] > 0 and read["lines"] == read["cells"], "every value cell has its line"
            assert read["uncontained"] == 0
            assert read["clipped"] == [], f"{theme}, threshold {threshold}, {width} px"
            assert read["empty"] == 0
            for control in ("slider", "typed"):
                assert read[control]["contained"]
                assert read[control]["dx"] < 0.5 and read[control]["dy"] < 0.5, (control, read[control])
