"""Slices written by the numpy writers, against independent references on each slice's subset:
scikit-learn's ROC-AUC, average precision and confusion matrix, and Fairlearn's by-group rates and
its demographic parity / equalized odds differences. Bad slice input gets a ValueError naming it."""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn import metrics as flm
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from tensorboard.util import tensor_util

from tb_metrics_plugin import core, fairness, layout, metadata, slices, summary


def decoded_values(summary_proto) -> dict[str, tuple[metadata.PluginData, object]]:
    """{tag: (PluginData, decoded counts)} of every value of a `Summary`."""
    found = {}
    for value in summary_proto.value:
        plugin_data = metadata.parse_plugin_metadata(value.metadata.plugin_data.content)
        found[value.tag] = (plugin_data, layout.decode(tensor_util.make_ndarray(value.tensor), plugin_data))
    return found


def binary_data(seed: int = 0, n: int = 600):
    """Binary labels, scores whose quality differs by group, a string and an integer slice key."""
    rng = np.random.default_rng(seed)
    group = rng.choice(np.array(["female", "male", "other"]), size=n, p=[0.45, 0.45, 0.1])
    site = rng.integers(1, 12, size=n)  # 1..11: "10" and "11" sort after "2" numerically
    labels = rng.integers(0, 2, size=n)
    noise = np.where(group == "female", 0.15, np.where(group == "male", 0.35, 0.5))
    scores = np.clip(labels * 0.5 + 0.25 + rng.normal(0, 1, n) * noise, 0, 1).astype(np.float32)
    return labels, scores, group, site


def test_overall_value_unchanged_and_one_value_per_slice():
    labels, scores, group, site = binary_data()
    plain = summary.threshold_curves_pb("curves", labels, scores)
    sliced = summary.threshold_curves_pb("curves", labels, scores, slices={"sex": group, "site": site})
    assert sliced.value[0] == plain.value[0]
    tags = [value.tag for value in sliced.value]
    expected_sites = [f"curves/site={s}" for s in sorted(set(site.tolist()))]
    assert tags == ["curves", "curves/sex=female", "curves/sex=male", "curves/sex=other", *expected_sites]
    found = decoded_values(sliced)
    assert found["curves"][0].slice is None
    assert found["curves/site=10"][0].slice == metadata.SliceInfo("curves", "site", "10")
    assert found["curves/site=10"][0].to_json()["slice"] == {"parent": "curves", "key": "site", "value": "10"}
    assert "slice" not in found["curves"][0].to_json()


@pytest.mark.parametrize("exact", [True, False])
def test_per_slice_curves_equal_scikit_learn_on_the_subset(exact):
    labels, scores, group, site = binary_data(seed=1)
    weights = np.random.default_rng(2).uniform(0.5, 2.0, len(labels))
    found = decoded_values(summary.threshold_curves_pb(
        "curves", labels, scores, sample_weight=weights, exact=exact, slices={"sex": group, "site": site}))
    tolerance = 1e-9 if exact else 2e-3
    for key, values in (("sex", group), ("site", site)):
        for value in np.unique(values):
            subset = values == value
            _, counts = found[f"curves/{key}={value}"]
            assert bool(counts.exact[0]) == exact  # a slice of <= 600 samples is exact when allowed
            y, s, w = labels[subset], scores[subset], weights[subset]
            if len(np.unique(y)) == 2:
                assert core.roc_auc(counts.positive_histograms, counts.negative_histograms)[0] == pytest.approx(
                    skm.roc_auc_score(y, s, sample_weight=w), abs=tolerance)
                assert core.average_precision(counts.positive_histograms, counts.negative_histograms)[0] == \
                    pytest.approx(skm.average_precision_score(y, s, sample_weight=w), abs=tolerance * 5)
            tp, fp, tn, fn = (float(v[0]) for v in fairness.counts_at_threshold(counts, 0.5))
            threshold = 0.5 if exact else float(counts.thresholds[core.threshold_index(counts.thresholds, 0.5)])
            (sk_tn, sk_fp), (sk_fn, sk_tp) = skm.confusion_matrix(y, s > np.float32(threshold), labels=[0, 1],
                                                                  sample_weight=w)
            assert (tp, fp, tn, fn) == pytest.approx((sk_tp, sk_fp, sk_tn, sk_fn), rel=1e-12)


