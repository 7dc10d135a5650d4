"""Grid counts against independent references: scikit-learn, Keras' confusion metrics and brute force.

The writers here count on the grid (`exact=False`); exact mode is tested in test_format_versions.py.
"""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from tensorboard.util import tensor_util

from tb_metrics_plugin import core, counting, inputs, layout, metadata, summary
from tb_metrics_plugin import thresholds as thresholds_module

F32 = np.float32
# The grid path of the numpy writer: every class counted on the threshold grid.
grid_curves_pb = functools.partial(summary.threshold_curves_pb, exact=False)


def stored_dtypes(tensor, kind) -> dict[str, str]:
    """{array name: dtype} of a version-2 blob: how the counts were stored."""
    names = layout.MATRIX_ARRAYS if kind == metadata.KIND_CONFUSION_MATRIX else layout.CURVE_ARRAYS
    return {name: array.dtype.name for name, array in layout._unpack(tensor, kind, names).items()}


def decode_pb(summary_proto):
    """(PluginData, decoded counts, raw ndarray) of a one-value `Summary`."""
    (value,) = summary_proto.value
    plugin_data = metadata.parse_plugin_metadata(value.metadata.plugin_data.content)
    tensor = tensor_util.make_ndarray(value.tensor)
    return plugin_data, layout.decode(tensor, plugin_data), tensor


def counts_of(summary_proto, curve: int = 0):
    """(tp, fp, tn, fn, thresholds) of one curve of a threshold-curve `Summary`."""
    _, decoded, _ = decode_pb(summary_proto)
    tp, fp, tn, fn = core.confusion_at_thresholds(
        decoded.positive_histograms[curve], decoded.negative_histograms[curve]
    )
    return tp, fp, tn, fn, decoded.thresholds


def sklearn_counts_at(y, scores, thresholds, sample_weight=None):
    """TP, FP, TN, FN of `score > t` for each t, from scikit-learn's `score >= s_i` counts.

    sklearn returns counts at each distinct score s_i (decreasing); `score > t` equals `score >= s`
    for s the smallest distinct score strictly greater than t (no such s: nothing is positive).
    """
    tns, fps, fns, tps, distinct = skm.confusion_matrix_at_thresholds(y, scores, sample_weight=sample_weight)
    positives, negatives = tps[-1], fps[-1]
    assert np.all(np.diff(distinct) < 0)
    # Number of distinct scores > t; they are the first entries of the decreasing `distinct`.
    above = np.searchsorted(-distinct, -np.asarray(thresholds, dtype=np.float64), side="left")
    tp = np.where(above > 0, tps[np.maximum(above - 1, 0)], 0.0)
    fp = np.where(above > 0, fps[np.maximum(above - 1, 0)], 0.0)
    return tp, fp, negatives - fp, positives - tp


def brute_force(is_positive, scores, thresholds, weights=None):
    """(C, T) counts from the N×C×T comparison `scores > thresholds`."""
    weights = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=np.float64)
    above = scores[:, :, None] > np.asarray(thresholds, dtype=F32)[None, None, :]
    pos = is_positive[:, :, None]
    w = weights[:, None, None]
    tp = np.sum(w * (above & pos), axis=0)
    fp = np.sum(w * (above & ~pos), axis=0)
    fn = np.sum(w * (~above & pos), axis=0)
    tn = np.sum(w * (~above & ~pos), axis=0)
    return tp, fp, tn, fn


def _scores_with_ties(rng, n, thresholds):
    """float32 scores in [0, 1] with exact threshold values, their neighbours and many ties."""
    thresholds = np.asarray(thresholds, dtype=F32)
    special = np.concatenate([
        thresholds,
        np.nextafter(thresholds, F32(2)),
        np.nextafter(thresholds, F32(-1)),
        np.array([0, 1, 0.5], dtype=F32),
    ])
    special = special[(special >= 0) & (special <= 1)]
    scores = rng.random(n).astype(F32)
    scores[: len(special)] = special
    scores[len(special) : len(special) + n // 4] = np.round(scores[len(special) : len(special) + n // 4] * 20) / 20
    return rng.permutation(scores).astype(F32)


# --- scikit-learn -------------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("grid", ["default", "explicit"])
def test_binary_counts_equal_sklearn(weighted, grid):
    rng = np.random.default_rng(1)
    explicit = [0.0, 0.05, 0.1, 0.25, 0.3, 0.5, 0.7, 0.9, 0.95, 1.0]
    grid_values = thresholds_module.default_thresholds() if grid == "default" else np.asarray(explicit, F32)
    scores = _scores_with_ties(rng, 20_000, grid_values)
    labels = (rng.random(len(scores)) < scores).astype(np.int64)
    weights = rng.uniform(0.0, 3.0, len(scores)) if weighted else None
    pb = grid_curves_pb(
        "t", labels, scores, sample_weight=weights, thresholds=None if grid == "default" else explicit
    )
    tp, fp, tn, fn, thresholds = counts_of(pb)
    assert np.array_equal(thresholds, grid_values)
    ref = sklearn_counts_at(labels, scores, thresholds, weights)
    for ours, theirs in zip((tp, fp, tn, fn), ref, strict=True):
        if weighted:  # same sums in a different order
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-9)
        else:
            assert np.array_equal(ours, theirs)
    # Every score exactly at a threshold is not counted as above it.
    assert tp[0] + fp[0] == pytest.approx(np.sum((scores > 0) * (1 if weights is None else weights)), rel=1e-12)


