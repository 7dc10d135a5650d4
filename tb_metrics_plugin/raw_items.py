"""A fixed-capacity record, in Keras metric variables, of the raw items a metric counted.

A Keras metric's state has a fixed size, so `ThresholdCurves` counts scores into histograms over a
threshold grid. Next to them it keeps the items themselves, one row each: scores (C columns), label
(1 column, or C for multi-label data) and weight. While every item of the split fits, the summary
is written from the items, as the numpy writer would write it from the predictions; the first batch
that does not fit ends the record until the next reset, and the grid histograms are written.

Rows are appended in place (`metric_updates.put_rows`): a step costs its batch, not the capacity.
Items the metric does not count (invalid, `ignore_class`) go to one spare row past the capacity.
Under a tf.distribute strategy the record is not kept: replicas would append into the same rows of
their copies, and sync-on-read variables are summed, not concatenated, when read.
"""

from __future__ import annotations

import numpy as np
from keras import ops

from tb_metrics_plugin.metric_updates import put_rows

KEPT, LEFT_OUT = 0, 1  # the two tallies


class RawItems:
    """Raw (scores, labels, weight) rows of up to `capacity` items, in two variables of `metric`.

    Attributes:
      capacity: items that fit.
      rows: variable (capacity + 1, num_columns + label_columns + 1): scores, labels, weight.
      tallies: variable (2,): items kept, items left out since the last reset (float32 counts; past
        2^24 left-out items only their being non-zero is exact, which is all that is read).
    """

    def __init__(self, metric, capacity: int, num_columns: int, label_columns: int):
        if capacity < 1:
            raise ValueError(f"capacity={capacity} must be at least 1 item.")
        self.capacity = capacity
        self.num_columns = num_columns
        self.label_columns = label_columns
        width = num_columns + label_columns + 1
        self.rows = metric.add_variable(shape=(capacity + 1, width), initializer="zeros", name="raw_items")
        self.tallies = metric.add_variable(shape=(2,), initializer="zeros", name="raw_item_tallies")

    def append(self, scores, labels, weights, keep) -> None:
        """Appends the rows of `keep` when all of them fit and nothing was left out before; else
        tallies them as left out.

        Args:
          scores: float32 (M, num_columns).
          labels: float32 (M, label_columns).
          weights: float32 (M,).
          keep: bool (M,): the items the metric counts.
        """
        keep_count = ops.cast(keep, "int32")
        arriving = ops.sum(keep_count)
        kept = ops.cast(self.tallies[KEPT], "int32")
        fits = ops.logical_and(self.tallies[LEFT_OUT] == 0, kept + arriving <= self.capacity)
        # Kept items take the next free rows in order; the others all go to the spare row.
        row_indices = ops.where(ops.logical_and(keep, fits), kept + ops.cumsum(keep_count) - 1, self.capacity)
        rows = ops.concatenate([scores, labels, ops.expand_dims(weights, -1)], axis=-1)
        put_rows(self.rows, row_indices, rows)
        arriving = ops.cast(arriving, "float32")
        zero = ops.zeros_like(arriving)
        self.tallies.assign_add(ops.where(fits, ops.stack([arriving, zero]), ops.stack([zero, arriving])))

    def read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(scores (M, num_columns), labels (M, label_columns), weights (M,)) of every item counted
        since the last reset, as float32 numpy arrays; None when some item was left out, or none
        was kept."""
        kept, left_out = np.asarray(ops.convert_to_numpy(self.tallies))
        if left_out or not kept:
            return None
        rows = np.asarray(ops.convert_to_numpy(self.rows[: int(kept)]))
        labels_end = self.num_columns + self.label_columns
        return rows[:, : self.num_columns], rows[:, self.num_columns : labels_end], rows[:, labels_end]
