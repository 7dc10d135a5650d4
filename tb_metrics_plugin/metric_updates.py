"""Writes into Keras metric variables that cost what the batch holds, not what the state holds.

Keras runs a compiled metric's `update_state` at every training step, so a dense update of a large
state (C·(T+1) histogram cells, a buffer of raw scores) would cost the whole state per step. On the
TensorFlow backend a plain `tf.Variable` takes a scatter in place (`ResourceScatterAdd`,
`ResourceScatterUpdate`): O(batch). Everywhere else the same update is a dense add or assign of a
new value, O(state): on JAX and PyTorch, inside Keras' stateless scopes (where a variable's value
is a tensor), and for tf.distribute's sync-on-read variables, which have no in-place scatter.
"""

from __future__ import annotations

import keras
from keras import ops


def add(variable, value) -> None:
    """`variable += value` in one op where the variable allows it (Keras' own `assign_add` reads,
    adds and assigns: three ops, at every step of every metric)."""
    native = in_place_variable(variable)
    if native is not None:
        native.assign_add(value)
    else:
        variable.assign_add(value)


def add_at(variable, indices, values, in_place: bool = True) -> None:
    """`variable[indices[i]] += values[i]` for every i; repeated indices add up.

    Args:
      variable: a 1-D float Keras variable of length L.
      indices: int32 (M,), each in [0, L).
      values: (M,) of the variable's dtype.
      in_place: scatter in place where the variable allows it. Pass False for a small variable
        that is also read whole at every step: after a scatter, TensorFlow copies a variable at
        every dense read ("copy-on-read" mode), which costs more there than a dense add.
    """
    native = in_place_variable(variable) if in_place else None
    if native is not None:
        import tensorflow as tf

        native.scatter_add(tf.IndexedSlices(values, indices))
    else:
        variable.assign_add(ops.segment_sum(values, indices, num_segments=variable.shape[0]))


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