def test_all_scores_tied_on_a_threshold():
    labels = np.array([0, 1, 1, 0, 1])
    scores = np.full(5, 0.5, dtype=F32)
    pb = grid_curves_pb("t", labels, scores, thresholds=[0.25, 0.5, 0.75])
    tp, fp, tn, fn, thresholds = counts_of(pb)
    assert tp.tolist() == [3, 0, 0] and fp.tolist() == [2, 0, 0]
    assert tn.tolist() == [0, 2, 2] and fn.tolist() == [0, 3, 3]
    ref = sklearn_counts_at(labels, scores, thresholds)
    assert all(np.array_equal(a, b) for a, b in zip((tp, fp, tn, fn), ref, strict=True))


def test_multiclass_one_vs_rest_counts_and_confusion_matrix_equal_sklearn():
    rng = np.random.default_rng(2)
    n, c = 6000, 4
    logits = rng.normal(size=(n, c)) * 3
    labels = rng.integers(0, c, n)
    logits[np.arange(n), labels] += 2
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    probs = probs.astype(F32)
    probs[:50] = np.round(probs[:50] * 4) / 4  # ties, and argmax ties (first wins, as np.argmax)
    weights = rng.integers(0, 5, n).astype(np.float64)
    names = ["cat", "dog", "bird", "fish"]
    pb = grid_curves_pb("t", labels, probs, sample_weight=weights, class_names=names)
    plugin_data, decoded, _ = decode_pb(pb)
    assert plugin_data.class_names == tuple(names)
    for k in range(c):
        ours = core.confusion_at_thresholds(decoded.positive_histograms[k], decoded.negative_histograms[k])
        ref = sklearn_counts_at(labels == k, probs[:, k], decoded.thresholds, weights)
        for a, b in zip(ours, ref, strict=True):
            assert np.array_equal(a, b)  # integer weights: exact in both
    cm_pb = summary.confusion_matrix_pb("cm", labels, probs, sample_weight=weights, class_names=names)
    cm_data, cm, _ = decode_pb(cm_pb)
    assert cm_data.kind == metadata.KIND_CONFUSION_MATRIX and cm_data.decision == "argmax"
    reference = skm.confusion_matrix(labels, np.argmax(probs, axis=1), labels=range(c), sample_weight=weights)
    assert np.array_equal(cm.matrix, reference)


def test_binary_confusion_matrix_uses_score_above_threshold():
    rng = np.random.default_rng(3)
    scores = _scores_with_ties(rng, 3000, [0.5, 0.3])
    labels = rng.integers(0, 2, len(scores))
    for threshold in (0.5, 0.3):
        plugin_data, cm, _ = decode_pb(summary.confusion_matrix_pb("cm", labels, scores, threshold=threshold))
        assert plugin_data.decision == f"score > {threshold:g}"
        assert plugin_data.class_names == ("negative", "positive")
        predicted = (scores > F32(threshold)).astype(int)
        assert np.array_equal(cm.matrix, skm.confusion_matrix(labels, predicted, labels=[0, 1]))


def test_segmentation_with_ignore_class_equals_flattened_reference():
    rng = np.random.default_rng(4)
    n, h, w, c = 3, 17, 13, 5
    logits = rng.normal(size=(n, h, w, c)).astype(np.float32)
    labels = rng.integers(0, c, (n, h, w))
    labels[rng.random((n, h, w)) < 0.2] = 255
    per_image_weight = np.array([1.0, 0.5, 2.0])
    kwargs = dict(from_logits=True, ignore_class=255, sample_weight=per_image_weight)
    pb = grid_curves_pb("seg", labels, logits, **kwargs)
    cm_pb = summary.confusion_matrix_pb("seg_cm", labels, logits, **kwargs)

    flat_logits = logits.reshape(-1, c).astype(np.float64)
    flat_labels = labels.reshape(-1)
    flat_weights = np.repeat(per_image_weight, h * w)
    keep = flat_labels != 255
    flat_logits, flat_labels, flat_weights = flat_logits[keep], flat_labels[keep], flat_weights[keep]
    probs = np.exp(flat_logits - flat_logits.max(1, keepdims=True))
    probs = (probs / probs.sum(1, keepdims=True)).astype(F32)

    _, decoded, _ = decode_pb(pb)
    assert decoded.positive_histograms.sum() + decoded.negative_histograms.sum() == c * flat_weights.sum()
    for k in range(c):
        ours = core.confusion_at_thresholds(decoded.positive_histograms[k], decoded.negative_histograms[k])
        ref = sklearn_counts_at(flat_labels == k, probs[:, k], decoded.thresholds, flat_weights)
        for a, b in zip(ours, ref, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-9)
    cm_data, cm, _ = decode_pb(cm_pb)
    assert cm_data.ignore_class == 255
    reference = skm.confusion_matrix(flat_labels, probs.argmax(1), labels=range(c), sample_weight=flat_weights)
    np.testing.assert_allclose(cm.matrix, reference, rtol=1e-12)
    assert cm.matrix.sum() == flat_weights.sum()


