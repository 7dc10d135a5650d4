"""The `tb-metrics` command line on logs written by real Keras fits.

The cases call `cli.main(argv, stdout=...)` in this process, as the console script does; one case per
command (export, check) runs the installed command in its own process, so the entry point, the
`python -m` form and the exit status a shell sees are tested too.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tb_metrics_plugin import cli, core, tables
from tests.readback import read_run

CURVE_KEYS = {"run", "tag", "step", "class", "average", "roc_auc", "average_precision", "pr_auc", "best_f1",
              "best_f1_threshold"}
# What pip's `tb-metrics` script does, without depending on where pip put it (a venv's bin may not
# be on PATH): load the `console_scripts` entry point and exit with what it returns.
CONSOLE_SCRIPT = (
    "import importlib.metadata, sys; "
    "(script,) = importlib.metadata.entry_points(group='console_scripts', name='tb-metrics'); "
    "sys.exit(script.load()())"
)


def run_cli(*args):
    """(exit status, stdout, stderr) of `tb-metrics ...` run in this process by `cli.main`."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            status = cli.main([str(arg) for arg in args], stdout=out)
        except SystemExit as exit_:  # argparse exits on bad usage, as the command does
            status = exit_.code
    return status, out.getvalue(), err.getvalue()


def run_cli_process(*args, console_script: bool = False):
    """(exit status, stdout, stderr) of `python -m tb_metrics_plugin ...` (or the `tb-metrics` entry
    point) in a subprocess."""
    command = [sys.executable, "-c", CONSOLE_SCRIPT] if console_script else [sys.executable, "-m", "tb_metrics_plugin"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([*command, *map(str, args)], capture_output=True, text=True, timeout=120, env=env)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope="module")
def last_counts(fitted_logs):
    last = fitted_logs.epochs - 1
    return {run: {tag: steps[last] for tag, steps in read_run(fitted_logs.logdir / run).items()}
            for run in ("binary/train", "binary/validation", "digits/validation")}


def test_export_json_of_the_last_step_by_default(fitted_logs, last_counts):
    status, out, err = run_cli("export", "--logdir", fitted_logs.logdir, "--format", "json")
    assert status == 0, err
    records = json.loads(out)
    last = fitted_logs.epochs - 1
    assert {record["step"] for record in records} == {last}
    curves = [r for r in records if r["tag"] == "threshold_curves"]
    matrices = [r for r in records if r["tag"] == "confusion_matrix"]
    # binary: 1 class + 3 averages per split; digits: 10 + 3.
    assert len(curves) == 4 + 4 + 13
    assert len(matrices) == 3
    assert all(CURVE_KEYS <= set(record) for record in curves)
    assert all({"accuracy", "mean_iou", "per_class_iou"} <= set(record) for record in matrices)
    malignant = next(r for r in curves if r["run"] == "binary/validation" and r["class"] == "malignant")
    counts = last_counts["binary/validation"]["threshold_curves"]
    expected = core.json_safe(core.threshold_curves_summary(
        counts.positive_histograms, counts.negative_histograms, counts.thresholds, counts.exact))
    for metric in tables.THRESHOLD_CURVE_METRICS:
        assert malignant[metric] == expected[metric]["per_class"][0]
    exact = roc_auc_score(fitted_logs.labels["binary/validation"], fitted_logs.predictions["binary/validation"])
    assert malignant["roc_auc"] == pytest.approx(exact, abs=5e-4)
    digits_matrix = next(r for r in matrices if r["run"] == "digits/validation")
    matrix = last_counts["digits/validation"]["confusion_matrix"].matrix
    assert digits_matrix["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum(), abs=1e-12)
    assert list(digits_matrix["per_class_iou"]) == [f"digit {d}" for d in range(10)]


def test_export_csv_with_a_threshold_for_one_run_tag_and_step(fitted_logs):
    status, out, err = run_cli(
        "export", "--logdir", fitted_logs.logdir, "--run", "digits/validation", "--tag", "threshold_curves",
        "--step", 1, "--threshold", 0.3, "--format", "csv",
    )
    assert status == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["class"] for row in rows] == [f"digit {d}" for d in range(10)] + ["micro", "macro", "weighted"]
    assert {row["step"] for row in rows} == {"1"}
    assert {"precision", "recall", "f1", "tp", "fp", "tn", "fn", "threshold"} <= set(rows[0])
    counts = read_run(fitted_logs.logdir / "digits/validation")["threshold_curves"][1]
    thresholds = counts.per_class_thresholds
    micro_tp = 0.0
    for digit in range(10):
        # Each class at the stored threshold that stands for 0.3: the nearest on a grid, 0.3 itself
        # for an exact class (its counts are exact there).
        exact = bool(counts.exact[digit])
        index = core.threshold_index(thresholds[digit], 0.3, exact=exact)
        expected = core.counts_at_index(counts.positive_histograms[digit], counts.negative_histograms[digit], index)
        assert float(rows[digit]["threshold"]) == pytest.approx(0.3 if exact else float(thresholds[digit][index]))
        assert [float(rows[digit][k]) for k in ("tp", "fp", "tn", "fn")] == list(expected)
        micro_tp += expected[0]
    assert float(rows[10]["tp"]) == micro_tp  # micro: pooled counts
    assert rows[11]["tp"] == ""  # macro averages rates, not counts
    # Every sample is a positive of exactly one digit.
    assert sum(float(rows[d]["tp"]) + float(rows[d]["fn"]) for d in range(10)) == 200


