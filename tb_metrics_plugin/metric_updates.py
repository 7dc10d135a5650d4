"""Writes into Keras metric variables that cost what the batch holds, not what the state holds.

Keras runs a compiled metric's `update_state` at every training step, so a dense update of a large
state (C·(T+1) histogram cells, a buffer of raw scores) would cost the whole state per step. On the
TensorFlow backend a plain `tf.Variable` takes a scatter in place (`ResourceScatterAdd`,
`ResourceScatterUpdate`): O(batch). Everywhere else the same update is a dense add or assign of a
new value, O(state): on JAX and PyTorch, inside Keras' stateless scopes (where a variable's value
is a tensor), and for tf.distribute's sync-on-read variables, which have no in-place scatter.
"""

from __future__ import annotations

import threading

import keras
import numpy as np
from keras import ops


def add(variable, value) -> None:
    """`variable += value` in one op where the variable allows it (Keras' own `assign_add` reads,
    adds and assigns: three ops, at every step of every metric)."""
    native = in_place_variable(variable)
    if native is not None:
        native.assign_add(value)
    else:
        variable.assign_add(value)


def add_at(variable, indices, values=None, in_place: bool = True) -> None:
    """`variable[indices[i]] += values[i]` for every i (1 where `values` is None); repeated indices
    add up. On TensorFlow, one op into the variable: a scatter in place, or a dense
    `UnsortedSegmentSum` of the batch added with one `AssignAddVariableOp`.

    Args:
      variable: a 1-D float Keras variable of length L.
      indices: int32 of any shape, each in [0, L).
      values: the variable's dtype, shaped like `indices`; None counts each index once (a count
        needs no weight tensor).
      in_place: scatter in place where the variable allows it. Pass False for a small variable
        that is also read whole at every step: after a scatter, TensorFlow copies a variable at
        every dense read ("copy-on-read" mode), which costs more there than a dense add.
    """
    native = in_place_variable(variable)
    if native is None:  # other backends, stateless scopes, sync-on-read variables: a dense add
        flat_indices = ops.reshape(indices, (-1,))
        if values is None:
            flat_values = ops.ones(ops.shape(flat_indices), variable.dtype)
        else:
            flat_values = ops.reshape(values, (-1,))
        variable.assign_add(ops.segment_sum(flat_values, flat_indices, num_segments=variable.shape[0]))
        return
    import tensorflow as tf

    if values is None:
        shape = indices.shape
        values = tf.ones(shape, native.dtype) if shape.is_fully_defined() else tf.ones_like(indices, native.dtype)
    if in_place:
        native.scatter_add(tf.IndexedSlices(values, indices))
    else:
        # Not Bincount: on a CPU it zeroes and sums one partial histogram per thread, 3-7x the
        # time of a segment sum at 2e3-2e4 cells.
        native.assign_add(tf.math.unsorted_segment_sum(values, indices, variable.shape[0]))


def put_rows(variable, row_indices, rows) -> None:
    """`variable[row_indices[i]] = rows[i]` along the first axis. When an index repeats, one of its
    rows wins, unspecified which: callers send the rows they discard to one spare row.

    Args:
      variable: a Keras variable of shape (R, …).
      row_indices: int32 (M,), each in [0, R).
      rows: (M, …) of the variable's dtype and trailing shape.
    """
    native = in_place_variable(variable)
    if native is not None:
        import tensorflow as tf

        native.scatter_update(tf.IndexedSlices(rows, row_indices))
    else:
        variable.assign(ops.scatter_update(variable, ops.expand_dims(row_indices, -1), rows))


# A scatter into a variable costs about 18 ns an item on a CPU (TensorFlow's ResourceScatterAdd adds
# one item at a time); a segment sum of the batch and a dense add, about 1.3 ns an item and 0.4 ns a
# cell of the variable. Measured in a traced function on one core, 64 to 10^7 items into 2e3 to 2e5
# cells. So a scatter pays while the batch holds fewer items than a 40th of the cells, and at any
# size up to 1,024 items, where both cost within a few µs (in Keras' train step at 1 class and 64
# rows, paired runs found them level: docs/benchmarks.md, tenth session).
CELLS_PER_SCATTERED_ITEM = 40
SCATTERED_ITEMS_AT_ANY_SIZE = 1024


