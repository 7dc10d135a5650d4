"""`MetricsCallback`: logs threshold curves and confusion matrices at every epoch end."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence

import keras
import numpy as np

from tb_metrics_plugin import counting, inputs, layout, metadata, options, storage, summary
from tb_metrics_plugin import slices as slicing
from tb_metrics_plugin.metrics import (
    CONFUSION_MATRIX_TAG,
    THRESHOLD_CURVES_TAG,
    ConfusionMatrix,
    ThresholdCurves,
)
from tb_metrics_plugin.thresholds import DEFAULT_NUM_THRESHOLDS
from tb_metrics_plugin.writer import SummaryWriter

TRAIN_RUN = "train"
VALIDATION_RUN = "validation"
# Predicted items (rows × classes) gathered from validation batches before they are counted: about
# 5 MB of scores, labels and weights, whatever the size of the validation data.
_BLOCK_ITEMS = 1 << 20


class MetricsCallback(keras.callbacks.Callback):
    """Writes our summaries to `<log_dir>/validation` (and `<log_dir>/train`) with `step=epoch`.

    The run folders and steps are those of `keras.callbacks.TensorBoard(log_dir)`, so the curves
    line up with its scalars. Where the counts come from, in order:

    1. `ThresholdCurves` / `ConfusionMatrix` metrics compiled into the model (one
       `ThresholdCurves(confusion_matrix=True)` counts both, for less): their state at epoch
       end is the validation state (Keras' `evaluate` resets metrics, then runs), so no extra
       forward pass is made; `ThresholdCurves` keeps the validation split's raw scores while they
       fit (`max_raw_scores`), which makes its curves those of the predictions themselves. Their
       state at the end of the training part of the epoch is written to `train` (with
       `training_curves=False` the training steps count nothing and `train` is not written).
       Epochs without validation (`validation_freq`) write `train` only.
    2. Otherwise `validation_data`: arrays `(x, y)` / `(x, y, sample_weight)`, a `tf.data.Dataset`
       or a `keras.utils.PyDataset` of such tuples. It is predicted batch by batch and counted as it
       goes (memory independent of the number of samples); written to `validation` only.

    Args:
      log_dir: the same folder as Keras' TensorBoard callback: a local path or a URL
        (`gs://bucket/logs`, `s3://...`), written as `SummaryWriter` writes it.
      validation_data: data to predict when no metric of ours is compiled.
      class_names: names of the classes (binary: 2 names); overrides names given to the metrics.
      num_thresholds, thresholds, from_logits, multi_label, ignore_class: as in `ThresholdCurves`,
        for option 2.
      confusion_matrix: with option 2, also write the argmax confusion matrix (ignored for
        multi-label data), with the rank counts of top-k accuracy and top-k precision/recall (two
        or more score columns). Option 1's compiled `ConfusionMatrix` logs no ranks.
      batch_size: batch size for option 2 when `validation_data` is arrays.
      training_curves: with option 1, count the training split and write it to `train`. False
        makes the compiled metrics skip training steps (one branch each on TensorFlow; Keras'
        progress bar then shows NaN for them during training), for the cheapest steps.
      exact_training_curves: with option 1, also keep the training split's raw scores
        (`ThresholdCurves.record_raw_scores`), so that a small training split is written exactly
        like the validation split. Off by default: the record costs about as much per training
        step as the rest of the counting, and training splits are mostly too large to be exact;
        `train` is then written on the threshold grid.
      slices: {key: one string or integer per validation sample}, in the order `validation_data`
        yields its samples (a dataset must not shuffle). Each epoch also writes the counts of each
        slice, tags ``threshold_curves/key=value`` and ``confusion_matrix/key=value`` (see
        `summary.threshold_curves_pb`). Needs `validation_data`: a compiled metric sees only
        y_true, y_pred and sample_weight, not which sample it is. With slices the `validation` run
        is counted from `validation_data` even when metrics of ours are compiled (they still write
        `train`).

    Raises:
      ValueError: at construction when `log_dir` is a URL no installed file system writes, or for
        bad `slices` (see `slices.prepare_slices`) or slices without `validation_data`; at
        `on_train_begin` when there is neither a compiled metric of ours nor
        `validation_data`, or `validation_data` is empty; at epoch end for bad values (NaN scores,
        labels out of range), in which case nothing is written for that epoch.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike,
        validation_data=None,
        *,
        class_names: Sequence[str] | None = None,
        num_thresholds: int = DEFAULT_NUM_THRESHOLDS,
        thresholds: Sequence[float] | None = None,
        from_logits: bool = False,
        multi_label: bool = False,
        ignore_class: int | None = None,
        confusion_matrix: bool = True,
        batch_size: int = 32,
        training_curves: bool = True,
        exact_training_curves: bool = False,
        slices=None,
    ):
        super().__init__()
        options.check_class_names_list(class_names)
        inputs.check_ignore_class(ignore_class)
        self.log_dir = os.fspath(log_dir)
        storage.check_writable(self.log_dir)  # a URL nothing can write fails now, not after an epoch
        self.validation_data = validation_data
        self.class_names = None if class_names is None else tuple(class_names)
        self.grid = summary.resolve_thresholds(num_thresholds, thresholds)
        self.from_logits = from_logits
        self.multi_label = multi_label
        self.ignore_class = ignore_class
        self.write_confusion_matrix = confusion_matrix
        self.batch_size = batch_size
        self.training_curves = bool(training_curves)
        self.exact_training_curves = bool(exact_training_curves)
        self.slice_keys = _check_slices(slices, validation_data)
        self._writers: dict[str, SummaryWriter] = {}
        self._train_snapshot: list | None = None
        self._in_epoch = False
        self._validated = False

    # Keras hooks ----------------------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        if not self._compiled_metrics_declared() and self.validation_data is None:
            raise ValueError(
                "MetricsCallback has nothing to count: compile the model with "
                "metrics=[tb_metrics_plugin.ThresholdCurves(confusion_matrix=True)] "
                "(no extra pass over the data), or pass MetricsCallback(log_dir, "
                "validation_data=(x_val, y_val))."
            )
        if not self._compiled_metrics_declared() and _spans_several_workers(self.model):
            raise ValueError(
                "MetricsCallback(validation_data=...) cannot predict under a multi-worker "
                "tf.distribute strategy: Keras' predict is a collective that every worker must join, "
                "and only the chief writes. Compile the model with "
                "metrics=[tb_metrics_plugin.ThresholdCurves(confusion_matrix=True)] "
                "and pass fit(validation_data=...) instead: the workers' counts are then added up."
            )
        _check_distinct_tags(self._declared_metrics())
        self._trace_steps(training=True)  # before Keras traces its training step
        if self.validation_data is not None and _is_empty(self.validation_data):
            raise ValueError("validation_data is empty; pass at least one sample.")
        if self.validation_data is not None and _is_infinite(self.validation_data):
            raise ValueError(
                "validation_data is an infinite tf.data.Dataset (repeat() without a count); it would be "
                "read forever at every epoch end. Pass a finite dataset, e.g. dataset.take(num_batches)."
            )

    def on_epoch_begin(self, epoch, logs=None):
        self._in_epoch = True
        self._validated = False
        self._train_snapshot = None
        if not self.training_curves:
            # Keras has just reset the metrics, and resets them again before validation.
            for metric in self._declared_metrics():
                metric.skip_counting_until_reset()

    def on_test_begin(self, logs=None):
        # Called by fit's validation before it resets the metrics: the state is the training part.
        if self._in_epoch:
            self._validated = True
            if self.training_curves:
                self._train_snapshot = self._summaries_from_metrics()
        self._trace_steps(training=False)  # before Keras traces its evaluation step

    def on_test_end(self, logs=None):
        if self._in_epoch:
            self._trace_steps(training=True)

    def on_epoch_end(self, epoch, logs=None):
        self._in_epoch = False
        # Every worker reads the metric state, as fit's own epoch-end logs do: under a multi-worker
        # strategy a read of sync-on-read variables can be a collective that needs every worker.
        compiled = self._summaries_from_metrics()
        if not _is_chief():
            return
        by_run: dict[str, list] = {}
        if compiled:
            if self._validated:
                by_run[VALIDATION_RUN] = compiled
                if self._train_snapshot is not None:
                    by_run[TRAIN_RUN] = self._train_snapshot
            elif self.training_curves:  # an epoch without validation (validation_freq)
                by_run[TRAIN_RUN] = compiled
        if self.slice_keys or (not compiled and self.validation_data is not None):
            # validation_data is the only path that slices: it replaces the compiled validation state.
            by_run[VALIDATION_RUN] = self._summaries_from_validation_data()
        # Everything is counted and checked before the first write: a bad epoch writes nothing.
        for run, summaries in by_run.items():
            writer = self._writer(run)
            for value in summaries:
                writer.add_summary(value, step=int(epoch))
            writer.flush()

    def on_train_end(self, logs=None):
        self._trace_steps(training=False)  # the metrics' own defaults, for a later evaluate()
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    # Counting -------------------------------------------------------------------------------------

    def _writer(self, run: str) -> SummaryWriter:
        if run not in self._writers:
            self._writers[run] = SummaryWriter(storage.join(self.log_dir, run))
        return self._writers[run]

    def _our_metrics(self) -> list:
        found = []
        for metric in _walk_metrics(self.model.metrics):
            if isinstance(metric, (ThresholdCurves, ConfusionMatrix)) and metric not in found:
                found.append(metric)
        return found

    def _declared_metrics(self) -> list:
        """Our metrics passed to `compile`, also before Keras builds its metrics container (at the
        first step, which is when our metrics build their state)."""
        compile_metrics = getattr(self.model, "_compile_metrics", None)
        declared = [getattr(compile_metrics, attr, None) for attr in ("_user_metrics", "_user_weighted_metrics")]
        found = self._our_metrics()
        for metric in _flatten(declared):
            if isinstance(metric, (ThresholdCurves, ConfusionMatrix)) and metric not in found:
                found.append(metric)
        return found

    def _trace_steps(self, training: bool) -> None:
        """Sets what the steps Keras traces next are (`ThresholdCurves.trace_training_steps`), and
        whether they keep raw scores: a training step only with `exact_training_curves`."""
        for metric in self._declared_metrics():
            if isinstance(metric, ThresholdCurves):
                metric.trace_training_steps(training)
                metric.record_raw_scores(self.exact_training_curves if training else True)

    def _compiled_metrics_declared(self) -> bool:
        return bool(self._declared_metrics())

    def _summaries_from_metrics(self) -> list:
        """Each built metric's state as a summary (`summary_pb`); raises on invalid items."""
        summaries = [metric.summary_pb(class_names=self.class_names) for metric in self._our_metrics()]
        return [value for value in summaries if value is not None]

    def _summaries_from_validation_data(self) -> list:
        """Predicts `validation_data` batch by batch and counts the predictions in blocks of about
        `_BLOCK_ITEMS` items: counting has a fixed cost of a few C·(T+1) histograms per call, which
        batch by batch dominated (29x the counting itself for 1000 classes in batches of 32). When
        every prediction fits one block, the threshold curves are counted from the items themselves,
        so small classes are stored exactly (`summary.curve_counts`). With slices each block is
        also split by slice once per key (`slices.partition`) and each slice counts its own items."""
        keys = self.slice_keys
        infos = [metadata.SliceInfo(THRESHOLD_CURVES_TAG, key.key, value) for key in keys for value in key.values]
        # per group (overall, then each slice): [positive, negative, matrix, true_ranks, class_ranks]
        totals: list | None = None
        block: list[inputs.PreparedBatch] = []
        block_codes: list[list[np.ndarray]] = [[] for _ in keys]
        block_items = samples_seen = 0

        def groups(items: inputs.PreparedBatch, codes: list[np.ndarray]) -> list[inputs.PreparedBatch]:
            parts = [items]
            for key, key_codes in zip(keys, codes, strict=True):
                parts.extend(slicing.partition(items, key_codes, len(key.values)))
            return parts

        def matrix_of(items: inputs.PreparedBatch) -> tuple:
            """(matrix, true_ranks, class_ranks) of the items, each None when not logged."""
            if self.write_confusion_matrix and items.true_classes is not None:
                matrix = counting.confusion_counts(
                    items.true_classes, items.predicted_classes(), items.num_classes, items.weights)
                return (matrix, *summary.batch_rank_counts(items))
            return None, None, None

        def count_block(items: inputs.PreparedBatch, codes: list[np.ndarray]):
            nonlocal totals
            counted = [[*part.threshold_histograms(self.grid), *matrix_of(part)] for part in groups(items, codes)]
            totals = counted if totals is None else [
                [None if a is None else a + b for a, b in zip(total, new, strict=True)]
                for total, new in zip(totals, counted, strict=True)
            ]

        def take_block():
            items = inputs.PreparedBatch.concatenate(block)
            codes = [np.concatenate(key_codes) for key_codes in block_codes]
            block.clear()
            for key_codes in block_codes:
                key_codes.clear()
            return items, codes

        num_classes = num_columns = None
        for x, y, sample_weight in _batches(self.validation_data, self.batch_size):
            predictions = keras.ops.convert_to_numpy(self.model.predict_on_batch(x))
            batch = inputs.prepare(
                y, predictions, sample_weight=sample_weight, from_logits=self.from_logits,
                multi_label=self.multi_label, ignore_class=self.ignore_class,
            )
            for key, key_codes in zip(keys, block_codes, strict=True):
                sample_codes = key.codes[samples_seen: samples_seen + len(predictions)]
                if len(sample_codes) != len(predictions):
                    raise ValueError(_slice_length_message(key, samples_seen + len(predictions), "at least"))
                key_codes.append(slicing.item_codes(sample_codes, y, predictions, self.ignore_class))
            samples_seen += len(predictions)
            if num_classes is None:
                num_classes, num_columns = batch.num_classes, batch.scores.shape[1]
            block.append(batch)
            block_items += batch.scores.size
            if block_items >= _BLOCK_ITEMS:
                count_block(*take_block())
                block_items = 0
        for key in keys:
            if len(key.codes) != samples_seen:
                raise ValueError(_slice_length_message(key, samples_seen, "exactly"))
        if num_classes is None:
            raise ValueError("validation_data produced no items to count (empty, or all ignore_class).")
        names = summary.resolve_class_names(self.class_names, num_classes)
        curve_names = summary.curve_class_names(names, num_columns)
        last_block, last_codes = take_block() if block else (None, None)
        weighs_something = last_block is not None and last_block.scores.shape[0] and (
            last_block.weights is None or last_block.weights.sum() > 0)
        if totals is None and weighs_something:
            # Every prediction in one block: count from the items, exact where a class is small.
            overall, *parts = groups(last_block, last_codes)
            curves = summary.threshold_curves_pb_from_curve_counts(
                THRESHOLD_CURVES_TAG, summary.curve_counts(overall, self.grid, curve_names))
            for info, part in zip(infos, parts, strict=True):
                summary.add_slice_curves(curves, info, summary.slice_curve_counts(part, self.grid, curve_names))
            matrices = [matrix_of(part) for part in (overall, *parts)]
        else:
            if last_block is not None:
                count_block(last_block, last_codes)
            if totals is None or (totals[0][0].sum() + totals[0][1].sum()) == 0:
                raise ValueError("validation_data produced no items to count (empty, or all ignore_class).")
            (positive, negative, *_), *slice_totals = totals
            curves = summary.threshold_curves_pb_from_counts(
                THRESHOLD_CURVES_TAG, self.grid, positive, negative, curve_names)
            for info, (slice_positive, slice_negative, *_) in zip(infos, slice_totals, strict=True):
                summary.add_slice_curves(curves, info, layout.ThresholdCurveCounts(
                    self.grid, slice_positive, slice_negative, tuple(curve_names)))
            matrices = [tuple(matrix_counts) for _, _, *matrix_counts in totals]
        summaries = [curves]
        if matrices[0][0] is not None:
            decision = summary.decision_rule(num_columns)
            matrix, true_ranks, class_ranks = matrices[0]
            matrix_summary = summary.confusion_matrix_pb_from_counts(
                CONFUSION_MATRIX_TAG, matrix, names, ignore_class=self.ignore_class, decision=decision,
                true_ranks=true_ranks, class_ranks=class_ranks)
            for info, (matrix, true_ranks, class_ranks) in zip(infos, matrices[1:], strict=True):
                summary.add_slice_matrix(
                    matrix_summary, dataclasses.replace(info, parent=CONFUSION_MATRIX_TAG), matrix, names,
                    ignore_class=self.ignore_class, decision=decision, ranks=(true_ranks, class_ranks))
            summaries.append(matrix_summary)
        return summaries


