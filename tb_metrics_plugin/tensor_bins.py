"""Threshold bins of scores with `keras.ops`, for the Keras metrics: the numpy writer's look-up
(`counting.Bucketizer`) as graph ops, so that both count every score into the same bin; and the
argmax the metrics take, in one op where the backend allows.

bin(s) = #{j : t_j < s} = table[cell(s)], cell(s) = (bits(s) − bits(1 − s) + bits(1) + 2^12 − 1) >> 12
(see `counting.score_cells`), plus one comparison per threshold that does not end its cell (none
for the default grid). That is a handful of elementwise ops and one gather per score, where a
binary search over 960 thresholds (`searchsorted`, `digitize`) cost about 55 ns a score on a CPU:
branch mispredictions, at every training step.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from tb_metrics_plugin import counting


class TensorBucketizer:
    """Finds each score's threshold bin with graph ops; build once per grid."""

    def __init__(self, thresholds: np.ndarray):
        self._bin_at_cell_start, self._corrections, self._thresholds_then_inf = counting.bucketizer(thresholds).tables()

    def bins(self, scores):
        """int32 bins of float32 `scores`, of any shape (on backends other than TensorFlow the
        last dimension must be static: `ops.view` needs it). Scores outside [0, 1] or NaN get some
        bin in [0, T] (callers count them elsewhere), never an index out of range."""
        keys = _bits(scores) - _bits(1 - scores) + int(counting.KEY_BIAS)
        cells = ops.clip(ops.bitwise_right_shift(keys, counting.CELL_SHIFT), 0, counting.NUM_CELLS - 1)
        found = _gather(self._bin_at_cell_start, cells)
        for _ in range(self._corrections):
            found = found + ops.cast(scores > _gather(self._thresholds_then_inf, found), "int32")
        return found


def argmax_last(values):
    """int32 index of the largest value along the last axis, the first one on ties (as numpy's
    argmax). On TensorFlow one ArgMax op, where `ops.argmax` adds six to order -0.0 below 0.0,
    which for scores in [0, 1] compare equal anyway (numpy's argmax treats them as equal too)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.argmax(values, axis=-1, output_type=tf.int32)
    return ops.cast(ops.argmax(values, axis=-1), "int32")


def _gather(table: np.ndarray, indices):
    """table[indices] for indices known to be in range: on TensorFlow one GatherV2, where
    `ops.take` adds five ops to wrap negative indices."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.gather(table, indices)
    return ops.take(table, indices)


def _bits(values):
    """The int32 bit patterns of float32 `values`: on TensorFlow one Bitcast, for any shape."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.bitcast(values, tf.int32)
    return ops.view(values, "int32")