@pytest.mark.slow  # a new Python process, as a shell runs the command
def test_export_all_steps_through_the_console_script(fitted_logs):
    status, out, err = run_cli_process("export", "--logdir", fitted_logs.logdir, "--run", "binary/train",
                                       "--tag", "confusion_matrix", "--all-steps", "--format", "json",
                                       console_script=True)
    assert status == 0, err
    assert [record["step"] for record in json.loads(out)] == list(range(fitted_logs.epochs))


def test_export_raw_counts(fitted_logs):
    status, out, err = run_cli("export", "--logdir", fitted_logs.logdir, "--run", "binary/validation",
                               "--tag", "confusion_matrix", "--content", "counts", "--format", "json")
    assert status == 0, err
    matrix = read_run(fitted_logs.logdir / "binary/validation")["confusion_matrix"][fitted_logs.epochs - 1].matrix
    assert [cell["count"] for cell in json.loads(out)] == matrix.ravel().tolist()


def test_check_passes_and_fails_with_the_failing_class_named(fitted_logs, last_counts):
    counts = last_counts["digits/validation"]["threshold_curves"]
    per_class = core.roc_auc(counts.positive_histograms, counts.negative_histograms)
    worst = int(np.argmin(per_class))
    bound = float(np.sort(per_class)[1])  # only the worst class is below it
    args = ["check", "--logdir", fitted_logs.logdir, "--run", "digits/validation", "--metric", "roc_auc"]
    status, out, err = run_cli(*args, "--min", bound, "--class", f"digit {worst}", "--class", "digit 0")
    assert status == 1, (out, err)
    assert f"class='digit {worst}'" in out and "run='digits/validation'" in out and "tag='threshold_curves'" in out
    assert f"roc_auc={per_class[worst]:.6g} < --min {bound:g}" in out
    assert out.count("FAIL") == 1
    status, out, err = run_cli(*args, "--min", 0.5)
    assert status == 0, (out, err)
    assert "13 of 13 roc_auc values >= 0.5" in out