def _check_distinct_tags(metrics: list) -> None:
    """Refuses compiled metrics of ours that would write the same tag at the same step."""
    seen: dict[str, str] = {}
    for metric in metrics:
        for tag in metric.written_tags():
            if tag in seen:
                raise ValueError(
                    f"compiled metrics {seen[tag]!r} and {metric.name!r} both write the tag {tag!r}. "
                    "Give one of them another tag=..., or drop ConfusionMatrix() when "
                    "ThresholdCurves(confusion_matrix=True) already counts the matrix."
                )
            seen[tag] = metric.name


def _check_slices(slices, validation_data) -> list[slicing.SliceKey]:
    """`slices` checked at construction (`slices.prepare_slices`; the number of samples is checked
    against `validation_data` as it is read)."""
    if slices is None:
        return []
    if validation_data is None:
        raise ValueError(
            "MetricsCallback(slices=...) needs validation_data=(x_val, y_val): compiled metrics see only "
            "y_true, y_pred and sample_weight, not which sample (and so which slice) each row is. Pass the "
            "validation data whose samples the slice values describe."
        )
    if isinstance(slices, dict):
        lengths = {np.shape(np.asarray(values, dtype=object))[:1] for values in slices.values()}
        num_samples = next(iter(lengths))[0] if len(lengths) == 1 and next(iter(lengths)) else -1
        if num_samples < 0:
            raise ValueError(
                f"slices arrays must all be one-dimensional with one value per validation sample; got "
                f"lengths {sorted(str(length) for length in lengths)}."
            )
        return slicing.prepare_slices(slices, num_samples)
    return slicing.prepare_slices(slices, 0)  # raises: not a dict