def test_each_slice_is_exact_or_grid_by_its_own_scores():
    rng = np.random.default_rng(3)
    n_large = 5000  # more distinct scores than exact mode keeps for one class (3,840): grid overall
    labels = rng.integers(0, 2, n_large + 50)
    scores = rng.random(n_large + 50).astype(np.float32)
    group = np.array(["big"] * n_large + ["small"] * 50)
    found = decoded_values(summary.threshold_curves_pb("curves", labels, scores, slices={"g": group}))
    assert not found["curves"][1].exact[0]
    assert not found["curves/g=big"][1].exact[0]
    small = found["curves/g=small"][1]
    assert small.exact[0]
    np.testing.assert_array_equal(small.thresholds[0][np.isfinite(small.thresholds[0])], np.unique(scores[n_large:]))


def test_multiclass_confusion_per_slice_equals_scikit_learn():
    rng = np.random.default_rng(4)
    n, classes = 500, 4
    labels = rng.integers(0, classes, n)
    logits = rng.normal(size=(n, classes)) + 2.0 * np.eye(classes)[labels]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    site = rng.integers(0, 3, n)
    found = decoded_values(summary.confusion_matrix_pb("cm", labels, probabilities, slices={"site": site}))
    assert found["cm/site=0"][0].decision == "argmax"
    total = np.zeros((classes, classes))
    for value in range(3):
        subset = site == value
        matrix = found[f"cm/site={value}"][1].matrix
        np.testing.assert_array_equal(matrix, skm.confusion_matrix(
            labels[subset], probabilities[subset].argmax(axis=1), labels=range(classes)))
        total += matrix
    np.testing.assert_array_equal(total, found["cm"][1].matrix)  # the slices partition the samples


def test_segmentation_slices_follow_samples_and_ignore_class():
    rng = np.random.default_rng(5)
    n, h, w, classes = 12, 4, 5, 3
    labels = rng.integers(0, classes + 1, (n, h, w))  # label 3 is ignored
    probabilities = rng.dirichlet(np.ones(classes), (n, h, w))
    camera = np.array(["a", "b", "c"] * 4)
    sliced = decoded_values(summary.threshold_curves_pb(
        "seg", labels, probabilities, ignore_class=3, slices={"camera": camera}))
    for value in "abc":
        subset = camera == value
        alone = decoded_values(
            summary.threshold_curves_pb("seg", labels[subset], probabilities[subset], ignore_class=3))
        np.testing.assert_array_equal(sliced[f"seg/camera={value}"][1].positive_histograms,
                                      alone["seg"][1].positive_histograms)
        kept = labels[subset] != 3
        for c in range(classes):
            _, counts = sliced[f"seg/camera={value}"]
            tp, fp, tn, fn = core.counts_at_index(counts.positive_histograms[c], counts.negative_histograms[c], -1)
            assert tp == np.sum(labels[subset][kept] == c) and fp == np.sum(labels[subset][kept] != c)


def test_an_empty_slice_is_written_with_zero_counts_and_reads_without_division_by_zero():
    labels, scores, group, _ = binary_data(seed=6, n=90)
    weights = np.where(group == "other", 0.0, 1.0)
    found = decoded_values(summary.threshold_curves_pb(
        "curves", labels, scores, sample_weight=weights, slices={"sex": group}))
    _, empty = found["curves/sex=other"]
    assert empty.positive_histograms.sum() == 0 and empty.negative_histograms.sum() == 0
    rates = fairness.slice_rates(*fairness.counts_at_threshold(empty, 0.5))
    assert all(np.isnan(rates[rate]) for rate in fairness.GAP_RATES)  # nothing counted: no rate is defined
    cm = decoded_values(summary.confusion_matrix_pb("cm", labels, scores, sample_weight=weights, slices={"sex": group}))
    assert cm["cm/sex=other"][1].matrix.sum() == 0
    assert np.isnan(core.matrix_metrics(cm["cm/sex=other"][1].matrix)["accuracy"])


