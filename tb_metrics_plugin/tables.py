"""Per-step metric tables of one run/tag, from the numeric core: the summary route's series and the
records that the export route and the CLI's `export` write as CSV or JSON.

One place builds them, so a number in a downloaded CSV, in `tb-metrics export` and in the "over
epochs" chart is the same number.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import numpy as np

from tb_metrics_plugin import core, metadata, top_k
from tb_metrics_plugin.reading import TagSeries

AVERAGES = core.AVERAGES
EXPORT_FORMATS = ("csv", "json")
EXPORT_CONTENTS = ("metrics", "counts")
THRESHOLD_CURVE_METRICS = (
    "roc_auc", "average_precision", "pr_auc", "pr_auc_majoring", "pr_auc_minoring", "best_f1", "best_f1_threshold",
)
CONFUSION_MATRIX_METRICS = ("accuracy", "mean_iou", "kappa", "kappa_linear", "kappa_quadratic")
# Confusion-matrix record fields from the rank counts (`top_k`); None on steps logged without them.
TOP_K_METRICS = ("top_k_accuracy", "top_k_precision_macro", "top_k_recall_macro")
# A record field computed only when its parameter is given (records(max_fpr=...)).
PARTIAL_ROC_AUC = "partial_roc_auc"
AT_THRESHOLD_RATES = ("precision", "recall", "f1")
AT_THRESHOLD_COUNTS = ("tp", "fp", "tn", "fn")


# Per-step summaries already computed, by (run, tag, step, wall time): a step rewritten later has a
# new wall time. Lets a long run's "over epochs" chart, polled while training, compute only new steps.
SummaryCache = dict[tuple[str, str, int, float], dict[str, dict[str, Any]]]


def summary_series(series: TagSeries, cache: SummaryCache | None = None) -> dict[str, dict[str, list]]:
    """Each metric of `core.threshold_curves_summary` or `core.confusion_matrix_summary` over the
    steps of `series`.

    Threshold curves: {metric: {"per_class": [S][C], "micro": [S], "macro": [S], "weighted": [S]}}
    for roc_auc, average_precision, pr_auc, best_f1, best_f1_threshold. Confusion matrices:
    {"accuracy" | "mean_iou" | "kappa": {"value": [S]}, "iou": {"per_class": [S][C]}}.
    NaN (undefined for lack of data) stays NaN here; `core.json_safe` makes it null.
    """
    tables: dict[str, dict[str, list]] = {}
    for index in range(len(series.steps)):
        for metric, values in _step_summary(series, index, cache).items():
            for key, value in values.items():
                tables.setdefault(metric, {}).setdefault(key, []).append(value)
    return tables


def records(
    series: TagSeries,
    threshold: float | None = None,
    cache: SummaryCache | None = None,
    max_fpr: float | None = None,
    k: int | None = None,
) -> list[dict[str, Any]]:
    """Flat records: per step, one per class then micro, macro, weighted (threshold curves), or
    one with class "all" (confusion matrices).

    Threshold curves: run, tag, step, class, average, roc_auc, average_precision, pr_auc,
    pr_auc_majoring, pr_auc_minoring, best_f1, best_f1_threshold; with `max_fpr`, also max_fpr and
    partial_roc_auc (`core.partial_roc_auc`, McClish-standardised). `average` is None on a class's
    row and micro / macro / weighted on an average's row (whose `class` repeats the name), so a
    class named like an average stays distinct. With `threshold`, also `threshold` (the stored
    threshold that stands for the one asked for, see `_at_threshold`), precision, recall, f1 and
    tp, fp, tn, fn at it; micro rows hold
    the summed counts, macro / weighted rows average the rates and leave the counts empty.
    Confusion matrices: run, tag, step, class, accuracy, mean_iou, kappa, kappa_linear,
    kappa_quadratic, per_class_iou ({class name: IoU}), per_class_recall and per_class_precision
    ({class name: value}, None where undefined; see `_per_class_rates`), and from the rank counts (`top_k`, at `k`,
    default min(5, K)): top_k (the k used), top_k_accuracy, top_k_precision_macro,
    top_k_recall_macro, per_class_top_k_precision and per_class_top_k_recall ({class name: value});
    all None on a step logged without ranks. Every record also has `slice`, after `tag`: None for an
    overall tag, "key=value" for a slice's tag (see `slices`).

    The records are JSON-safe (`core.json_safe`: plain Python values, undefined numbers None), as
    `to_json` and `to_csv` take them.

    Raises:
      ValueError: `k` outside 1 … K for a step's rank counts.
    """
    result = []
    names = list(series.class_names)
    for index, step in enumerate(series.steps.tolist()):
        where = record_origin(series, step)
        numbers = _step_summary(series, index, cache)
        if series.kind == metadata.KIND_CONFUSION_MATRIX:
            result.append({
                **where,
                "class": "all",
                **{metric: numbers[metric]["value"] for metric in CONFUSION_MATRIX_METRICS},
                "per_class_iou": dict(zip(names, np.asarray(numbers["iou"]["per_class"]).tolist(), strict=True)),
                **_per_class_rates(series.counts[index].matrix, names),
                **_top_k_fields(series.counts[index], names, k),
            })
            continue
        at = _at_threshold(series, index, threshold) if threshold is not None else None
        partial = _partial_roc_auc(series, index, max_fpr) if max_fpr is not None else None
        for position, name in enumerate([*names, *AVERAGES]):
            key, column = ("per_class", position) if position < len(names) else (name, None)

            def pick(value, column=column):
                return np.asarray(value)[column] if column is not None else value

            record = {**where, "class": name, "average": None if column is not None else name}
            record.update({metric: pick(numbers[metric][key]) for metric in THRESHOLD_CURVE_METRICS})
            if at is not None:
                record.update({name_: pick(value) for name_, value in at[key].items()})
            if partial is not None:
                record.update({"max_fpr": max_fpr, PARTIAL_ROC_AUC: pick(partial[key])})
            result.append(record)
    return core.json_safe(result)


def _top_k_fields(counts, names: list[str], k: int | None) -> dict[str, Any]:
    """The top-k fields of a confusion-matrix record (see `records`)."""
    numbers = top_k.top_k_summary(counts.true_ranks, counts.class_ranks, k)
    if numbers is None:
        return {"top_k": None, **dict.fromkeys(TOP_K_METRICS),
                "per_class_top_k_precision": None, "per_class_top_k_recall": None}
    return {
        "top_k": numbers["k"],
        "top_k_accuracy": numbers["top_k_accuracy"],
        "top_k_precision_macro": numbers["top_k_precision"]["macro"],
        "top_k_recall_macro": numbers["top_k_recall"]["macro"],
        "per_class_top_k_precision": dict(zip(names, numbers["top_k_precision"]["per_class"].tolist(), strict=True)),
        "per_class_top_k_recall": dict(zip(names, numbers["top_k_recall"]["per_class"].tolist(), strict=True)),
    }


def count_records(series: TagSeries) -> list[dict[str, Any]]:
    """The raw counts as flat records of plain Python numbers and text (JSON-safe: counts and
    stored thresholds are finite), for people who want them in a spreadsheet.

    Threshold curves: per step, class and stored threshold t_j: run, tag, step, class, threshold,
    tp, fp, tn, fn (`core.confusion_at_thresholds`: predicted positive when score > t_j); C · T
    records per step (96,000 for 100 classes and the default grid); an exact class's thresholds are
    its distinct scores. Confusion matrices: per step
    and cell: run, tag, step, true_class, predicted_class, count. Each record also has `slice`.
    """
    result = []
    names = list(series.class_names)
    for index, step in enumerate(series.steps.tolist()):
        where = record_origin(series, step)
        if series.kind == metadata.KIND_CONFUSION_MATRIX:
            matrix = series.matrices[index].tolist()
            result.extend(
                {**where, "true_class": true_name, "predicted_class": predicted_name, "count": matrix[row][column]}
                for row, true_name in enumerate(names)
                for column, predicted_name in enumerate(names)
            )
            continue
        step_counts = series.counts[index]
        rows = step_counts.per_class_thresholds.astype(np.float64)
        counts = [np.atleast_2d(c).tolist() for c in core.confusion_at_thresholds(
            step_counts.positive_histograms, step_counts.negative_histograms)]
        for position, name in enumerate(names):
            tp, fp, tn, fn = (c[position] for c in counts)
            thresholds = rows[position][np.isfinite(rows[position])].tolist()  # +inf is padding
            result.extend(
                {**where, "class": name, "threshold": threshold, "tp": tp[j], "fp": fp[j], "tn": tn[j], "fn": fn[j]}
                for j, threshold in enumerate(thresholds)
            )
    return result


def record_origin(series: TagSeries, step: int) -> dict[str, Any]:
    """The columns that say where a record comes from; `slice` is None overall, else "key=value"."""
    info = series.plugin_data.slice
    return {"run": series.run, "tag": series.tag, "slice": None if info is None else info.name, "step": step}


def to_json(records_: list[dict[str, Any]]) -> str:
    """JSON-safe records (as `records` and `count_records` return them) as a JSON array; undefined
    numbers (None) are null. A NaN left in is a `ValueError` (`allow_nan=False`), not invalid JSON."""
    return json.dumps(records_, indent=1, allow_nan=False) + "\n"


def to_csv(records_: list[dict[str, Any]]) -> str:
    """JSON-safe records (as `records` and `count_records` return them) as CSV with a header row. A
    dict field `f` becomes columns `f.<key>`; undefined numbers (None) are empty cells; floats are
    written in full precision (shortest round-trip repr)."""
    rows = [_flatten(record) for record in records_]
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if value is None else value for key, value in row.items()})
    return out.getvalue()


def _flatten(record: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{inner}": item for inner, item in value.items()})
        else:
            flat[key] = value
    return flat


def _per_class_rates(matrix: np.ndarray, names: list[str]) -> dict[str, dict[str, float]]:
    """per_class_recall and per_class_precision of a confusion matrix at its decision, {class name:
    value}: recall m[c, c] / R_c, precision m[c, c] / K_c, NaN (None in the records) where the class
    has no samples or no predictions, as the slice views' rates (`fairness.matrix_rate_counts`)."""
    correct = np.diagonal(matrix)
    rates = {
        "per_class_recall": core._divide(correct, matrix.sum(axis=1), np.nan),
        "per_class_precision": core._divide(correct, matrix.sum(axis=0), np.nan),
    }
    return {field: dict(zip(names, values.tolist(), strict=True)) for field, values in rates.items()}


