"""Threshold bins of scores with `keras.ops`, for the Keras metrics: the numpy writer's look-up
(`counting.Bucketizer`) as graph ops, so that both count every score into the same bin; and the
argmax the metrics take, in one op where the backend allows.

bin(s) = #{j : t_j < s} = table[cell(s)], cell(s) = (bits(s) − bits(1 − s) + bits(1) + 2^12 − 1) >> 12
(see `counting.score_cells`), plus one comparison per threshold that does not end its cell (none
for the default grid). That is a handful of elementwise ops and one gather per score, where a
binary search over 960 thresholds (`searchsorted`, `digitize`) cost about 55 ns a score on a CPU:
branch mispredictions, at every training step.

A step's few scores are the exception (`search_bins`): for one score column at a training batch,
TensorFlow's one `Bucketize` op (a binary search) costs less than the look-up's eight ops cost to
dispatch. A batch known to hold many scores (an evaluation batch, segmentation maps) is the other
exception: there the metrics compile the look-up and what follows it with XLA into one loop
(`compiling_pays`), where TensorFlow's gather alone costs about 3 ns a score.
"""

from __future__ import annotations

import functools

import keras
import numpy as np
from keras import ops

from tb_metrics_plugin import counting

# Up to this many scores in a step, known statically, `search_bins` searches (see there); with the
# batch size unknown, up to this many scores in a batch of ASSUMED_BATCH_ROWS rows.
SEARCH_MAX_SCORES = 1024
# Rows a training batch of unknown size is taken to hold where a way must be chosen when traced
# (Keras' default batch is 32 rows; 64 is common): `search_bins` and `ThresholdCurves`' training steps.
ASSUMED_BATCH_ROWS = 64
# From this many scores in a batch, known when traced, the metrics compile their look-up (see
# `compiling_pays`).
COMPILED_MIN_SCORES = 4096


class TensorBucketizer:
    """Finds each score's threshold bin with graph ops; build once per grid."""

    def __init__(self, thresholds: np.ndarray):
        self._bin_at_cell_start, self._corrections, self._thresholds_then_inf = counting.bucketizer(thresholds).tables()
        # t < s ⟺ nextafter(t) ≤ s for float32 t and s, so the count of boundaries ≤ s (Bucketize) is
        # the count of thresholds < s. TensorFlow reads denormal floats as 0 on a CPU (scores and
        # boundaries alike), so a boundary below the smallest normal float is raised to it: a score
        # read as 0 is above no threshold, one read as normal is above every denormal threshold.
        above = np.nextafter(np.asarray(thresholds, np.float32), np.float32(np.inf))
        self._search_boundaries = np.maximum(above, np.finfo(np.float32).tiny).tolist()

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

    def search_bins(self, scores, scores_at_least: int = 1):
        """`bins(scores)` for a step's few scores: on TensorFlow, one `Bucketize` op (a binary search
        over the thresholds) when the batch holds at most `SEARCH_MAX_SCORES` scores, or holds an
        unknown number of which `ASSUMED_BATCH_ROWS` rows would hold at most that many (one score
        column at a training batch); else `bins`. `scores_at_least`: the scores known to be in the
        batch (a row's, when the batch size is unknown). Measured in a traced function on one CPU
        core, µs per call above no look-up:

            scores            64    256   512   1024   2048
            bins (look-up)    6.7   8.4   9.7   12.5   18.7
            Bucketize         0.9   2.5   4.4    8.8   24.0

        A traced `update_state` and `result()` of `ThresholdCurves(confusion_matrix=True)` at one
        score column cost 50 µs a call with it against 59 µs with the look-up (batch 64; 51 against
        57 at 256), the cases alternated in one process. The bins are the same, except that
        TensorFlow reads a denormal score as 0 on a CPU, as its own comparisons (and Keras'
        metrics) do, where `bins` reads its bit pattern (as the numpy writer does). Binary batches
        of over about 1,500 scores, traced with an unknown batch size, pay for the search (at 2,048
        scores, 5 µs more than the look-up)."""
        if keras.backend.backend() != "tensorflow":
            return self.bins(scores)
        size = np.prod(scores.shape) if None not in scores.shape else None
        if size is None:
            size = scores_at_least * ASSUMED_BATCH_ROWS
        if size > SEARCH_MAX_SCORES:
            return self.bins(scores)
        import tensorflow as tf

        return tf.raw_ops.Bucketize(input=scores, boundaries=self._search_boundaries)


def compiling_pays(scores_at_least: int) -> bool:
    """Whether to compile a batch's look-up with XLA (`jit_compile`): on TensorFlow, for a batch
    known to hold at least `COMPILED_MIN_SCORES` scores, where XLA is available. Measured in a
    traced function on one CPU core, µs per call of `bins` above no look-up:

        scores                  1,024   4,096   65,536   2^20
        bins (look-up ops)        15      28      283    6,630
        bins compiled by XLA      13      18       45      460
    """
    return keras.backend.backend() == "tensorflow" and scores_at_least >= COMPILED_MIN_SCORES and xla_compiles()


@functools.cache
def xla_compiles() -> bool:
    """Whether this TensorFlow compiles functions with XLA on its devices (standard builds do)."""
    import tensorflow as tf

    try:
        with tf.init_scope():  # eagerly, also while a step is traced
            tf.function(lambda value: value + 1, jit_compile=True, autograph=False)(tf.constant(1.0))
    except (tf.errors.OpError, ValueError, RuntimeError, NotImplementedError):  # built without XLA
        return False
    return True


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