def test_fairness_rates_and_gaps_equal_fairlearn():
    labels, scores, group, _ = binary_data(seed=7, n=2000)
    found = decoded_values(summary.threshold_curves_pb("curves", labels, scores, slices={"sex": group}))
    predicted = (scores > np.float32(0.5)).astype(int)
    frame = flm.MetricFrame(
        metrics={"tpr": flm.true_positive_rate, "fpr": flm.false_positive_rate,
                 "selection_rate": flm.selection_rate, "accuracy": skm.accuracy_score,
                 "precision": skm.precision_score},
        y_true=labels, y_pred=predicted, sensitive_features=group)
    ours = {}
    for value in ("female", "male", "other"):
        rates = fairness.slice_rates(*fairness.counts_at_threshold(found[f"curves/sex={value}"][1], 0.5))
        ours[value] = {name: float(rate[0]) for name, rate in rates.items()}
        for name in ("tpr", "fpr", "selection_rate", "accuracy", "precision"):
            assert ours[value][name] == pytest.approx(frame.by_group.loc[value, name], abs=1e-12)
    selection = {value: ours[value]["selection_rate"] for value in ours}
    assert fairness.largest_gap(selection)[2] == pytest.approx(
        flm.demographic_parity_difference(labels, predicted, sensitive_features=group), abs=1e-12)
    odds = max(fairness.largest_gap({v: ours[v][rate] for v in ours})[2] for rate in ("tpr", "fpr"))
    assert odds == pytest.approx(
        flm.equalized_odds_difference(labels, predicted, sensitive_features=group), abs=1e-12)
    ratio = fairness.gaps(selection, "female")["male"]["ratio"]
    assert ratio == pytest.approx(frame.by_group.loc["male", "selection_rate"]
                                  / frame.by_group.loc["female", "selection_rate"], rel=1e-12)


def test_largest_gap_to_a_reference_slice():
    assert fairness.largest_gap({"a": 0.9, "b": 0.7, "c": 0.95}, reference="c") == ("c", "b", pytest.approx(0.25))
    assert fairness.largest_gap({"a": 0.9, "b": float("nan")}) is None
    with pytest.raises(ValueError, match="reference='z'"):
        fairness.gaps({"a": 0.9}, "z")


@pytest.mark.parametrize(("bad_slices", "message"), [
    (["f", "m"], "slices must be a dict"),
    ({"": ["f"] * 4}, "slices key '' must be a non-empty string"),
    ({"a/b": ["f"] * 4}, "without '/' or '='"),
    ({"a=b": ["f"] * 4}, "without '/' or '='"),
    ({3: ["f"] * 4}, "slices key 3"),
    ({"sex": ["f"] * 3}, r"slices\['sex'\] has shape \(3,\) but there are 4 samples"),
    ({"sex": [["f"] * 4]}, r"has shape \(1, 4\)"),
    ({"sex": "ffff"}, "one value per sample"),
    ({"age": [1.0, 2.0, 1.0, 2.0]}, r"holds 1.0 \(float\)"),
    ({"age": np.array([1.0, 2.0, 1.0, 2.0])}, "holds floats"),
    ({"age": [1, 2, np.nan, 2]}, "holds nan"),
    ({"sex": ["f", None, "m", "f"]}, "holds None"),
    ({"sex": ["f", float("nan"), "m", "f"]}, "holds nan"),
    ({"flag": [True, False, True, True]}, r"holds True \(bool\)"),
    ({"flag": np.array([True, False, True, True])}, "holds booleans"),
    ({"flag": np.array([True, False, True, True], dtype=object)}, "holds True"),
    ({"raw": [b"f", b"m", b"f", b"m"]}, "holds b'f'"),
    ({"raw": np.array([b"f", b"m", b"f", b"m"])}, "holds bytes"),
])
def test_bad_slices_raise_value_error_naming_the_argument(bad_slices, message):
    labels, scores = [0, 1, 1, 0], [0.1, 0.8, 0.6, 0.3]
    with pytest.raises(ValueError, match=message):
        summary.threshold_curves_pb("curves", labels, scores, slices=bad_slices)
    with pytest.raises(ValueError, match=message):
        summary.confusion_matrix_pb("cm", labels, scores, slices=bad_slices)


def test_more_than_max_slice_values_is_refused():
    n = slices.MAX_SLICE_VALUES + 1
    labels, scores = np.arange(n) % 2, np.linspace(0, 1, n)
    with pytest.raises(ValueError, match=r"101 distinct values, more than MAX_SLICE_VALUES=100"):
        summary.threshold_curves_pb("curves", labels, scores, slices={"id": np.arange(n)})
    written = summary.threshold_curves_pb("curves", labels[:-1], scores[:-1], slices={"id": np.arange(n - 1)})
    assert len(written.value) == 1 + slices.MAX_SLICE_VALUES


