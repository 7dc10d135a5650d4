"""Metrics ported from the peers' test suites (issue 13, item 4), checked against the peers:

- partial ROC-AUC with McClish standardisation = scikit-learn's `roc_auc_score(max_fpr=...)`;
- linearly / quadratically weighted Cohen's kappa = `cohen_kappa_score(weights=...)`;
- the "majoring" / "minoring" PR-AUC bounds = Keras' `AUC(curve="PR", summation_method=...)`.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from tb_metrics_plugin import core

from .test_core import histograms

FLOAT32_TOLERANCE = 1e-6


@pytest.fixture
def binary_data():
    """400 weighted items, scores rounded to 2 decimals so that many share a score (ties)."""
    rng = np.random.default_rng(13)
    labels = rng.integers(0, 2, 400)
    scores = np.clip(np.round(rng.normal(0.4 + 0.25 * labels, 0.2), 2), 0, 1)
    weights = rng.choice([0.5, 1.0, 3.0], size=400)
    return labels, scores, weights


# --------------------------------------------------------------------------------------------------
# Partial ROC-AUC


@pytest.mark.parametrize("max_fpr", [0.01, 0.05, 0.1, 0.3, 0.5, 0.99, 1.0])
def test_partial_roc_auc_is_sklearns_on_exact_counts(binary_data, max_fpr):
    labels, scores, weights = binary_data
    positive, negative = histograms(labels == 1, scores, np.unique(scores), weights)
    expected = skm.roc_auc_score(labels, scores, sample_weight=weights, max_fpr=max_fpr)
    assert core.partial_roc_auc(positive, negative, max_fpr) == pytest.approx(expected, abs=1e-12)


def test_partial_roc_auc_at_a_max_fpr_that_is_a_curve_point(binary_data):
    """max_fpr exactly on an FPR of the curve: no interpolation, the cut falls on a vertex."""
    labels, scores, _ = binary_data
    positive, negative = histograms(labels == 1, scores, np.unique(scores))
    fpr, _, _ = skm.roc_curve(labels, scores)
    for max_fpr in (fpr[3], fpr[len(fpr) // 2]):
        expected = skm.roc_auc_score(labels, scores, max_fpr=max_fpr)
        assert core.partial_roc_auc(positive, negative, max_fpr) == pytest.approx(expected, abs=1e-12)


def test_partial_roc_auc_averages_are_sklearns_multilabel():
    rng = np.random.default_rng(5)
    labels = rng.choice(3, size=300, p=[0.5, 0.3, 0.2])
    scores = np.round(rng.random((300, 3)) + 0.4 * np.eye(3)[labels], 2)
    weights = rng.choice([1.0, 2.0], size=300)
    indicator = label_binarize(labels, classes=range(3))
    positive, negative = histograms(indicator == 1, scores, np.unique(scores), weights)
    for average in (None, "macro", "weighted", "micro"):
        expected = skm.roc_auc_score(indicator, scores, average=average, sample_weight=weights, max_fpr=0.2)
        np.testing.assert_allclose(core.partial_roc_auc(positive, negative, 0.2, average), expected,
                                   rtol=0, atol=1e-12, err_msg=str(average))


def test_partial_roc_auc_on_a_grid_is_sklearns_on_binned_scores_and_within_the_bin_bound():
    """Grid counts: exactly scikit-learn's value on the scores moved to their bin's upper threshold
    (in-bin scores become ties), and within the bound that the bins leave open of its value on the
    raw scores: a bin is a box of width neg_k / N and height pos_k / P on the ROC plot, the curve
    crosses it as its diagonal, the raw curve anywhere inside, so the partial area moves by at most
    the area of the boxes that start below max_fpr, and McClish's pAUC by half that over
    (max_fpr − max_fpr² / 2)."""
    rng = np.random.default_rng(8)
    labels = rng.integers(0, 2, 2000)
    scores = rng.beta(2 + 2 * labels, 3 - labels)
    thresholds = np.linspace(0, 1, 201)[1:-1]
    positive, negative = histograms(labels == 1, scores, thresholds)
    edges = np.r_[thresholds, 1.0]
    binned_scores = edges[np.searchsorted(thresholds, scores, side="left")]
    positives, negatives = positive.sum(), negative.sum()
    negatives_before = np.r_[0, np.cumsum(negative[::-1])[:-1]][::-1]  # FP weight above each bin
    for max_fpr in (0.05, 0.2):
        ours = core.partial_roc_auc(positive, negative, max_fpr)
        assert ours == pytest.approx(skm.roc_auc_score(labels, binned_scores, max_fpr=max_fpr), abs=1e-12)
        open_boxes = negatives_before < max_fpr * negatives
        area_bound = np.sum(positive[open_boxes] * negative[open_boxes]) / (positives * negatives)
        bound = 0.5 * area_bound / (max_fpr - max_fpr**2 / 2)
        raw = skm.roc_auc_score(labels, scores, max_fpr=max_fpr)
        assert abs(ours - raw) <= bound
        assert bound < 0.02  # the bound says something on a 199-threshold grid


def test_partial_roc_auc_is_undefined_without_both_classes_and_refuses_a_bad_max_fpr():
    assert np.isnan(core.partial_roc_auc([0, 0, 0], [1, 2, 0], 0.1))
    assert np.isnan(core.partial_roc_auc([1, 2, 0], [0, 0, 0], 0.1))
    for bad in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="max_fpr=.*expected a false positive rate in \\(0, 1\\]"):
            core.partial_roc_auc([0, 1, 1], [1, 1, 0], bad)


def test_partial_roc_auc_to_one_is_roc_auc(binary_data):
    labels, scores, weights = binary_data
    positive, negative = histograms(labels == 1, scores, np.unique(scores), weights)
    assert core.partial_roc_auc(positive, negative, 1.0) == pytest.approx(core.roc_auc(positive, negative), abs=1e-15)


# --------------------------------------------------------------------------------------------------
# Weighted Cohen's kappa


@pytest.fixture
def ordinal_data():
    """5 ordinal classes, mistakes mostly to a neighbour; class 3 never true, weighted items."""
    rng = np.random.default_rng(17)
    true = rng.choice([0, 1, 2, 4], size=300, p=[0.3, 0.3, 0.25, 0.15])
    predicted = np.clip(true + rng.choice([-2, -1, 0, 0, 0, 1, 2], size=300), 0, 4)
    weights = rng.choice([0.5, 1.0, 2.5], size=300)
    return true, predicted, weights


@pytest.mark.parametrize("weights_kind", ["linear", "quadratic"])
def test_weighted_kappa_is_sklearns(ordinal_data, weights_kind):
    true, predicted, weights = ordinal_data
    matrix = skm.confusion_matrix(true, predicted, labels=range(5), sample_weight=weights)
    expected = skm.cohen_kappa_score(true, predicted, labels=range(5), weights=weights_kind, sample_weight=weights)
    assert core.weighted_kappa(matrix, weights_kind) == pytest.approx(expected, abs=1e-13)
    assert core.matrix_metrics(matrix)[f"kappa_{weights_kind}"] == pytest.approx(expected, abs=1e-13)
    assert core.confusion_matrix_summary(matrix)[f"kappa_{weights_kind}"]["value"] == pytest.approx(expected, abs=1e-13)


def test_weighted_kappa_undefined_cases_and_bad_weights():
    assert np.isnan(core.weighted_kappa(np.zeros((3, 3)), "linear"))
    assert np.isnan(core.weighted_kappa([[4.0, 0.0], [0.0, 0.0]], "quadratic"))  # one class only
    assert core.weighted_kappa(np.diag([3.0, 1.0, 2.0]), "quadratic") == 1.0
    with pytest.raises(ValueError, match="weights='squared'; expected one of"):
        core.weighted_kappa(np.eye(2), "squared")


# --------------------------------------------------------------------------------------------------
# PR-AUC bounds, as Keras' summation_method


def keras_interior_thresholds(num_thresholds: int) -> np.ndarray:
    """Keras' evenly spaced thresholds without its two end points (−ε and 1 + ε, our ±inf ends)."""
    return np.array([(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)], dtype=np.float32)


