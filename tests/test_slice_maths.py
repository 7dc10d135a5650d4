"""The slice maths (fairness_intervals, fairness_thresholds) against independent references: Fairlearn's
MetricFrame and disparity metrics, statsmodels' two-sample proportion intervals, and brute force
over every combination of per-slice thresholds on small cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from fairlearn import metrics as fairlearn_metrics
from sklearn import metrics as sk
from statsmodels.stats.proportion import confint_proportions_2indep

from tb_metrics_plugin import core, fairness
from tb_metrics_plugin.fairness import GAP_RATES
from tb_metrics_plugin.fairness_intervals import (
    averaged_gap_intervals,
    averaged_rate_intervals,
    gap_intervals,
    katz_ratio_interval,
    matrix_gap_intervals,
    matrix_rate_intervals,
    newcombe_difference_interval,
    rate_intervals,
)
from tb_metrics_plugin.fairness_thresholds import CONSTRAINED_RATES, MODES, OBJECTIVES, slice_thresholds


def sliced_predictions(seed: int = 7, num_samples: int = 600):
    """Labels, 0/1 predictions and a slice key where the model is worse on slice "c"."""
    rng = np.random.default_rng(seed)
    groups = rng.choice(np.array(["a", "b", "c"]), size=num_samples, p=[0.5, 0.3, 0.2])
    labels = rng.integers(0, 2, size=num_samples)
    noise = np.where(groups == "c", 0.45, 0.2)
    predictions = np.where(rng.random(num_samples) < noise, 1 - labels, labels)
    return labels, predictions, groups


def counts_by_slice(labels, predictions, groups, names):
    tp, fp, tn, fn = (np.array([np.sum(m & (groups == g)) for g in names], dtype=float) for m in (
        (labels == 1) & (predictions == 1),
        (labels == 0) & (predictions == 1),
        (labels == 0) & (predictions == 0),
        (labels == 1) & (predictions == 0),
    ))
    return tp, fp, tn, fn


FAIRLEARN_RATES = {
    "tpr": fairlearn_metrics.true_positive_rate,
    "fpr": fairlearn_metrics.false_positive_rate,
    "fnr": fairlearn_metrics.false_negative_rate,
    "precision": lambda y, p: sk.precision_score(y, p, zero_division=0),
    "selection_rate": fairlearn_metrics.selection_rate,
    "accuracy": sk.accuracy_score,
}


def test_slice_rates_equal_fairlearn_metric_frame():
    labels, predictions, groups = sliced_predictions()
    frame = fairlearn_metrics.MetricFrame(
        metrics=FAIRLEARN_RATES, y_true=labels, y_pred=predictions, sensitive_features=groups
    )
    names = list(frame.by_group.index)
    rates = rate_intervals(*counts_by_slice(labels, predictions, groups, names))
    assert set(rates) == set(GAP_RATES)
    for rate in GAP_RATES:
        np.testing.assert_allclose(rates[rate]["value"], frame.by_group[rate].to_numpy(dtype=float), rtol=1e-12)
        low, high = core.wilson_interval(*_successes_trials(rates, rate))
        np.testing.assert_allclose(rates[rate]["low"], low)
        np.testing.assert_allclose(rates[rate]["high"], high)
        assert np.all(rates[rate]["low"] <= rates[rate]["value"])
        assert np.all(rates[rate]["value"] <= rates[rate]["high"])


def _successes_trials(rates, rate):
    trials = rates[rate]["trials"]
    return rates[rate]["value"] * trials, trials


@pytest.mark.parametrize(
    ("successes_a", "trials_a", "successes_b", "trials_b"),
    [(56, 70, 48, 80), (0, 10, 3, 10), (10, 10, 2, 15), (5, 56, 1, 29), (30, 31, 29, 30)],
)
def test_gap_intervals_equal_statsmodels(successes_a, trials_a, successes_b, trials_b):
    z = 1.959963984540054  # statsmodels' exact normal quantile for alpha = 0.05 (the tab uses 1.96)
    difference, low, high = newcombe_difference_interval(successes_a, trials_a, successes_b, trials_b, z)
    samples = (successes_a, trials_a, successes_b, trials_b)
    expected = confint_proportions_2indep(*samples, method="newcomb", compare="diff")
    assert difference == pytest.approx(successes_a / trials_a - successes_b / trials_b)
    assert (low, high) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    ratio, low, high = katz_ratio_interval(successes_a, trials_a, successes_b, trials_b, z)
    assert ratio == pytest.approx((successes_a / trials_a) / (successes_b / trials_b))
    if successes_a == 0:  # log interval undefined: statsmodels adds 0.5 to the cells, we say NaN
        assert math.isnan(low) and math.isnan(high) and ratio == 0
    else:
        expected = confint_proportions_2indep(*samples, method="log", compare="ratio")
        assert (low, high) == pytest.approx(expected, rel=1e-9)


def test_gaps_to_the_reference_slice():
    tp, fp, tn, fn = [40.0, 10.0, 0.0], [5.0, 5.0, 0.0], [50.0, 20.0, 0.0], [5.0, 10.0, 0.0]
    gaps = gap_intervals(tp, fp, tn, fn, reference=0)
    tpr = gaps["tpr"]
    assert tpr["difference"][0] == 0 and tpr["ratio"][0] == 1 and math.isnan(tpr["difference_low"][0])
    assert tpr["difference"][1] == pytest.approx(10 / 20 - 40 / 45)
    expected = newcombe_difference_interval(10, 20, 40, 45)
    assert (tpr["difference_low"][1], tpr["difference_high"][1]) == pytest.approx(expected[1:])
    assert tpr["ratio"][1] == pytest.approx((10 / 20) / (40 / 45))
    # The empty slice: every gap undefined, never a division by zero.
    for rate in GAP_RATES:
        assert all(math.isnan(gaps[rate][key][2]) for key in gaps[rate]), rate
    rates = rate_intervals(tp, fp, tn, fn)
    assert all(math.isnan(rates[rate]["value"][2]) for rate in GAP_RATES)
    assert math.isnan(rates["tpr"]["low"][2])


def test_a_rate_without_denominator_is_undefined_in_every_gap():
    """One convention: a slice without positives has no TPR (NaN, not the readout's 0), so its gaps
    in `fairness.gaps` and in `gap_intervals` are NaN and `largest_gap` leaves it out."""
    tp, fp, tn, fn = [8.0, 0.0, 5.0], [2.0, 3.0, 1.0], [20.0, 25.0, 10.0], [4.0, 0.0, 5.0]
    rates = fairness.slice_rates(tp, fp, tn, fn)
    assert math.isnan(rates["tpr"][1]) and math.isnan(rates["fnr"][1]) and rates["fpr"][1] == pytest.approx(3 / 28)
    values = dict(zip("abc", rates["tpr"].tolist(), strict=True))
    point_gaps = fairness.gaps(values, "a")
    assert math.isnan(point_gaps["b"]["difference"]) and math.isnan(point_gaps["b"]["ratio"])
    assert point_gaps["c"]["difference"] == pytest.approx(5 / 10 - 8 / 12)
    assert fairness.largest_gap(values) == ("c", "a", pytest.approx(8 / 12 - 5 / 10))
    interval_gaps = gap_intervals(tp, fp, tn, fn, reference=0)["tpr"]
    assert all(math.isnan(interval_gaps[key][1]) for key in interval_gaps)
    assert interval_gaps["difference"][2] == pytest.approx(point_gaps["c"]["difference"])
    assert all(math.isnan(values) for values in gap_intervals(tp, fp, tn, fn, reference=1)["tpr"]["difference"])


def multiclass_sliced_predictions(seed: int = 11, num_samples: int = 900, num_classes: int = 4):
    """Labels, argmax predictions and a slice key; the classifier confuses more on slice "c"."""
    rng = np.random.default_rng(seed)
    groups = rng.choice(np.array(["a", "b", "c"]), size=num_samples, p=[0.5, 0.3, 0.2])
    labels = rng.integers(0, num_classes, size=num_samples)
    wrong = rng.random(num_samples) < np.where(groups == "c", 0.5, 0.2)
    predictions = np.where(wrong, rng.integers(0, num_classes, size=num_samples), labels)
    return labels, predictions, groups


@pytest.mark.parametrize("class_index", [0, 2, None])
def test_matrix_rates_equal_scikit_learn_and_fairlearn_on_each_subset(class_index):
    labels, predictions, groups = multiclass_sliced_predictions()
    names = ["a", "b", "c"]
    matrices = np.stack([sk.confusion_matrix(labels[groups == g], predictions[groups == g], labels=range(4))
                         for g in names])
    rates = matrix_rate_intervals(matrices, class_index)
    assert set(rates) == set(GAP_RATES)
    for s, group in enumerate(names):
        truth, predicted = labels[groups == group], predictions[groups == group]
        assert rates["accuracy"]["value"][s] == pytest.approx(sk.accuracy_score(truth, predicted), rel=1e-12)
        if class_index is None:  # an average: per-class rates are not defined, accuracy is
            assert all(math.isnan(rates[rate]["value"][s]) for rate in GAP_RATES if rate != "accuracy")
            continue
        one_vs_rest_truth, one_vs_rest_predicted = truth == class_index, predicted == class_index
        expected = {
            "tpr": sk.recall_score(truth, predicted, labels=[class_index], average=None)[0],
            "precision": sk.precision_score(truth, predicted, labels=[class_index], average=None)[0],
            "fpr": fairlearn_metrics.false_positive_rate(one_vs_rest_truth, one_vs_rest_predicted),
            "fnr": fairlearn_metrics.false_negative_rate(one_vs_rest_truth, one_vs_rest_predicted),
            "selection_rate": fairlearn_metrics.selection_rate(one_vs_rest_truth, one_vs_rest_predicted),
        }
        for rate, value in expected.items():
            assert rates[rate]["value"][s] == pytest.approx(value, rel=1e-12), (rate, group)
    gaps = matrix_gap_intervals(matrices, class_index, reference=0)
    correct, total = np.trace(matrices, axis1=1, axis2=2), matrices.sum(axis=(1, 2))
    expected = newcombe_difference_interval(correct[2], total[2], correct[0], total[0])
    actual = (gaps["accuracy"]["difference"][2], gaps["accuracy"]["difference_low"][2],
              gaps["accuracy"]["difference_high"][2])
    assert actual == pytest.approx(tuple(float(x) for x in expected), rel=1e-12)


def test_matrix_rates_refuse_bad_input():
    with pytest.raises(ValueError, match="one C x C confusion matrix per slice"):
        matrix_rate_intervals(np.zeros((2, 3)), 0)
    with pytest.raises(ValueError, match="class_index=3"):
        matrix_rate_intervals(np.zeros((2, 3, 3)), 3)
    with pytest.raises(ValueError, match="finite counts >= 0"):
        matrix_gap_intervals(-np.ones((2, 3, 3)), 0, reference=0)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="reference=3"):
        gap_intervals([1, 2], [1, 2], [1, 2], [1, 2], reference=3)
    with pytest.raises(ValueError, match="one count per slice"):
        rate_intervals([1, 2], [1], [1, 2], [1, 2])
    hist = np.ones((2, 4))
    with pytest.raises(ValueError, match="mode='fair'"):
        slice_thresholds(hist, hist, [0.1, 0.5, 0.9], mode="fair")
    with pytest.raises(ValueError, match="tolerance=2"):
        slice_thresholds(hist, hist, [0.1, 0.5, 0.9], mode="equal_opportunity", tolerance=2)
    with pytest.raises(ValueError, match="align"):
        slice_thresholds(hist, hist, [[0.1, 0.5, 0.9]] * 2)


def objective_value(metrics, objective):
    """The optimiser's objective from core.threshold_metrics."""
    return {"fbeta": metrics["fbeta"], "accuracy": metrics["accuracy"], "youden": metrics["recall"] - metrics["fpr"]}[
        objective
    ]


def brute_force(positive, negative, mode, objective, tolerance, beta=1.0):
    """The best overall objective over every combination of per-slice indices, under `mode`'s
    constraint if it has one (None if infeasible)."""
    counts = [np.atleast_2d(c) for c in core.confusion_at_thresholds(positive, negative)]
    num_slices, num_thresholds = counts[0].shape
    active = [positive[s].sum() + negative[s].sum() > 0 for s in range(num_slices)]
    options = [range(num_thresholds) if active[s] else [-1] for s in range(num_slices)]
    best = None
    for combination in itertools.product(*options):
        pooled = [sum(c[s, k] for s, k in enumerate(combination) if k >= 0) for c in counts]
        metrics = core.threshold_metrics(*pooled, beta=beta)
        value = objective_value(metrics, objective)
        if mode in CONSTRAINED_RATES:
            rate_of = CONSTRAINED_RATES[mode][1]
            rates = []
            for s, k in enumerate(combination):
                successes, trials = rate_of(*(c[s, k] for c in counts)) if k >= 0 else (0, 0)
                if trials > 0:
                    rates.append(successes / trials)
            if rates and max(rates) - min(rates) > tolerance + 1e-12:
                continue
        if best is None or value > best:
            best = float(value)
    return best


def random_slices(seed: int, num_slices: int = 3, num_bins: int = 6, empty: int | None = None):
    rng = np.random.default_rng(seed)
    ramp = np.linspace(-1, 1, num_bins)
    positive = rng.poisson(2 * np.exp(rng.uniform(0.5, 2, (num_slices, 1)) * ramp)).astype(float)
    negative = rng.poisson(2 * np.exp(-rng.uniform(0.5, 2, (num_slices, 1)) * ramp)).astype(float)
    if empty is not None:
        positive[empty] = negative[empty] = 0
    thresholds = np.linspace(0.1, 0.9, num_bins - 1)
    return positive, negative, thresholds


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("mode", ["single", *CONSTRAINED_RATES])
def test_optimiser_equals_brute_force(seed, objective, mode):
    positive, negative, thresholds = random_slices(seed, empty=2 if seed == 5 else None)
    tolerance = [0.0, 0.05, 0.1, 0.2, 0.3, 1.0][seed]
    result = slice_thresholds(positive, negative, thresholds, mode=mode, objective=objective, tolerance=tolerance)
    if mode == "single":
        unconstrained = brute_force(positive, negative, "unconstrained", objective, 1.0)
        pooled = [np.sum(c, axis=0) for c in core.confusion_at_thresholds(positive, negative)]
        metrics = core.threshold_metrics(*pooled)
        per_threshold = objective_value(metrics, objective)
        assert result["value"] == pytest.approx(np.nanmax(per_threshold), abs=1e-12)
        assert result["value"] <= unconstrained + 1e-12
        assert len(set(k for k in result["indices"] if k >= 0)) <= 1
        return
    expected = brute_force(positive, negative, mode, objective, tolerance)
    if expected is None:
        assert not result["feasible"] and math.isnan(result["value"])
        return
    assert result["feasible"]
    assert result["value"] == pytest.approx(expected, abs=1e-12)
    assert result["cost"] == pytest.approx(result["single"]["value"] - result["value"], abs=1e-15)
    defined = result["rates"][~np.isnan(result["rates"])]
    assert defined.max() - defined.min() <= tolerance + 1e-12
    if seed == 5:
        assert result["indices"][2] == -1 and math.isnan(result["thresholds"][2])


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_a_constraint_no_slice_can_break_leaves_the_choice_free(objective):
    """No slice has positives: equal opportunity constrains nothing, so the optimum is the free one
    (it used to be reported infeasible)."""
    positive, negative, thresholds = random_slices(2)
    positive = np.zeros_like(positive)
    result = slice_thresholds(positive, negative, thresholds, mode="equal_opportunity", objective=objective)
    assert result["feasible"]
    assert result["value"] == pytest.approx(brute_force(positive, negative, "unconstrained", objective, 1.0), abs=1e-12)
    assert np.isnan(result["rates"]).all()


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_per_slice_mode_maximises_each_slice(objective):
    positive, negative, thresholds = random_slices(3, num_slices=4)
    result = slice_thresholds(positive, negative, thresholds, mode="per_slice", objective=objective)
    for s, k in enumerate(result["indices"]):
        own = brute_force(positive[s : s + 1], negative[s : s + 1], "unconstrained", objective, 1.0)
        metrics = core.threshold_metrics(*core.counts_at_index(positive[s], negative[s], k))
        value = objective_value(metrics, objective)
        assert float(value) == pytest.approx(own, abs=1e-12)
        assert result["thresholds"][s] == thresholds[k]


def test_linear_objectives_per_slice_equals_unconstrained():
    """Accuracy is additive over slices, so per-slice maxima are the overall maximum: cost ≤ 0."""
    positive, negative, thresholds = random_slices(4, num_slices=3)
    per_slice = slice_thresholds(positive, negative, thresholds, mode="per_slice", objective="accuracy")
    assert per_slice["value"] == pytest.approx(brute_force(positive, negative, "unconstrained", "accuracy", 1.0))
    assert per_slice["cost"] <= 1e-15
    assert set(MODES) == {"single", "per_slice", *CONSTRAINED_RATES}


@pytest.mark.parametrize("average", ["macro", "weighted"])
def test_averaged_rates_equal_scikit_learn_on_each_subset(average):
    """Macro / weighted rates per slice from the classes' one-vs-rest counts equal scikit-learn's
    averages on the slice's subset; the interval is the stated Wald one of the weighted mean."""
    labels, predictions, groups = multiclass_sliced_predictions()
    names = ["a", "b", "c"]
    matrices = np.stack([sk.confusion_matrix(labels[groups == g], predictions[groups == g], labels=range(4))
                         for g in names])
    tp, fp, tn, fn = fairness.matrix_class_counts(matrices)
    rates = averaged_rate_intervals(tp, fp, tn, fn, average)
    gaps = averaged_gap_intervals(tp, fp, tn, fn, average, reference=0)
    for s, group in enumerate(names):
        truth, predicted = labels[groups == group], predictions[groups == group]
        assert rates["tpr"]["value"][s] == pytest.approx(sk.recall_score(truth, predicted, average=average), rel=1e-12)
        assert rates["precision"]["value"][s] == pytest.approx(
            sk.precision_score(truth, predicted, average=average), rel=1e-12)
        recalls = sk.recall_score(truth, predicted, average=None)
        weights = np.ones(4) if average == "macro" else np.bincount(truth, minlength=4).astype(float)
        weights /= weights.sum()
        support = np.bincount(truth, minlength=4)
        se = math.sqrt(np.sum(weights**2 * recalls * (1 - recalls) / support))
        assert rates["tpr"]["se"][s] == pytest.approx(se, rel=1e-12)
        assert rates["tpr"]["low"][s] == pytest.approx(max(0.0, recalls @ weights - 1.96 * se), rel=1e-12)
    difference = rates["fpr"]["value"][2] - rates["fpr"]["value"][0]
    spread = 1.96 * math.hypot(rates["fpr"]["se"][2], rates["fpr"]["se"][0])
    assert (gaps["fpr"]["difference"][2], gaps["fpr"]["difference_low"][2], gaps["fpr"]["difference_high"][2]) == \
        pytest.approx((difference, difference - spread, difference + spread), rel=1e-12)
    assert gaps["tpr"]["difference"][0] == 0 and math.isnan(gaps["tpr"]["difference_low"][0])


def test_averaged_rates_leave_out_undefined_classes_and_refuse_bad_input():
    # Class 1 has no positives in slice 0: its TPR is left out of the macro mean there (as
    # balanced accuracy leaves it out); an empty slice has no average at all.
    tp, fp, tn, fn = [[4.0, 0.0], [0.0, 0.0]], [[1.0, 2.0], [0.0, 0.0]], [[5.0, 8.0], [0.0, 0.0]], [[1.0, 0.0], [0, 0]]
    rates = averaged_rate_intervals(tp, fp, tn, fn, "macro")
    assert rates["tpr"]["value"][0] == pytest.approx(0.8) and math.isnan(rates["tpr"]["value"][1])
    assert math.isnan(averaged_gap_intervals(tp, fp, tn, fn, "macro", reference=0)["tpr"]["difference"][1])
    with pytest.raises(ValueError, match="average='micro'"):
        averaged_rate_intervals(tp, fp, tn, fn, "micro")
    with pytest.raises(ValueError, match=r"pass \(S, C\) each"):
        averaged_rate_intervals([1, 2], [1, 2], [1, 2], [1, 2], "macro")