def _slice_length_message(key: slicing.SliceKey, num_samples: int, how: str) -> str:
    return (
        f"slices[{key.key!r}] has {len(key.codes)} values but validation_data yielded {how} {num_samples} "
        "samples; pass one value per validation sample, in the order validation_data yields them."
    )


def _walk_metrics(metrics):
    for metric in metrics:
        yield metric
        nested = getattr(metric, "metrics", None)
        if isinstance(nested, (list, tuple)) and nested is not metrics:
            yield from _walk_metrics(nested)


def _flatten(structure):
    if isinstance(structure, dict):
        for value in structure.values():
            yield from _flatten(value)
    elif isinstance(structure, (list, tuple)):
        for value in structure:
            yield from _flatten(value)
    elif structure is not None:
        yield structure


def _is_empty(data) -> bool:
    if isinstance(data, (tuple, list)):
        # The labels' length: x may be a list or dict of several inputs, whose len() is not samples.
        return len(data) == 0 or (len(data) in (2, 3) and len(data[1]) == 0)
    try:
        return len(data) == 0
    except TypeError:  # a dataset of unknown length is checked when it is read
        return False


def _is_infinite(data) -> bool:
    cardinality = getattr(data, "cardinality", None)  # tf.data.Dataset
    return callable(cardinality) and int(cardinality()) == -1  # tf.data.INFINITE_CARDINALITY


