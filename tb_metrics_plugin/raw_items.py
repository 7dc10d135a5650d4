"""A fixed-capacity record, in Keras metric variables, of the raw items a metric counted.

A Keras metric's state has a fixed size, so `ThresholdCurves` counts scores into histograms over a
threshold grid. Next to them it keeps the items themselves, one row each: scores (C columns), label
(1 column, or C for multi-label data) and weight. While every item of the split fits, the summary
is written from the items, as the numpy writer would write it from the predictions; the first batch
that does not fit ends the record until the next reset, and the grid histograms are written.

Rows are appended in place (`metric_updates.put_rows`): a step costs its batch, not the capacity;
`pause` makes the steps of a split whose items are not wanted (training) skip it.
Items the metric does not count (invalid, `ignore_class`) go to one spare row past the capacity.
Under a tf.distribute strategy the record is not kept: replicas would append into the same rows of
their copies, and sync-on-read variables are summed, not concatenated, when read.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from tb_metrics_plugin.metric_updates import put_rows


class RawItems:
    """Raw (scores, labels, weight) rows of up to `capacity` items, in variables of `metric`.

    Attributes:
      capacity: items that fit.
      rows: variable (capacity + 1, num_columns + label_columns + 1): scores, labels, weight.
      kept: int32 variable: items kept since the last reset, or capacity + 1 once an item was left
        out (then no batch fits any more).
      paused: int32 variable, 1 while batches are to be left out unseen (`pause`, or `paused=True`
        at creation); a reset clears it.
    """

    def __init__(self, metric, capacity: int, num_columns: int, label_columns: int, paused: bool = False):
        if capacity < 1:
            raise ValueError(f"capacity={capacity} must be at least 1 item.")
        self.capacity = capacity
        self.num_columns = num_columns
        self.label_columns = label_columns
        width = num_columns + label_columns + 1
        self.rows = metric.add_variable(shape=(capacity + 1, width), initializer="zeros", name="raw_items")
        self.kept = metric.add_variable(shape=(), initializer="zeros", dtype="int32", name="raw_items_kept")
        self.paused = metric.add_variable(
            shape=(), initializer="ones" if paused else "zeros", dtype="int32", name="raw_items_paused"
        )

    def pause(self) -> None:
        """Leaves out every batch until the next reset, at the cost of one branch a batch on
        TensorFlow: for a split whose raw items are not wanted (training steps)."""
        self.paused.assign(1)

    def append(self, scores, labels, weights, keep) -> None:
        """Appends the rows of `keep` when all of them fit, none was left out before and the record
        is not paused; else marks it as overflowed.

        Args:
          scores: float32 (M, num_columns).
          labels: float32 (M, label_columns).
          weights: float32 (M,).
          keep: bool (M,): the items the metric counts.
        """
        if keras.backend.backend() != "tensorflow":
            # ops.cond cannot carry variable updates out of its branches on JAX: pay for the rows.
            self._append(scores, labels, weights, keep, ops.copy(self.paused) == 0)
            return

        def overflow():
            self.kept.assign(self.capacity + 1)
            return 0

        def append():
            self._append(scores, labels, weights, keep, True)
            return 0

        ops.cond(self.paused == 0, append, overflow)

    def _append(self, scores, labels, weights, keep, recording) -> None:
        keep_count = ops.cast(keep, "int32")
        rank = ops.cumsum(keep_count)  # 1 for the first kept item of the batch, …
        kept = ops.copy(self.kept)  # one read of the variable for its two uses
        total = kept + ops.sum(keep_count)
        fits = ops.logical_and(total <= self.capacity, recording)  # never after an overflow (kept = capacity + 1)
        # Kept items take the next free rows in order; the others all go to the spare last row.
        row_indices = ops.where(keep & fits, kept + rank - 1, self.capacity)
        put_rows(self.rows, row_indices, ops.concatenate([scores, labels, ops.expand_dims(weights, -1)], axis=-1))
        self.kept.assign(ops.where(fits, total, self.capacity + 1))

    def read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(scores (M, num_columns), labels (M, label_columns), weights (M,)) of every item counted
        since the last reset, as float32 numpy arrays; None when some item was left out, or none
        was kept."""
        kept = int(ops.convert_to_numpy(self.kept))
        if kept > self.capacity or not kept:
            return None
        rows = np.asarray(ops.convert_to_numpy(self.rows[:kept]))
        labels_end = self.num_columns + self.label_columns
        return rows[:, : self.num_columns], rows[:, self.num_columns : labels_end], rows[:, labels_end]