def _step_summary(series: TagSeries, index: int, cache: SummaryCache | None) -> dict[str, dict[str, Any]]:
    key = (series.run, series.tag, int(series.steps[index]), float(series.wall_times[index]))
    if cache is not None and key in cache:
        return cache[key]
    counts = series.counts[index]
    if series.kind == metadata.KIND_CONFUSION_MATRIX:
        numbers = core.confusion_matrix_summary(counts.matrix)
    else:
        numbers = core.threshold_curves_summary(
            counts.positive_histograms, counts.negative_histograms, counts.thresholds, counts.exact)
    if cache is not None:
        cache[key] = numbers
    return numbers


def _at_threshold(series: TagSeries, index: int, threshold: float) -> dict[str, dict[str, Any]]:
    """{"per_class": {name: (C,)}, "micro" | "macro" | "weighted": {name: value}} at `threshold`.

    Each class is taken at the stored threshold that stands for `threshold` (`core.threshold_index`:
    the nearest grid threshold, or, for an exact class, the threshold itself); `threshold` in the
    records is that stored grid threshold, or the one asked for where the counts are exact there.
    """
    step_counts = series.counts[index]
    rows = step_counts.per_class_thresholds
    columns = [
        core.threshold_index(row, threshold, bool(exact)) for row, exact in zip(rows, step_counts.exact, strict=True)
    ]
    tp, fp, tn, fn = (np.array(values) for values in zip(*(
        core.counts_at_index(positive, negative, column)
        for positive, negative, column in zip(
            step_counts.positive_histograms, step_counts.negative_histograms, columns, strict=True)
    ), strict=True))
    used = np.array([threshold if exact else float(row[column])
                     for row, exact, column in zip(rows, step_counts.exact, columns, strict=True)])
    per_class = core.threshold_metrics(tp, fp, tn, fn)
    at: dict[str, dict[str, Any]] = {
        "per_class": {
            "threshold": used,
            **{name: per_class[name] for name in AT_THRESHOLD_RATES},
            **dict(zip(AT_THRESHOLD_COUNTS, (tp, fp, tn, fn), strict=True)),
        }
    }
    # Every class at its own stored threshold: one shared one for grid counts (format version 1).
    shared = float(used[0]) if np.all(used == used[0]) else threshold
    for average in AVERAGES:
        averaged = core.average_threshold_metrics(*(values[:, None] for values in (tp, fp, tn, fn)), average)
        at[average] = {"threshold": shared, **{name: float(averaged[name][0]) for name in AT_THRESHOLD_RATES}}
        summed = (float(tp.sum()), float(fp.sum()), float(tn.sum()), float(fn.sum()))
        at[average].update(dict(zip(AT_THRESHOLD_COUNTS, summed if average == "micro" else (None,) * 4, strict=True)))
    return at


def _partial_roc_auc(series: TagSeries, index: int, max_fpr: float) -> dict[str, Any]:
    """{"per_class": (C,), "micro" | "macro" | "weighted": float} partial ROC-AUC up to `max_fpr`;
    micro sums the classes' counts on one axis (`core.align_classes`), as the summary's micro areas."""
    step_counts = series.counts[index]
    positive, negative = np.atleast_2d(step_counts.positive_histograms), np.atleast_2d(step_counts.negative_histograms)
    _, aligned_positive, aligned_negative = core.align_classes(
        step_counts.thresholds, positive, negative, step_counts.exact)
    return {
        "per_class": np.atleast_1d(core.partial_roc_auc(positive, negative, max_fpr)),
        "micro": core.partial_roc_auc(aligned_positive, aligned_negative, max_fpr, "micro"),
        "macro": core.partial_roc_auc(positive, negative, max_fpr, "macro"),
        "weighted": core.partial_roc_auc(positive, negative, max_fpr, "weighted"),
    }