# --- Keras ----------------------------------------------------------------------------------------


def _keras_counts(labels, scores, thresholds, sample_weight):
    import keras

    out = []
    for metric_class in (
        keras.metrics.TruePositives, keras.metrics.FalsePositives,
        keras.metrics.TrueNegatives, keras.metrics.FalseNegatives,
    ):
        metric = metric_class(thresholds=[float(t) for t in thresholds])
        metric.update_state(labels.astype(F32), scores, sample_weight=sample_weight)
        out.append(np.asarray(metric.result(), dtype=np.float64).reshape(-1))
    return out


@pytest.mark.parametrize(
    "thresholds",
    [
        [0.5],
        [0.1, 0.3, 0.5, 0.7, 0.9],
        [0.0, 0.2, 1 / 3, 0.6, 0.9999999, 1.0],
        [1e-7, 1e-3, 0.5, 0.999, 1 - 1e-7],
    ],
    ids=["one", "five", "with_ends", "extremes"],
)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_explicit_thresholds_identical_to_keras(thresholds, weighted):
    rng = np.random.default_rng(5)
    scores = _scores_with_ties(rng, 5000, thresholds)
    # TensorFlow flushes denormal float32 to zero on CPU (so Keras sees 1e-45 as 0, not > 0); this
    # package compares the IEEE values. Keep denormals out of the Keras comparison.
    scores[(scores > 0) & (scores < np.finfo(F32).tiny)] = 0
    labels = rng.integers(0, 2, len(scores))
    # Multiples of 1/4: every partial sum is exact in Keras' float32 variables and in our float64.
    weights = rng.integers(0, 9, len(scores)) / 4 if weighted else None
    tp, fp, tn, fn, grid = counts_of(
        grid_curves_pb("t", labels, scores, thresholds=thresholds, sample_weight=weights)
    )
    assert np.array_equal(grid, np.asarray(thresholds, dtype=F32))
    keras_tp, keras_fp, keras_tn, keras_fn = _keras_counts(labels, scores, thresholds, weights)
    assert np.array_equal(tp, keras_tp)
    assert np.array_equal(fp, keras_fp)
    assert np.array_equal(tn, keras_tn)
    assert np.array_equal(fn, keras_fn)


def test_evenly_spaced_thresholds_follow_the_strict_rule():
    """Keras takes a bucketing shortcut (ceil(score·(T−1))) for evenly spaced grids, which can put a
    score equal to float32(0.3) above threshold 0.3; we keep `score > t` for every grid."""
    rng = np.random.default_rng(6)
    grid = np.arange(11) / 10
    scores = _scores_with_ties(rng, 4000, grid)
    labels = rng.integers(0, 2, len(scores))
    tp, fp, tn, fn, thresholds = counts_of(grid_curves_pb("t", labels, scores, thresholds=grid))
    ref = brute_force(np.stack([labels == 1], 1), scores[:, None], thresholds)
    for a, b in zip((tp, fp, tn, fn), ref, strict=True):
        assert np.array_equal(a, b[0])
    # Away from the thresholds Keras agrees.
    far = np.min(np.abs(scores[:, None].astype(np.float64) - grid[None, :]), axis=1) > 1e-6
    keras_counts = _keras_counts(labels[far], scores[far], grid, None)
    _, far_decoded, _ = decode_pb(grid_curves_pb("t", labels[far], scores[far], thresholds=grid))
    ours = core.confusion_at_thresholds(far_decoded.positive_histograms[0], far_decoded.negative_histograms[0])
    for a, b in zip(ours, keras_counts, strict=True):
        assert np.array_equal(a, b)


# --- AUC and AP on the default grid ---------------------------------------------------------------


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _case(name, rng, n=1_000_000):
    if name == "calibrated":
        p = rng.random(n)
        return (rng.random(n) < p).astype(np.int8), p.astype(F32)
    if name == "rare_calibrated":  # 0.14 % positives, y ~ Bernoulli(score)
        logits = rng.normal(-8.5, 2.0, n)
        return (rng.random(n) < _sigmoid(logits)).astype(np.int8), _sigmoid(logits).astype(F32)
    rate = 0.001 if name.startswith("rare") else 0.5
    y = (rng.random(n) < rate).astype(np.int8)
    if name == "rare_separated":
        return y, _sigmoid(rng.normal(np.where(y == 1, 3.0, -3.0), 1.5)).astype(F32)
    logits = np.clip(rng.normal(np.where(y == 1, 8.0, -8.0), 8.0), -20, 20)
    return y, _sigmoid(logits).astype(F32)


