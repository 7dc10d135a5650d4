"""A fixed-capacity record, in a Keras metric variable, of the raw items a metric counted.

A Keras metric's state has a fixed size, so `ThresholdCurves` counts scores into histograms over a
threshold grid. Next to them it keeps the items themselves, one row each: scores (C columns), label
(1 column, or C for multi-label data) and weight. While every item of the split fits, the summary
is written from the items, as the numpy writer would write it from the predictions; the first batch
that does not fit ends the record until the next reset, and the grid histograms are written.

Rows are written in place (`metric_updates.put_rows`): a step costs its batch, not the capacity.
Items the metric does not count (invalid, `ignore_class`) go to one spare row past the capacity.
How many rows are kept is one of the metric's tallies (a float32 count: exact, as the capacity is
at most 2^24 items). Under a tf.distribute strategy the record is not kept: replicas would append
into the same rows of their copies, and sync-on-read variables are summed, not concatenated.
"""

from __future__ import annotations

import numpy as np
from keras import ops

from tb_metrics_plugin.metric_updates import can_branch_with_updates, put_rows

# Items a record holds at most: its count of kept items is a float32 tally.
MAX_CAPACITY = 1 << 24


class RawItems:
    """Raw (scores, labels, weight) rows of up to `capacity` items in a variable of `metric`, and
    their count in `tallies[kept_index]`.

    Attributes:
      capacity: items that fit.
      rows: variable (capacity + 1, num_columns + label_columns + 1): scores, labels, weight.
      overflowed: the count once an item was left out (capacity + 1): no batch fits any more.
    """

    def __init__(self, metric, capacity: int, num_columns: int, label_columns: int, tallies, kept_index: int):
        if not 1 <= capacity <= MAX_CAPACITY:
            raise ValueError(f"capacity={capacity} must be from 1 to {MAX_CAPACITY} items.")
        self.capacity = capacity
        self.overflowed = capacity + 1
        self.num_columns = num_columns
        self.label_columns = label_columns
        self._tallies, self._kept_index = tallies, kept_index
        width = num_columns + label_columns + 1
        self.rows = metric.add_variable(shape=(capacity + 1, width), initializer="zeros", name="raw_items")

    def append(self, scores, labels, weights, keep, kept):
        """Writes the rows of `keep` after the `kept` ones when all of them fit; returns the new
        count (float32), `overflowed` when they do not fit or an item was left out before.

        Args:
          scores: float32 (M, num_columns).
          labels: float32 (M, label_columns).
          weights: float32 (M,).
          keep: bool (M,): the items the metric counts.
          kept: float32 scalar: the count so far.
        """
        keep_count = ops.cast(keep, "int32")
        kept = ops.cast(kept, "int32")
        total = kept + ops.sum(keep_count)
        fits = total <= self.capacity  # never after an overflow

        def write(keep):
            # Kept items take the next free rows in order; the others all go to the spare last row.
            rank = ops.cumsum(keep_count)  # 1 for the first kept item of the batch, …
            row_indices = ops.where(keep, kept + rank - 1, self.capacity)
            put_rows(self.rows, row_indices, ops.concatenate([scores, labels, ops.expand_dims(weights, -1)], axis=-1))

        if can_branch_with_updates():
            # A batch that does not fit costs a branch (~5 µs), not its rows' ranks, rows and writes
            # to the spare row (about 12 ns an item: 12 ms for 10^6 binary scores).
            ops.cond(fits, lambda: write(keep), lambda: None)
        else:
            write(keep & fits)
        return ops.cast(ops.where(fits, total, self.overflowed), "float32")

    def kept(self) -> int:
        """Items kept since the last reset (`overflowed` after an overflow)."""
        return int(ops.convert_to_numpy(self._tallies)[self._kept_index])

    def read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(scores (M, num_columns), labels (M, label_columns), weights (M,)) of every item counted
        since the last reset, as float32 numpy arrays; None when some item was left out, or none
        was kept."""
        kept = self.kept()
        if kept > self.capacity or not kept:
            return None
        rows = np.asarray(ops.convert_to_numpy(self.rows[:kept]))
        labels_end = self.num_columns + self.label_columns
        return rows[:, : self.num_columns], rows[:, self.num_columns : labels_end], rows[:, labels_end]
