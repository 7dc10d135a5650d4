"""Property-based fuzzing of the public API: every input either works or names what is wrong.

Random problems (binary, multiclass with sparse or one-hot labels, multi-label, segmentation with
`ignore_class`; C = 1…1000 classes, T = 1…10 000 explicit thresholds or the default grid; float16/32/64,
integer and bool arrays; logits; empty batches; sample weights 0, 1e-30, 1e30) go through the numpy
writers, the TensorFlow summary ops, the Keras metrics and the callback, clean or with one defect
(NaN/inf, labels out of range, negative/NaN weights, bad shapes, dtypes, thresholds, names...).

Every call either works, with counts equal to an independent reference (a brute-force numpy count of
`score > t` for the curves, scikit-learn's `confusion_matrix` for the matrices, read back with the
package's own decoder), or raises a `ValueError` whose message names the bad argument. The Keras
metrics cannot raise inside a graph: they leave bad items out and count them in `invalid_count`, and
the callback then raises the `ValueError` at epoch end. Any other exception is a failure.

The number of examples tried is counted in `EXAMPLES` and printed at the end of the module (`-s`).
"""

from __future__ import annotations

import collections
import dataclasses
import os

import keras
import numpy as np
import pytest
import scipy.special
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

import tb_metrics_plugin as tbm
from tb_metrics_plugin import summary, thresholds
from tests.readback import decode_summary, on_grid, read_run

pytestmark = pytest.mark.slow  # thousands of hypothesis examples, TensorFlow ops and fits

# (test, outcome) -> examples tried; outcome is "ok" (counts checked) or "ValueError" (message checked).
EXAMPLES: collections.Counter = collections.Counter()
# feature -> examples of the fuzzed tests that had it (what the random problems actually covered).
COVERAGE: collections.Counter = collections.Counter()



def fuzz(max_examples: int) -> settings:
    """Hypothesis settings of these tests: sized to keep the module within about a minute."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,  # no .hypothesis folder in the repository
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
KINDS = ("binary", "binary_col", "sparse", "sparse_col", "one_hot", "multi_label", "segmentation")
SPARSE_KINDS = ("sparse", "sparse_col", "segmentation")
# Corruptions of single items: the writers refuse the call, the Keras metrics leave the item out.
ITEM_CORRUPTIONS = {
    "nan_score": ("predictions",),
    "inf_score": ("predictions",),
    "score_out_of_unit": ("predictions",),
    "label_out_of_range": ("labels",),
    "fractional_label": ("labels",),
    "two_hot": ("labels",),
    "bad_weight": ("sample_weight",),
}
# Corruptions of the call: a ValueError from every API (the fragment its message must contain).
CALL_CORRUPTIONS = {
    "label_shape": ("labels", "y_true"),
    "weight_shape": ("sample_weight",),
    "string_predictions": ("predictions", "y_pred"),
    "complex_predictions": ("predictions", "y_pred"),
    "ragged_predictions": ("predictions", "y_pred"),
    "object_labels": ("labels", "y_true"),
    "zero_columns": ("predictions",),
    "scalar_predictions": ("predictions",),
    "bad_class_names": ("class_names",),
    "bad_num_classes": ("num_classes",),
    "bad_ignore_class": ("ignore_class",),
    "ignore_class_on_indicator": ("ignore_class",),
    "multi_label_sparse": ("multi_label",),
    "bad_thresholds": ("thresholds",),
    "bad_num_thresholds": ("num_thresholds",),
    "bad_decision_threshold": ("threshold",),
    "bad_name": ("name",),
    "bad_description": ("description",),
    "bad_step": ("step",),
    "empty": ("no items",),
    "all_ignored": ("no items",),
}
# What each API takes; the Keras metrics count empty batches (nothing) instead of refusing them.
WRITER_CALL_CORRUPTIONS = tuple(c for c in CALL_CORRUPTIONS if c != "bad_step")
TF_CALL_CORRUPTIONS = tuple(CALL_CORRUPTIONS)
METRIC_CALL_CORRUPTIONS = tuple(
    c for c in CALL_CORRUPTIONS if c not in ("bad_name", "bad_description", "bad_step", "empty", "all_ignored")
)
SPECIAL_SCORES = np.array([0.0, 1.0, 1e-8, 1 - 1e-7, 0.5, 0.25], dtype=np.float64)


@dataclasses.dataclass
class Problem:
    """One call's arguments and how to judge it."""

    api: str  # "curves" or "matrix"
    kind: str
    num_columns: int
    labels: object
    predictions: object
    options: dict
    corruption: str
    grid: np.ndarray | None  # the thresholds the curves must be counted at (None for matrices)
    expected_names: tuple

    def __repr__(self) -> str:  # short enough to read in a falsifying example
        def describe(value):
            if isinstance(value, np.ndarray):
                return f"array(shape={value.shape}, dtype={value.dtype}, head={value.reshape(-1)[:6].tolist()})"
            return repr(value)[:120]

        options = {key: describe(value) for key, value in self.options.items()}
        return (f"Problem(api={self.api}, kind={self.kind}, C={self.num_columns}, corruption={self.corruption}, "
                f"labels={describe(self.labels)}, predictions={describe(self.predictions)}, options={options}, "
                f"T={None if self.grid is None else len(self.grid)})")

    def record_coverage(self) -> None:
        """Counts the features of this problem in COVERAGE."""
        features = [f"kind={self.kind}", f"corruption={self.corruption}"]
        features.append("C=1000" if self.num_columns >= 1000 else "C=50" if self.num_columns >= 50 else "C<50")
        if self.grid is not None:
            features.append(f"T>={10 ** int(np.log10(len(self.grid)))}")
        weights = self.options.get("sample_weight")
        if weights is not None and (np.abs(np.asarray(weights, dtype=float)) == 1e30).any():
            features.append("weights 1e30")
        features += [key for key in ("from_logits", "ignore_class", "thresholds", "num_thresholds")
                     if self.options.get(key) is not None and self.options.get(key) is not False]
        dtype = getattr(self.predictions, "dtype", None)
        features.append(f"predictions {dtype}")
        COVERAGE.update(features)

    @property
    def fragments(self) -> tuple[str, ...] | None:
        """Fragments one of which the ValueError must name, None when the call must work."""
        return ITEM_CORRUPTIONS.get(self.corruption) or CALL_CORRUPTIONS.get(self.corruption)