def _auc_ap(y, scores, thresholds=None):
    _, decoded, _ = decode_pb(grid_curves_pb("t", y, scores, thresholds=thresholds))
    pos, neg = decoded.positive_histograms[0], decoded.negative_histograms[0]
    return core.roc_auc(pos, neg), core.average_precision(pos, neg), decoded.thresholds


@pytest.mark.parametrize("case", ["calibrated", "confident", "rare_calibrated", "rare_confident", "rare_separated"])
def test_interpolated_pr_auc_estimates_the_exact_ap_within_1e3(case):
    """Keras' PR-AUC on the counts (Davis–Goadrich: TP and FP grow linearly inside a bin, i.e. the
    order of positives and negatives within a bin is unknown rather than tied) is within 1e-3 of
    scikit-learn's AP of the raw scores in every case, rare well-separated positives included
    (measured: at most 5.7e-4, rare calibrated; 6e-5 for rare separated, where step AP is 1.2e-3 off)."""
    y, scores = _case(case, np.random.default_rng(7))
    _, decoded, _ = decode_pb(grid_curves_pb("t", y, scores))
    pos, neg = decoded.positive_histograms[0], decoded.negative_histograms[0]
    assert abs(core.pr_auc(pos, neg) - skm.average_precision_score(y, scores)) <= 1e-3


@pytest.mark.parametrize("case", ["calibrated", "confident", "rare_calibrated", "rare_confident", "rare_separated"])
def test_auc_on_default_grid_matches_sklearn(case):
    y, scores = _case(case, np.random.default_rng(7))
    assert y.sum() > 500
    auc, ap, grid = _auc_ap(y, scores)
    assert abs(auc - skm.roc_auc_score(y, scores)) <= 1e-3
    if case != "rare_separated":
        assert abs(ap - skm.average_precision_score(y, scores)) <= 1e-3
    else:
        # Rare positives that a fair model ranks high (sklearn AP ~0.77): 1.2e-3 off for this seed,
        # 1.2-1.5e-3 over six (see the xfail below). Our AP is scikit-learn's AP of the scores
        # rounded up to their bin: the whole gap is the ordering inside bins, not an error in
        # counting or in `core`.
        assert abs(ap - skm.average_precision_score(y, scores)) <= 2e-3
        bins = counting.Bucketizer(grid).bins(scores)
        assert ap == pytest.approx(skm.average_precision_score(y, bins), abs=1e-12)
        assert auc == pytest.approx(skm.roc_auc_score(y, bins), abs=1e-12)


@pytest.mark.xfail(
    strict=True,
    reason="AP's in-bin tie error falls as 1/T: 1.2-1.45e-3 at the default 960 thresholds, 0.96e-3 at "
    "1500, which makes a weighted (float64) binary summary 36 kB > 24 kB; no other mix of the grid at "
    "960 got below 1.14e-3 (docs/format.md)",
)
def test_ap_of_rare_separated_positives_within_1e3_on_default_grid():
    y, scores = _case("rare_separated", np.random.default_rng(7))
    _, ap, _ = _auc_ap(y, scores)
    assert abs(ap - skm.average_precision_score(y, scores)) <= 1e-3


def test_auc_and_ap_are_exact_when_every_score_is_a_threshold():
    rng = np.random.default_rng(8)
    grid = np.array([0.0, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0], dtype=F32)
    scores = rng.choice(grid, 3000)
    y = (rng.random(3000) < scores).astype(int)
    w = rng.random(3000)
    _, decoded, _ = decode_pb(grid_curves_pb("t", y, scores, thresholds=grid, sample_weight=w))
    pos, neg = decoded.positive_histograms[0], decoded.negative_histograms[0]
    assert core.roc_auc(pos, neg) == pytest.approx(skm.roc_auc_score(y, scores, sample_weight=w), abs=1e-12)
    assert core.average_precision(pos, neg) == pytest.approx(
        skm.average_precision_score(y, scores, sample_weight=w), abs=1e-12
    )


# --- size ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True], ids=["float32", "float64"])
def test_default_summary_is_at_most_24_kB(weighted):
    rng = np.random.default_rng(9)
    n = 200_000
    y = rng.integers(0, 2, n)
    scores = _sigmoid(rng.normal(0, 8, n)).astype(F32)
    weights = rng.uniform(0.1, 2.0, n) if weighted else None
    pb = grid_curves_pb("validation/threshold_curves", y, scores, sample_weight=weights)
    _, decoded, tensor = decode_pb(pb)
    assert stored_dtypes(tensor, metadata.KIND_THRESHOLD_CURVES)["positive"] == ("float64" if weighted else "uint16")
    assert decoded.thresholds.shape == (thresholds_module.DEFAULT_NUM_THRESHOLDS,)
    assert len(pb.SerializeToString()) <= 24_000


# --- the grid and the bucketizer ----------------------------------------------------------------


