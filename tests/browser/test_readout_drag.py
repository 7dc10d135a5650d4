"""The readout during a threshold drag: the numbers in view follow every frame, while the Wilson
intervals and the run columns scrolled out of the table's view wait until the threshold rests
(`READOUT_REST_MS` in frontend/src/readout.js) or the column is scrolled into view; then they are
current.
"""

from __future__ import annotations

import re

RUNS = ("binary/train", "binary/validation", "multiclass/train", "multiclass/validation")

# Each run column's threshold, TP and precision cell (value and interval text), and where the last
# column lies against the table's scroll box.
READ_JS = """() => {
  const box = document.querySelector('[data-testid=readout]');
  const cells = (metric) => [...box.querySelectorAll(`td[data-metric=${metric}]`)];
  const scroll = box.querySelector('.tbm-table-scroll').getBoundingClientRect();
  const lastHeader = [...box.querySelectorAll('thead th')].pop().getBoundingClientRect();
  return {
    stale: box.dataset.stale === 'true',
    threshold: cells('threshold').map((cell) => Number(cell.dataset.value)),
    tp: cells('tp').map((cell) => Number(cell.dataset.value)),
    precision: cells('precision').map((cell) => cell.innerText),
    lastColumnOutOfView: lastHeader.left >= scroll.right,
  };
}"""

SCROLL_TO_LAST_COLUMN_JS = """async () => {
  const scroll = document.querySelector('[data-testid=readout] .tbm-table-scroll');
  scroll.scrollLeft = scroll.scrollWidth;
  const box = document.querySelector('[data-testid=readout]');
  for (let frames = 0; frames < 4 && box.dataset.stale; frames++) {
    await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  }
}"""


def _interval(text: str) -> str:
    match = re.search(r"\[[^\]]*\]", text)
    assert match, f"no interval in {text!r}"
    return match.group(0)


def _show_four_runs(plugin_page) -> dict:
    plugin_page.open()
    plugin_page.select_runs(*RUNS)
    plugin_page.select_class("0")
    plugin_page.set_threshold(0.5)
    at_rest = plugin_page.frame.evaluate(READ_JS)
    assert len(at_rest["tp"]) == len(RUNS)
    assert at_rest["lastColumnOutOfView"], "the readout's table should scroll sideways with four runs"
    return at_rest


def test_the_readout_follows_a_drag_in_view_and_catches_up_when_the_threshold_rests(plugin_page):
    at_half = _show_four_runs(plugin_page)
    during = plugin_page.drag_threshold([0.45, 0.4, 0.3, 0.2], READ_JS)
    assert during["stale"], "the readout should say it is not yet current"
    assert during["threshold"][0] == 0.2, "the first column (in view) follows the drag at once"
    assert during["tp"][0] > at_half["tp"][0]
    assert during["threshold"][-1] == 0.5, "the last column (out of view) waits"
    assert during["precision"][0] != at_half["precision"][0]
    assert _interval(during["precision"][0]) == _interval(at_half["precision"][0]), "the intervals wait"

    plugin_page.wait_idle()  # until no `data-stale`
    rested = plugin_page.frame.evaluate(READ_JS)
    assert rested["threshold"] == [0.2] * len(RUNS), "every column caught up"
    # Current: what the readout shows when the same threshold is typed in (no drag).
    plugin_page.set_threshold(0.2)
    typed = plugin_page.frame.evaluate(READ_JS)
    assert rested["tp"] == typed["tp"]
    assert rested["precision"] == typed["precision"]


def test_a_column_scrolled_into_view_during_a_drag_catches_up_at_once(plugin_page):
    at_half = _show_four_runs(plugin_page)
    during = plugin_page.drag_threshold([0.4, 0.2], READ_JS)
    assert during["threshold"][-1] == at_half["threshold"][-1] == 0.5
    # Scrolled into view: current within a few frames, before the rest timer would have fired.
    plugin_page.frame.evaluate(SCROLL_TO_LAST_COLUMN_JS)
    scrolled = plugin_page.frame.evaluate(READ_JS)
    assert not scrolled["stale"]
    assert scrolled["threshold"][-1] == 0.2
