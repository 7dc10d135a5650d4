"""Top-k accuracy and top-k precision / recall from the rank counts a confusion matrix's log holds
(`counting.rank_counts`): the Python half of the numeric core for them (`frontend/src/top_k.js` is
the other, pinned by golden vectors).

With R the true ranks (C, K + 1) and Q the class ranks (C, K) of one step, and k in 1 … K:
  hits_c(k) = Σ_{r<k} R[c, r]     (items of class c whose class is in their top k: TP_c)
  support_c = Σ_r R[c, r]         (items of class c)
  listed_c(k) = Σ_{r<k} Q[c, r]   (items whose top k holds class c: TP_c + FP_c)
  top_k_accuracy = Σ_c hits_c / Σ_c support_c   (scikit-learn `top_k_accuracy_score`, Keras
                                                  `TopKCategoricalAccuracy`)
  top_k_recall_c = hits_c / support_c, top_k_precision_c = hits_c / listed_c: 0 where the
  denominator is 0 (scikit-learn's `zero_division=0`), i.e. scikit-learn's `precision_score` /
  `recall_score` of the multilabel prediction "class c is in the item's top k".
Averages as scikit-learn's: macro the mean over classes, weighted by support, micro from summed
counts (micro recall is top-k accuracy). Ties share the better rank (`counting.rank_counts`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["DEFAULT_K", "logged_depth", "default_k", "check_k", "top_k_accuracy", "top_k_precision_recall",
           "top_k_summary"]

# The k shown and exported when none is asked for: 5 (Keras' default), or K when fewer are logged.
DEFAULT_K = 5


def logged_depth(true_ranks: np.ndarray) -> int:
    """K, the number of ranks logged: true_ranks has K + 1 columns."""
    return int(np.shape(true_ranks)[1]) - 1


def default_k(true_ranks: np.ndarray) -> int:
    """min(`DEFAULT_K`, K)."""
    return min(DEFAULT_K, logged_depth(true_ranks))


def check_k(k, true_ranks: np.ndarray) -> int:
    """`k` as an int after checking 1 ≤ k ≤ K.

    Raises:
      ValueError: naming k and the K this log holds.
    """
    largest = logged_depth(true_ranks)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= largest:
        raise ValueError(
            f"k={k!r} must be an integer from 1 to {largest}: this log holds the ranks 0 … {largest - 1} "
            f"(K = min(number of classes, 10))."
        )
    return int(k)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), 0.0)


def top_k_accuracy(true_ranks, k: int) -> float:
    """Σ_c Σ_{r<k} R[c, r] / Σ R: the weight of items whose true class is in their top k over all
    the weight; NaN when nothing was counted.

    >>> top_k_accuracy(np.array([[2., 1., 1.], [0., 3., 1.]]), 1)
    0.25
    """
    true_ranks = np.asarray(true_ranks, dtype=np.float64)
    k = check_k(k, true_ranks)
    total = true_ranks.sum()
    return float(true_ranks[:, :k].sum() / total) if total > 0 else float("nan")


def top_k_precision_recall(true_ranks, class_ranks, k: int) -> dict[str, dict[str, Any]]:
    """{"top_k_precision" | "top_k_recall": {"per_class": (C,), "macro", "micro", "weighted"}} at k,
    see the module docstring; undefined averages (nothing counted) are NaN.

    >>> numbers = top_k_precision_recall(np.array([[1., 1., 0.], [0., 1., 0.]]), np.array([[1., 1.], [1., 2.]]), 1)
    >>> numbers["top_k_precision"]["per_class"].tolist(), numbers["top_k_recall"]["per_class"].tolist()
    ([1.0, 0.0], [0.5, 0.0])
    """
    true_ranks = np.asarray(true_ranks, dtype=np.float64)
    class_ranks = np.asarray(class_ranks, dtype=np.float64)
    k = check_k(k, true_ranks)
    hits = true_ranks[:, :k].sum(axis=1)
    support = true_ranks.sum(axis=1)
    listed = class_ranks[:, :k].sum(axis=1)
    result = {}
    for name, denominator in (("top_k_precision", listed), ("top_k_recall", support)):
        per_class = _ratio(hits, denominator)
        total_support = support.sum()
        result[name] = {
            "per_class": per_class,
            "macro": float(per_class.mean()) if per_class.size else float("nan"),
            "micro": float(_ratio(hits.sum(), denominator.sum())) if denominator.sum() > 0 else float("nan"),
            "weighted": float(per_class @ support / total_support) if total_support > 0 else float("nan"),
        }
    return result


def top_k_summary(true_ranks, class_ranks, k: int | None = None) -> dict[str, Any] | None:
    """{"k", "top_k_accuracy", "top_k_precision", "top_k_recall"} of one step at k (default
    `default_k`), or None when the step has no rank counts."""
    if true_ranks is None or class_ranks is None:
        return None
    k = default_k(true_ranks) if k is None else check_k(k, true_ranks)
    return {
        "k": k,
        "top_k_accuracy": top_k_accuracy(true_ranks, k),
        **top_k_precision_recall(true_ranks, class_ranks, k),
    }