@pytest.mark.parametrize("num_thresholds", [2, 3, 10, 200, 960, 4000])
def test_default_grid_shape_and_alignment(num_thresholds):
    grid = thresholds_module.default_thresholds(num_thresholds)
    assert grid.dtype == np.float32
    assert len(grid) == num_thresholds
    assert grid[0] == 0 and grid[-1] == 1
    assert np.all(np.diff(grid) > 0)
    assert np.all(counting.is_cell_aligned(grid))
    # Aligned thresholds need no comparison in the bucketizer.
    assert counting.Bucketizer(grid)._corrections == 0


def test_default_grid_resolves_confident_scores():
    grid = thresholds_module.default_thresholds()
    # 30 % of the grid is uniform in logit over [-20, 20]: ~45 thresholds below 1e-6; above 1 - 1e-6
    # float32 has only 17 values (spacing 6e-8), and every one of them is a threshold.
    assert np.sum(grid < 1e-6) >= 40
    float32s_near_one = np.arange(F32(1) - F32(1e-6), F32(1), np.spacing(F32(0.5)), dtype=F32)
    assert np.sum(grid > F32(1) - F32(1e-6)) == np.sum(float32s_near_one > F32(1) - F32(1e-6)) + 1
    assert grid[1] < 1e-8 and grid[-2] == np.nextafter(F32(1), F32(0))
    assert np.max(np.diff(grid)) < 0.005  # calibrated models are resolved too


def _probe_scores(rng, grid):
    grid = np.asarray(grid, dtype=F32)
    tiny = np.finfo(F32).tiny
    probes = [
        grid, np.nextafter(grid, F32(2)), np.nextafter(grid, F32(-1)),
        np.array([0, 1, 1e-45, 3e-45, 1e-40, tiny, np.nextafter(tiny, F32(0)), 0.5,
                  np.nextafter(F32(0.5), F32(0)), np.nextafter(F32(1), F32(0))], dtype=F32),
        rng.random(50_000).astype(F32),
        _sigmoid(rng.normal(0, 15, 50_000)).astype(F32),
        rng.random(2000).astype(F32) * F32(1e-30),
    ]
    scores = np.concatenate(probes).astype(F32)
    return scores[(scores >= 0) & (scores <= 1)]


def _grids():
    rng = np.random.default_rng(10)
    half_ulp_below_one = np.spacing(F32(0.5))
    return {
        "default": thresholds_module.default_thresholds(),
        "default_50": thresholds_module.default_thresholds(50),
        "three": np.array([0.1, 0.5, 0.9], F32),
        "random_5000": np.unique(rng.random(5000).astype(F32)),
        "close_at_0.3": F32(0.3) + np.arange(50, dtype=F32) * np.spacing(F32(0.3)),
        "close_below_1": F32(1) - np.arange(1, 51, dtype=F32)[::-1] * half_ulp_below_one,
        "denormals": np.array([0, 1e-45, 3e-45, 1e-40, 1e-38, 1e-30, 1], F32),
        "ends": np.array([0, 1], F32),
        "one_value": np.array([0.25], F32),
    }


@pytest.mark.parametrize("name", list(_grids()))
def test_bucketizer_equals_searchsorted(name):
    grid = np.asarray(_grids()[name], dtype=F32)
    assert np.all(np.diff(grid) > 0)
    scores = _probe_scores(np.random.default_rng(11), grid)
    bins = counting.Bucketizer(grid).bins(scores)
    assert np.array_equal(bins, np.searchsorted(grid, scores, side="left"))


@pytest.mark.parametrize("name", list(_grids()))
def test_graph_bucketizers_equal_searchsorted(name):
    """The Keras metrics' look-ups, traced as in a training step (batch size unknown), equal the
    numpy look-up on every score that is 0 or a normal float. On a denormal score: the table reads
    its bit pattern as the numpy look-up does, unless the grid needs comparisons within a cell (which
    TensorFlow makes on a CPU with denormals read as 0); the search (one score column) reads it as 0.
    Eagerly, more scores than `SEARCH_MAX_SCORES` take the table; compiled by XLA (a large batch's
    look-up), the table gives the same bins as its ops."""
    import tensorflow as tf

    from tb_metrics_plugin.tensor_bins import SEARCH_MAX_SCORES, TensorBucketizer

    grid = np.asarray(_grids()[name], dtype=F32)
    scores = _probe_scores(np.random.default_rng(13), grid)
    bucketizer = TensorBucketizer(grid)
    unknown_size = [tf.TensorSpec([None], tf.float32)]
    table = tf.function(bucketizer.bins, input_signature=unknown_size)(scores).numpy()
    search = tf.function(bucketizer.search_bins, input_signature=unknown_size)(scores).numpy()
    expected = np.searchsorted(grid, scores, side="left")
    normal_or_zero = (scores == 0) | (scores >= np.finfo(F32).tiny)
    assert np.count_nonzero(~normal_or_zero) > 0  # the probes hold denormal scores
    compared_in_cell = counting.bucketizer(grid).tables()[1] > 0
    assert np.array_equal(table[normal_or_zero], expected[normal_or_zero])
    if not compared_in_cell:
        assert np.array_equal(table, expected)
    read_by_tensorflow = np.where(normal_or_zero, scores, F32(0))
    assert np.array_equal(search, np.searchsorted(grid, read_by_tensorflow, side="left"))
    assert scores.size > SEARCH_MAX_SCORES
    eager = bucketizer.search_bins(tf.constant(scores)).numpy()
    assert np.array_equal(eager, table)
    # A large batch's look-up, compiled by XLA into one loop, reads every score as the ops do.
    compiled = tf.function(bucketizer.bins, input_signature=unknown_size, jit_compile=True)(scores).numpy()
    assert np.array_equal(compiled, table)


