"""The numbers the tab shows are the Python core's, computed from the same event files."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest

from tb_metrics_plugin import core
from tests.browser import expected
from tests.browser.conftest import both_loaders

READOUT_METRICS = ("precision", "recall", "f1", "specificity", "fpr", "accuracy", "mcc", "tp", "fp", "tn", "fn")
CELLS = ("tp", "fp", "tn", "fn")
LAST_STEP = 2


def rounded(value: float, decimals: int = 4) -> str:
    """JavaScript's `value.toFixed(decimals)`: the exact double rounded, ties away from zero."""
    return str(Decimal(float(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def displayed(name: str, value: float) -> str:
    """How the readout prints a number: counts whole, rates with 4 decimals."""
    if name in CELLS and float(value).is_integer():
        return str(int(value))
    return rounded(value)


def assert_readout(plugin_page, want: dict, names=READOUT_METRICS, cells=CELLS) -> None:
    """Readout `data-value`s equal the core's numbers (to 1e-9) and the text shows them rounded for
    display; binary confusion cells equal the counts."""
    shown = {name: plugin_page.metric(name) for name in names}
    wrong = {name: (shown[name], want[name]) for name in names
             if not math.isclose(shown[name], want[name], rel_tol=1e-9, abs_tol=1e-12)}
    assert not wrong, f"readout (shown, core) differs: {wrong}"
    texts = {name: plugin_page.metric_text(name) for name in names}
    wrong = {name: (texts[name], displayed(name, want[name])) for name in names
             if texts[name] != displayed(name, want[name])}
    assert not wrong, f"readout text (shown, core rounded) differs: {wrong}"
    shown_cells = {name: plugin_page.cell(name) for name in cells}
    assert shown_cells == {name: want[name] for name in cells}


def open_at(plugin_page, run: str, class_key: str, step: int):
    plugin_page.open()
    plugin_page.show(run, "threshold_curves", class_key)
    plugin_page.set_epoch(step)


def test_typed_thresholds_set_readout_and_confusion_cells_to_the_core(plugin_page, browser_logdir):
    curves = expected.counts(browser_logdir, "binary/validation", LAST_STEP, "threshold_curves")
    open_at(plugin_page, "binary/validation", "0", LAST_STEP)
    for target in (0.3, 0.7):
        threshold = expected.stored_value_near(curves, target)
        plugin_page.set_threshold(repr(threshold))
        plugin_page.wait_threshold(threshold)
        want = expected.metrics_at_threshold(curves, "0", threshold)
        assert_readout(plugin_page, want)
        # 95 % Wilson intervals under the proportions, to 3 decimals.
        for name, successes, trials in (("precision", want["tp"], want["tp"] + want["fp"]),
                                        ("recall", want["tp"], want["tp"] + want["fn"])):
            low, high = core.wilson_interval(successes, trials)
            interval = f"[{rounded(max(low, 0.0), 3)}, {rounded(min(high, 1.0), 3)}]"
            cell = plugin_page.locator(f"[data-testid=readout] [data-metric={name}]").first.inner_text()
            assert interval in cell, (name, interval, cell)

    # 0.35 is not a stored threshold: the tab shows the counts of the stored one that stands for it
    # (`core.threshold_index`: the largest ≤ 0.35 of an exact class, the nearest on a grid) and keeps
    # the typed value as the threshold.
    row, exact = expected.class_row(curves, 0)
    index = core.threshold_index(row, 0.35, exact=exact)
    assert index == -1 or row[index] != np.float32(0.35)
    plugin_page.set_threshold("0.35")
    plugin_page.wait_threshold(0.35)
    want = expected.metrics_at_threshold(curves, "0", 0.35)
    assert (want["tp"], want["fp"], want["tn"], want["fn"]) == core.counts_at_index(
        curves.positive_histograms[0], curves.negative_histograms[0], index)
    assert_readout(plugin_page, want)


def test_multiclass_class_and_averages_match_the_core(plugin_page, browser_logdir):
    curves = expected.counts(browser_logdir, "multiclass/validation", LAST_STEP, "threshold_curves")
    threshold = expected.stored_value_near(curves, 0.4, c=4)
    open_at(plugin_page, "multiclass/validation", "4", LAST_STEP)
    plugin_page.set_threshold(repr(threshold))
    plugin_page.wait_threshold(threshold)
    for class_key in ("4", "micro", "macro", "weighted"):
        plugin_page.select_class(class_key)
        want = expected.metrics_at_threshold(curves, class_key, threshold)
        if class_key in ("macro", "weighted"):  # averaged rates; summed counts have no single meaning
            assert_readout(plugin_page, want, names=("precision", "recall", "f1", "specificity"), cells=())
        else:
            assert_readout(plugin_page, want)


@both_loaders
def test_changing_epoch_changes_the_numbers_to_that_epochs(plugin_page, browser_logdir):
    first = expected.counts(browser_logdir, "binary/validation", 0, "threshold_curves")
    last = expected.counts(browser_logdir, "binary/validation", LAST_STEP, "threshold_curves")
    threshold = expected.stored_value_near(last, 0.5)
    want_first = expected.metrics_at_threshold(first, "0", threshold)
    want_last = expected.metrics_at_threshold(last, "0", threshold)
    assert want_first["tp"] != want_last["tp"] or want_first["fp"] != want_last["fp"], "epochs 0 and 2 agree"

    open_at(plugin_page, "binary/validation", "0", LAST_STEP)
    plugin_page.set_threshold(repr(threshold))
    plugin_page.wait_threshold(threshold)
    assert_readout(plugin_page, want_last)
    plugin_page.set_epoch(0)
    plugin_page.wait_until(lambda: plugin_page.cell("tp") == want_first["tp"], "epoch 0's counts")
    assert_readout(plugin_page, want_first)
    assert plugin_page.metric("threshold") == threshold, "changing epoch must keep the threshold"


def test_arrow_keys_step_through_epochs(plugin_page):
    open_at(plugin_page, "binary/validation", "0", LAST_STEP)
    slider = plugin_page.testid("epoch-slider")
    slider.focus()
    slider.press("ArrowLeft")
    plugin_page.wait_until(lambda: plugin_page.epoch() == LAST_STEP - 1, "epoch 1 after ←")
    slider.press("ArrowLeft")
    slider.press("ArrowLeft")  # clamped at the first logged epoch
    plugin_page.wait_until(lambda: plugin_page.epoch() == 0, "epoch 0 after ← ←")
    slider.press("ArrowRight")
    plugin_page.wait_until(lambda: plugin_page.epoch() == 1, "epoch 1 after →")


def _histograms(curves, class_key):
    return expected.curve_inputs(curves, class_key)


def optimisers(bound: float) -> dict:
    """button → (inputs to type first, the core's answer for (pos, neg, thresholds, average), the
    readout metric that holds the optimum's value or None). `bound`: minimum precision / recall."""
    return {
        "opt-max-fbeta": ({"beta-input": 2},
                          lambda p, n, t, a: core.best_fbeta_threshold(p, n, t, beta=2, average=a), "fbeta"),
        "opt-max-youden": ({}, lambda p, n, t, a: core.best_youden_threshold(p, n, t, average=a), None),
        "opt-min-cost": ({"cost-ratio-input": 3},
                         lambda p, n, t, a: core.min_cost_threshold(p, n, t, cost_ratio=3, average=a), None),
        "opt-recall-at-precision": ({"min-precision-input": bound},
                                    lambda p, n, t, a: core.recall_at_precision(p, n, t, bound, average=a), "recall"),
        "opt-precision-at-recall": ({"min-recall-input": bound},
                                    lambda p, n, t, a: core.precision_at_recall(p, n, t, bound, average=a),
                                    "precision"),
        "opt-recall-at-specificity": ({"min-specificity-input": bound},
                                      lambda p, n, t, a: core.sensitivity_at_specificity(p, n, t, bound, average=a),
                                      "recall"),
    }


@pytest.mark.parametrize(("run", "class_key", "bound"),
                         [("binary/validation", "0", 0.95), ("multiclass/validation", "macro", 0.8)])
def test_optimal_threshold_buttons_land_where_the_core_says(plugin_page, browser_logdir, run, class_key, bound):
    curves = expected.counts(browser_logdir, run, LAST_STEP, "threshold_curves")
    open_at(plugin_page, run, class_key, LAST_STEP)
    misses = {}
    for button, (inputs, optimise, value_metric) in optimisers(bound).items():
        point = optimise(*_histograms(curves, class_key))
        assert point["index"] >= 0, f"{button}: no feasible threshold in the test data"
        plugin_page.set_threshold(0.999 if point["threshold"] < 0.5 else 0.001)  # start away from the optimum
        for testid, value in inputs.items():
            plugin_page.set_number(testid, value)
        plugin_page.testid(button).click()
        try:
            plugin_page.wait_threshold(point["threshold"], rel=1e-12, timeout=5)
        except AssertionError:
            misses[button] = (plugin_page.metric("threshold"), point["threshold"])
            continue
        if value_metric is None:
            continue
        shown_value = plugin_page.metric(value_metric)
        if not math.isclose(shown_value, point["value"], rel_tol=1e-9):
            misses[button] = (value_metric, shown_value, point["value"])
    assert not misses, f"buttons landing elsewhere than the core (shown, core): {misses}"


def test_an_unreachable_constraint_leaves_the_threshold_and_says_so(plugin_page, browser_logdir):
    curves = expected.counts(browser_logdir, "multiclass/validation", LAST_STEP, "threshold_curves")
    positive, negative, thresholds, average = _histograms(curves, "macro")
    assert core.recall_at_precision(positive, negative, thresholds, 0.97, average=average)["index"] == -1
    open_at(plugin_page, "multiclass/validation", "macro", LAST_STEP)
    plugin_page.set_threshold(0.42)
    plugin_page.set_number("min-precision-input", 0.97)
    plugin_page.testid("opt-recall-at-precision").click()
    plugin_page.frame.get_by_text("No threshold of run").wait_for()
    assert plugin_page.metric("threshold") == 0.42


def test_confusion_matrix_readout_and_mean_iou_match_the_core(plugin_page, browser_logdir):
    """Segmentation (border pixels ignored): one-vs-rest numbers of a class, macro means, mean IoU."""
    matrix = expected.counts(browser_logdir, "segmentation/validation", LAST_STEP, "confusion_matrix").matrix
    metrics = core.matrix_metrics(matrix)
    plugin_page.open()
    plugin_page.show("segmentation/validation", "confusion_matrix", "1")
    plugin_page.set_epoch(LAST_STEP)
    c = 1  # "square"
    tp = float(matrix[c, c])
    want = {name: float(metrics[name][c]) for name in ("precision", "recall", "f1", "iou")}
    want.update(tp=tp, fp=float(metrics["predicted"][c]) - tp, fn=float(metrics["support"][c]) - tp,
                tn=float(matrix.sum()) - float(metrics["predicted"][c]) - float(metrics["support"][c]) + tp)
    assert_readout(plugin_page, want, names=tuple(want), cells=())
    assert f"{metrics['mean_iou']:.4f}" in plugin_page.testid("view-iou").inner_text()

    plugin_page.select_class("macro")
    want = {name: metrics[f"macro_{name}"] for name in ("precision", "recall", "f1", "iou")}
    assert_readout(plugin_page, want, names=tuple(want), cells=())
