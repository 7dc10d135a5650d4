"""`tb-metrics` (also `python -m tb_metrics_plugin`): export metrics from logs, or gate CI on them.

    tb-metrics export --logdir DIR [--run R] [--tag T] [--step S | --all-steps] [--threshold X]
                      --format json|csv [--content metrics|counts]
    tb-metrics check --logdir DIR --metric roc_auc --min 0.9 [--run R] [--tag T] [--step S|last]
                     [--slice KEY=VALUE] [--threshold X]
    tb-metrics check --logdir DIR --metric tpr --threshold 0.5 --max-gap 0.05 --slice-key KEY
                     [--reference-slice VALUE]
    tb-metrics check --logdir DIR --metric tpr --max-gap 0.05 --slice-key KEY   (confusion matrices)
    tb-metrics check --logdir DIR --metric partial_roc_auc --max-fpr 0.1 --min 0.8

Event files are read without TensorFlow (`event_files`, the way TensorBoard's Python loader reads
them, every step kept), through the same data-provider calls (`reading`) and the same record
builder (`tables.records`) as the plugin's routes, so the numbers are those of the browser's
downloads and a command takes a fraction of a second, not the 10-20 s of importing TensorFlow.
`check` leaves out the training split of each train/validation pair unless `--run` names it, and
checks overall tags unless `--slice` names one slice; `--slice-key` with `--max-gap` gates the
largest gap of a metric between the slices of one key (`fairness.largest_gap`), leaving out (and
naming) slices where the rate is not defined. A rate without `--threshold` is read per class from
confusion-matrix tags at their logged decision (`fairness.matrix_rate_counts`).
Exit status: 0 done / check passed, 1 check failed, 2 bad input (missing logdir, unknown
run/tag/step/metric, nothing to read).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import numpy as np

from tb_metrics_plugin import __version__, event_files, fairness, fairness_intervals, metadata, reading, tables

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2
# The last path parts of the runs Keras' TensorBoard callback and MetricsCallback write.
TRAINING_SPLIT, VALIDATION_SPLIT = "train", "validation"
CHECKABLE_METRICS = {
    metadata.KIND_THRESHOLD_CURVES: (
        "roc_auc", "average_precision", "pr_auc", "best_f1", "pr_auc_majoring", "pr_auc_minoring",
        tables.PARTIAL_ROC_AUC,
    ),
    metadata.KIND_CONFUSION_MATRIX: ("accuracy", "mean_iou", "kappa", "kappa_linear", "kappa_quadratic",
                                     *tables.TOP_K_METRICS),
}
# Rates at a decision (`fairness.GAP_RATES`), per class: of threshold-curve tags at --threshold, or
# without it of confusion-matrix tags at their logged decision (accuracy there: the matrix's).
RATE_METRICS = fairness.GAP_RATES


class UsageError(Exception):
    """Bad input on the command line or in the logs: exit status 2 with this message."""


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None) -> int:
    """Runs the command line; returns the exit status."""
    stdout = stdout or sys.stdout
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "export":
            return _export(args, stdout)
        return _check(args, stdout)
    except (UsageError, reading.ReadError, event_files.UnsupportedTensorError) as error:
        print(f"tb-metrics {args.command}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tb-metrics",
        description="Threshold-curve and confusion-matrix metrics from TensorBoard logs written by tb_metrics_plugin.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def common(command: argparse.ArgumentParser, runs_by_default: str = "every run") -> None:
        command.add_argument("--logdir", required=True,
                             help="the folder given to `tensorboard --logdir`, or a URL "
                             "(s3://, gs://, az://; read with fsspec)")
        command.add_argument("--run", action="append",
                             help=f"run name as TensorBoard shows it (repeatable; default: {runs_by_default})")
        command.add_argument("--tag", action="append",
                             help="tag name (repeatable; default: every tag); a tag also selects its slices' tags")

    exporting = commands.add_parser(
        "export", help="print per-step, per-class metric records",
        description="Print metric records (run, tag, step, class, roc_auc, average_precision, pr_auc, "
        "pr_auc_majoring, pr_auc_minoring, best_f1, best_f1_threshold, and partial_roc_auc with --max-fpr; "
        "accuracy, mean_iou, kappa, kappa_linear, kappa_quadratic, per_class_iou, and top_k, top_k_accuracy, "
        "top_k_precision_macro, top_k_recall_macro, per_class_top_k_precision, per_class_top_k_recall at --k "
        "for confusion matrices).",
    )
    common(exporting)
    steps = exporting.add_mutually_exclusive_group()
    steps.add_argument("--step", type=_step, default="last", help="a logged step, or 'last' (default)")
    steps.add_argument("--all-steps", action="store_true", help="every logged step")
    exporting.add_argument("--threshold", type=_threshold,
                           help="also precision, recall, f1, tp, fp, tn, fn at the stored threshold nearest to this")
    exporting.add_argument("--max-fpr", type=_max_fpr,
                           help="also partial_roc_auc: the standardised ROC-AUC up to this false positive rate "
                           "(scikit-learn's max_fpr)")
    exporting.add_argument("--k", type=_k, help=_K_HELP)
    exporting.add_argument("--format", required=True, choices=tables.EXPORT_FORMATS)
    exporting.add_argument("--content", choices=tables.EXPORT_CONTENTS, default="metrics",
                           help="metrics (default) or the raw counts: TP/FP/TN/FN at every stored threshold, "
                           "or every confusion-matrix cell")

    checking = commands.add_parser(
        "check", help="exit 1 when a metric is out of bounds (a CI quality gate)",
        description="Check a metric of every selected run, tag and class (and the micro / macro / weighted averages) "
        "against bounds. Exit 1 naming each failure, 0 when all pass, 2 on bad input. Without --run, the "
        f"training split of each train/validation pair is left out: a run whose last path part is '{TRAINING_SPLIT}' "
        f"is not checked when a sibling run '{VALIDATION_SPLIT}' exists, so the gate is on held-out data; the "
        "output names the runs checked and those left out.",
    )
    common(checking, runs_by_default=f"every run but a '{TRAINING_SPLIT}' run beside a '{VALIDATION_SPLIT}' run")
    all_metrics = sorted({m for names in CHECKABLE_METRICS.values() for m in names} | set(RATE_METRICS))
    checking.add_argument("--metric", required=True, choices=all_metrics,
                          help=f"a summary metric, or a rate ({', '.join(RATE_METRICS)}; per class): of "
                          "threshold-curve tags at --threshold, or without --threshold of confusion-matrix tags at "
                          "their logged decision")
    checking.add_argument("--max-fpr", type=_max_fpr,
                          help="the false positive rate partial_roc_auc runs to (required by that metric)")
    checking.add_argument("--k", type=_k, help=_K_HELP)
    checking.add_argument("--min", type=float, help="fail when the metric is below this")
    checking.add_argument("--max", type=float, help="fail when the metric is above this")
    checking.add_argument("--threshold", type=_threshold,
                          help="the decision threshold of the rate metrics on threshold-curve tags (without it, "
                          "rates are read from confusion-matrix tags)")
    checking.add_argument("--slice", dest="slice_name", metavar="KEY=VALUE",
                          help="check this slice's tags (e.g. sex=female) instead of the overall tags")
    checking.add_argument("--slice-key", metavar="KEY",
                          help="gap gate: fail when the largest gap of --metric between the slices of KEY "
                          "(max - min over slices where it is defined) exceeds --max-gap; names the two slices")
    checking.add_argument("--max-gap", type=float, help="the largest gap allowed (with --slice-key)")
    checking.add_argument("--reference-slice", metavar="VALUE",
                          help="with --slice-key: measure each slice's gap to this one (e.g. female) instead")
    checking.add_argument("--step", type=_step, default="last", help="a logged step, or 'last' (default)")
    checking.add_argument("--class", dest="classes", action="append",
                          help="only this class name (repeatable; default: every class and average); "
                          "micro/macro/weighted name the average unless a class has that name")
    checking.add_argument("--average", dest="averages", action="append", choices=tables.AVERAGES,
                          help="only this average (repeatable), also when a class has its name")
    return parser


_K_HELP = ("k of the top-k confusion-matrix fields (default min(5, K); logs hold k up to K = min(classes, 10)); "
           "top-k needs the rank counts the writers and MetricsCallback(validation_data=...) log, "
           "not the compiled ConfusionMatrix metric")


def _k(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"k={text!r} is not a positive integer (the k of top-k accuracy)")
    return int(text)


def _step(text: str) -> int | str:
    if text == "last":
        return text
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"step={text!r} is not a non-negative integer or 'last'")
    return int(text)


def _max_fpr(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"max-fpr={text!r} is not a number in (0, 1]") from None
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise argparse.ArgumentTypeError(f"max-fpr={text!r} is outside (0, 1]")
    return value


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"threshold={text!r} is not a number in [0, 1]") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise argparse.ArgumentTypeError(f"threshold={text!r} is outside [0, 1]")
    return value


def load(logdir: str) -> event_files.EventFileDataProvider:
    """A data provider over the event files under `logdir`, every step of this plugin's tags read.

    `logdir` is a local folder or a URL (`s3://bucket/logs`), read through fsspec (`event_files`).

    Raises:
      UsageError: `logdir` is not a folder, or a URL no installed fsspec back end reads.
    """
    try:
        return event_files.EventFileDataProvider(logdir)
    except NotADirectoryError:
        raise UsageError(
            f"--logdir {logdir!r} is not a folder; give the folder you pass to `tensorboard --logdir`.") from None
    except ValueError as error:
        raise UsageError(f"--logdir: {error}") from None


def training_runs_with_validation(runs) -> list[str]:
    """The runs whose last path part is `train` beside a sibling run `validation` (same parent
    folder): the training split of a train/validation pair, sorted.

    >>> training_runs_with_validation(["a/train", "a/validation", "b/train", "train", "validation"])
    ['a/train', 'train']
    """
    parts = {run: run.replace(os.sep, "/").rpartition("/") for run in runs}
    validation_parents = {parent for parent, _, last in parts.values() if last == VALIDATION_SPLIT}
    return sorted(run for run, (parent, _, last) in parts.items()
                  if last == TRAINING_SPLIT and parent in validation_parents)


def select_series(
    args: argparse.Namespace, step_choice: int | str | None, kind: str | None = None, skip_training_runs: bool = False,
    keep_slice=lambda info: True,
) -> tuple[list[reading.TagSeries], list[str]]:
    """The run/tag series the arguments select, each with the chosen step (None: all steps), and the
    runs left out: with `skip_training_runs` and no --run, the training split of each
    train/validation pair (see `training_runs_with_validation`).

    `kind` keeps only tags of that summary kind (tags whose metadata cannot be decoded stay, so
    that their error is reported), and only those are read: a step missing from a tag of
    another kind is no error. `keep_slice(SliceInfo or None)` says which tags to keep by the slice
    they hold (None: an overall tag); a --tag selects a tag and the slices whose parent it is.

    Raises:
      UsageError: no data in the logdir, or a --run / --tag that matches nothing.
    """
    provider = load(args.logdir)
    listing = reading.list_series(provider, None, "")
    if not listing:
        raise UsageError(f"no tb_metrics data under --logdir {args.logdir!r}; write some with MetricsCallback.")
    for run in args.run or []:
        if run not in listing:
            raise UsageError(f"--run {run!r} has no tb_metrics data; runs: {sorted(listing)}.")
    tags_found = {tag for tags in listing.values() for tag in tags}
    for tag in args.tag or []:
        if tag not in tags_found:
            raise UsageError(f"--tag {tag!r} is not a tb_metrics tag; tags: {sorted(tags_found)}.")
    left_out = []
    if skip_training_runs and not args.run:
        left_out = training_runs_with_validation(listing)
    selected = []
    for run in sorted(listing):
        if (args.run and run not in args.run) or run in left_out:
            continue
        for tag in sorted(listing[run]):
            plugin_data = _plugin_data_of(listing[run][tag])
            info = plugin_data.slice if plugin_data is not None else None
            if args.tag and tag not in args.tag and (info is None or info.parent not in args.tag):
                continue
            if kind is not None and plugin_data is not None and plugin_data.kind != kind:
                continue
            if not keep_slice(info):
                continue
            step = listing[run][tag].max_step if step_choice == "last" else step_choice
            selected.append(reading.read_series(provider, None, "", run, tag, step))
    if not selected:
        wanted = f"{kind} tags" if kind else "tags"
        raise UsageError(f"no selected run has {wanted}{f' {args.tag}' if args.tag else ''}; runs: {sorted(listing)}.")
    return selected, left_out


def _records(series: reading.TagSeries, threshold: float | None = None, *, max_fpr, k) -> list[dict[str, Any]]:
    """`tables.records`, a --k the log does not hold turned into a usage error."""
    try:
        return tables.records(series, threshold, max_fpr=max_fpr, k=k)
    except ValueError as error:
        raise UsageError(f"--k: {error} (run={series.run!r} tag={series.tag!r})") from None


def slice_names(args: argparse.Namespace) -> list[str]:
    """The "key=value" names of every slice of the selected runs and tags, sorted."""
    listing = reading.list_series(load(args.logdir), None, "")
    names = set()
    for run, tags in listing.items():
        for time_series in tags.values():
            plugin_data = _plugin_data_of(time_series)
            if args.run and run not in args.run or plugin_data is None or plugin_data.slice is None:
                continue
            if not args.tag or plugin_data.slice.parent in args.tag:
                names.add(plugin_data.slice.name)
    return sorted(names)


def _plugin_data_of(time_series) -> metadata.PluginData | None:
    """The decoded metadata of a listed tag, None when it cannot be decoded."""
    try:
        return metadata.parse_plugin_metadata(time_series.plugin_content)
    except metadata.UnsupportedFormatError:
        return None


def _export(args: argparse.Namespace, stdout: TextIO) -> int:
    if args.content == "counts" and args.threshold is not None:
        raise UsageError("--threshold applies to --content metrics; --content counts has every threshold.")
    if args.content == "counts" and args.max_fpr is not None:
        raise UsageError("--max-fpr applies to --content metrics; --content counts has no areas.")
    records: list[dict[str, Any]] = []
    selected, _ = select_series(args, None if args.all_steps else args.step)
    for series in selected:
        if args.content == "counts":
            records.extend(tables.count_records(series))
        else:
            records.extend(_records(series, args.threshold, max_fpr=args.max_fpr, k=args.k))
    stdout.write(tables.to_csv(records) if args.format == "csv" else tables.to_json(records))
    return EXIT_OK


def _selected(record: dict[str, Any], class_names, classes: list[str] | None, averages: list[str] | None) -> bool:
    """Whether `check` looks at this record: every one without --class / --average; else a class's
    row named by --class, and an average's row named by --average, or by --class when no class of
    the tag has that name."""
    if not classes and not averages:
        return True
    average = record.get("average")
    if average is None:
        return record["class"] in (classes or ())
    return average in (averages or ()) or (average in (classes or ()) and average not in class_names)


def _check(args: argparse.Namespace, stdout: TextIO) -> int:
    if args.slice_key is not None or args.max_gap is not None:
        return _check_gap(args, stdout)
    if args.reference_slice is not None:
        raise UsageError("--reference-slice goes with the gap gate: add --slice-key KEY --max-gap X.")
    if args.min is None and args.max is None:
        raise UsageError("give --min and/or --max: the bounds the metric must stay within.")
    if (args.metric == tables.PARTIAL_ROC_AUC) != (args.max_fpr is not None):
        raise UsageError(
            f"--metric {tables.PARTIAL_ROC_AUC} needs --max-fpr (e.g. --max-fpr 0.1)"
            if args.max_fpr is None else f"--max-fpr applies to --metric {tables.PARTIAL_ROC_AUC} only"
        )
    kind = _metric_kind(args)
    keep_slice = (lambda info: info is None) if args.slice_name is None else _named_slice(args)
    checked, failures, runs_checked = 0, [], set()
    selected, left_out = select_series(args, args.step, kind, skip_training_runs=True, keep_slice=keep_slice)
    for series in selected:
        for record in _metric_rows(series, args.metric, _rate_threshold(args), args.max_fpr, args.k):
            if not _selected(record, series.class_names, args.classes, args.averages):
                continue
            checked += 1
            runs_checked.add(series.run)
            value = record[args.metric]
            where = _where(record)
            if value is None and args.metric in tables.TOP_K_METRICS and record["top_k"] is None:
                failures.append(f"{where}: {args.metric} is not logged (no rank counts in this step: the compiled "
                                "ConfusionMatrix metric and single-sigmoid outputs log none)")
            elif value is None:
                failures.append(f"{where}: {args.metric} is undefined (no positives or no negatives)")
            elif args.min is not None and value < args.min:
                failures.append(f"{where}: {args.metric}={value:.6g} < --min {args.min:g}")
            elif args.max is not None and value > args.max:
                failures.append(f"{where}: {args.metric}={value:.6g} > --max {args.max:g}")
    if not checked:
        raise UsageError(
            f"no {kind} data to check {args.metric} on"
            + (f" for --class {args.classes}" if args.classes else "")
            + (f" for --average {args.averages}" if args.averages else "")
            + "; `tb-metrics export` lists what there is."
        )
    for failure in failures:
        print(f"FAIL {failure}", file=stdout)
    bounds = " and ".join(
        text for text in (f">= {args.min:g}" if args.min is not None else "",
                          f"<= {args.max:g}" if args.max is not None else "") if text
    )
    print(f"{checked - len(failures)} of {checked} {args.metric} values {bounds}", file=stdout)
    _print_runs(runs_checked, left_out, stdout)
    return EXIT_CHECK_FAILED if failures else EXIT_OK


def _check_gap(args: argparse.Namespace, stdout: TextIO) -> int:
    """The gap gate: per run, parent tag, step and class, the largest gap of the metric between the
    slices of --slice-key where it is defined (or the gap to --reference-slice) against --max-gap."""
    if args.slice_key is None or args.max_gap is None:
        raise UsageError("the gap gate needs both --slice-key KEY and --max-gap X.")
    if args.min is not None or args.max is not None or args.slice_name is not None:
        raise UsageError("--slice-key/--max-gap gate a gap; leave out --min, --max and --slice (check those alone).")
    if not (math.isfinite(args.max_gap) and args.max_gap >= 0):
        raise UsageError(f"--max-gap {args.max_gap!r} must be a non-negative number.")
    kind = _metric_kind(args)
    keep_slice = lambda info: info is not None and info.key == args.slice_key  # noqa: E731
    try:
        selected, left_out = select_series(args, args.step, kind, skip_training_runs=True, keep_slice=keep_slice)
    except UsageError:
        raise UsageError(f"--slice-key {args.slice_key!r} names no slices of the selected {kind} tags; slices: "
                         f"{slice_names(args)}.") from None
    groups: dict[tuple, dict[str, float | None]] = {}
    runs_checked = set()
    for series in selected:
        runs_checked.add(series.run)
        info = series.plugin_data.slice
        for record in _metric_rows(series, args.metric, _rate_threshold(args)):
            if _selected(record, series.class_names, args.classes, args.averages):
                group = (record["run"], info.parent, record["step"], record["class"], record.get("average"))
                groups.setdefault(group, {})[info.value] = record[args.metric]
    failures, notes, checked = [], [], 0
    for (run, parent, step, class_name, average), by_value in sorted(
            groups.items(), key=lambda item: (*item[0][:3], str(item[0][3]), str(item[0][4]))):
        if args.reference_slice is not None and args.reference_slice not in by_value:
            raise UsageError(f"--reference-slice {args.reference_slice!r} is not a value of --slice-key "
                             f"{args.slice_key!r}; values: {reading.sort_slice_values(by_value)}.")
        checked += 1
        where = f"run={run!r} tag={parent!r} step={step} class={class_name!r}" + (" (average)" if average else "")
        defined = {value: metric for value, metric in by_value.items() if metric is not None and not math.isnan(metric)}
        with_nan = {value: defined.get(value, math.nan) for value in by_value}
        undefined = [value for value in reading.sort_slice_values(by_value) if value not in defined]
        if undefined:
            notes.append(f"{where}: {args.metric} is not defined on "
                         f"{', '.join(f'{args.slice_key}={value}' for value in undefined)} (its denominator is 0: "
                         "no positives, no negatives, no predictions or no samples), left out of the gap")
        gap = fairness.largest_gap(with_nan, args.reference_slice)
        if gap is None:
            failures.append(f"{where}: {args.metric} is defined on fewer than two slices of {args.slice_key!r} "
                            f"({sorted(defined)}), so no gap can be checked")
            continue
        first, second, size = gap
        if size > args.max_gap:
            failures.append(
                f"{where}: {args.metric} gap {_beside(size, args.max_gap)} between {args.slice_key}={first} "
                f"({defined[first]:.6g}) and {args.slice_key}={second} ({defined[second]:.6g}) "
                f"> --max-gap {args.max_gap:g}")
    for note in notes:
        print(f"NOTE {note}", file=stdout)
    for failure in failures:
        print(f"FAIL {failure}", file=stdout)
    against = f"to {args.slice_key}={args.reference_slice}" if args.reference_slice else "between slices"
    print(f"{checked - len(failures)} of {checked} {args.metric} gaps {against} of {args.slice_key!r} "
          f"<= {args.max_gap:g}", file=stdout)
    _print_runs(runs_checked, left_out, stdout)
    return EXIT_CHECK_FAILED if failures else EXIT_OK


def _beside(value: float, bound: float) -> str:
    """`value` to 6 significant digits, or all of them where those would print it equal to `bound`
    (a gap of 1 − 0.95 is 0.050000000000000044, above --max-gap 0.05).

    >>> _beside(1 - 0.95, 0.05), _beside(0.2, 0.05)
    ('0.050000000000000044', '0.2')
    """
    short = f"{value:.6g}"
    return repr(value) if short == f"{bound:.6g}" else short


def _metric_kind(args: argparse.Namespace) -> str:
    """The summary kind --metric is read from: a rate at --threshold comes from threshold curves, a
    rate without it from confusion matrices (at their logged decision)."""
    if args.metric in RATE_METRICS:
        return metadata.KIND_THRESHOLD_CURVES if args.threshold is not None else metadata.KIND_CONFUSION_MATRIX
    if args.threshold is not None:
        raise UsageError(f"--threshold applies to the rate metrics {list(RATE_METRICS)}; --metric {args.metric} "
                         "is a summary of every threshold.")
    return next(kind for kind, names in CHECKABLE_METRICS.items() if args.metric in names)


def _rate_threshold(args: argparse.Namespace) -> float | None:
    return args.threshold if args.metric in RATE_METRICS and args.threshold is not None else None


def _is_matrix_rate(series: reading.TagSeries, metric: str) -> bool:
    """A per-class rate read off a confusion matrix (its accuracy comes from `tables.records`)."""
    return metric in RATE_METRICS and metric != "accuracy" and series.kind == metadata.KIND_CONFUSION_MATRIX


def _named_slice(args: argparse.Namespace):
    if args.slice_name not in slice_names(args):
        raise UsageError(f"--slice {args.slice_name!r} is not a slice of the selected tags; slices: "
                         f"{slice_names(args)} (KEY=VALUE).")
    return lambda info: info is not None and info.name == args.slice_name


def _metric_rows(series: reading.TagSeries, metric: str, threshold: float | None,
                 max_fpr: float | None = None, k: int | None = None) -> list[dict[str, Any]]:
    """The records `check` reads `metric` from: `tables.records` (with `max_fpr`, partial ROC-AUC
    too; top-k at `k`), or per step the rate of every class and of the micro, macro and weighted
    averages (`_rate_rows`) at `threshold` of a threshold-curve tag, or at the logged decision of a
    confusion-matrix tag (`fairness.matrix_class_counts`)."""
    if _is_matrix_rate(series, metric):
        matrices = np.stack([counts.matrix for counts in series.counts])
        num_classes = matrices.shape[1]
        names = series.class_names if len(series.class_names) == num_classes else tuple(map(str, range(num_classes)))
        per_class = fairness.matrix_class_counts(matrices)
        rows = []
        for index, step in enumerate(series.steps.tolist()):
            rows += _rate_rows(series, step, names, metric, *(counts[index] for counts in per_class))
        return rows
    if threshold is None:
        return _records(series, max_fpr=max_fpr, k=k)
    rows = []
    for index, step in enumerate(series.steps.tolist()):
        counts = fairness.counts_at_threshold(series.counts[index], threshold)
        rows += _rate_rows(series, step, series.class_names, metric, *counts)
    return rows


def _rate_rows(series: reading.TagSeries, step: int, names, metric: str, tp, fp, tn, fn) -> list[dict[str, Any]]:
    """One step's records of a rate from its classes' (C,) counts: each class (`fairness.slice_rates`),
    micro (the pooled counts), macro and weighted (`fairness_intervals.averaged_rate_intervals`);
    None where the rate is not defined."""
    def record(name, average, value):
        return {**tables.record_origin(series, step), "class": name, "average": average,
                metric: None if np.isnan(value) else float(value)}

    rows = [record(name, None, value)
            for name, value in zip(names, fairness.slice_rates(tp, fp, tn, fn)[metric], strict=True)]
    rows.append(record("micro", "micro", fairness.slice_rates(tp.sum(), fp.sum(), tn.sum(), fn.sum())[metric]))
    for average in fairness_intervals.AVERAGES:
        averaged = fairness_intervals.averaged_rate_intervals(tp[None], fp[None], tn[None], fn[None], average)
        rows.append(record(average, average, averaged[metric]["value"][0]))
    return rows


def _where(record: dict[str, Any]) -> str:
    where = f"run={record['run']!r} tag={record['tag']!r}"
    where += f" slice={record['slice']!r}" if record.get("slice") else ""
    where += f" step={record['step']} class={record['class']!r}"
    return where + (" (average)" if record.get("average") else "")


def _print_runs(runs_checked, left_out, stdout: TextIO) -> None:
    print(f"runs checked: {', '.join(map(repr, sorted(runs_checked)))}", file=stdout)
    if left_out:
        print(f"training runs left out (their validation run is checked; name them with --run to check them): "
              f"{', '.join(map(repr, left_out))}", file=stdout)