def test_score_cells_are_monotone_and_separate_both_ends():
    scores = np.sort(_probe_scores(np.random.default_rng(12), thresholds_module.default_thresholds()))
    cells = counting.score_cells(scores)
    assert np.all(np.diff(cells) >= 0)
    assert cells[0] == 0 and cells.max() < counting.NUM_CELLS
    assert counting.score_cells(np.array([0.0], F32))[0] == 0
    assert counting.score_cells(np.array([1e-45], F32))[0] == 1  # only 0.0 is in cell 0
    near_one = np.array([1 - 2e-7, 1 - 1e-7], F32)
    assert counting.score_cells(near_one)[0] < counting.score_cells(near_one)[1]


# --- format ----------------------------------------------------------------------------------------


def test_layout_round_trip_and_exact_fractional_counts():
    grid = np.array([0.0, 0.25, 0.5, 1.0], F32)
    positive = np.array([[0.3, 0.0, 1.7, 2.1, 0.1], [1.0, 2.0, 3.0, 4.0, 5.0]])
    negative = np.array([[0.7, 0.1, 0.2, 0.3, 1e-9], [5.0, 4.0, 3.0, 2.0, 1.0]])
    pb = summary.threshold_curves_pb_from_counts("t", grid, positive, negative, ["a", "b"])
    plugin_data, decoded, tensor = decode_pb(pb)
    assert stored_dtypes(tensor, metadata.KIND_THRESHOLD_CURVES)["positive"] == "float64"  # 0.3 is not a float32
    assert plugin_data == metadata.PluginData(metadata.KIND_THRESHOLD_CURVES, ("a", "b"))
    assert np.array_equal(decoded.thresholds, grid) and decoded.thresholds.dtype == np.float32
    assert np.array_equal(decoded.positive_histograms, positive)  # bit-exact, not rounded
    assert np.array_equal(decoded.negative_histograms, negative)
    assert decoded.class_names == ("a", "b")

    matrix = np.array([[0.3, 1.0], [2.0, 1e-3]])
    cm_pb = summary.confusion_matrix_pb_from_counts("cm", matrix, ["x", "y"], ignore_class=7)
    cm_data, cm, cm_tensor = decode_pb(cm_pb)
    assert stored_dtypes(cm_tensor, metadata.KIND_CONFUSION_MATRIX)["counts"] == "float64"
    assert np.array_equal(cm.matrix, matrix)
    assert cm.ignore_class == 7 and cm_data.decision == "argmax"
    # Whole counts are stored in the smallest unsigned integer type that holds them.
    _, _, small = decode_pb(summary.confusion_matrix_pb_from_counts("cm", np.eye(2) * 3, ["x", "y"]))
    assert stored_dtypes(small, metadata.KIND_CONFUSION_MATRIX)["counts"] == "uint8"


def test_weights_like_0_3_survive_end_to_end():
    y = np.array([1, 0, 1, 0])
    scores = np.array([0.9, 0.8, 0.2, 0.1], F32)
    w = np.array([0.3, 0.1, 0.7, 0.3])
    _, decoded, tensor = decode_pb(grid_curves_pb("t", y, scores, thresholds=[0.5], sample_weight=w))
    assert stored_dtypes(tensor, metadata.KIND_THRESHOLD_CURVES)["positive"] == "float64"
    tp, fp, tn, fn = core.confusion_at_thresholds(decoded.positive_histograms[0], decoded.negative_histograms[0])
    assert (tp[0], fp[0], tn[0], fn[0]) == (0.3, 0.1, 0.3, 0.7)
    _, cm, _ = decode_pb(summary.confusion_matrix_pb("cm", y, scores, sample_weight=w))
    assert cm.matrix.tolist() == [[0.3, 0.1], [0.7, 0.3]]


def _content(**fields):
    base = {"version": metadata.FORMAT_VERSION, "kind": metadata.KIND_THRESHOLD_CURVES, "class_names": ["p"]}
    base.update(fields)
    return json.dumps(base).encode()


