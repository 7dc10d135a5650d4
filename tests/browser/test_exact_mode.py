"""The tab on format-v2 logs: exact classes (thresholds = the distinct scores) read at any typed
threshold, equal to scikit-learn on the raw scores; grid classes say which stored threshold stands
for the typed one; the optimisers' threshold is shown rounded and kept exact.

The module writes tiny logs with the numpy writer (30–40 scores: exact mode, and one on a 5-threshold
grid) and serves them with a real TensorBoard on each loader.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_recall_fscore_support

from tb_metrics_plugin import SummaryWriter, core, summary
from tests.conftest import TensorBoardServer
from tests.readback import read_run

BINARY_SCORES = np.array([
    0.05, 0.12, 0.12, 0.2, 0.23, 0.31, 0.31, 0.31, 0.38, 0.42, 0.47, 0.5, 0.5, 0.53, 0.58,
    0.61, 0.64, 0.64, 0.7, 0.72, 0.77, 0.8, 0.83, 0.83, 0.88, 0.9, 0.93, 0.95, 0.97, 0.99,
], dtype=np.float32)
BINARY_LABELS = np.array([0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1])
NUM_CLASSES = 3
# Typed thresholds: between scores, on a score (0.31 is stored as float32(0.31): its items stay
# negative, Keras' `score > t`), below every score, above every score.
TYPED = (0.3, 0.31, 0.5, 0.6789, 0.01, 0.995)
# A grid of 5 thresholds cannot hold 30 distinct scores exactly (at most 4 per threshold): grid mode.
GRID_THRESHOLDS = 5


def _multiclass() -> tuple[np.ndarray, np.ndarray]:
    """40 softmax rows over 3 classes, rounded to 2 decimals (ties within a class)."""
    rng = np.random.default_rng(3)
    labels = rng.integers(0, NUM_CLASSES, size=40)
    logits = rng.normal(size=(40, NUM_CLASSES))
    logits[np.arange(40), labels] += 1.2
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    scores = np.round(scores, 2)
    scores[:, -1] = 1 - scores[:, :-1].sum(axis=1)
    return labels, np.clip(scores, 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def exact_logdir(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("exact") / "logs"
    labels, scores = _multiclass()
    with SummaryWriter(logdir / "binary") as writer:
        writer.add_summary(summary.threshold_curves_pb("threshold_curves", BINARY_LABELS, BINARY_SCORES), step=0)
    with SummaryWriter(logdir / "multiclass") as writer:
        writer.add_summary(summary.threshold_curves_pb(
            "threshold_curves", labels, scores, class_names=["ant", "bee", "cat"]), step=0)
    with SummaryWriter(logdir / "grid") as writer:
        writer.add_summary(summary.threshold_curves_pb(
            "threshold_curves", BINARY_LABELS, BINARY_SCORES, num_thresholds=GRID_THRESHOLDS), step=0)
    # What the tab is tested on: the writer chose exact mode for the first two, the grid for the third.
    assert read_run(logdir / "binary")["threshold_curves"][0].exact.all()
    assert read_run(logdir / "multiclass")["threshold_curves"][0].exact.all()
    assert not read_run(logdir / "grid")["threshold_curves"][0].exact.any()
    return logdir


@pytest.fixture(scope="module", params=[True, False], ids=["rust_loader", "python_loader"])
def exact_server(request, exact_logdir):
    """One TensorBoard per loader on the module's logs."""
    server = TensorBoardServer(exact_logdir, load_fast=request.param)
    try:
        server.wait_until(lambda listing: {"binary", "multiclass", "grid"} <= set(listing),
                          "/data/plugin/tb_metrics/tags")
        yield server
    finally:
        server.stop()


@pytest.fixture
def exact_page(exact_server, page_on):
    return page_on(exact_server).open()


