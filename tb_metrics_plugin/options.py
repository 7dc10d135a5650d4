"""The options every writer and Keras metric shares, checked and resolved the same way: the
threshold grid, class names (and the curves' names), and a confusion matrix's decision rule.

Here rather than in `summary` (the writers), so that the Keras metrics take them without depending
on the writer module for anything but handing over their state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from tb_metrics_plugin.thresholds import DEFAULT_NUM_THRESHOLDS, default_thresholds, validate_thresholds


def resolve_thresholds(num_thresholds: int = DEFAULT_NUM_THRESHOLDS, thresholds=None) -> np.ndarray:
    """The float32 grid to count on: `thresholds` if given (validated), else the default grid."""
    if thresholds is not None:
        return validate_thresholds(thresholds)
    return default_thresholds(num_thresholds)


def resolve_class_names(class_names: Sequence[str] | None, num_classes: int) -> tuple[str, ...]:
    """`class_names` checked against `num_classes`, or defaults ("negative", "positive") / "0", "1", …

    Raises:
      ValueError: wrong length, or names that are not distinct strings.
    """
    if class_names is None:
        return ("negative", "positive") if num_classes == 2 else tuple(str(i) for i in range(num_classes))
    check_class_names_list(class_names)
    names = tuple(class_names)
    if len(names) != num_classes:
        raise ValueError(
            f"class_names has {len(names)} names but the data has {num_classes} classes"
            + (" (binary counts as 2: negative, positive)" if num_classes == 2 else "")
            + f"; pass {num_classes} names."
        )
    if not all(isinstance(name, str) for name in names) or len(set(names)) != len(names):
        raise ValueError(f"class_names must be distinct strings, got {list(names)!r}.")
    return names


def check_class_names_list(class_names) -> None:
    """Refuses `class_names` that is not a list of names (before the number of classes is known).

    Raises:
      ValueError: a lone string (it would split into one-letter names) or a non-iterable.
    """
    if class_names is not None and (isinstance(class_names, (str, bytes)) or not isinstance(class_names, Iterable)):
        raise ValueError(f"class_names={class_names!r} must be a list of names, one per class, or None.")


def curve_class_names(class_names: tuple[str, ...], num_score_columns: int) -> tuple[str, ...]:
    """Names of the curves: a binary problem has one curve, for its positive class."""
    return class_names[1:] if num_score_columns == 1 else class_names


def check_decision_threshold(threshold) -> None:
    """Refuses a confusion-matrix threshold that is not a probability: NaN or 1.5 would silently
    predict every item negative. Shared by the writers and `metrics.ConfusionMatrix`."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)) or not 0 <= threshold <= 1:
        raise ValueError(
            f"threshold={threshold!r} must be a number in [0, 1] (a probability, used for a single sigmoid "
            "output); with logits pass from_logits=True and a probability threshold."
        )


def decision_rule(num_score_columns: int, threshold: float = 0.5) -> str:
    """How a confusion matrix picks the predicted class, as stored in its metadata."""
    return f"score > {threshold:g}" if num_score_columns == 1 else "argmax"