def test_metadata_round_trip_and_future_version_is_refused():
    plugin_data = metadata.PluginData(metadata.KIND_CONFUSION_MATRIX, ("a", "b", "c"), ignore_class=255)
    proto = metadata.create_summary_metadata(plugin_data, display_name="CM", description="d")
    assert proto.plugin_data.plugin_name == metadata.PLUGIN_NAME
    assert proto.data_class == metadata.summary_pb2.DATA_CLASS_TENSOR
    assert metadata.parse_plugin_metadata(proto.plugin_data.content) == plugin_data
    newer = metadata.FORMAT_VERSION + 1
    with pytest.raises(metadata.UnsupportedFormatError, match=rf"version {newer} is newer .*upgrade"):
        metadata.parse_plugin_metadata(_content(version=metadata.FORMAT_VERSION + 1))
    for bad in (b"\xff", b"[1]", _content(version=0), _content(kind="pr_curves"), _content(class_names="ab"),
                _content(ignore_class="x")):
        with pytest.raises(metadata.UnsupportedFormatError):
            metadata.parse_plugin_metadata(bad)
    # Unknown fields of the same version are kept, not fatal.
    assert metadata.parse_plugin_metadata(_content(colour="red")).extra == {"colour": "red"}


def test_tensor_that_does_not_fit_the_metadata_is_refused():
    curves = metadata.PluginData(metadata.KIND_THRESHOLD_CURVES, ("a", "b"))
    good = layout.encode_threshold_curves(layout.ThresholdCurveCounts(
        np.array([0, 0.5, 1], F32), np.ones((2, 4)), np.ones((2, 4)), ("a", "b")))
    assert layout.decode(good, curves).positive_histograms.shape == (2, 4)
    with pytest.raises(metadata.UnsupportedFormatError, match="metadata names 1"):
        layout.decode(good, metadata.PluginData(metadata.KIND_THRESHOLD_CURVES, ("a",)))
    with pytest.raises(metadata.UnsupportedFormatError, match="one string"):
        layout.decode(np.ones((3, 4), F32), curves)
    # Version 1: dense (1 + 2C, T + 1) tensors, checked as before.
    v1 = metadata.PluginData(metadata.KIND_THRESHOLD_CURVES, ("a", "b"), version=1)
    dense = np.vstack([[0, 0.5, 1, np.inf], np.ones((4, 4))])
    assert layout.decode(dense, v1).positive_histograms.shape == (2, 4)
    with pytest.raises(metadata.UnsupportedFormatError, match="shape"):
        layout.decode(dense, metadata.PluginData(metadata.KIND_THRESHOLD_CURVES, ("a",), version=1))
    with pytest.raises(metadata.UnsupportedFormatError, match="shape"):
        layout.decode(dense[:, :1], v1)
    with pytest.raises(metadata.UnsupportedFormatError, match="shape"):
        layout.decode(dense.reshape(-1), v1)
    shuffled = dense.copy()
    shuffled[0, :2] = shuffled[0, 1::-1]
    with pytest.raises(metadata.UnsupportedFormatError, match="increasing"):
        layout.decode(shuffled, v1)
    cm = metadata.PluginData(metadata.KIND_CONFUSION_MATRIX, ("a", "b"))
    with pytest.raises(metadata.UnsupportedFormatError, match="shape"):
        layout.decode(np.ones((3, 3)), cm)
    with pytest.raises(metadata.UnsupportedFormatError, match="shape"):
        layout.decode(np.ones((2, 3)), cm)


# --- property test ------------------------------------------------------------------------------


@st.composite
def _problems(draw):
    n = draw(st.integers(1, 60))
    c = draw(st.integers(1, 4))
    t = draw(st.integers(1, 12))
    grid = np.unique(np.array(draw(st.lists(st.floats(0, 1, width=32), min_size=t, max_size=t)), dtype=F32))
    seed = draw(st.integers(0, 2**32 - 1))
    weighted = draw(st.booleans())
    rng = np.random.default_rng(seed)
    pool = np.concatenate([grid, np.nextafter(grid, F32(2)), np.nextafter(grid, F32(-1)), rng.random(8)]).astype(F32)
    pool = pool[(pool >= 0) & (pool <= 1)]
    scores = rng.choice(pool, size=(n, c)).astype(F32)
    labels = rng.integers(0, 2 if c == 1 else c, n)
    weights = rng.uniform(0, 5, n).round(2) if weighted else None
    return grid, scores, labels, weights