def _predicted(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Keras' rule in float32, as the stored scores are: positive when score > float32(threshold)."""
    return (scores > np.float32(threshold)).astype(int)


def _assert_close(shown: float, want: float, what: str) -> None:
    assert math.isclose(shown, want, rel_tol=1e-9, abs_tol=1e-12), f"{what}: tab {shown}, scikit-learn {want}"


def test_an_exact_binary_log_reads_like_scikit_learn_at_any_typed_threshold(exact_page):
    exact_page.show("binary", "threshold_curves", "0")
    for typed in TYPED:
        exact_page.set_threshold(repr(typed))
        exact_page.wait_threshold(typed)
        predicted = _predicted(BINARY_SCORES, typed)
        precision, recall, f1, _ = precision_recall_fscore_support(
            BINARY_LABELS, predicted, average="binary", zero_division=0)
        for name, want in (("precision", precision), ("recall", recall), ("f1", f1)):
            _assert_close(exact_page.metric(name), want, f"{name} at {typed}")
        _assert_close(exact_page.metric("tp"), float(np.sum(predicted & BINARY_LABELS)), f"TP at {typed}")
        _assert_close(exact_page.metric("fp"), float(np.sum(predicted & (1 - BINARY_LABELS))), f"FP at {typed}")
        # The typed threshold is the one the counts hold at, and the row says so.
        assert exact_page.metric_text("threshold") == f"{typed:g} (exact)"


def test_exact_classes_and_their_averages_read_like_scikit_learn(exact_page):
    labels, scores = _multiclass()
    one_hot = np.eye(NUM_CLASSES, dtype=int)[labels]
    exact_page.show("multiclass", "threshold_curves", "1")
    for typed in (0.25, 0.4):
        exact_page.set_threshold(repr(typed))
        exact_page.wait_threshold(typed)
        predicted = _predicted(scores, typed)
        for class_key in ("1", "micro", "macro", "weighted"):
            exact_page.select_class(class_key)
            if class_key == "1":
                truth, guess, average = one_hot[:, 1], predicted[:, 1], "binary"
            else:
                truth, guess, average = one_hot, predicted, class_key
            want = precision_recall_fscore_support(truth, guess, average=average, zero_division=0)
            for name, value in zip(("precision", "recall", "f1"), want[:3], strict=False):
                _assert_close(exact_page.metric(name), value, f"{class_key} {name} at {typed}")
            assert exact_page.metric_text("threshold") == f"{typed:g} (exact)"


def test_a_grid_log_names_the_stored_threshold_standing_for_the_typed_one(exact_page, exact_logdir):
    counts = read_run(exact_logdir / "grid")["threshold_curves"][0]
    typed = 0.43
    stored = float(counts.thresholds[core.threshold_index(counts.thresholds, typed)])
    assert stored != np.float32(typed)
    exact_page.show("grid", "threshold_curves", "0")
    exact_page.set_threshold(repr(typed))
    exact_page.wait_threshold(typed)
    text = exact_page.metric_text("threshold")
    assert text.startswith("0.43 → stored "), text
    assert math.isclose(float(text.split("stored ")[1]), stored, abs_tol=5e-5), (text, stored)
    cell = exact_page.locator("[data-testid=readout] [data-metric=threshold]").first
    assert float(cell.get_attribute("data-resolved")) == stored


def test_the_optimiser_keeps_the_exact_optimum_and_shows_it_rounded(exact_page):
    exact_page.show("binary", "threshold_curves", "0")
    exact_page.set_threshold("0.0123")
    exact_page.wait_threshold(0.0123)
    exact_page.testid("opt-max-fbeta").click()
    exact_page.wait_until(lambda: exact_page.metric("threshold") != 0.0123, "the optimiser to move the threshold")
    best = core.best_fbeta_threshold(*_binary_histograms(), beta=1.0)
    # The store holds the optimum itself (a stored score), so the readout is that operating point …
    _assert_close(exact_page.metric("threshold"), best["threshold"], "optimum threshold")
    _assert_close(exact_page.metric("f1"), best["value"], "F1 at the optimum")
    _assert_close(exact_page.metric("f1"), f1_score(BINARY_LABELS, _predicted(BINARY_SCORES, best["threshold"])), "F1")
    # … while the box and the readout show it rounded to at most 4 decimals.
    box = exact_page.testid("threshold-input").input_value()
    assert box == f"{round(best['threshold'], 4):g}", box
    assert exact_page.metric_text("threshold") == f"{box} (exact)"


def _binary_histograms() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exact row the writer stores for the binary log: distinct scores, weights at each, empty last bin."""
    thresholds, index = np.unique(BINARY_SCORES, return_inverse=True)
    positive = np.bincount(index, weights=BINARY_LABELS, minlength=thresholds.size + 1).astype(float)
    negative = np.bincount(index, weights=1 - BINARY_LABELS, minlength=thresholds.size + 1).astype(float)
    return positive, negative, thresholds.astype(np.float64)


def test_the_optimisers_work_on_the_run_picked_beside_them(exact_page, exact_logdir):
    grid = read_run(exact_logdir / "grid")["threshold_curves"][0]
    best = core.best_fbeta_threshold(grid.positive_histograms[0], grid.negative_histograms[0], grid.thresholds)
    exact_page.show("binary", "threshold_curves", "0")
    exact_page.select_runs("binary", "grid")
    picker = exact_page.testid("optimizer-run")
    assert picker.input_value() == "binary"  # no validation run: the first selected
    picker.select_option("grid")
    exact_page.testid("opt-max-fbeta").click()
    exact_page.wait_until(lambda: exact_page.metric("threshold") == float(best["threshold"]), "grid's optimum")
    _assert_close(exact_page.metric("f1", run="grid"), best["value"], "grid's F1 at its optimum")


@pytest.mark.parametrize("class_key", ["2", "macro"])
def test_every_view_draws_exact_classes_and_their_averages(exact_page, class_key):
    exact_page.show("multiclass", "threshold_curves", class_key)
    exact_page.set_threshold("0.05")  # below most scores: exact curves resolve many classes to "all positive"
    for view in ("view-roc", "view-pr", "view-threshold", "view-distribution", "view-calibration", "view-confusion",
                 "view-iou"):
        exact_page.assert_drawn(view)


def test_the_stored_threshold_stays_inside_its_run_column(exact_page):
    """'0.43 → stored 0.4312' is longer than a run's column of the readout beside the views at 1600 px,
    three runs compared: it wraps within its cell instead of running into the next run's number."""
    exact_page.page.set_viewport_size({"width": 1600, "height": 1000})
    exact_page.select_runs("grid", "binary", "multiclass")
    exact_page.select_tag("threshold_curves")
    exact_page.set_threshold("0.43")
    exact_page.wait_threshold(0.43)
    cells = exact_page.locator("[data-testid=readout] [data-metric=threshold]")
    exact_page.wait_until(lambda: any("stored" in text for text in cells.all_inner_texts()), "a stored threshold")
    lines = exact_page.frame.evaluate(
        """() => [...document.querySelectorAll('[data-testid=readout] [data-metric=threshold]')].map((cell) => {
             const line = cell.firstElementChild, own = line.getBoundingClientRect(), text = document.createRange();
             text.selectNodeContents(line);  // the text as drawn, wherever it runs
             const drawn = [...text.getClientRects()].filter((box) => box.bottom <= own.bottom + 0.5);
             return {text: line.textContent, title: cell.title, right: Math.max(...drawn.map((box) => box.right)),
                     cellRight: cell.getBoundingClientRect().right, lineRight: own.right,
                     hidden: line.scrollHeight - line.clientHeight};
           })"""
    )
    assert len(lines) == 3, lines
    stored = [line for line in lines if "stored" in line["text"]]
    assert stored, lines
    for line in lines:
        assert line["right"] <= min(line["cellRight"], line["lineRight"]) + 0.5, line  # no text over the next column
        assert line["hidden"] <= 0, line  # and none cut below its two lines
    assert [line["title"] for line in lines] == [line["text"] for line in lines]  # whole on hover