def _split(element):
    if isinstance(element, (tuple, list)):
        if len(element) == 2:
            return element[0], element[1], None
        if len(element) == 3:
            return tuple(element)
    raise ValueError(
        "validation_data must yield (x, y) or (x, y, sample_weight) tuples, got "
        f"{type(element).__name__}."
    )


def _batches(data, batch_size):
    """Yields numpy (x, y, sample_weight) batches from arrays, a tf.data.Dataset or a PyDataset."""
    if isinstance(data, (tuple, list)):
        x, y, sample_weight = _split(tuple(data))
        for start in range(0, len(y), batch_size):
            rows = slice(start, start + batch_size)
            weights = None if sample_weight is None else np.asarray(sample_weight)[rows]
            yield _take_rows(x, rows), np.asarray(y)[rows], weights
        return
    if isinstance(data, keras.utils.PyDataset):
        for index in range(len(data)):
            yield _split(data[index])
        return
    if hasattr(data, "as_numpy_iterator"):  # tf.data.Dataset
        for element in data.as_numpy_iterator():
            yield _split(element)
        return
    raise ValueError(
        f"validation_data of type {type(data).__name__} is not supported; pass (x, y), "
        "(x, y, sample_weight), a tf.data.Dataset or a keras.utils.PyDataset."
    )