def keras_pr_auc(keras, labels, scores, summation_method, **options) -> float:
    metric = keras.metrics.AUC(curve="PR", summation_method=summation_method, **options)
    metric.update_state(labels, scores)
    return float(metric.result())


@pytest.mark.parametrize("summation_method", ["majoring", "minoring"])
@pytest.mark.parametrize("num_thresholds", [3, 50, 200])
def test_pr_auc_bounds_are_keras_on_its_thresholds(summation_method, num_thresholds):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(21)
    labels = rng.integers(0, 2, 500)
    scores = np.clip(rng.normal(0.4 + 0.25 * labels, 0.2), 0, 1).astype(np.float32)
    scores[:20] = 0.5  # exact ties on a Keras threshold
    positive, negative = histograms(labels == 1, scores, keras_interior_thresholds(num_thresholds))
    expected = keras_pr_auc(keras, labels.astype(np.float32), scores, summation_method, num_thresholds=num_thresholds)
    assert core.pr_auc_bound(positive, negative, summation_method) == pytest.approx(expected, abs=FLOAT32_TOLERANCE)


@pytest.mark.parametrize("summation_method", ["majoring", "minoring"])
def test_pr_auc_bounds_multilabel_are_keras_micro_and_macro(summation_method):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(22)
    labels = rng.integers(0, 3, 600)
    one_hot = np.eye(3, dtype=np.float32)[labels]
    logits = rng.normal(size=(600, 3)) + 1.5 * one_hot
    scores = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32)
    thresholds = np.sort(rng.random(30)).astype(np.float32)
    positive, negative = histograms(one_hot == 1, scores, thresholds)
    options = {"thresholds": thresholds.tolist()}
    macro = keras_pr_auc(keras, one_hot, scores, summation_method, multi_label=True, num_labels=3, **options)
    micro = keras_pr_auc(keras, one_hot, scores, summation_method, multi_label=False, **options)
    for average, expected in (("macro", macro), ("micro", micro)):
        ours = core.pr_auc_bound(positive, negative, summation_method, average)
        assert ours == pytest.approx(expected, abs=FLOAT32_TOLERANCE), average


def test_pr_auc_bounds_bracket_the_interpolated_area_and_land_in_the_summary(binary_data):
    labels, scores, weights = binary_data
    thresholds = np.linspace(0, 1, 21)[1:-1]
    positive, negative = histograms(labels == 1, scores, thresholds, weights)
    low = core.pr_auc_bound(positive, negative, "minoring")
    high = core.pr_auc_bound(positive, negative, "majoring")
    assert low < core.pr_auc(positive, negative) < high
    summary = core.threshold_curves_summary(positive, negative, thresholds)
    assert summary["pr_auc_minoring"]["per_class"][0] == pytest.approx(low, abs=1e-15)
    assert summary["pr_auc_majoring"]["per_class"][0] == pytest.approx(high, abs=1e-15)
    assert np.isnan(core.pr_auc_bound([0, 0, 0], [1, 2, 0], "majoring"))
    with pytest.raises(ValueError, match="summation_method='interpolation'; expected one of"):
        core.pr_auc_bound(positive, negative, "interpolation")