def scatter_costs_less(items_at_least: int, cells: int) -> bool:
    """Whether a scatter of a batch of at least `items_at_least` items into a variable of `cells`
    cells costs less than a segment sum and a dense add: while items ≤ max(1024, cells / 40). A
    training step of 64 rows of 100 classes, an evaluation batch of 10^5 rows, or a segmentation
    map's 10^4 pixels an image, adds densely (10^6 binary scores into the default grid: 1.1 ms
    against 20 ms). A batch of unknown size is counted as its run-time size calls for
    (`ThresholdCurves._count_by_size`)."""
    return items_at_least < smallest_dense_batch(cells)


def smallest_dense_batch(cells: int) -> int:
    """The fewest items for which a dense add into a variable of `cells` cells costs less than a
    scatter (`scatter_costs_less`): max(1024, cells / 40) + 1."""
    return max(SCATTERED_ITEMS_AT_ANY_SIZE, cells // CELLS_PER_SCATTERED_ITEM) + 1


def static_size_at_least(tensor) -> int:
    """The number of elements `tensor` holds at least: the product of its known dimensions (a
    batch dimension unknown when traced counts as 1)."""
    return int(np.prod([1 if size is None else size for size in tensor.shape]))


def in_place_variable(variable):
    """The `tf.Variable` behind `variable` when a scatter into it works in place, else None."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    value = variable.value  # a tensor inside a stateless scope
    if isinstance(value, tf.Variable) and not isinstance(value, tf.distribute.DistributedValues):
        return value
    return None


def under_distribution_strategy() -> bool:
    """True inside a tf.distribute strategy's scope or replica context (TensorFlow backend only):
    its metric variables are sync-on-read, summed over replicas when read."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return tf.distribute.has_strategy()


def in_traced_function() -> bool:
    """True while TensorFlow traces a graph (Keras' train and test step functions); False when
    executing eagerly, and on other backends."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return not tf.executing_eagerly()


def can_branch_with_updates() -> bool:
    """Whether `ops.cond` branches may update variables: on TensorFlow. JAX's `lax.cond` cannot
    carry Keras' stateless variable updates out of a branch."""
    return keras.backend.backend() == "tensorflow"


def shared_within_trace(tensors: tuple, settings: tuple, build):
    """`build()`, computed once per traced graph for the same input tensors and settings.

    Keras calls each compiled metric's `update_state` with the same `y_true` and `y_pred` tensors;
    metrics that read them the same way (flattening, validity) share one copy of that work instead
    of dispatching its ops once per metric at every step. Results are kept for the graph being
    traced in this thread only, until another graph is traced here: they never cross into another
    graph (a `tf.cond` branch is a graph of its own). Eagerly and on other backends, `build()` runs
    at every call.

    Args:
      tensors: the input tensors (or None) the result is derived from, compared by identity.
      settings: hashable options that change the result.
      build: computes the result.
    """
    if keras.backend.backend() != "tensorflow":
        return build()
    import tensorflow as tf

    if tf.executing_eagerly() or not all(tensor is None or tf.is_tensor(tensor) for tensor in tensors):
        return build()
    graph = tf.compat.v1.get_default_graph()
    traced = getattr(_trace_local, "traced", None)
    if traced is None or traced[0] is not graph:
        traced = _trace_local.traced = (graph, {})
    shared = traced[1]
    key = (tuple(None if tensor is None else tensor.ref() for tensor in tensors), settings)
    if key not in shared:
        shared[key] = build()
    return shared[key]


# The graph `shared_within_trace` last traced in each thread, and its results.
_trace_local = threading.local()