def _take_rows(x, rows):
    if isinstance(x, dict):
        return {key: np.asarray(value)[rows] for key, value in x.items()}
    if isinstance(x, (list, tuple)):
        return [np.asarray(value)[rows] for value in x]
    return np.asarray(x)[rows]


def _spans_several_workers(model) -> bool:
    """True when the model's tf.distribute strategy has a cluster of more than one worker process
    (MultiWorkerMirroredStrategy with a TF_CONFIG cluster); False on other backends and strategies."""
    resolver = getattr(getattr(model, "distribute_strategy", None), "cluster_resolver", None)
    if resolver is None:
        return False
    cluster = resolver.cluster_spec().as_dict()
    return sum(len(cluster.get(job, ())) for job in ("chief", "worker")) > 1


def _is_chief() -> bool:
    """False on non-chief workers of a multi-worker job (TF_CONFIG), so that only one writes.

    The chief is the task of type "chief", or worker 0 when the cluster has no chief, as in
    `tf.distribute.MultiWorkerMirroredStrategy`.
    """
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = config.get("task") or {}
    task_type, task_id = task.get("type"), int(task.get("index", 0))
    if task_type is None:
        return True
    if task_type == "chief":
        return True
    if task_type == "worker":
        return "chief" not in (config.get("cluster") or {}) and task_id == 0
    return False