def test_mixed_integer_and_string_values_are_text_sorted_as_strings():
    keys = slices.prepare_slices({"site": np.array([10, "2", 1, "2"], dtype=object)}, 4)
    assert keys[0].values == ("1", "10", "2")
    assert keys[0].codes.tolist() == [1, 2, 0, 2]
    numeric = slices.prepare_slices({"site": [10, 2, 1, 2]}, 4)
    assert numeric[0].values == ("1", "2", "10")


@pytest.mark.parametrize("damaged", [
    '{"parent":"t","key":"k/x","value":"v"}', '{"parent":"t","key":"k","value":3}',
    '{"parent":"","key":"k","value":"v"}', '"k=v"',
])
def test_metadata_refuses_a_damaged_slice_field(damaged):
    content = '{"version":2,"kind":"confusion_matrix","class_names":["a","b"],"slice":' + damaged + "}"
    with pytest.raises(metadata.UnsupportedFormatError, match="slice"):
        metadata.parse_plugin_metadata(content.encode())


@settings(max_examples=40, deadline=None)
@given(
    num_samples=st.integers(1, 60),
    num_columns=st.sampled_from([1, 3]),
    num_values=st.integers(1, 5),
    weighted=st.booleans(),
    ignore=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_slices_partition_the_overall_counts(num_samples, num_columns, num_values, weighted, ignore, seed):
    """On the grid, the slices' histograms and matrices add up to the overall ones, whatever the
    data: every counted item is in exactly one slice, and ignored or zero-weight items in none."""
    rng = np.random.default_rng(seed)
    if num_columns == 1:
        labels, scores = rng.integers(0, 2, num_samples), rng.random(num_samples)
        ignore_class = None
    else:
        labels = rng.integers(0, num_columns + (1 if ignore else 0), num_samples)
        scores = rng.dirichlet(np.ones(num_columns), num_samples)
        ignore_class = num_columns if ignore else None
    if ignore_class is not None and np.all(labels == ignore_class):
        labels[0] = 0
    weights = rng.choice([0.0, 0.5, 2.0], num_samples) if weighted else None
    if weights is not None and not weights[labels != (ignore_class if ignore_class is not None else -1)].any():
        weights[np.flatnonzero(labels != (ignore_class if ignore_class is not None else -1))[0]] = 1.0
    codes = rng.integers(0, num_values, num_samples)
    kwargs = {"sample_weight": weights, "ignore_class": ignore_class, "slices": {"k": codes}}
    curves = decoded_values(summary.threshold_curves_pb("c", labels, scores, exact=False, **kwargs))
    overall = curves.pop("c")[1]
    assert set(curves) == {f"c/k={value}" for value in np.unique(codes)}
    np.testing.assert_allclose(sum(counts.positive_histograms for _, counts in curves.values()),
                               overall.positive_histograms, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sum(counts.negative_histograms for _, counts in curves.values()),
                               overall.negative_histograms, rtol=1e-12, atol=1e-12)
    matrices = decoded_values(summary.confusion_matrix_pb("m", labels, scores, **kwargs))
    np.testing.assert_allclose(sum(m.matrix for tag, (_, m) in matrices.items() if tag != "m"),
                               matrices["m"][1].matrix, rtol=1e-12, atol=1e-12)


def test_pandas_series_and_categoricals_are_slice_values():
    import pandas as pd

    labels, scores = [0, 1, 1, 0], [0.1, 0.8, 0.6, 0.3]
    written = decoded_values(summary.threshold_curves_pb("c", labels, scores, slices={
        "sex": pd.Series(["f", "m", "f", "m"]), "site": pd.Categorical([3, 1, 3, 1]),
        "age": pd.Series([30, 40, 30, 40], dtype="int64")}))
    assert set(written) == {"c", "c/sex=f", "c/sex=m", "c/site=1", "c/site=3", "c/age=30", "c/age=40"}
    with pytest.raises(ValueError, match=r"slices\['sex'\] holds (nan|None)"):  # pandas may store None as NaN
        summary.threshold_curves_pb("c", labels, scores, slices={"sex": pd.Series(["f", None, "f", "m"])})
