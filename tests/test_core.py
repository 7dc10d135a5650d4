"""The numeric core against scikit-learn, on the same data, and its conventions at the edges.

Exact agreement needs thresholds at which scikit-learn's `score >= s` and our `score > t` split the
data identically: with t_j = the distinct scores s_0 < … < s_{T-1}, our threshold t_j gives the
positives `score >= s_{j+1}`, and our "everything positive" end (−inf) is scikit-learn's s_0. Then no
two distinct scores share a bin and there is no tie the two could treat differently.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.preprocessing import label_binarize

from tb_metrics_plugin import core


def histograms(is_positive, scores, thresholds, weights=None):
    """Positive and negative histograms of `scores` over the bins (t_{k-1}, t_k], per column.

    is_positive, scores: (N,) or (N, C). Independent of the package's counting code on purpose.
    """
    is_positive = np.asarray(is_positive, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    squeeze = scores.ndim == 1
    if squeeze:
        is_positive, scores = is_positive[:, None], scores[:, None]
    weights = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=np.float64)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    num_bins = len(thresholds) + 1
    # Bin k = number of thresholds strictly below the score: t_{k-1} < score <= t_k.
    bins = np.searchsorted(thresholds, scores, side="left")
    positive = np.zeros((scores.shape[1], num_bins))
    negative = np.zeros((scores.shape[1], num_bins))
    for column in range(scores.shape[1]):
        is_pos = is_positive[:, column]
        positive[column] = np.bincount(bins[is_pos, column], weights[is_pos], minlength=num_bins)
        negative[column] = np.bincount(bins[~is_pos, column], weights[~is_pos], minlength=num_bins)
    return (positive[0], negative[0]) if squeeze else (positive, negative)


@pytest.fixture
def binary_data():
    """300 weighted items, scores rounded to 2 decimals so many items share a score (ties)."""
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, 300)
    scores = np.clip(np.round(rng.normal(0.35 + 0.3 * labels, 0.2), 2), 0, 1)
    weights = rng.choice([0.5, 1.0, 3.0], size=300)
    return labels, scores, weights


@pytest.fixture
def multiclass_data():
    """4 classes, softmax scores with ties (each score row occurs twice, not always with the same
    label), class 3 rare."""
    rng = np.random.default_rng(11)
    labels = rng.choice(4, size=400, p=[0.4, 0.3, 0.25, 0.05])
    logits = rng.normal(size=(200, 4)).repeat(2, axis=0)
    logits[np.arange(400), labels] += 1.2 * (np.arange(400) % 2 == 0)
    scores = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    weights = rng.choice([1.0, 2.0], size=400)
    return labels, scores, weights


def exact_grid(scores):
    return np.unique(np.asarray(scores, dtype=np.float64))


# --------------------------------------------------------------------------------------------------
# Curves and areas, binary


def test_roc_curve_is_sklearns_with_thresholds_at_the_scores(binary_data):
    labels, scores, weights = binary_data
    thresholds = exact_grid(scores)
    curve = core.roc_curve(*histograms(labels == 1, scores, thresholds, weights), thresholds)
    fpr, tpr, sk_thresholds = skm.roc_curve(labels, scores, sample_weight=weights, drop_intermediate=False)
    # Ours has one more point: (0, 0) at +inf and again at t_{T-1} (nothing is above the top score).
    np.testing.assert_allclose(curve["fpr"][1:], fpr, rtol=0, atol=1e-15)
    np.testing.assert_allclose(curve["tpr"][1:], tpr, rtol=0, atol=1e-15)
    # sklearn's point at s_{j+1} (score >= s_{j+1}) is ours at t_j = s_j (score > s_j).
    np.testing.assert_array_equal(curve["thresholds"][2:-1], sk_thresholds[2:])
    assert curve["thresholds"][0] == np.inf and curve["thresholds"][-1] == -np.inf


def test_roc_auc_and_average_precision_are_sklearns(binary_data):
    labels, scores, weights = binary_data
    thresholds = exact_grid(scores)
    for sample_weight in (None, weights):
        positive, negative = histograms(labels == 1, scores, thresholds, sample_weight)
        assert core.roc_auc(positive, negative) == pytest.approx(
            skm.roc_auc_score(labels, scores, sample_weight=sample_weight), abs=1e-13
        )
        assert core.average_precision(positive, negative) == pytest.approx(
            skm.average_precision_score(labels, scores, sample_weight=sample_weight), abs=1e-13
        )


def test_pr_curve_is_sklearns(binary_data):
    labels, scores, weights = binary_data
    thresholds = exact_grid(scores)
    curve = core.pr_curve(*histograms(labels == 1, scores, thresholds, weights), thresholds)
    precision, recall, _ = skm.precision_recall_curve(
        labels, scores, sample_weight=weights, drop_intermediate=False
    )
    # sklearn: increasing thresholds, ending at (recall 0, precision 1); ours: decreasing from there.
    np.testing.assert_allclose(curve["precision"][1:], precision[::-1], rtol=0, atol=1e-15)
    np.testing.assert_allclose(curve["recall"][1:], recall[::-1], rtol=0, atol=1e-15)
    assert curve["precision"][0] == 1.0 and curve["recall"][0] == 0.0


def test_det_curve_contains_sklearns_points_in_order(binary_data):
    labels, scores, weights = binary_data
    thresholds = exact_grid(scores)
    curve = core.det_curve(*histograms(labels == 1, scores, thresholds, weights), thresholds)
    fpr, fnr, _ = skm.det_curve(labels, scores, sample_weight=weights)
    # sklearn (fpr decreasing) keeps a contiguous run of the full curve, from the last FPR = 0 point
    # to the first FNR = 0 point; ours keeps every point, FPR increasing.
    ours = np.stack([curve["fpr"], curve["fnr"]], axis=1)
    theirs = np.stack([fpr, fnr], axis=1)[::-1]
    assert any(np.allclose(ours[i : i + len(theirs)], theirs, rtol=0, atol=1e-15) for i in range(len(ours)))
    roc = core.roc_curve(*histograms(labels == 1, scores, thresholds, weights), thresholds)
    np.testing.assert_allclose(curve["fnr"], 1 - roc["tpr"], rtol=0, atol=1e-15)


def test_counts_and_metrics_at_thresholds_are_sklearns(binary_data):
    labels, scores, weights = binary_data
    thresholds = exact_grid(scores)
    positive, negative = histograms(labels == 1, scores, thresholds, weights)
    tp, fp, tn, fn = core.confusion_at_thresholds(positive, negative)
    tns, fps, fns, tps, distinct = skm.confusion_matrix_at_thresholds(labels, scores, sample_weight=weights)
    # sklearn at s_{T-1}, ..., s_1 (decreasing) is ours at t_{T-2}, ..., t_0.
    for ours, theirs in ((tp, tps), (fp, fps), (tn, tns), (fn, fns)):
        np.testing.assert_allclose(ours[-2::-1], theirs[:-1], rtol=0, atol=1e-12)
    metrics = core.threshold_metrics(tp, fp, tn, fn, beta=2.0)
    references = {
        "precision": (skm.precision_score, {"zero_division": 0}),
        "recall": (skm.recall_score, {"zero_division": 0}),
        "f1": (skm.f1_score, {"zero_division": 0}),
        "fbeta": (skm.fbeta_score, {"beta": 2.0, "zero_division": 0}),
        "accuracy": (skm.accuracy_score, {}),
        "balanced_accuracy": (skm.balanced_accuracy_score, {}),
        "mcc": (skm.matthews_corrcoef, {}),
        "kappa": (skm.cohen_kappa_score, {}),
        "iou": (skm.jaccard_score, {"zero_division": 0}),
    }
    for name, (function, params) in references.items():
        values, at = skm.metric_at_thresholds(
            labels, scores, function, sample_weight=weights, metric_params=params
        )
        np.testing.assert_array_equal(at, distinct)
        np.testing.assert_allclose(metrics[name][-2::-1], values[:-1], rtol=0, atol=1e-12, err_msg=name)
    specificity, _ = skm.metric_at_thresholds(
        labels, scores, skm.recall_score, sample_weight=weights, metric_params={"pos_label": 0}
    )
    np.testing.assert_allclose(metrics["specificity"][-2::-1], specificity[:-1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(metrics["fpr"], 1 - metrics["specificity"], rtol=0, atol=1e-15)
    np.testing.assert_allclose(metrics["fnr"], 1 - metrics["recall"], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(metrics["dice"], metrics["f1"])


def test_threshold_metrics_zero_division_follows_sklearn():
    # Nothing predicted positive, no positives at all: the sklearn zero_division=0 convention.
    metrics = core.threshold_metrics(0, 0, 5, 0)
    for name in ("precision", "recall", "f1", "fbeta", "iou", "fnr", "mcc"):
        assert metrics[name] == 0.0, name
    assert metrics["specificity"] == 1.0 and metrics["accuracy"] == 1.0
    # balanced_accuracy_score: the mean recall of the classes present (only negatives here).
    assert metrics["balanced_accuracy"] == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        assert math.isnan(skm.cohen_kappa_score([0] * 5, [0] * 5, labels=[0, 1]))
    assert math.isnan(metrics["kappa"])
    empty = core.threshold_metrics(0, 0, 0, 0)
    assert math.isnan(empty["accuracy"]) and math.isnan(empty["balanced_accuracy"]) and math.isnan(empty["kappa"])
    assert empty["precision"] == 0.0 and empty["mcc"] == 0.0
    with pytest.raises(ValueError, match="beta"):
        core.threshold_metrics(1, 1, 1, 1, beta=0)


# --------------------------------------------------------------------------------------------------
# Multiclass and multilabel averaging


def test_multiclass_roc_auc_averages_are_sklearns(multiclass_data):
    labels, scores, weights = multiclass_data
    thresholds = exact_grid(scores)
    positive, negative = histograms(label_binarize(labels, classes=range(4)) == 1, scores, thresholds, weights)
    per_class = core.roc_auc(positive, negative)
    assert per_class.shape == (4,)
    for average in ("macro", "weighted", "micro"):
        expected = skm.roc_auc_score(labels, scores, multi_class="ovr", average=average, sample_weight=weights)
        assert core.roc_auc(positive, negative, average=average) == pytest.approx(expected, abs=1e-13), average
    np.testing.assert_allclose(
        per_class, skm.roc_auc_score(labels, scores, multi_class="ovr", average=None, sample_weight=weights),
        rtol=0, atol=1e-13,
    )


def test_multilabel_average_precision_averages_are_sklearns(multiclass_data):
    labels, scores, weights = multiclass_data
    indicators = label_binarize(labels, classes=range(4))
    thresholds = exact_grid(scores)
    positive, negative = histograms(indicators == 1, scores, thresholds, weights)
    for average in (None, "macro", "weighted", "micro"):
        expected = skm.average_precision_score(indicators, scores, average=average, sample_weight=weights)
        np.testing.assert_allclose(
            core.average_precision(positive, negative, average=average), expected, rtol=0, atol=1e-13,
            err_msg=str(average),
        )


def test_averaged_threshold_metrics_are_sklearns_multilabel_averages(multiclass_data):
    labels, scores, weights = multiclass_data
    indicators = label_binarize(labels, classes=range(4))
    thresholds = np.array([0.1, 0.25, 0.5, 0.9])
    counts = core.confusion_at_thresholds(*histograms(indicators == 1, scores, thresholds, weights))
    for average in ("micro", "macro", "weighted"):
        metrics = core.average_threshold_metrics(*counts, average=average)
        for j, threshold in enumerate(thresholds):
            predicted = (scores > threshold).astype(int)
            precision, recall, f1, _ = skm.precision_recall_fscore_support(
                indicators, predicted, average=average, sample_weight=weights, zero_division=0
            )
            jaccard = skm.jaccard_score(indicators, predicted, average=average, sample_weight=weights, zero_division=0)
            assert metrics["precision"][j] == pytest.approx(precision, abs=1e-13)
            assert metrics["recall"][j] == pytest.approx(recall, abs=1e-13)
            assert metrics["f1"][j] == pytest.approx(f1, abs=1e-13)
            assert metrics["iou"][j] == pytest.approx(jaccard, abs=1e-13)


def test_averaged_curves_are_threshold_averages(multiclass_data):
    labels, scores, weights = multiclass_data
    thresholds = np.linspace(0, 1, 21)
    positive, negative = histograms(label_binarize(labels, classes=range(4)) == 1, scores, thresholds, weights)
    support = positive.sum(1)
    per_class = core.roc_curve(positive, negative, thresholds)
    macro = core.roc_curve(positive, negative, thresholds, average="macro")
    weighted = core.roc_curve(positive, negative, thresholds, average="weighted")
    np.testing.assert_allclose(macro["tpr"], per_class["tpr"].mean(0), rtol=0, atol=1e-15)
    np.testing.assert_allclose(weighted["fpr"], support @ per_class["fpr"] / support.sum(), rtol=0, atol=1e-15)
    micro = core.pr_curve(positive, negative, thresholds, average="micro")
    summed = core.pr_curve(positive.sum(0), negative.sum(0), thresholds)
    np.testing.assert_array_equal(micro["precision"], summed["precision"])
    det = core.det_curve(positive, negative, thresholds, average="macro")
    np.testing.assert_allclose(det["fnr"], 1 - macro["tpr"], rtol=0, atol=1e-15)


def test_averages_leave_out_classes_without_positives():
    thresholds = np.array([0.5])
    positive = np.array([[1.0, 2.0], [0.0, 0.0]])
    negative = np.array([[2.0, 1.0], [1.0, 1.0]])
    per_class = core.roc_auc(positive, negative)
    assert math.isnan(per_class[1])
    assert core.roc_auc(positive, negative, average="macro") == per_class[0]
    assert core.roc_auc(positive, negative, average="weighted") == per_class[0]
    curve = core.roc_curve(positive, negative, thresholds, average="macro")
    np.testing.assert_allclose(curve["tpr"], core.roc_curve(positive[0], negative[0], thresholds)["tpr"])
    assert math.isnan(core.roc_auc(positive[1:], negative[1:], average="macro"))


# --------------------------------------------------------------------------------------------------
# Operating points


def test_best_fbeta_youden_and_cost_are_the_brute_force_optima(binary_data):
    labels, scores, weights = binary_data
    thresholds = exact_grid(scores)
    positive, negative = histograms(labels == 1, scores, thresholds, weights)
    for beta in (0.5, 1.0, 2.0):
        values = [
            skm.fbeta_score(labels, scores > t, beta=beta, sample_weight=weights, zero_division=0) for t in thresholds
        ]
        point = core.best_fbeta_threshold(positive, negative, thresholds, beta=beta)
        assert point["value"] == pytest.approx(max(values), abs=1e-13)
        assert point["index"] == int(np.argmax(np.round(values, 12)))
        assert point["threshold"] == thresholds[point["index"]]
    fpr, tpr, _ = skm.roc_curve(labels, scores, sample_weight=weights)
    youden = core.best_youden_threshold(positive, negative, thresholds)
    # sklearn's best point may be "everything positive" (J = 0), which is not a stored threshold.
    assert youden["value"] == pytest.approx(np.max(tpr - fpr), abs=1e-13)
    w_pos, w_neg = weights * (labels == 1), weights * (labels == 0)
    for cost_ratio, prevalence in ((1.0, None), (5.0, None), (0.2, 0.1)):
        costs = []
        for t in thresholds:
            fn, fp = np.sum(w_pos * (scores <= t)), np.sum(w_neg * (scores > t))
            if prevalence is None:
                costs.append((fn + cost_ratio * fp) / weights.sum())
            else:
                costs.append(prevalence * fn / w_pos.sum() + cost_ratio * (1 - prevalence) * fp / w_neg.sum())
        point = core.min_cost_threshold(positive, negative, thresholds, cost_ratio, prevalence)
        assert point["value"] == pytest.approx(min(costs), abs=1e-13)
        assert costs[point["index"]] == pytest.approx(min(costs), abs=1e-13)


def test_at_metrics_take_the_best_feasible_threshold_and_zero_when_none():
    thresholds = np.array([0.2, 0.4, 0.6, 0.8])
    # Precision climbs with the threshold, recall falls.
    positive = np.array([1.0, 1.0, 2.0, 3.0, 3.0])
    negative = np.array([4.0, 3.0, 2.0, 1.0, 1.0])
    tp, fp, tn, fn = core.confusion_at_thresholds(positive, negative)
    metrics = core.threshold_metrics(tp, fp, tn, fn)
    point = core.recall_at_precision(positive, negative, thresholds, 0.7)
    feasible = metrics["precision"] >= 0.7
    assert point["value"] == np.max(metrics["recall"][feasible])
    assert metrics["precision"][point["index"]] >= 0.7
    point = core.precision_at_recall(positive, negative, thresholds, 0.9)
    assert point["value"] == np.max(metrics["precision"][metrics["recall"] >= 0.9])
    point = core.sensitivity_at_specificity(positive, negative, thresholds, 0.75)
    assert point["value"] == np.max(metrics["recall"][metrics["specificity"] >= 0.75])
    point = core.specificity_at_sensitivity(positive, negative, thresholds, 0.5)
    assert point["value"] == np.max(metrics["specificity"][metrics["recall"] >= 0.5])
    # Keras returns 0 when no threshold qualifies; the index says so.
    point = core.recall_at_precision(positive, negative, thresholds, 1.0)
    assert point == {"index": -1, "threshold": point["threshold"], "value": 0.0} and math.isnan(point["threshold"])
    with pytest.raises(ValueError, match="precision"):
        core.recall_at_precision(positive, negative, thresholds, 1.5)


def test_at_metric_ties_go_to_the_better_constrained_value():
    thresholds = np.array([0.2, 0.4, 0.6])
    # Recall is 1 at t = 0.2 and 0.4; precision is higher at 0.4.
    positive = np.array([0.0, 0.0, 2.0, 0.0])
    negative = np.array([1.0, 1.0, 1.0, 0.0])
    point = core.recall_at_precision(positive, negative, thresholds, 0.5)
    assert point["index"] == 1 and point["value"] == 1.0


def test_operating_points_vectorise_over_classes(multiclass_data):
    labels, scores, _ = multiclass_data
    thresholds = np.linspace(0, 1, 51)
    positive, negative = histograms(label_binarize(labels, classes=range(4)) == 1, scores, thresholds)
    points = core.best_fbeta_threshold(positive, negative, thresholds)
    for c in range(4):
        single = core.best_fbeta_threshold(positive[c], negative[c], thresholds)
        assert single["index"] == points["index"][c] and single["value"] == points["value"][c]
    macro = core.best_fbeta_threshold(positive, negative, thresholds, average="macro")
    f1 = core.average_threshold_metrics(*core.confusion_at_thresholds(positive, negative), average="macro")["f1"]
    assert macro["value"] == np.max(f1) and macro["index"] == int(np.argmax(f1))


# --------------------------------------------------------------------------------------------------
# Confusion matrix


@pytest.fixture
def matrix_data():
    """5 classes: class 3 never occurs nor is predicted, class 4 is predicted but never true."""
    rng = np.random.default_rng(3)
    true = rng.choice([0, 1, 2], size=200, p=[0.5, 0.3, 0.2])
    predicted = np.where(rng.random(200) < 0.7, true, rng.choice([0, 1, 2, 4], size=200))
    weights = rng.choice([0.5, 1.0, 2.0], size=200)
    matrix = skm.confusion_matrix(true, predicted, labels=range(5), sample_weight=weights)
    return true, predicted, weights, matrix


def test_matrix_metrics_are_sklearns(matrix_data):
    true, predicted, weights, matrix = matrix_data
    metrics = core.matrix_metrics(matrix)
    labels = list(range(5))
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        true, predicted, labels=labels, sample_weight=weights, zero_division=0
    )
    np.testing.assert_allclose(metrics["precision"], precision, rtol=0, atol=1e-13)
    np.testing.assert_allclose(metrics["recall"], recall, rtol=0, atol=1e-13)
    np.testing.assert_allclose(metrics["f1"], f1, rtol=0, atol=1e-13)
    np.testing.assert_allclose(metrics["support"], support, rtol=0, atol=1e-13)
    jaccard = skm.jaccard_score(true, predicted, labels=labels, average=None, sample_weight=weights, zero_division=0)
    np.testing.assert_allclose(metrics["iou"], jaccard, rtol=0, atol=1e-13)
    for average in ("macro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(
            true, predicted, labels=labels, average=average, sample_weight=weights, zero_division=0
        )
        j = skm.jaccard_score(true, predicted, labels=labels, average=average, sample_weight=weights, zero_division=0)
        assert metrics[f"{average}_precision"] == pytest.approx(p, abs=1e-13)
        assert metrics[f"{average}_recall"] == pytest.approx(r, abs=1e-13)
        assert metrics[f"{average}_f1"] == pytest.approx(f, abs=1e-13)
        assert metrics[f"{average}_iou"] == pytest.approx(j, abs=1e-13)
    assert metrics["accuracy"] == pytest.approx(skm.accuracy_score(true, predicted, sample_weight=weights), abs=1e-13)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "y_pred contains classes not in y_true"
        balanced = skm.balanced_accuracy_score(true, predicted, sample_weight=weights)
    assert metrics["balanced_accuracy"] == pytest.approx(balanced, abs=1e-13)
    kappa = skm.cohen_kappa_score(true, predicted, labels=labels, sample_weight=weights)
    assert metrics["kappa"] == pytest.approx(kappa, abs=1e-13)
    assert metrics["mcc"] == pytest.approx(skm.matthews_corrcoef(true, predicted, sample_weight=weights), abs=1e-13)
    # Keras' MeanIoU rule: class 3 (absent from truth and predictions) is left out of the mean.
    assert metrics["mean_iou"] == pytest.approx(np.mean(jaccard[[0, 1, 2, 4]]), abs=1e-15)
    assert metrics["frequency_weighted_iou"] == pytest.approx(np.dot(support, jaccard) / support.sum(), abs=1e-15)


def test_normalize_matrix_is_sklearns(matrix_data):
    true, predicted, weights, matrix = matrix_data
    for normalize in ("true", "pred", "all", None):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # sklearn divides the empty row by 0
            expected = skm.confusion_matrix(
                true, predicted, labels=range(5), sample_weight=weights, normalize=normalize
            )
        np.testing.assert_allclose(core.normalize_matrix(matrix, normalize), expected, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(core.normalize_matrix(matrix, "none"), matrix)
    with pytest.raises(ValueError, match="normalize='rows'"):
        core.normalize_matrix(matrix, "rows")


def test_top_confusions_order_and_fractions():
    matrix = np.array([[5, 2, 0], [3, 1, 3], [0, 1, 9]], dtype=float)
    top = core.top_confusions(matrix, 3)
    assert list(zip(top["true"].tolist(), top["pred"].tolist(), strict=True)) == [(1, 0), (1, 2), (0, 1)]
    np.testing.assert_allclose(top["count"], [3, 3, 2])
    np.testing.assert_allclose(top["fraction_of_true"], [3 / 7, 3 / 7, 2 / 7])
    assert len(core.top_confusions(matrix, 10)["count"]) == 4  # only the non-zero off-diagonal cells
    assert len(core.top_confusions(np.eye(3), 5)["true"]) == 0


def test_empty_matrix_is_undefined_not_zero():
    metrics = core.matrix_metrics(np.zeros((3, 3)))
    for name in ("accuracy", "balanced_accuracy", "kappa", "mcc", "mean_iou", "frequency_weighted_iou"):
        assert math.isnan(metrics[name]), name
    np.testing.assert_array_equal(metrics["iou"], [0, 0, 0])
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        core.matrix_metrics(np.zeros((2, 3)))


# --------------------------------------------------------------------------------------------------
# Distribution and calibration


def test_reliability_diagram_is_sklearns_calibration_curve_where_edges_coincide():
    rng = np.random.default_rng(5)
    scores = rng.beta(2, 3, size=2000)
    labels = (rng.random(2000) < scores ** 1.3).astype(int)
    thresholds = np.arange(41) / 40  # contains the edges k / 8 exactly
    positive, negative = histograms(labels == 1, scores, thresholds)
    diagram = core.reliability_diagram(positive, negative, thresholds, num_bins=8)
    prob_true, prob_pred = calibration_curve(labels, scores, n_bins=8)
    np.testing.assert_allclose(diagram["fraction_positive"], prob_true, rtol=0, atol=1e-15)
    # The mean score of a bin is not kept; the midpoints of the 1/40-wide fine bins stand in for it.
    np.testing.assert_allclose(diagram["mean_predicted"], prob_pred, rtol=0, atol=1 / 80)
    bins = np.searchsorted(np.linspace(0, 1, 9)[1:-1], scores)
    np.testing.assert_array_equal(diagram["count"], np.bincount(bins, minlength=8)[np.bincount(bins, minlength=8) > 0])
    ece_from_scores = np.sum(diagram["count"] * np.abs(prob_true - prob_pred)) / len(scores)
    ece = core.expected_calibration_error(positive, negative, thresholds, num_bins=8)
    assert ece == pytest.approx(ece_from_scores, abs=1 / 80)
    np.testing.assert_allclose(diagram["lower"], np.arange(8) / 8)
    np.testing.assert_allclose(diagram["upper"], np.arange(1, 9) / 8)


def test_score_distribution_fractions_and_edges():
    thresholds = np.array([0.25, 0.5, 0.75])
    positive = np.array([0.0, 1.0, 1.0, 2.0])
    negative = np.array([3.0, 1.0, 0.0, 0.0])
    distribution = core.score_distribution(positive, negative, thresholds)
    np.testing.assert_allclose(distribution["positive"], [0, 0.25, 0.25, 0.5])
    np.testing.assert_allclose(distribution["negative"], [0.75, 0.25, 0, 0])
    np.testing.assert_allclose(distribution["lower"], [0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(distribution["upper"], [0.25, 0.5, 0.75, 1])
    assert np.all(np.isnan(core.score_distribution(np.zeros(4), negative, thresholds)["positive"]))


# --------------------------------------------------------------------------------------------------
# Uncertainty


@pytest.mark.parametrize("successes,trials", [(0, 10), (3, 10), (10, 10), (45, 60), (1, 1000), (7.5, 12.5)])
def test_wilson_interval_solves_the_score_test(successes, trials):
    z = stats.norm.ppf(0.975)
    low, high = core.wilson_interval(successes, trials, z)
    # The interval is {p : |p̂ − p| <= z √(p(1 − p)/n)}: the roots of a quadratic in p.
    p_hat = successes / trials
    roots = np.sort(np.roots([1 + z * z / trials, -(2 * p_hat + z * z / trials), p_hat * p_hat]).real)
    np.testing.assert_allclose([low, high], roots, rtol=0, atol=1e-12)


def test_wilson_interval_known_value_and_edges():
    low, high = core.wilson_interval(np.array([8, 0]), np.array([10, 0]))
    assert low[0] == pytest.approx(0.4902, abs=5e-5) and high[0] == pytest.approx(0.9433, abs=5e-5)
    assert math.isnan(low[1]) and math.isnan(high[1])
    with pytest.raises(ValueError, match="successes <= trials"):
        core.wilson_interval(5, 3)


def test_hanley_mcneil_se_formula():
    auc, n_pos, n_neg = 0.87, 40, 60
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)
    assert core.hanley_mcneil_se(auc, n_pos, n_neg) == pytest.approx(math.sqrt(variance / (n_pos * n_neg)), rel=1e-14)
    np.testing.assert_allclose(core.hanley_mcneil_se(np.array([auc, 0.5]), n_pos, n_neg)[0], math.sqrt(variance / 2400))
    assert math.isnan(core.hanley_mcneil_se(0.8, 0, 50)) and math.isnan(core.hanley_mcneil_se(math.nan, 5, 5))


def test_hanley_mcneil_se_is_the_spread_of_auc_under_its_exponential_model():
    # Q1 and Q2 are exact for exponential scores: positives Exp(mean 4), negatives Exp(mean 1) have
    # A = P(pos > neg) = 0.8. 4000 replicates of 50 + 50 items estimate the SD within ~1.1 %.
    rng = np.random.default_rng(0)
    positives = rng.exponential(4.0, size=(4000, 50, 1))
    negatives = rng.exponential(1.0, size=(4000, 1, 50))
    aucs = np.mean(positives > negatives, axis=(1, 2))
    assert np.std(aucs, ddof=1) == pytest.approx(core.hanley_mcneil_se(0.8, 50, 50), rel=0.05)
    assert math.isnan(core.hanley_mcneil_se(0.8, 0, 50)) and math.isnan(core.hanley_mcneil_se(math.nan, 5, 5))


# --------------------------------------------------------------------------------------------------
# Edge cases, summaries, JSON


def test_no_positives_or_no_negatives_give_nan_areas_not_zero():
    positive, negative = np.zeros(3), np.array([1.0, 2.0, 3.0])
    assert math.isnan(core.roc_auc(positive, negative))
    assert math.isnan(core.average_precision(positive, negative))
    assert math.isnan(core.pr_auc(positive, negative))
    assert math.isnan(core.roc_auc(negative, positive))
    assert core.average_precision(negative, positive) == 1.0
    curve = core.roc_curve(positive, negative, np.array([0.3, 0.6]))
    assert np.all(np.isnan(curve["tpr"])) and not np.any(np.isnan(curve["fpr"]))


def test_single_threshold():
    thresholds = np.array([0.5])
    positive, negative = np.array([1.0, 3.0]), np.array([2.0, 1.0])
    # Points (0, 0), (1/3, 3/4), (1, 1): trapezoids 1/3 · 3/8 + 2/3 · 7/8.
    assert core.roc_auc(positive, negative) == pytest.approx(1 / 3 * 3 / 8 + 2 / 3 * 7 / 8, abs=1e-15)
    assert core.average_precision(positive, negative) == pytest.approx(0.75 * 0.75 + 0.25 * 4 / 7, abs=1e-15)
    assert core.best_fbeta_threshold(positive, negative, thresholds) == {
        "index": 0, "threshold": 0.5, "value": pytest.approx(6 / 8)
    }


def test_pr_auc_closed_form_on_two_thresholds():
    # Increasing thresholds: (TP, P) = (2, 4) -> (2, 3) -> (1, 1) -> (0, 0), with 2 positives.
    positive, negative = np.array([0.0, 1.0, 1.0]), np.array([1.0, 1.0, 0.0])
    expected = (0.5 * (1 + 0.5 * math.log(3)) + 1.0) / 2
    assert core.pr_auc(positive, negative) == pytest.approx(expected, abs=1e-15)


def test_step_summaries_match_the_single_functions(multiclass_data):
    labels, scores, weights = multiclass_data
    thresholds = np.linspace(0, 1, 101)
    positive, negative = histograms(label_binarize(labels, classes=range(4)) == 1, scores, thresholds, weights)
    summary = core.threshold_curves_summary(positive, negative, thresholds)
    for name, function in (("roc_auc", core.roc_auc), ("average_precision", core.average_precision),
                           ("pr_auc", core.pr_auc)):
        np.testing.assert_allclose(summary[name]["per_class"], function(positive, negative), rtol=0, atol=1e-15)
        for average in core.AVERAGES:
            assert summary[name][average] == pytest.approx(function(positive, negative, average=average), abs=1e-15)
    for average in (None, *core.AVERAGES):
        point = core.best_fbeta_threshold(positive, negative, thresholds, average=average)
        key = average or "per_class"
        np.testing.assert_allclose(summary["best_f1"][key], point["value"], rtol=0, atol=1e-15)
        np.testing.assert_array_equal(summary["best_f1_threshold"][key], point["threshold"])
    matrix_summary = core.confusion_matrix_summary(np.array([[3.0, 1.0], [0.0, 0.0]]))
    assert matrix_summary["accuracy"]["value"] == 0.75
    assert matrix_summary["mean_iou"]["value"] == 0.375  # class 1's IoU is 0 / 1: counted
    np.testing.assert_array_equal(matrix_summary["iou"]["per_class"], [0.75, 0.0])
    # Class 1 absent from truth and predictions: 0 / 0, left out of the mean (Keras' MeanIoU).
    assert core.confusion_matrix_summary(np.array([[3.0, 0.0], [0.0, 0.0]]))["mean_iou"]["value"] == 1.0


def test_json_safe_turns_nan_and_infinity_into_none():
    curve = core.roc_curve(np.zeros(2), np.ones(2), np.array([0.5]))
    safe = core.json_safe(curve)
    assert safe["thresholds"] == [None, 0.5, None]
    assert safe["tpr"] == [None, None, None]
    assert core.json_safe({"a": np.float32(0.5), "b": np.int64(3), "c": [math.nan]}) == {"a": 0.5, "b": 3, "c": [None]}


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="negative_histograms has shape"):
        core.roc_auc(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match=r"thresholds has shape \(3,\), expected \(2,\)"):
        core.roc_curve(np.ones(3), np.ones(3), np.array([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="average='mean'"):
        core.roc_auc(np.ones((2, 3)), np.ones((2, 3)), average="mean")
    with pytest.raises(ValueError, match="needs per-class histograms"):
        core.roc_auc(np.ones(3), np.ones(3), average="macro")
    with pytest.raises(ValueError, match="NaN or infinity"):
        core.roc_auc(np.array([1.0, np.nan]), np.ones(2))
    with pytest.raises(ValueError, match="cost_ratio"):
        core.min_cost_threshold(np.ones(3), np.ones(3), np.array([0.1, 0.2]), cost_ratio=-1)