@settings(max_examples=50, deadline=None)
@given(_problems())
def test_counts_equal_brute_force(problem):
    grid, scores, labels, weights = problem
    c = scores.shape[1]
    pb = grid_curves_pb("t", labels, scores, thresholds=grid, sample_weight=weights)
    _, decoded, _ = decode_pb(pb)
    is_positive = (labels[:, None] == 1) if c == 1 else (labels[:, None] == np.arange(c))
    ours = core.confusion_at_thresholds(decoded.positive_histograms, decoded.negative_histograms)
    reference = brute_force(is_positive, scores, grid, weights)
    for a, b in zip(ours, reference, strict=True):
        assert a.shape == (c, len(grid))
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_counts_across_counting_chunks_equal_sklearn():
    """More rows than one counting chunk (2^18 elements), three classes, per-row weights."""
    rng = np.random.default_rng(13)
    n, c = 200_000, 3
    labels = rng.integers(0, c, n)
    probs = rng.dirichlet(np.ones(c) * 0.3, n).astype(F32)
    weights = rng.integers(0, 4, n).astype(np.float64)
    _, decoded, _ = decode_pb(grid_curves_pb("t", labels, probs, sample_weight=weights))
    for k in range(c):
        ours = core.confusion_at_thresholds(decoded.positive_histograms[k], decoded.negative_histograms[k])
        reference = sklearn_counts_at(labels == k, probs[:, k], decoded.thresholds, weights)
        for a, b in zip(ours, reference, strict=True):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("positives", ["single_label", "multi_label", "none", "all"])
@pytest.mark.parametrize("chunk_items", [64, 1024])
def test_threshold_histograms_equal_brute_force_across_chunks(monkeypatch, weighted, positives, chunk_items):
    """Unweighted negatives are the all-score histogram minus the positives'; weighted ones are
    counted directly. Both must equal the N×C×T comparison, for any positives and chunk split.
    Chunks of 64 items are smaller than the 5·41-bin histogram (scattered with np.add.at, never
    interleaved); chunks of 1024 are larger (np.bincount, interleaved where the data allow). Both
    leave a ragged last chunk."""
    monkeypatch.setattr(counting, "_CHUNK_ITEMS", chunk_items)
    rng = np.random.default_rng(14)
    n, c = 1001, 5
    grid = thresholds_module.default_thresholds(40)
    scores = rng.choice(np.concatenate([grid, np.nextafter(grid, F32(2)), rng.random(50).astype(F32)]), (n, c))
    scores = np.clip(scores, 0, 1).astype(F32)
    is_positive = {
        "single_label": rng.integers(0, c, n)[:, None] == np.arange(c),
        "multi_label": rng.random((n, c)) < 0.4,
        "none": np.zeros((n, c), bool),
        "all": np.ones((n, c), bool),
    }[positives]
    weights = rng.integers(0, 5, n) / 4 if weighted else None
    positive, negative = counting.threshold_histograms(is_positive, scores, grid, weights)
    ours = core.confusion_at_thresholds(positive, negative)
    reference = brute_force(is_positive, scores, grid, weights)
    for a, b in zip(ours, reference, strict=True):
        assert np.array_equal(a, b)  # multiples of 1/4: exact in any summation order
    assert positive.min() >= 0 and negative.min() >= 0
    if positives == "single_label":
        true_classes = np.argmax(is_positive, axis=1)
        by_class = counting.threshold_histograms(is_positive, scores, grid, weights, true_classes=true_classes)
        assert np.array_equal(by_class[0], positive) and np.array_equal(by_class[1], negative)


def test_counts_too_large_for_float32_are_never_rounded():
    big = float(2**24 + 1)  # not a float32, but a whole number below 2^32
    matrix = np.array([[big, 0.0], [1.0, 2.0]])
    _, cm, tensor = decode_pb(summary.confusion_matrix_pb_from_counts("cm", matrix, ["a", "b"]))
    assert stored_dtypes(tensor, metadata.KIND_CONFUSION_MATRIX)["counts"] == "uint32" and cm.matrix[0, 0] == big
    huge = float(2**53 - 1)  # beyond uint32 and float32
    matrix = np.array([[huge, 0.0], [1.0, 2.0]])
    _, cm, tensor = decode_pb(summary.confusion_matrix_pb_from_counts("cm", matrix, ["a", "b"]))
    assert stored_dtypes(tensor, metadata.KIND_CONFUSION_MATRIX)["counts"] == "float64" and cm.matrix[0, 0] == huge


def test_concatenated_batches_count_like_one_batch():
    """The callback counts validation batches in blocks: a block's counts equal the sum of its
    batches' counts, an unweighted batch among weighted ones weighing 1 per item."""
    rng = np.random.default_rng(21)
    labels, scores = rng.integers(0, 3, 90), rng.dirichlet(np.ones(3), 90).astype(F32)
    weights = rng.integers(1, 5, 90) / 2
    batches = [
        inputs.prepare(labels[:40], scores[:40], sample_weight=weights[:40]),
        inputs.prepare(labels[40:70], scores[40:70]),
        inputs.prepare(labels[70:], scores[70:], sample_weight=weights[70:]),
    ]
    grid = thresholds_module.default_thresholds()
    block = inputs.PreparedBatch.concatenate(batches)
    separately = [batch.threshold_histograms(grid) for batch in batches]
    for together, apart in zip(block.threshold_histograms(grid), zip(*separately, strict=True), strict=True):
        assert np.array_equal(together, sum(apart))  # halves: exact in any order
    assert np.array_equal(block.true_classes, labels)
    assert np.array_equal(block.weights, np.concatenate([weights[:40], np.ones(30), weights[70:]]))
