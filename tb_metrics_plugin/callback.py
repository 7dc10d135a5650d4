"""`MetricsCallback`: logs threshold curves and confusion matrices at every epoch end."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import keras
import numpy as np

from tb_metrics_plugin import counting, inputs, storage, summary
from tb_metrics_plugin.metrics import CONFUSION_MATRIX_TAG, THRESHOLD_CURVES_TAG, ConfusionMatrix, ThresholdCurves
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

    1. `ThresholdCurves` / `ConfusionMatrix` metrics compiled into the model: their state at epoch
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
        multi-label data).
      batch_size: batch size for option 2 when `validation_data` is arrays.
      training_curves: with option 1, count the training split and write it to `train`. False
        makes the compiled metrics skip training steps (one branch each on TensorFlow; Keras'
        progress bar then shows NaN for them during training), for the cheapest steps.
      exact_training_curves: with option 1, also keep the training split's raw scores
        (`ThresholdCurves.record_raw_scores`), so that a small training split is written exactly
        like the validation split. Off by default: the record costs about as much per training
        step as the rest of the counting, and training splits are mostly too large to be exact;
        `train` is then written on the threshold grid.

    Raises:
      ValueError: at construction when `log_dir` is a URL no installed file system writes; at
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
    ):
        super().__init__()
        summary.check_class_names_list(class_names)
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
        self._writers: dict[str, SummaryWriter] = {}
        self._train_snapshot: list | None = None
        self._in_epoch = False
        self._validated = False

    # Keras hooks ----------------------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        if not self._compiled_metrics_declared() and self.validation_data is None:
            raise ValueError(
                "MetricsCallback has nothing to count: compile the model with "
                "metrics=[tb_metrics_plugin.ThresholdCurves(), tb_metrics_plugin.ConfusionMatrix()] "
                "(no extra pass over the data), or pass MetricsCallback(log_dir, "
                "validation_data=(x_val, y_val))."
            )
        if not self._compiled_metrics_declared() and _spans_several_workers(self.model):
            raise ValueError(
                "MetricsCallback(validation_data=...) cannot predict under a multi-worker "
                "tf.distribute strategy: Keras' predict is a collective that every worker must join, "
                "and only the chief writes. Compile the model with "
                "metrics=[tb_metrics_plugin.ThresholdCurves(), tb_metrics_plugin.ConfusionMatrix()] "
                "and pass fit(validation_data=...) instead: the workers' counts are then added up."
            )
        self._record_raw_scores(self.exact_training_curves)  # before Keras traces its training step
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
        self._record_raw_scores(True)  # before Keras traces its evaluation step

    def on_test_end(self, logs=None):
        if self._in_epoch:
            self._record_raw_scores(self.exact_training_curves)

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
        elif self.validation_data is not None:
            by_run[VALIDATION_RUN] = self._summaries_from_validation_data()
        # Everything is counted and checked before the first write: a bad epoch writes nothing.
        for run, summaries in by_run.items():
            writer = self._writer(run)
            for value in summaries:
                writer.add_summary(value, step=int(epoch))
            writer.flush()

    def on_train_end(self, logs=None):
        self._record_raw_scores(True)  # the metrics' own default, for a later evaluate()
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

    def _record_raw_scores(self, enabled: bool) -> None:
        for metric in self._declared_metrics():
            if isinstance(metric, ThresholdCurves):
                metric.record_raw_scores(enabled)

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
        so small classes are stored exactly (`summary.curve_counts`)."""
        positive = negative = matrix = None
        block: list[inputs.PreparedBatch] = []
        block_items = 0

        def count_block(items: inputs.PreparedBatch):
            nonlocal positive, negative, matrix
            block_positive, block_negative = items.threshold_histograms(self.grid)
            positive = block_positive if positive is None else positive + block_positive
            negative = block_negative if negative is None else negative + block_negative
            count_matrix(items)

        def count_matrix(items: inputs.PreparedBatch):
            nonlocal matrix
            if self.write_confusion_matrix and items.true_classes is not None:
                block_matrix = counting.confusion_counts(
                    items.true_classes, items.predicted_classes(), items.num_classes, items.weights
                )
                matrix = block_matrix if matrix is None else matrix + block_matrix

        num_classes = num_columns = None
        for x, y, sample_weight in _batches(self.validation_data, self.batch_size):
            predictions = keras.ops.convert_to_numpy(self.model.predict_on_batch(x))
            batch = inputs.prepare(
                y, predictions, sample_weight=sample_weight, from_logits=self.from_logits,
                multi_label=self.multi_label, ignore_class=self.ignore_class,
            )
            if num_classes is None:
                num_classes, num_columns = batch.num_classes, batch.scores.shape[1]
            block.append(batch)
            block_items += batch.scores.size
            if block_items >= _BLOCK_ITEMS:
                count_block(inputs.PreparedBatch.concatenate(block))
                block.clear()
                block_items = 0
        if num_classes is None:
            raise ValueError("validation_data produced no items to count (empty, or all ignore_class).")
        names = summary.resolve_class_names(self.class_names, num_classes)
        curve_names = summary.curve_class_names(names, num_columns)
        last_block = inputs.PreparedBatch.concatenate(block) if block else None
        weighs_something = last_block is not None and last_block.scores.shape[0] and (
            last_block.weights is None or last_block.weights.sum() > 0)
        if positive is None and weighs_something:
            # Every prediction in one block: count from the items, exact where a class is small.
            count_matrix(last_block)
            curves = summary.threshold_curves_pb_from_curve_counts(
                THRESHOLD_CURVES_TAG, summary.curve_counts(last_block, self.grid, curve_names))
        else:
            if last_block is not None:
                count_block(last_block)
            if positive is None or (positive.sum() + negative.sum()) == 0:
                raise ValueError("validation_data produced no items to count (empty, or all ignore_class).")
            curves = summary.threshold_curves_pb_from_counts(
                THRESHOLD_CURVES_TAG, self.grid, positive, negative, curve_names)
        summaries = [curves]
        if matrix is not None:
            summaries.append(summary.confusion_matrix_pb_from_counts(
                CONFUSION_MATRIX_TAG, matrix, names, ignore_class=self.ignore_class,
                decision=summary.decision_rule(num_columns)))
        return summaries


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