# Problem generation -------------------------------------------------------------------------------


def _label_dtype(rng, values_needed: np.ndarray, zero_one: bool):
    candidates = [np.int64, np.int32, np.float32, np.float64]
    low, high = (int(values_needed.min()), int(values_needed.max())) if values_needed.size else (0, 1)
    if low >= 0 and high <= 127:
        candidates += [np.int8, np.uint8, np.float16]
    elif low >= 0 and high <= 255:
        candidates += [np.uint8, np.int16]
    if zero_one:
        candidates.append(bool)
    return candidates[rng.integers(len(candidates))]


@st.composite
def problems(draw, api: str, call_corruptions: tuple[str, ...], cell_cap: int, brute_cap: int = 4_000_000):
    """A random problem for `api` ("curves" or "matrix"), clean half of the time, else with one defect.

    `cell_cap` bounds C·(T + 1), the size of one summary; `brute_cap` bounds items·C·T, the size of
    the brute-force reference.
    """
    kinds = KINDS if api == "curves" else tuple(k for k in KINDS if k != "multi_label")
    kind = draw(st.sampled_from(kinds))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    binary = kind.startswith("binary")
    num_columns = 1 if binary else draw(st.one_of(st.integers(2, 8), st.sampled_from([2, 3, 50, 1000])))
    num_classes = 2 if binary else num_columns
    options: dict = {}

    grid = None
    if api == "curves":
        grid_kind = draw(st.sampled_from(["default", "num_thresholds", "explicit"]))
        max_thresholds = max(1, cell_cap // num_columns - 1)
        if grid_kind == "default" and thresholds.DEFAULT_NUM_THRESHOLDS > max_thresholds:
            grid_kind = "num_thresholds"
        if grid_kind == "default":
            grid = thresholds.default_thresholds()
        elif grid_kind == "num_thresholds":
            wanted = draw(st.one_of(st.integers(2, 300), st.sampled_from([2, 3, 2000, 10_000])))
            options["num_thresholds"] = max(2, min(wanted, max_thresholds))
            grid = thresholds.default_thresholds(options["num_thresholds"])
        else:
            count = min(draw(st.one_of(st.integers(1, 40), st.sampled_from([1, 1000, 10_000]))), max_thresholds)
            values = rng.random(count)
            values[: rng.integers(0, min(count, 3) + 1)] = rng.choice([0.0, 1.0, 0.5], size=None)
            grid = np.unique(values.astype(np.float32))
            options["thresholds"] = grid.astype(np.float64) if draw(st.booleans()) else grid.tolist()
    work_per_item = num_columns * (1 if grid is None else len(grid))
    max_samples = int(np.clip(brute_cap // work_per_item, 1, 40))

    item_shape: tuple[int, ...]
    num_samples = draw(st.integers(1, max_samples))
    if kind == "segmentation":
        height, width = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        num_samples = max(1, num_samples // (height * width))
        item_shape = (num_samples, height, width)
    else:
        item_shape = (num_samples,)
    num_items = int(np.prod(item_shape))

    from_logits = draw(st.booleans())
    score_dtype = draw(st.sampled_from([np.float64, np.float32, np.float16] + ([] if from_logits else ["int", "bool"])))
    if from_logits:
        scale = draw(st.sampled_from([1.0, 10.0, 1e3] + ([] if score_dtype == np.float16 else [1e30])))
        largest = 6e4 if score_dtype == np.float16 else 1e300  # finite in the array's dtype
        scores = np.clip(rng.normal(size=(num_items, num_columns)) * scale, -largest, largest)
    elif score_dtype in ("int", "bool"):
        scores = rng.integers(0, 2, size=(num_items, num_columns)).astype(np.float64)
    else:
        scores = rng.random((num_items, num_columns))
        specials = rng.random(scores.shape) < 0.2
        pool = SPECIAL_SCORES if grid is None else np.concatenate([SPECIAL_SCORES, grid[: 50].astype(np.float64)])
        scores[specials] = rng.choice(pool, size=int(specials.sum()))  # ties with thresholds
    options["from_logits"] = from_logits

    ignore_class = None
    if kind in SPARSE_KINDS:
        ignore_class = draw(st.sampled_from([None, None, -1, 255, num_columns, 0]))
        true_classes = rng.integers(0, num_columns, size=num_items)
        if ignore_class is not None:
            ignored = rng.random(num_items) < 0.3
            ignored[rng.integers(num_items)] = False  # every-item-ignored is the "all_ignored" corruption
            true_classes[ignored & (true_classes != ignore_class)] = ignore_class
            if (true_classes == ignore_class).all():
                true_classes[0] = (ignore_class + 1) % num_columns
            options["ignore_class"] = ignore_class
        zero_one = num_columns == 2 and ignore_class is None
        labels = true_classes.astype(_label_dtype(rng, true_classes, zero_one=zero_one))
    elif kind == "multi_label":
        options["multi_label"] = True
        labels = (rng.random((num_items, num_columns)) < 0.4).astype(np.int64)
        labels = labels.astype(_label_dtype(rng, labels, zero_one=True))
    elif kind == "one_hot":
        labels = np.eye(num_columns, dtype=np.int64)[rng.integers(0, num_columns, size=num_items)]
        labels = labels.astype(_label_dtype(rng, labels, zero_one=True))
    else:
        labels = rng.integers(0, 2, size=num_items)
        labels = labels.astype(_label_dtype(rng, labels, zero_one=True))

    weight_form = draw(st.sampled_from(["none", "sample", "sample_col", "item", "scalar"]))
    weights = None
    if weight_form != "none":
        weight_shape = {"sample": item_shape[:1], "sample_col": item_shape[:1] + (1,), "item": item_shape,
                        "scalar": ()}[weight_form]
        values = draw(st.sampled_from(["ones", "random", "extreme", "zeros", "integers"]))
        if values == "extreme":
            weights = rng.choice([0.0, 1e-30, 1e30, 1.0, 0.5], size=weight_shape)
        else:
            weights = {"ones": np.ones, "zeros": np.zeros}.get(values, lambda s: None)(weight_shape)
            if weights is None:
                weights = rng.random(weight_shape) if values == "random" else rng.integers(0, 5, size=weight_shape)
            weights = np.asarray(weights).astype(draw(st.sampled_from([np.float64, np.float32, np.float16, np.int32])))
        options["sample_weight"] = weights

    if draw(st.booleans()):
        options["num_classes"] = num_classes
    names = None
    if draw(st.booleans()):
        names = [f"class <{i}> \u202e\U0001f600" for i in range(num_classes)]
        options["class_names"] = names if draw(st.booleans()) else tuple(names)
    if api == "matrix" and binary:
        options["threshold"] = draw(st.sampled_from([0.5, 0.0, 1.0, 0.3]))

    # A third clean, a third with a bad item, a third with a bad call.
    corruption = draw(st.one_of(
        st.just("none"), st.sampled_from(tuple(ITEM_CORRUPTIONS)), st.sampled_from(call_corruptions)))
    problem_scores = scores.astype({"int": np.float32, "bool": np.float64}.get(score_dtype, score_dtype))
    problem = Problem(api, kind, num_columns, labels, problem_scores, options, corruption, grid, ())
    _reshape(problem, item_shape, score_dtype)
    ignore_labels = None if ignore_class is None else (np.asarray(labels).reshape(-1) == ignore_class)
    _corrupt(problem, rng, item_shape, ignore_labels)
    default_names = ("negative", "positive") if num_classes == 2 else tuple(str(i) for i in range(num_classes))
    problem.expected_names = tuple(names) if names is not None else default_names
    return problem


def _reshape(problem: Problem, item_shape, score_dtype) -> None:
    """Gives labels and predictions the shape of their kind (flat arrays so far)."""
    predictions = problem.predictions
    if problem.kind == "binary":
        predictions = predictions.reshape(item_shape)
    else:
        predictions = predictions.reshape(item_shape + (problem.num_columns,))
    if score_dtype == "int":
        predictions = predictions.astype(np.int64)
    elif score_dtype == "bool":
        predictions = predictions.astype(bool)
    problem.predictions = predictions
    labels = problem.labels
    if problem.kind in ("binary", "sparse", "segmentation"):
        labels = labels.reshape(item_shape)
    elif problem.kind in ("binary_col", "sparse_col"):
        labels = labels.reshape(item_shape + (1,))
    else:
        labels = labels.reshape(item_shape + (problem.num_columns,))
    problem.labels = labels


def _corrupt(problem: Problem, rng, item_shape, ignored) -> None:
    """Applies `problem.corruption` (may turn into "none" when it does not apply)."""
    corruption, options = problem.corruption, problem.options
    num_items = int(np.prod(item_shape))
    candidates = np.flatnonzero(~ignored) if ignored is not None else np.arange(num_items)
    sparse = problem.kind in SPARSE_KINDS
    if corruption in ITEM_CORRUPTIONS and candidates.size == 0:
        corruption = "none"
    item = int(rng.choice(candidates)) if candidates.size else 0
    flat_scores = problem.predictions.reshape(num_items, -1)
    if corruption in ("nan_score", "inf_score", "score_out_of_unit"):
        if corruption == "score_out_of_unit" and options["from_logits"]:
            corruption = "none"
        else:
            if problem.predictions.dtype.kind in "biu":
                problem.predictions = problem.predictions.astype(np.float32)
                flat_scores = problem.predictions.reshape(num_items, -1)
            value = {"nan_score": np.nan, "inf_score": rng.choice([np.inf, -np.inf]),
                     "score_out_of_unit": rng.choice([1.5, -0.25])}[corruption]
            flat_scores[item, rng.integers(flat_scores.shape[1])] = value
    elif corruption in ("label_out_of_range", "fractional_label", "two_hot"):
        labels = problem.labels.astype(np.float64 if corruption == "fractional_label" else np.int64)
        flat_labels = labels.reshape(num_items, -1)
        if corruption == "label_out_of_range":
            bad = problem.num_columns if sparse else 2
            if sparse and options.get("ignore_class") == bad:
                bad = -3
            flat_labels[item, 0] = bad
        elif corruption == "fractional_label":
            flat_labels[item, 0] = 1.5 if sparse and problem.num_columns > 2 else 0.5
        elif problem.kind == "one_hot":
            flat_labels[item, :] = 1
        else:
            corruption = "none"
        problem.labels = labels
    elif corruption == "bad_weight":
        weights = options.get("sample_weight")
        weights = np.ones(item_shape[:1]) if weights is None or np.ndim(weights) == 0 else weights
        weights = np.array(weights, dtype=np.float64)
        flat_weights = weights.reshape(weights.shape[0], -1)
        sample = item // (num_items // item_shape[0])
        within = item % (num_items // item_shape[0]) if flat_weights.shape[1] > 1 else 0
        flat_weights[sample, within] = rng.choice([-1.0, np.nan, np.inf, -1e-30])
        options["sample_weight"] = weights
    elif corruption == "label_shape":
        problem.labels = np.concatenate([problem.labels, problem.labels[:1]])
    elif corruption == "weight_shape":
        options["sample_weight"] = np.ones(item_shape[0] + 1)
    elif corruption == "string_predictions":
        problem.predictions = problem.predictions.astype(str)
    elif corruption == "complex_predictions":
        problem.predictions = problem.predictions.astype(np.complex128)
    elif corruption == "ragged_predictions":
        if problem.predictions.ndim == 2 and problem.predictions.shape[0] >= 2 and problem.num_columns >= 2:
            rows = problem.predictions.tolist()
            rows[-1] = rows[-1][:-1]
            problem.predictions = rows
        else:
            corruption = "none"
    elif corruption == "object_labels":
        labels = problem.labels.astype(object)
        labels.reshape(-1)[0] = None
        problem.labels = labels
    elif corruption == "zero_columns":
        problem.predictions = np.zeros(item_shape + (0,), dtype=np.float32)
    elif corruption == "scalar_predictions":
        problem.predictions, problem.labels = np.float32(0.5), 1
    elif corruption == "bad_class_names":
        num_classes = 2 if problem.num_columns == 1 else problem.num_columns
        options["class_names"] = rng.choice(np.array([
            "ab", 5, None, [str(i) for i in range(num_classes + 1)], ["same"] * num_classes,
            list(range(num_classes)),
        ], dtype=object)[1 if num_classes != 2 else 0:])
        if options["class_names"] is None:
            options["class_names"] = 3.5
    elif corruption == "bad_num_classes":
        options["num_classes"] = (2 if problem.num_columns == 1 else problem.num_columns) + int(rng.choice([1, -1]))
    elif corruption == "bad_ignore_class":
        options["ignore_class"] = rng.choice(np.array(["255", 1.5, True, [255]], dtype=object))
    elif corruption == "ignore_class_on_indicator":
        if problem.kind in ("one_hot", "multi_label"):
            options["ignore_class"] = 0
        else:
            corruption = "none"
    elif corruption == "multi_label_sparse":
        if sparse and problem.api == "curves":
            options["multi_label"] = True
        else:
            corruption = "none"
    elif corruption == "bad_thresholds":
        if problem.api == "curves":
            options.pop("num_thresholds", None)
            options["thresholds"] = rng.choice(np.array([
                [], [0.5, 0.2], [0.2, 0.2], [-0.1, 0.5], [0.5, 1.5], [np.nan], ["a"], [[0.1], [0.2, 0.3]],
                0.5, [0.1 + 1j], {"a": 1}, [0.1, np.inf], [0.3, 0.30000000001],
            ], dtype=object))
        else:
            corruption = "none"
    elif corruption == "bad_num_thresholds":
        if problem.api == "curves":
            options.pop("thresholds", None)
            options["num_thresholds"] = rng.choice(np.array([1, 0, -5, 2.5, True, "10", 10**7, None], dtype=object))
        else:
            corruption = "none"
    elif corruption == "bad_decision_threshold":
        if problem.api == "matrix":
            options["threshold"] = rng.choice(np.array([1.5, -0.1, np.nan, "0.5", None, True], dtype=object))
        else:
            corruption = "none"
    elif corruption == "bad_name":
        options["name"] = rng.choice(np.array(["", 5, None, b"bytes"], dtype=object))
    elif corruption == "bad_description":
        options["description"] = rng.choice(np.array([5, b"bytes", ["a"]], dtype=object))
    elif corruption == "bad_step":
        options["step"] = rng.choice(np.array([-1, 1.5, "3", True], dtype=object))
    elif corruption == "empty":
        problem.predictions = problem.predictions[:0]
        problem.labels = problem.labels[:0]
        if options.get("sample_weight") is not None and np.ndim(options["sample_weight"]):
            options["sample_weight"] = options["sample_weight"][:0]
    elif corruption == "all_ignored":
        if options.get("ignore_class") is not None and sparse:
            problem.labels = np.full(problem.labels.shape, options["ignore_class"], dtype=np.int64)
        else:
            corruption = "none"
    problem.corruption = corruption


# References ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class Flat:
    scores: np.ndarray  # float32 (M, C) after the activation
    is_positive: np.ndarray  # bool (M, C)
    true_classes: np.ndarray | None  # (M,) single-label problems
    weights: np.ndarray  # float64 (M,)
    counted: np.ndarray  # bool (M,): not ignore_class
    valid: np.ndarray  # bool (M,): every value of the item is acceptable


def flatten(problem: Problem, keras_semantics: bool = False) -> Flat:
    """The problem as flat items, independently of the package.

    `keras_semantics`: as `keras.ops` computes it in the metrics (cast to float32 first, activation
    in float32); otherwise as the numpy writer (activation in float64, then float32).
    """
    columns = problem.num_columns
    predictions = np.asarray(problem.predictions)
    raw = predictions.reshape(-1, columns).astype(np.float32 if keras_semantics else np.float64)
    labels = np.asarray(problem.labels, dtype=np.float64)
    labels = labels.reshape(-1, columns) if problem.kind in ("one_hot", "multi_label") else labels.reshape(-1)
    if keras_semantics:
        labels = labels.astype(np.float32).astype(np.float64)
    num_items = raw.shape[0]
    if problem.options["from_logits"]:
        softmax = problem.kind not in ("binary", "binary_col", "multi_label")
        if keras_semantics:
            activate = keras.ops.softmax if softmax else keras.ops.sigmoid
            scores = np.asarray(keras.ops.convert_to_numpy(activate(raw)), dtype=np.float32)
        else:
            with np.errstate(invalid="ignore"):
                scores = (scipy.special.softmax(raw, axis=1) if softmax else scipy.special.expit(raw))
            scores = scores.astype(np.float32)
    else:
        scores = raw.astype(np.float32)
    weights = problem.options.get("sample_weight")
    if weights is None:
        weights = np.ones(num_items)
    else:
        weights = np.asarray(weights, dtype=np.float32 if keras_semantics else np.float64).astype(np.float64)
        item_shape = predictions.shape if problem.kind == "binary" else predictions.shape[:-1]
        while weights.ndim > len(item_shape) and weights.shape[-1] == 1:
            weights = weights[..., 0]
        weights = weights.reshape(weights.shape + (1,) * (len(item_shape) - weights.ndim))
        weights = np.broadcast_to(weights, item_shape).reshape(-1)
    ignore_class = problem.options.get("ignore_class")
    counted = np.ones(num_items, dtype=bool) if ignore_class is None else labels != ignore_class
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(scores).all(axis=1) & ((scores >= 0) & (scores <= 1)).all(axis=1)
        valid &= np.isfinite(weights) & (weights >= 0)
        if problem.kind in SPARSE_KINDS:
            label_ok = (labels == np.round(labels)) & (labels >= 0) & (labels < columns)
        else:
            label_ok = (labels == 0) | (labels == 1)
            if labels.ndim == 2:
                label_ok = label_ok.all(axis=1)
                if problem.kind == "one_hot":
                    label_ok &= labels.sum(axis=1) == 1
    valid &= label_ok
    safe_labels = np.where(valid.reshape((-1,) + (1,) * (labels.ndim - 1)), labels, 0).astype(np.int64)
    if problem.kind in SPARSE_KINDS:
        is_positive = safe_labels[:, None] == np.arange(columns)
        true_classes = safe_labels
    else:
        is_positive = safe_labels.reshape(num_items, columns) == 1
        true_classes = None if problem.kind == "multi_label" else (
            is_positive[:, 0].astype(np.int64) if columns == 1 else np.argmax(is_positive, axis=1))
    return Flat(scores, is_positive, true_classes, weights, counted, valid)


def brute_force_tp_fp(flat: Flat, grid: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TP and FP (C, T) of `score > t` for every class and threshold, one comparison per item and t."""
    grid = np.asarray(grid, dtype=np.float32)
    weights = flat.weights[keep]
    tp = np.zeros((flat.scores.shape[1], grid.size))
    fp = np.zeros_like(tp)
    for column in range(flat.scores.shape[1]):
        above = flat.scores[keep, column][:, None] > grid[None, :]
        positive = flat.is_positive[keep, column]
        tp[column] = weights[positive] @ above[positive]
        fp[column] = weights[~positive] @ above[~positive]
    return tp, fp


def tp_fp_from_histograms(positive: np.ndarray, negative: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TP(j) = Σ_{k>j} histogram[:, k]: the counts above threshold j (see `layout`)."""
    above = lambda histogram: np.cumsum(histogram[:, ::-1], axis=1)[:, ::-1][:, 1:]  # noqa: E731
    return above(np.asarray(positive, dtype=np.float64)), above(np.asarray(negative, dtype=np.float64))


def reference_matrix(problem: Problem, flat: Flat, keep: np.ndarray) -> np.ndarray:
    num_classes = 2 if problem.num_columns == 1 else problem.num_columns
    if not flat.weights[keep].any():  # scikit-learn refuses weights that are all 0
        return np.zeros((num_classes, num_classes))
    if problem.num_columns == 1:
        predicted = (flat.scores[keep, 0] > np.float32(problem.options.get("threshold", 0.5))).astype(np.int64)
    else:
        predicted = np.argmax(flat.scores[keep], axis=1)
    return sklearn_confusion_matrix(flat.true_classes[keep], predicted, labels=np.arange(num_classes),
                                    sample_weight=flat.weights[keep]).astype(np.float64)


def _assert_close(actual, expected, weighted: bool, rtol: float = 1e-9) -> None:
    if weighted:
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=1e-300)
    else:
        np.testing.assert_array_equal(actual, expected)


def check_written(problem: Problem, decoded) -> None:
    """The decoded summary holds the reference counts of the clean problem."""
    flat = flatten(problem)
    assert flat.valid[flat.counted].all(), "a clean problem must be valid"
    keep = flat.counted
    weighted = problem.options.get("sample_weight") is not None
    if problem.api == "curves":
        if decoded.exact.any():  # classes stored exactly: their distinct scores, binned as the grid would
            decoded = on_grid(decoded, problem.grid)
        np.testing.assert_array_equal(decoded.thresholds, problem.grid)
        expected_names = problem.expected_names[1:] if problem.num_columns == 1 else problem.expected_names
        assert tuple(decoded.class_names) == expected_names
        tp, fp = tp_fp_from_histograms(decoded.positive_histograms, decoded.negative_histograms)
        expected_tp, expected_fp = brute_force_tp_fp(flat, problem.grid, keep)
        _assert_close(tp, expected_tp, weighted)
        _assert_close(fp, expected_fp, weighted)
    else:
        assert tuple(decoded.class_names) == problem.expected_names
        assert decoded.ignore_class == problem.options.get("ignore_class")
        _assert_close(decoded.matrix, reference_matrix(problem, flat, keep), weighted)


def check_value_error(problem: Problem, error: ValueError) -> None:
    fragments = problem.fragments
    assert fragments is not None, f"clean input refused ({problem.kind}, {problem.options.keys()}): {error}"
    message = str(error)
    assert any(fragment in message for fragment in fragments), (
        f"{problem.corruption}: message does not name {fragments}: {message}")


def _writer_kwargs(problem: Problem, tf_op: bool = False) -> dict:
    kwargs = {key: value for key, value in problem.options.items() if key not in ("name", "step")}
    if problem.api == "matrix":
        kwargs.pop("multi_label", None)
    if tf_op:
        kwargs.pop("display_name", None)
    return kwargs


# Numpy writers ------------------------------------------------------------------------------------


def _run_pb(problem: Problem, test: str) -> None:
    problem.record_coverage()
    write = summary.threshold_curves_pb if problem.api == "curves" else summary.confusion_matrix_pb
    try:
        pb = write(problem.options.get("name", "tag"), problem.labels, problem.predictions, **_writer_kwargs(problem))
    except ValueError as error:
        check_value_error(problem, error)
        EXAMPLES[test, "ValueError"] += 1
        return
    assert problem.fragments is None, f"{problem.corruption} was accepted"
    check_written(problem, decode_summary(pb))
    EXAMPLES[test, "ok"] += 1


def _assert_both_outcomes(test: str) -> None:
    assert EXAMPLES[test, "ok"] >= 5 and EXAMPLES[test, "ValueError"] >= 5, dict(EXAMPLES)


def test_threshold_curves_pb_fuzz():
    @fuzz(500)
    @given(problems("curves", WRITER_CALL_CORRUPTIONS, cell_cap=2_200_000))
    def run(problem):
        _run_pb(problem, "threshold_curves_pb")

    run()
    _assert_both_outcomes("threshold_curves_pb")


def test_confusion_matrix_pb_fuzz():
    @fuzz(400)
    @given(problems("matrix", WRITER_CALL_CORRUPTIONS, cell_cap=2_200_000))
    def run(problem):
        _run_pb(problem, "confusion_matrix_pb")

    run()
    _assert_both_outcomes("confusion_matrix_pb")


@pytest.mark.parametrize("api", ["curves", "matrix"])
def test_writers_extremes(tmp_path, api):
    """The largest problems (C = 1000 with the default grid; T = 10 000 explicit thresholds, binary)
    and weights whose sums overflow, through `SummaryWriter` and the event file."""
    rng = np.random.default_rng(7)
    cases = {
        "c1000": (rng.integers(0, 1000, 300), rng.dirichlet(np.ones(1000), 300).astype(np.float32), {}),
        "t10000": (rng.integers(0, 2, 2000), rng.random(2000),
                   {"thresholds": np.unique(rng.random(10_000).astype(np.float32))} if api == "curves" else {}),
    }
    write = summary.threshold_curves_pb if api == "curves" else summary.confusion_matrix_pb
    with tbm.SummaryWriter(tmp_path) as writer:
        for step, (name, (labels, scores, options)) in enumerate(cases.items()):
            writer.add_summary(write(name, labels, scores, **options), step=step)
        # Finite weights whose sum exceeds float64: refused, nothing written (a reader would see inf).
        with pytest.raises(ValueError, match="sample_weight"):
            write("tag", [0, 1, 1, 0], [0.1, 0.9, 0.8, 0.2], sample_weight=[1e308] * 4)
        for bad_step in (-1, 1.5, True, "2"):
            with pytest.raises(ValueError, match="step"):
                writer.add_summary(write("tag", [0, 1], [0.2, 0.7]), step=bad_step)
    written = read_run(tmp_path)
    assert {name: sorted(steps) for name, steps in written.items()} == {"c1000": [0], "t10000": [1]}
    for step, (name, (labels, scores, options)) in enumerate(cases.items()):
        binary = np.ndim(scores) == 1
        grid = np.asarray(options["thresholds"]) if "thresholds" in options else thresholds.default_thresholds()
        problem = Problem(api, "binary" if binary else "sparse", 1 if binary else scores.shape[1], labels, scores,
                          {"from_logits": False, **options}, "none", grid if api == "curves" else None,
                          ("negative", "positive") if binary else tuple(str(i) for i in range(1000)))
        check_written(problem, written[name][step])
        EXAMPLES["writers_extremes", "ok"] += 1


# The defects fuzzing found, pinned: each escaped as another exception (or was silently accepted).
P3 = np.array([[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]])
FOUND_DEFECTS = {
    # id: (APIs it reached, arguments, fragment the ValueError must contain)
    "ragged_predictions": ("pb tf metric", dict(labels=[0, 1], predictions=[[0.1, 0.9], [0.2]]), "predictions|y_pred"),
    "complex_predictions": ("pb tf metric", dict(labels=[0, 1], predictions=P3.astype(complex)), "predictions|y_pred"),
    "string_labels": ("metric", dict(labels=np.array(["a", "b"]), predictions=P3), "y_true"),
    "class_names_not_a_list": ("pb tf metric", dict(labels=[0, 1], predictions=P3, class_names=5), "class_names"),
    "class_names_a_string": ("pb", dict(labels=[0, 1], predictions=P3, class_names="abc"), "class_names"),
    "ignore_class_a_string": ("pb tf metric", dict(labels=[0, 1], predictions=P3, ignore_class="1"), "ignore_class"),
    "ignore_class_fractional": ("pb tf metric", dict(labels=[0, 1], predictions=P3, ignore_class=1.5), "ignore_class"),
    "thresholds_complex": ("pb tf metric", dict(labels=[0, 1], predictions=P3, thresholds=[0.1 + 1j]), "thresholds"),
    "thresholds_a_dict": ("pb tf metric", dict(labels=[0, 1], predictions=P3, thresholds={"a": 1}), "thresholds"),
    "weights_overflow": ("pb tf", dict(labels=[0, 1, 2], predictions=np.vstack([P3, P3[:1]]),
                                       sample_weight=[1e308] * 3), "sample_weight"),
    "weights_too_many": ("metric", dict(labels=[0, 1], predictions=P3, sample_weight=[1, 2, 3]), "sample_weight"),
    "weights_strings": ("metric", dict(labels=[0, 1], predictions=P3, sample_weight=["a", "b"]), "sample_weight"),
    "description_not_text": ("pb tf", dict(labels=[0, 1], predictions=P3, description=5), "description"),
    "name_not_text": ("tf", dict(name=5, labels=[0, 1], predictions=P3), "name"),
    "step_fractional": ("tf", dict(labels=[0, 1], predictions=P3, step=1.5), "step"),
    "ignore_class_with_one_hot": ("metric", dict(labels=np.eye(3)[[0, 1]], predictions=P3, ignore_class=0),
                                  "ignore_class"),
    "multi_label_with_sparse_labels": ("metric", dict(labels=[0, 1], predictions=P3, multi_label=True), "multi_label"),
}


@pytest.mark.parametrize("case", list(FOUND_DEFECTS))
def test_found_defects_raise_value_error(tmp_path, case):
    apis, arguments, fragment = FOUND_DEFECTS[case]
    arguments = dict(arguments)
    labels, predictions = arguments.pop("labels"), arguments.pop("predictions")
    name, step = arguments.pop("name", "tag"), arguments.pop("step", 0)
    weights = arguments.pop("sample_weight", None)
    calls = []
    if "pb" in apis:
        calls.append(lambda: summary.threshold_curves_pb(name, labels, predictions, sample_weight=weights, **arguments))
    if "tf" in apis:
        def tf_op():
            with tf.summary.create_file_writer(str(tmp_path)).as_default():
                summary.threshold_curves(name, labels, predictions, step, sample_weight=weights, **arguments)
        calls.append(tf_op)
    if "metric" in apis:
        calls.append(lambda: tbm.ThresholdCurves(**arguments).update_state(labels, predictions, sample_weight=weights))
    for call in calls:
        with pytest.raises(ValueError, match=fragment):
            call()
    assert not read_run(tmp_path)


# TensorFlow summary ops (eager) -------------------------------------------------------------------


def test_tf_summary_ops_fuzz(tmp_path):
    written: dict[tuple[str, int], Problem] = {}
    writer = tf.summary.create_file_writer(str(tmp_path))

    @fuzz(120)
    @given(st.sampled_from(["curves", "matrix"]).flatmap(
        lambda api: problems(api, TF_CALL_CORRUPTIONS, cell_cap=200_000, brute_cap=1_000_000)))
    def run(problem):
        problem.record_coverage()
        op = summary.threshold_curves if problem.api == "curves" else summary.confusion_matrix
        step = len(written)
        tag = f"tf_{problem.api}_{step}"  # a tag's metadata (class names) is fixed by its first step
        try:
            with writer.as_default():
                result = op(problem.options.get("name", tag), problem.labels, problem.predictions,
                            step=problem.options.get("step", step), **_writer_kwargs(problem, tf_op=True))
        except ValueError as error:
            check_value_error(problem, error)
            EXAMPLES["tf_summary_ops", "ValueError"] += 1
            return
        assert problem.fragments is None, f"{problem.corruption} was accepted"
        assert bool(result)
        written[tag, step] = problem
        EXAMPLES["tf_summary_ops", "ok"] += 1

    run()
    writer.close()
    runs = read_run(tmp_path)
    for (tag, step), problem in written.items():
        check_written(problem, runs[tag][step])
    assert sum(len(steps) for steps in runs.values()) == len(written)  # nothing written for refused calls
    _assert_both_outcomes("tf_summary_ops")


def test_tf_summary_ops_in_tf_function(tmp_path):
    """Inside `tf.function`, value errors surface as `tf.errors.InvalidArgumentError` carrying our
    message (documented), shape and argument errors as ValueError at trace time; clean calls write
    the numpy writer's counts."""
    rng = np.random.default_rng(11)
    labels, scores = rng.integers(0, 3, 40), rng.dirichlet(np.ones(3), 40).astype(np.float32)
    writer = tf.summary.create_file_writer(str(tmp_path))

    @tf.function
    def write(labels, predictions, step):
        with writer.as_default():
            summary.threshold_curves("curves", labels, predictions, step, num_thresholds=33)
            summary.confusion_matrix("matrix", labels, predictions, step)

    write(tf.constant(labels), tf.constant(scores), tf.constant(0, tf.int64))
    bad_scores = scores.copy()
    bad_scores[3, 1] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="predictions has 1 NaN"):
        write(tf.constant(labels), tf.constant(bad_scores), tf.constant(1, tf.int64))
    with pytest.raises(ValueError, match="labels of shape"):
        write(tf.constant(labels[:-1]), tf.constant(scores), tf.constant(2, tf.int64))
    writer.close()
    written = read_run(tmp_path)
    assert {tag: sorted(steps) for tag, steps in written.items()} == {"curves": [0], "matrix": [0]}
    for api, tag in (("curves", "curves"), ("matrix", "matrix")):
        problem = Problem(api, "sparse", 3, labels, scores, {"from_logits": False}, "none",
                          thresholds.default_thresholds(33) if api == "curves" else None, ("0", "1", "2"))
        check_written(problem, written[tag][0])
    EXAMPLES["tf_function", "ok"] += 2
    EXAMPLES["tf_function", "InvalidArgumentError/ValueError"] += 2


# Keras metrics (eager update_state / result / reset_state) ----------------------------------------


def _metric_for(problem: Problem):
    options = {key: value for key, value in problem.options.items()
               if key in ("num_thresholds", "thresholds", "from_logits", "multi_label", "num_classes",
                          "ignore_class", "class_names", "threshold")}
    if problem.api == "curves":
        return tbm.ThresholdCurves(**options)
    options.pop("multi_label", None)
    return tbm.ConfusionMatrix(**options)


def test_keras_metrics_fuzz():
    @fuzz(200)
    @given(st.sampled_from(["curves", "matrix"]).flatmap(
        lambda api: problems(api, METRIC_CALL_CORRUPTIONS, cell_cap=200_000, brute_cap=1_000_000)),
        st.integers(1, 3))
    def run(problem, num_batches):
        test = "keras_metrics"
        problem.record_coverage()
        try:
            metric = _metric_for(problem)
            weights = problem.options.get("sample_weight")
            labels, predictions = problem.labels, problem.predictions
            refused = problem.fragments and problem.corruption not in ITEM_CORRUPTIONS
            if num_batches == 1 or refused or np.ndim(weights) == 0:
                metric.update_state(labels, predictions, sample_weight=weights)
            else:
                for rows in np.array_split(np.arange(len(labels)), num_batches):
                    metric.update_state(labels[rows], predictions[rows],
                                        sample_weight=None if weights is None else weights[rows])
            result = float(metric.result())
        except ValueError as error:
            assert problem.corruption not in ITEM_CORRUPTIONS, f"{problem.corruption} must be counted, not raised"
            check_value_error(problem, error)
            EXAMPLES[test, "ValueError"] += 1
            return
        assert problem.corruption in (*ITEM_CORRUPTIONS, "none"), f"{problem.corruption} was accepted"
        flat = flatten(problem, keras_semantics=True)
        assert float(keras.ops.convert_to_numpy(metric.invalid_count)) == np.sum(flat.counted & ~flat.valid)
        keep = flat.counted & flat.valid
        assert np.isnan(result) or 0 <= result <= 1 + 1e-6
        # The backend's float32 exp may round an activated score 1 ulp away from numpy's, depending on
        # where the value sits in the batch: such a score can cross a threshold (or an argmax tie).
        slack = _activation_slack(problem, flat, keep)
        if problem.api == "curves":
            np.testing.assert_array_equal(metric.thresholds, problem.grid)
            tp, fp = tp_fp_from_histograms(*metric.histogram_values())
            expected_tp, expected_fp = brute_force_tp_fp(flat, problem.grid, keep)
            for actual, expected in ((tp, expected_tp), (fp, expected_fp)):
                # At most the slack: one item of weight 1 that crosses a threshold where no other
                # item lies differs by exactly 1 from a count of 0 (a strict `<` refused that).
                difference, allowed = np.abs(actual - expected), 1e-5 * expected + slack[:, None]
                assert np.all(difference <= allowed), np.argwhere(difference > allowed)[:5]
            expected_names = problem.expected_names[1:] if problem.num_columns == 1 else problem.expected_names
            assert metric.curve_names() == expected_names
        else:
            matrix, expected = metric.matrix_values(), reference_matrix(problem, flat, keep)
            assert np.abs(matrix - expected).sum() <= 1e-5 * expected.sum() + 2 * slack.sum() + 1e-35
            assert metric.resolved_class_names() == problem.expected_names
        metric.reset_state()
        assert float(keras.ops.convert_to_numpy(metric.invalid_count)) == 0
        assert not np.any(metric.histogram_values() if problem.api == "curves" else metric.matrix_values())
        EXAMPLES[test, "ok" if problem.corruption == "none" else "counted_invalid"] += 1

    run()
    assert EXAMPLES["keras_metrics", "ok"] >= 5 and EXAMPLES["keras_metrics", "ValueError"] >= 5
    assert EXAMPLES["keras_metrics", "counted_invalid"] >= 5


def _activation_slack(problem: Problem, flat: Flat, keep: np.ndarray) -> np.ndarray:
    """Per class, the weight of items whose activated score is within 4 float32 ulps of a threshold
    (curves) or of a decision (matrix): 0 without `from_logits`, where scores are only cast."""
    columns = flat.scores.shape[1]
    if not problem.options["from_logits"]:
        return np.zeros(columns if problem.api == "curves" else 1)
    scores = flat.scores[keep]
    near = 4 * np.spacing(np.abs(scores).astype(np.float32)).astype(np.float64) + 1e-45
    weights = flat.weights[keep]
    if problem.api == "curves":
        grid = np.asarray(problem.grid, dtype=np.float64)
        above = np.searchsorted(grid, scores)  # the nearest thresholds are grid[above - 1] and grid[above]
        below_distance = np.abs(scores - grid[np.clip(above - 1, 0, len(grid) - 1)])
        distance = np.minimum(below_distance, np.abs(scores - grid[np.clip(above, 0, len(grid) - 1)]))
        return (weights[:, None] * (distance <= near)).sum(axis=0)
    if columns == 1:
        ambiguous = np.abs(scores[:, 0] - problem.options.get("threshold", 0.5)) <= near[:, 0]
    else:
        top_two = np.sort(scores, axis=1)[:, -2:]
        ambiguous = top_two[:, 1] - top_two[:, 0] <= near.max(axis=1)
    return np.array([weights[ambiguous].sum()])


# MetricsCallback (a real tiny fit per case) ------------------------------------------------------


def _tiny_model(num_features: int, num_outputs: int, activation: str, metrics=()):
    model = keras.Sequential([keras.Input((num_features,)), keras.layers.Dense(num_outputs, activation=activation)])
    # Eager steps: tracing a tf.function would cost seconds for one tiny epoch.
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse", metrics=list(metrics), run_eagerly=True)
    return model


CALLBACK_CASES = {
    # id: (outputs, labels kind, weights, defect in validation data or callback arguments, error fragment)
    "binary_weighted": (1, "binary", "extreme", None, None),
    "multiclass_sparse_dataset": (4, "sparse", None, None, None),
    "multiclass_one_hot": (3, "one_hot", "ones", None, None),
    "label_out_of_range": (3, "sparse", None, "label", "labels"),
    "nan_weight": (1, "binary", "extreme", "weight", "sample_weight"),
    "weight_shape": (3, "sparse", "ones", "weight_shape", "sample_weight"),
    "class_names_not_a_list": (3, "sparse", None, "class_names", "class_names"),
    "ignore_class_not_an_int": (3, "sparse", None, "ignore_class", "ignore_class"),
    "empty": (3, "sparse", None, "empty", "empty"),
}


@pytest.mark.parametrize("case", list(CALLBACK_CASES))
def test_callback_validation_data(tmp_path, case):
    outputs, label_kind, weight_kind, defect, fragment = CALLBACK_CASES[case]
    rng = np.random.default_rng(len(case))
    x = rng.normal(size=(23, 5)).astype(np.float32)
    classes = rng.integers(0, max(outputs, 2), 23)
    y = classes if label_kind != "one_hot" else np.eye(outputs)[classes]
    weights = None if weight_kind is None else (
        np.ones(23) if weight_kind == "ones" else rng.choice([0.0, 1e-30, 1e30, 1.0], 23))
    if defect == "label":
        y = y.copy()
        y[4] = outputs
    elif defect == "weight":
        weights[3] = np.nan
    elif defect == "weight_shape":
        weights = np.ones(24)
    elif defect == "empty":
        x, y = x[:0], y[:0]
    validation = (x, y) if weights is None else (x, y, weights)
    if case == "multiclass_sparse_dataset":
        validation = tf.data.Dataset.from_tensor_slices(validation).batch(7)
    model = _tiny_model(5, outputs, "sigmoid" if outputs == 1 else "softmax")
    options = {"thresholds": [0.1, 0.5, 0.9]} if outputs == 3 else {}
    if defect == "class_names":
        options["class_names"] = 3
    elif defect == "ignore_class":
        options["ignore_class"] = "255"
    try:
        callback = tbm.MetricsCallback(tmp_path, validation_data=validation, batch_size=8, **options)
        model.fit(x[:8] if len(x) else np.zeros((8, 5), np.float32), np.zeros((8, outputs)), epochs=1,
                  verbose=0, callbacks=[callback])
    except ValueError as error:
        assert fragment is not None and fragment in str(error), str(error)
        assert not read_run(os.path.join(tmp_path, "validation")), "nothing is written for a bad epoch"
        EXAMPLES["callback", "ValueError"] += 1
        return
    assert fragment is None, f"{case} was accepted"
    written = read_run(os.path.join(tmp_path, "validation"))
    predictions = model.predict(x, verbose=0)
    problem = Problem("curves", {"binary": "binary_col", "sparse": "sparse", "one_hot": "one_hot"}[label_kind],
                      outputs, y.reshape(-1, 1) if outputs == 1 else y, predictions,
                      {"from_logits": False, "sample_weight": weights}, "none",
                      np.float32(options["thresholds"]) if "thresholds" in options else thresholds.default_thresholds(),
                      ("negative", "positive") if outputs == 1 else tuple(str(i) for i in range(outputs)))
    check_written(problem, written["threshold_curves"][0])
    check_written(dataclasses.replace(problem, api="matrix"), written["confusion_matrix"][0])
    EXAMPLES["callback", "ok"] += 1


@pytest.mark.parametrize("defect", ["label_out_of_range", "nan_weight"])
def test_callback_compiled_metrics_invalid_items(tmp_path, defect):
    """Compiled metrics leave bad validation items out and count them; the callback then raises the
    ValueError at epoch end and writes nothing for that epoch."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(16, 4)).astype(np.float32)
    y = np.eye(3)[rng.integers(0, 3, 16)]
    y_val, weights = y.copy(), np.ones(16)
    if defect == "label_out_of_range":
        y_val[5] = 0  # a one-hot row without a 1: no class
    else:
        weights[2] = np.nan
    ours = [tbm.ThresholdCurves(num_thresholds=11), tbm.ConfusionMatrix()]
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    # Keras gives sample weights only to `weighted_metrics`.
    # One case runs compiled (tf.function: the metric cannot raise there), the other eagerly.
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse", run_eagerly=defect == "nan_weight",
                  **{"weighted_metrics" if defect == "nan_weight" else "metrics": ours})
    with pytest.raises(ValueError, match=r"saw 1 items .*nothing was written"):
        model.fit(x, y, epochs=1, verbose=0, batch_size=8, validation_data=(x, y_val, weights),
                  callbacks=[tbm.MetricsCallback(tmp_path)])
    assert not read_run(os.path.join(tmp_path, "validation")) and not read_run(os.path.join(tmp_path, "train"))
    EXAMPLES["callback", "ValueError"] += 1


@pytest.fixture(scope="module", autouse=True)
def report_examples():
    yield
    total = sum(EXAMPLES.values())
    by_test = collections.defaultdict(dict)
    for (test, outcome), count in sorted(EXAMPLES.items()):
        by_test[test][outcome] = count
    print(f"\n[test_fuzz_api] {total} examples tried: {dict(by_test)}")
    print(f"[test_fuzz_api] coverage: {dict(sorted(COVERAGE.items()))}")
