"""The toolbar as people use it: which runs are picked and how, run names that read apart at any
width, the class kept by name across tags, and threshold controls only where a threshold acts."""

from __future__ import annotations

import pytest

from tests.browser import expected
from tests.browser.conftest import RUNS_WITH_CURVES

LAST_STEP = 2


def _checked_runs(plugin_page) -> list[str]:
    return plugin_page.testid("run-select").locator("input:checked").evaluate_all(
        "(boxes) => boxes.map((box) => box.value)")


def _click_run_name(plugin_page, run: str) -> None:
    plugin_page.testid("run-select").locator(f'[data-run-name="{run}"]').click()
    plugin_page.wait_idle()


def test_a_validation_run_is_picked_first_a_name_click_shows_it_alone_and_no_run_stays_no_run(plugin_page):
    plugin_page.open()
    assert _checked_runs(plugin_page) == ["binary/validation"], "a validation split is preferred"

    _click_run_name(plugin_page, "multiclass/validation")
    assert _checked_runs(plugin_page) == ["multiclass/validation"], "a click on a name shows that run alone"
    plugin_page.testid("run-select").locator('input[value="multiclass/train"]').check()
    plugin_page.wait_idle()
    assert _checked_runs(plugin_page) == ["multiclass/train", "multiclass/validation"], "the box adds a run"

    for run in ("multiclass/train", "multiclass/validation"):
        plugin_page.testid("run-select").locator(f'input[value="{run}"]').uncheck()
        plugin_page.wait_idle()
    plugin_page.frame.wait_for_timeout(500)
    assert _checked_runs(plugin_page) == [], "unticking the last run must not tick one again"
    assert plugin_page.testid("no-run-selected").is_visible()
    assert "Select a run" in plugin_page.testid("no-run-selected").inner_text()
    assert plugin_page.testid("readout").is_hidden()

    _click_run_name(plugin_page, "binary/train")
    assert _checked_runs(plugin_page) == ["binary/train"]
    assert plugin_page.testid("no-run-selected").count() == 0
    plugin_page.assert_drawn("view-roc")


def test_the_runs_list_shows_every_run_whole(plugin_page):
    plugin_page.open()
    rows = plugin_page.testid("run-select").evaluate(
        """(list) => {
             const box = list.getBoundingClientRect();
             return [...list.querySelectorAll('.tbm-run')].map((row) => {
               const r = row.getBoundingClientRect();
               const name = row.querySelector('[data-run-name]');
               return {run: name.dataset.runName, text: name.textContent,
                       inside: r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5 && r.height > 0};
             });
           }""")
    assert [row["run"] for row in rows] == sorted(RUNS_WITH_CURVES)
    hidden = [row for row in rows if not row["inside"] or row["text"] != row["run"]]
    assert not hidden, f"runs cut or scrolled out of the list: {hidden}"


_HEADERS_JS = """() => [...document.querySelectorAll('[data-testid=readout] thead th')].slice(1).map((cell) => {
  const name = cell.querySelector('[data-run]');
  const cellBox = cell.getBoundingClientRect(), nameBox = name.getBoundingClientRect();
  return {run: name.dataset.run, text: name.textContent, title: name.title,
          fits: name.scrollWidth <= name.clientWidth + 0.5 && nameBox.right <= cellBox.right + 0.5,
          cellWidth: cellBox.width};
})"""


@pytest.mark.parametrize("width", [900, 1600])
def test_runs_that_share_a_prefix_read_apart_in_the_readout(plugin_page, width):
    plugin_page.page.set_viewport_size({"width": width, "height": 1000})
    plugin_page.open()
    plugin_page.show("multiclass/train", "threshold_curves")
    plugin_page.select_runs("multiclass/train", "multiclass/validation")
    headers = plugin_page.frame.evaluate(_HEADERS_JS)
    assert [header["run"] for header in headers] == ["multiclass/train", "multiclass/validation"]
    for header in headers:
        assert header["fits"], f"the name is cut by its cell: {header}"
        assert header["title"] == header["run"], "the whole name is shown on hover"
        split = header["run"].split("/")[1]
        assert header["text"] == header["run"] or (header["text"].endswith("/" + split) and "…" in header["text"]), (
            f"a shortened name keeps the part that differs whole: {header}")
    assert headers[0]["text"] != headers[1]["text"]
    if width == 900:
        # The readout spans the page: both names fit whole, so neither may be shortened.
        assert [header["text"] for header in headers] == [header["run"] for header in headers], headers


def test_the_class_is_kept_by_name_across_tags_and_a_missing_one_is_named(plugin_page, browser_logdir):
    matrix = expected.counts(browser_logdir, "binary/validation", LAST_STEP, "confusion_matrix")
    assert matrix.class_names == ("malignant", "benign")
    plugin_page.open()
    plugin_page.show("binary/validation", "threshold_curves", "0")  # its one class: "benign"
    plugin_page.set_epoch(LAST_STEP)
    plugin_page.select_tag("confusion_matrix")
    select = plugin_page.testid("class-select")
    assert select.input_value() == "1", "benign is class 1 of the matrix, not class 0 (malignant)"
    assert plugin_page.metric("tp") == matrix.matrix[1, 1]
    assert plugin_page.testid("class-note").count() == 0

    plugin_page.select_class("0")  # malignant
    plugin_page.select_tag("threshold_curves")
    note = plugin_page.testid("class-note")
    assert note.is_visible()
    assert "“malignant” is not in tag “threshold_curves”" in note.inner_text()
    assert "benign" in note.inner_text(), "the note says what is shown instead"

    plugin_page.select_tag("confusion_matrix")
    assert select.input_value() == "0", "back on a tag that has it, the chosen class is shown again"
    assert plugin_page.testid("class-note").count() == 0
    assert plugin_page.metric("tp") == matrix.matrix[0, 0]


@pytest.mark.parametrize(("run", "decision"), [
    ("binary/validation", "score > 0.5"), ("multiclass/validation", "argmax")])
def test_a_confusion_matrix_tag_disables_the_threshold_and_names_its_decision(plugin_page, run, decision):
    plugin_page.open()
    plugin_page.show(run, "confusion_matrix")
    assert plugin_page.testid("threshold-slider").is_disabled()
    assert plugin_page.testid("threshold-input").is_disabled()
    assert decision in plugin_page.testid("threshold-note").inner_text()
    heading = plugin_page.testid("readout-heading").inner_text()
    assert "At this threshold" not in heading and decision in heading, heading
    assert plugin_page.locator("[data-testid=readout] [data-metric=threshold]").count() == 0
    title = plugin_page.testid("view-confusion").locator(".tbm-chart-title").inner_text()
    assert title == f"Confusion matrix ({decision})"

    plugin_page.select_tag("threshold_curves")
    assert plugin_page.testid("threshold-slider").is_enabled()
    assert plugin_page.testid("readout-heading").inner_text() == "At this threshold"
    assert plugin_page.testid("threshold-note").is_hidden()