def test_classes_named_like_averages_stay_distinct_in_export_and_check(tmp_path):
    """A class called "macro" (or "micro"): export tells its record from the average's by the
    `average` field; check --class picks the class, --average the average."""
    from tb_metrics_plugin import SummaryWriter, summary

    rng = np.random.default_rng(5)
    labels, scores = rng.integers(0, 3, 300), rng.dirichlet(np.ones(3), 300).astype(np.float32)
    with SummaryWriter(tmp_path / "run") as writer:
        writer.add_summary(summary.threshold_curves_pb(
            "threshold_curves", labels, scores, class_names=["macro", "micro", "cat"]), step=0)
    status, out, err = run_cli("export", "--logdir", tmp_path, "--format", "json")
    assert status == 0, err
    records = json.loads(out)
    assert [(r["class"], r["average"]) for r in records] == [
        ("macro", None), ("micro", None), ("cat", None),
        ("micro", "micro"), ("macro", "macro"), ("weighted", "weighted")]
    status, out, err = run_cli("export", "--logdir", tmp_path, "--format", "csv")
    assert [(row["class"], row["average"]) for row in csv.DictReader(io.StringIO(out))][2:4] == [
        ("cat", ""), ("micro", "micro")]
    check = ["check", "--logdir", tmp_path, "--metric", "roc_auc", "--min", 1.5]
    status, out, _ = run_cli(*check, "--class", "macro")
    assert status == 1
    assert out.splitlines()[0].endswith(f"class='macro': roc_auc={records[0]['roc_auc']:.6g} < --min 1.5")
    assert "0 of 1 roc_auc values" in out
    status, out, _ = run_cli(*check, "--average", "macro", "--class", "weighted")
    assert status == 1 and "0 of 2 roc_auc values" in out
    assert f"class='macro' (average): roc_auc={records[4]['roc_auc']:.6g}" in out
    assert "class='weighted' (average)" in out  # no class is called "weighted": --class names the average


@pytest.mark.slow  # a new Python process, as a shell runs the command
def test_check_a_confusion_matrix_metric_at_a_step_through_python_m(fitted_logs):
    status, out, err = run_cli_process("check", "--logdir", fitted_logs.logdir, "--metric", "accuracy",
                                       "--min", 1.01, "--step", 0, "--run", "binary/validation")
    assert status == 1
    assert "run='binary/validation' tag='confusion_matrix' step=0 class='all': accuracy=" in out


@pytest.mark.parametrize("args, message", [
    (["export", "--logdir", "{missing}", "--format", "json"], "is not a folder"),
    (["export", "--logdir", "{empty}", "--format", "json"], "no tb_metrics data"),
    (["export", "--logdir", "{logs}", "--format", "json", "--run", "nope"], "--run 'nope'"),
    (["export", "--logdir", "{logs}", "--format", "json", "--tag", "nope"], "--tag 'nope'"),
    (["export", "--logdir", "{logs}", "--format", "json", "--step", "99"], "step=99"),
    (["export", "--logdir", "{logs}", "--format", "xml"], "invalid choice: 'xml'"),
    (["export", "--logdir", "{logs}", "--format", "csv", "--threshold", "2"], "threshold='2' is outside [0, 1]"),
    (["export", "--logdir", "{logs}", "--format", "csv", "--step", "1", "--all-steps"], "not allowed with"),
    (["check", "--logdir", "{logs}", "--metric", "auc", "--min", "0.9"], "invalid choice: 'auc'"),
    (["export", "--logdir", "{logs}", "--format", "csv", "--content", "counts", "--threshold", "0.5"],
     "--threshold applies to --content metrics"),
    (["check", "--logdir", "{logs}", "--metric", "roc_auc"], "give --min and/or --max"),
    (["check", "--logdir", "{logs}", "--metric", "roc_auc", "--min", "0.5", "--class", "cat"], "--class ['cat']"),
])
def test_bad_input_exits_2_with_a_message(fitted_logs, tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    where = {"missing": tmp_path / "missing", "empty": tmp_path / "empty", "logs": fitted_logs.logdir}
    status, out, err = run_cli(*(arg.format(**where) for arg in args))
    assert status == 2
    assert message in err
    assert out == "" and "Traceback" not in err
