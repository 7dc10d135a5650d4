"""`tb-metrics` (also `python -m tb_metrics_plugin`): export metrics from logs, or gate CI on them.

    tb-metrics export --logdir DIR [--run R] [--tag T] [--step S | --all-steps] [--threshold X]
                      --format json|csv [--content metrics|counts]
    tb-metrics check --logdir DIR --metric roc_auc --min 0.9 [--run R] [--tag T] [--step S|last]
    tb-metrics check --logdir DIR --metric partial_roc_auc --max-fpr 0.1 --min 0.8

Event files are read without TensorFlow (`event_files`, the way TensorBoard's Python loader reads
them, every step kept), through the same data-provider calls (`reading`) and the same record
builder (`export.records`) as the plugin's routes, so the numbers are those of the browser's
downloads and a command takes a fraction of a second, not the 10-20 s of importing TensorFlow.
`check` leaves out the training split of each train/validation pair unless `--run` names it.
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

from tb_metrics_plugin import __version__, event_files, export, metadata, reading

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2
# The last path parts of the runs Keras' TensorBoard callback and MetricsCallback write.
TRAINING_SPLIT, VALIDATION_SPLIT = "train", "validation"
CHECKABLE_METRICS = {
    metadata.KIND_THRESHOLD_CURVES: (
        "roc_auc", "average_precision", "pr_auc", "best_f1", "pr_auc_majoring", "pr_auc_minoring",
        export.PARTIAL_ROC_AUC,
    ),
    metadata.KIND_CONFUSION_MATRIX: ("accuracy", "mean_iou", "kappa", "kappa_linear", "kappa_quadratic",
                                     *export.TOP_K_METRICS),
}


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
        command.add_argument("--logdir", required=True, help="the folder given to `tensorboard --logdir`")
        command.add_argument("--run", action="append",
                             help=f"run name as TensorBoard shows it (repeatable; default: {runs_by_default})")
        command.add_argument("--tag", action="append", help="tag name (repeatable; default: every tag)")

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
    exporting.add_argument("--format", required=True, choices=export.EXPORT_FORMATS)
    exporting.add_argument("--content", choices=export.EXPORT_CONTENTS, default="metrics",
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
    all_metrics = sorted({m for names in CHECKABLE_METRICS.values() for m in names})
    checking.add_argument("--metric", required=True, choices=all_metrics)
    checking.add_argument("--max-fpr", type=_max_fpr,
                          help="the false positive rate partial_roc_auc runs to (required by that metric)")
    checking.add_argument("--k", type=_k, help=_K_HELP)
    checking.add_argument("--min", type=float, help="fail when the metric is below this")
    checking.add_argument("--max", type=float, help="fail when the metric is above this")
    checking.add_argument("--step", type=_step, default="last", help="a logged step, or 'last' (default)")
    checking.add_argument("--class", dest="classes", action="append",
                          help="only this class name (repeatable; default: every class and average); "
                          "micro/macro/weighted name the average unless a class has that name")
    checking.add_argument("--average", dest="averages", action="append", choices=export.AVERAGES,
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

    Raises:
      UsageError: `logdir` is not a folder.
    """
    if not os.path.isdir(os.path.expanduser(logdir)):
        raise UsageError(f"--logdir {logdir!r} is not a folder; give the folder you pass to `tensorboard --logdir`.")
    return event_files.EventFileDataProvider(logdir)


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
    args: argparse.Namespace, step_choice: int | str | None, kind: str | None = None, skip_training_runs: bool = False
) -> tuple[list[reading.TagSeries], list[str]]:
    """The run/tag series the arguments select, each with the chosen step (None: all steps), and the
    runs left out: with `skip_training_runs` and no --run, the training split of each
    train/validation pair (see `training_runs_with_validation`).

    `kind` keeps only tags of that summary kind (tags whose metadata cannot be decoded stay, so
    that their error is reported), and only those are read: a step missing from a tag of
    another kind is no error.

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
            if args.tag and tag not in args.tag:
                continue
            if kind is not None and _kind_of(listing[run][tag]) not in (kind, None):
                continue
            step = listing[run][tag].max_step if step_choice == "last" else step_choice
            selected.append(reading.read_series(provider, None, "", run, tag, step))
    if not selected:
        wanted = f"{kind} tags" if kind else "tags"
        raise UsageError(f"no selected run has {wanted}{f' {args.tag}' if args.tag else ''}; runs: {sorted(listing)}.")
    return selected, left_out


def _records(series: reading.TagSeries, threshold: float | None = None, *, max_fpr, k) -> list[dict[str, Any]]:
    """`export.records`, a --k the log does not hold turned into a usage error."""
    try:
        return export.records(series, threshold, max_fpr=max_fpr, k=k)
    except ValueError as error:
        raise UsageError(f"--k: {error} (run={series.run!r} tag={series.tag!r})") from None


def _kind_of(time_series) -> str | None:
    """The summary kind a listed tag's metadata names, None when it cannot be decoded."""
    try:
        return metadata.parse_plugin_metadata(time_series.plugin_content).kind
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
            records.extend(export.count_records(series))
        else:
            records.extend(_records(series, args.threshold, max_fpr=args.max_fpr, k=args.k))
    stdout.write(export.to_csv(records) if args.format == "csv" else export.to_json(records))
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
    if args.min is None and args.max is None:
        raise UsageError("give --min and/or --max: the bounds the metric must stay within.")
    if (args.metric == export.PARTIAL_ROC_AUC) != (args.max_fpr is not None):
        raise UsageError(
            f"--metric {export.PARTIAL_ROC_AUC} needs --max-fpr (e.g. --max-fpr 0.1)"
            if args.max_fpr is None else f"--max-fpr applies to --metric {export.PARTIAL_ROC_AUC} only"
        )
    kind = next(kind for kind, names in CHECKABLE_METRICS.items() if args.metric in names)
    checked, failures, runs_checked = 0, [], set()
    selected, left_out = select_series(args, args.step, kind, skip_training_runs=True)
    for series in selected:
        for record in _records(series, max_fpr=args.max_fpr, k=args.k):
            if not _selected(record, series.class_names, args.classes, args.averages):
                continue
            checked += 1
            runs_checked.add(series.run)
            value = record[args.metric]
            where = f"run={record['run']!r} tag={record['tag']!r} step={record['step']} class={record['class']!r}"
            where += " (average)" if record.get("average") else ""
            if value is None and args.metric in export.TOP_K_METRICS and record["top_k"] is None:
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
    print(f"runs checked: {', '.join(map(repr, sorted(runs_checked)))}", file=stdout)
    if left_out:
        print(f"training runs left out (their validation run is checked; name them with --run to check them): "
              f"{', '.join(map(repr, left_out))}", file=stdout)
    return EXIT_CHECK_FAILED if failures else EXIT_OK
