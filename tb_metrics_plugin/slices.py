"""Slices: per-sample group keys (``{"sex": [...], "site": [...]}``), checked and turned into codes.

A summary with tag ``T`` sliced by key ``k`` gets one extra summary per value ``v`` of ``k``, tag
``f"{T}/{k}={v}"``, holding the counts of the samples whose ``k`` is ``v`` (see `docs/format.md`).
The values of a key partition the samples, so every writer counts a key's slices in one extra pass
over the items: the items are ordered once by slice code (`partition`), and each slice counts its
own contiguous run of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from tb_metrics_plugin import inputs

# Most distinct values one key may have: a key with more is most likely an identifier, not a group,
# and each value is a summary of its own at every step.
MAX_SLICE_VALUES = 100

# Slices with fewer counted samples (total weight) are shown with a warning: their rates have wide
# intervals. They are never hidden.
MIN_SLICE_SAMPLES = 30

__all__ = [
    "MAX_SLICE_VALUES",
    "MIN_SLICE_SAMPLES",
    "SliceKey",
    "check_key",
    "item_codes",
    "partition",
    "prepare_slices",
    "slice_name",
    "slice_tag",
]


@dataclass(frozen=True)
class SliceKey:
    """One slicing key, checked.

    Attributes:
      key: the key's name ("sex").
      values: its distinct values as text, sorted numerically when all are integers, else as strings.
      codes: uint8 (N,), sample n belongs to ``values[codes[n]]``.
    """

    key: str
    values: tuple[str, ...]
    codes: np.ndarray


def slice_tag(tag: str, key: str, value: str) -> str:
    """The tag of slice ``key=value`` of summary ``tag``: ``f"{tag}/{key}={value}"``."""
    return f"{tag}/{slice_name(key, value)}"


def slice_name(key: str, value: str) -> str:
    """How exports and the CLI name a slice: ``"sex=female"``."""
    return f"{key}={value}"


def check_key(key) -> str:
    """Returns `key` if it is a usable slice key: a non-empty string without "/" or "=".

    Raises:
      ValueError: naming the key and the fix.
    """
    if not isinstance(key, str) or not key or "/" in key or "=" in key:
        raise ValueError(
            f"slices key {key!r} must be a non-empty string without '/' or '=' (it becomes part of the "
            "tag 'T/key=value'); rename it, e.g. 'sex' or 'age_group'."
        )
    return key


def prepare_slices(slices, num_samples: int) -> list[SliceKey]:
    """Checks `slices` ({key: one value per sample}) and codes each key's values.

    Values are strings or integers (numpy included), rendered with `str()`; integer values sort
    numerically, others as strings.

    Raises:
      ValueError: naming the argument and the fix, when `slices` is not a dict, a key is not a usable
        name (`check_key`), a value array is not one-dimensional with `num_samples` entries, holds
        None, NaN, floats, booleans or bytes, or has more than `MAX_SLICE_VALUES` distinct values.
    """
    if not isinstance(slices, Mapping):
        raise ValueError(
            f"slices must be a dict {{key: one value per sample}}, got {type(slices).__name__}; "
            "pass e.g. slices={'sex': sex_of_each_sample}."
        )
    return [_prepare_key(check_key(key), values, num_samples) for key, values in slices.items()]


def _prepare_key(key: str, values, num_samples: int) -> SliceKey:
    argument = f"slices[{key!r}]"
    if isinstance(values, (str, bytes)) or np.ndim(values) == 0:
        raise ValueError(f"{argument}={values!r} must be an array with one value per sample ({num_samples}).")
    # A list is read element by element: np.asarray(["f", nan]) would turn NaN into the text "nan".
    array = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    if array.ndim != 1 or len(array) != num_samples:
        raise ValueError(
            f"{argument} has shape {array.shape} but there are {num_samples} samples; pass one value per "
            "sample (the first axis of predictions), in the same order."
        )
    if array.dtype.kind == "O":
        array = _from_objects(array, argument)
    if array.dtype.kind == "U":
        values_, codes = np.unique(array, return_inverse=True)
        texts = tuple(str(v) for v in values_)
    elif array.dtype.kind in "iu":
        values_, codes = _integer_codes(array)
        texts = tuple(str(int(v)) for v in values_)
    else:
        kind = {"b": "booleans", "f": "floats", "S": "bytes", "c": "complex numbers"}.get(array.dtype.kind, array.dtype)
        raise ValueError(
            f"{argument} holds {kind} (dtype {array.dtype}); slice values must be strings or integers. "
            "Bin a numeric feature into groups first (e.g. np.digitize), map booleans to names, decode bytes."
        )
    if len(texts) > MAX_SLICE_VALUES:
        raise ValueError(
            f"{argument} has {len(texts)} distinct values, more than MAX_SLICE_VALUES={MAX_SLICE_VALUES}; "
            "group the values into fewer slices (each value is a summary of its own)."
        )
    # uint8 codes (at most MAX_SLICE_VALUES values): `partition`'s stable sort is then a radix sort, O(N).
    return SliceKey(key, texts, codes.reshape(-1).astype(np.uint8))


def _integer_codes(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values increasing, each sample's index into them) of an integer array: a table
    lookup in O(N) when the values span a small range (group ids), else `np.unique`'s sort."""
    if array.size == 0:
        return np.unique(array, return_inverse=True)
    low, high = int(array.min()), int(array.max())
    if high - low > max(1 << 16, 4 * array.size):
        return np.unique(array, return_inverse=True)
    offsets = (array - low).astype(np.intp)
    present = np.bincount(offsets) > 0
    table = np.cumsum(present) - 1
    return np.flatnonzero(present) + low, table[offsets]


