"""The peers' metrics (partial ROC-AUC, weighted kappa, PR-AUC bounds) in `tb-metrics export`,
`tb-metrics check --metric ...` and the plugin's export route, on logs written by real Keras fits."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, roc_auc_score
from sklearn.preprocessing import label_binarize

from tb_metrics_plugin import core, metadata, tables
from tests.conftest import InProcessTensorBoard
from tests.readback import read_run
from tests.test_cli import run_cli

PREFIX = f"/data/plugin/{metadata.PLUGIN_NAME}"
MAX_FPR = 0.1


@pytest.fixture(scope="module")
def digits_last(fitted_logs):
    """The last step's stored counts of the digits validation run: {tag: counts}."""
    stored = read_run(fitted_logs.logdir / "digits/validation")
    return {tag: steps[fitted_logs.epochs - 1] for tag, steps in stored.items()}


def test_export_with_max_fpr_adds_partial_roc_auc_per_class_and_average(fitted_logs, digits_last):
    status, out, err = run_cli("export", "--logdir", fitted_logs.logdir, "--run", "digits/validation",
                               "--tag", "threshold_curves", "--format", "json", "--max-fpr", MAX_FPR)
    assert status == 0, err
    records = {record["class"] if record["average"] is None else f"({record['average']})": record
               for record in json.loads(out)}
    counts = digits_last["threshold_curves"]
    assert counts.exact.all()  # 200 validation items: every class keeps its distinct scores
    labels, scores = fitted_logs.labels["digits/validation"], fitted_logs.predictions["digits/validation"]
    for digit in range(10):
        record = records[f"digit {digit}"]
        assert record["max_fpr"] == MAX_FPR
        expected = roc_auc_score(labels == digit, scores[:, digit], max_fpr=MAX_FPR)
        assert record["partial_roc_auc"] == pytest.approx(expected, abs=1e-9)
    indicator = label_binarize(labels, classes=range(10))
    for average in ("macro", "weighted", "micro"):
        expected = roc_auc_score(indicator, scores, average=average, max_fpr=MAX_FPR)
        assert records[f"({average})"]["partial_roc_auc"] == pytest.approx(expected, abs=1e-9), average
    # pr_auc_majoring / minoring bracket the interpolated area in every record
    for record in records.values():
        assert record["pr_auc_minoring"] <= record["pr_auc"] <= record["pr_auc_majoring"]


def test_export_of_a_confusion_matrix_has_weighted_kappas_equal_to_sklearn(fitted_logs, digits_last):
    status, out, err = run_cli("export", "--logdir", fitted_logs.logdir, "--run", "digits/validation",
                               "--tag", "confusion_matrix", "--format", "csv")
    assert status == 0, err
    (row,) = list(csv.DictReader(io.StringIO(out)))
    labels = fitted_logs.labels["digits/validation"]
    predicted = np.argmax(fitted_logs.predictions["digits/validation"], axis=1)
    for weights in ("linear", "quadratic"):
        expected = cohen_kappa_score(labels, predicted, labels=range(10), weights=weights)
        assert float(row[f"kappa_{weights}"]) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("metric", ["kappa_quadratic", "pr_auc_majoring", "pr_auc_minoring"])
def test_check_gates_on_the_new_summary_metrics(fitted_logs, metric):
    args = ["check", "--logdir", fitted_logs.logdir, "--run", "digits/validation", "--metric", metric]
    status, out, err = run_cli(*args, "--min", 0.0)
    assert status == 0, (out, err)
    status, out, err = run_cli(*args, "--min", 1.01)
    assert status == 1 and f"{metric}=" in out and "< --min 1.01" in out


def test_check_partial_roc_auc_needs_max_fpr_and_names_the_failing_class(fitted_logs, digits_last):
    counts = digits_last["threshold_curves"]
    per_class = core.partial_roc_auc(counts.positive_histograms, counts.negative_histograms, MAX_FPR)
    worst = int(np.argmin(per_class))
    bound = float(np.sort(per_class)[1])
    args = ["check", "--logdir", fitted_logs.logdir, "--run", "digits/validation", "--metric", "partial_roc_auc"]
    status, out, err = run_cli(*args, "--max-fpr", MAX_FPR, "--min", bound, "--class", f"digit {worst}")
    assert status == 1, (out, err)
    assert f"class='digit {worst}'" in out and f"partial_roc_auc={per_class[worst]:.6g} < --min {bound:g}" in out
    status, out, err = run_cli(*args, "--max-fpr", MAX_FPR, "--min", 0.5)
    assert status == 0 and "13 of 13 partial_roc_auc values >= 0.5" in out
    status, out, err = run_cli(*args, "--min", 0.5)
    assert status == 2 and "--metric partial_roc_auc needs --max-fpr" in err
    status, out, err = run_cli("check", "--logdir", fitted_logs.logdir, "--metric", "roc_auc", "--max-fpr", "0.1",
                               "--min", "0.5")
    assert status == 2 and "--max-fpr applies to --metric partial_roc_auc only" in err
    status, out, err = run_cli(*args, "--max-fpr", "0", "--min", 0.5)
    assert status == 2 and "max-fpr='0' is outside (0, 1]" in err


def test_export_route_takes_max_fpr(fitted_logs):
    board = InProcessTensorBoard(fitted_logs.logdir, load_fast=False)
    try:
        query = {"run": "digits/validation", "tag": "threshold_curves", "format": "json", "max_fpr": str(MAX_FPR)}
        response = board.client.get(f"{PREFIX}/export", query_string=query)
        assert response.status_code == 200, response.get_data(as_text=True)
        records = [r for r in response.get_json() if r["step"] == fitted_logs.epochs - 1]
        labels, scores = fitted_logs.labels["digits/validation"], fitted_logs.predictions["digits/validation"]
        micro = roc_auc_score(label_binarize(labels, classes=range(10)), scores, average="micro", max_fpr=MAX_FPR)
        assert next(r for r in records if r["average"] == "micro")["partial_roc_auc"] == pytest.approx(micro, abs=1e-9)
        response = board.client.get(f"{PREFIX}/export", query_string={**query, "max_fpr": "0"})
        assert response.status_code == 400 and "max_fpr='0' is outside (0, 1]" in response.get_data(as_text=True)
        response = board.client.get(f"{PREFIX}/export", query_string={**query, "tag": "confusion_matrix"})
        assert response.status_code == 400 and "applies to threshold_curves tags" in response.get_data(as_text=True)
    finally:
        board.close()


def test_partial_roc_auc_is_only_a_record_field_when_asked_for(fitted_logs):
    status, out, _ = run_cli("export", "--logdir", fitted_logs.logdir, "--format", "json")
    assert status == 0
    assert all(tables.PARTIAL_ROC_AUC not in record and "max_fpr" not in record for record in json.loads(out))