def _from_objects(array: np.ndarray, argument: str) -> np.ndarray:
    """An object array of strings and/or integers as a str or int array; anything else refused."""
    types = {type(value) for value in array}
    bad = [t for t in types if not issubclass(t, (str, int, np.integer)) or issubclass(t, (bool, np.bool_))]
    if bad:
        example = next(value for value in array if type(value) in bad)
        raise ValueError(
            f"{argument} holds {example!r} ({type(example).__name__}); slice values must be strings or integers "
            "(None and NaN are no group: give missing values a name such as 'unknown')."
        )
    if all(issubclass(t, (int, np.integer)) for t in types):
        return array.astype(np.int64)
    return np.array([str(value) for value in array], dtype=str)


def item_codes(codes: np.ndarray, labels, predictions, ignore_class: int | None = None) -> np.ndarray:
    """Each item's slice code, in the order and with the items `inputs.prepare` keeps.

    A sample of shape (H, W) is H·W items that all belong to the sample's slice; items whose label is
    `ignore_class` are left out, as `inputs.prepare` leaves them out.
    """
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    plan = inputs.resolve_shapes(labels.shape, predictions.shape)
    items_per_sample = int(np.prod(plan.item_shape[1:], dtype=np.int64))
    per_item = np.repeat(codes, items_per_sample) if items_per_sample != 1 else codes
    if ignore_class is not None and plan.form != inputs.FORM_INDICATOR:
        per_item = per_item[labels.reshape(-1) != ignore_class]
    return per_item


def partition(batch: inputs.PreparedBatch, codes: np.ndarray, num_values: int) -> list[inputs.PreparedBatch]:
    """The items of `batch` split by slice code: one stable sort by code, then contiguous runs.

    Args:
      batch: prepared items; codes: uint8 (M,), each item's slice code in [0, num_values).

    Returns:
      `num_values` batches; a slice with no items is an empty batch (zero rows).
    """
    order = np.argsort(codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=num_values))])
    parts = []
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        rows = order[start:stop]
        parts.append(inputs.PreparedBatch(
            batch.scores[rows],
            batch.is_positive[rows],
            None if batch.weights is None else batch.weights[rows],
            None if batch.true_classes is None else batch.true_classes[rows],
            batch.num_classes,
        ))
    return parts
