"""Slices read back: `/tags` lists them (our event-file reader and TensorBoard's Python loader), export
records carry `slice`, and `tb-metrics check` gates one slice (`--slice`) or the gap between slices
(`--slice-key --max-gap`), the gaps checked against scikit-learn's rates on each slice's subset."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
from sklearn import metrics as skm
from tensorboard.context import RequestContext

from tb_metrics_plugin import SummaryWriter, cli, event_files, reading, slices, summary
from tests.conftest import InProcessTensorBoard
from tests.test_cli import run_cli_process
from tests.test_cli_fast import tensorboard_provider

STEPS = 3


def sliced_data(step: int, n: int = 400):
    """Binary labels and scores, a model much better on group "a" than on "b", and a site key."""
    rng = np.random.default_rng(step)
    group = np.where(np.arange(n) % 3 == 0, "b", "a")
    site = np.arange(n) % 11 + 1  # 1..11
    labels = rng.integers(0, 2, n)
    noise = np.where(group == "a", 0.1, 0.45)
    scores = np.clip(0.25 + 0.5 * labels + rng.normal(0, 1, n) * noise, 0, 1).astype(np.float32)
    return labels, scores, group, site


@pytest.fixture(scope="module")
def sliced_logdir(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("sliced")
    with SummaryWriter(str(logdir / "run" / "validation")) as writer:
        for step in range(STEPS):
            labels, scores, group, site = sliced_data(step)
            keys = {"group": group, "site": site}
            writer.add_summary(summary.threshold_curves_pb("curves", labels, scores, slices=keys), step)
            writer.add_summary(summary.confusion_matrix_pb("cm", labels, scores, slices={"group": group}), step)
    return logdir


def run_cli(*argv) -> tuple[int, str]:
    out = io.StringIO()
    return cli.main(list(argv), stdout=out), out.getvalue()


@pytest.mark.parametrize("provider_of", [event_files.EventFileDataProvider, tensorboard_provider],
                         ids=["event_files", "python_loader"])
def test_tags_list_each_slice_and_its_parent_lists_the_values(sliced_logdir, provider_of):
    listing = reading.tag_listing(provider_of(str(sliced_logdir)), RequestContext(), "")["run/validation"]
    sites = [str(site) for site in range(1, 12)]  # numeric order: "2" before "10"
    assert listing["curves"]["slices"] == {"group": ["a", "b"], "site": sites}
    assert listing["curves"]["min_slice_samples"] == slices.MIN_SLICE_SAMPLES
    assert listing["cm"]["slices"] == {"group": ["a", "b"]}
    assert listing["curves/site=10"]["slice"] == {"parent": "curves", "key": "site", "value": "10"}
    assert listing["curves/site=10"]["steps"] == list(range(STEPS))
    assert listing["cm/group=b"]["kind"] == "confusion_matrix"
    assert "slice" not in listing["curves"] and "slices" not in listing["curves/group=a"]
    assert len(listing) == 2 + 2 + 11 + 2


def test_export_records_name_their_slice(sliced_logdir):
    status, output = run_cli("export", "--logdir", str(sliced_logdir), "--tag", "curves", "--format", "json",
                             "--threshold", "0.5")
    assert status == 0
    records = json.loads(output)
    assert {r["slice"] for r in records} == {None, "group=a", "group=b", *(f"site={s}" for s in range(1, 12))}
    labels, scores, group, _ = sliced_data(STEPS - 1)
    (record,) = [r for r in records if r["slice"] == "group=b" and r["class"] == "positive"]
    subset = group == "b"
    assert record["tag"] == "curves/group=b" and record["step"] == STEPS - 1
    assert record["roc_auc"] == pytest.approx(skm.roc_auc_score(labels[subset], scores[subset]), abs=1e-12)
    assert record["recall"] == pytest.approx(skm.recall_score(labels[subset], scores[subset] > 0.5), abs=1e-12)
    status, output = run_cli("export", "--logdir", str(sliced_logdir), "--tag", "cm", "--format", "json")
    (record,) = [r for r in json.loads(output) if r["slice"] == "group=b"]
    predicted = (scores[subset] > np.float32(0.5)).astype(int)
    recalls = skm.recall_score(labels[subset], predicted, average=None)
    precisions = skm.precision_score(labels[subset], predicted, average=None)
    names = ["negative", "positive"]
    assert record["per_class_recall"] == pytest.approx(dict(zip(names, recalls, strict=True)), abs=1e-12)
    assert record["per_class_precision"] == pytest.approx(dict(zip(names, precisions, strict=True)), abs=1e-12)
    status, csv_text = run_cli("export", "--logdir", str(sliced_logdir), "--tag", "cm", "--format", "csv")
    header, *rows = csv_text.splitlines()
    assert header.split(",")[:4] == ["run", "tag", "slice", "step"]
    assert sorted(row.split(",")[2] for row in rows) == ["", "group=a", "group=b"]


def test_check_gates_one_slice_and_leaves_slices_out_by_default(sliced_logdir):
    logdir = str(sliced_logdir)
    status, output = run_cli("check", "--logdir", logdir, "--tag", "curves", "--metric", "roc_auc", "--min", "0.9",
                             "--class", "positive")
    assert status == 0 and "1 of 1 roc_auc" in output  # the overall tag only
    status, output = run_cli("check", "--logdir", logdir, "--metric", "roc_auc", "--min", "0.9",
                             "--slice", "group=b", "--class", "positive")
    assert status == 1 and "slice='group=b'" in output and "tag='curves/group=b'" in output
    status, output = run_cli("check", "--logdir", logdir, "--metric", "tpr", "--threshold", "0.5", "--min", "0.9",
                             "--slice", "group=a")
    assert status == 0 and "4 of 4 tpr values >= 0.9" in output  # the class, micro, macro, weighted
    assert run_cli("check", "--logdir", logdir, "--metric", "roc_auc", "--min", "0.9", "--slice", "group=z")[0] == 2


def expected_tpr_gap(step: int) -> tuple[float, float]:
    labels, scores, group, _ = sliced_data(step)
    tpr = {g: skm.recall_score(labels[group == g], scores[group == g] > np.float32(0.5)) for g in "ab"}
    return tpr["a"], tpr["b"]


def test_gap_gate_names_the_two_slices_and_the_gap(sliced_logdir):
    tpr_a, tpr_b = expected_tpr_gap(STEPS - 1)
    gap = abs(tpr_a - tpr_b)
    assert gap > 0.05
    base = ["check", "--logdir", str(sliced_logdir), "--metric", "tpr", "--threshold", "0.5", "--slice-key", "group"]
    status, output = run_cli(*base, "--max-gap", "0.05")
    assert status == 1
    low, high = ("a", "b") if tpr_a < tpr_b else ("b", "a")
    assert f"tpr gap {gap:.6g} between group={low}" in output and f"and group={high}" in output
    assert "> --max-gap 0.05" in output and "tag='curves'" in output
    status, output = run_cli(*base, "--max-gap", f"{gap + 1e-9}")
    assert status == 0 and "4 of 4 tpr gaps between slices of 'group'" in output  # one class and its averages
    status, output = run_cli(*base, "--max-gap", "0.05", "--reference-slice", "a")
    assert status == 1 and "between group=a" in output
    assert run_cli(*base, "--max-gap", "0.05", "--reference-slice", "z")[0] == 2


def test_gap_gate_on_a_summary_metric_and_every_step(sliced_logdir):
    aucs = {}
    for step in range(STEPS):
        labels, scores, group, _ = sliced_data(step)
        aucs[step] = {g: skm.roc_auc_score(labels[group == g], scores[group == g]) for g in "ab"}
    status, output = run_cli("check", "--logdir", str(sliced_logdir), "--metric", "roc_auc", "--slice-key", "group",
                             "--max-gap", "0.01", "--class", "positive", "--step", "0")
    assert status == 1
    assert f"roc_auc gap {abs(aucs[0]['a'] - aucs[0]['b']):.6g}" in output


def test_gap_gate_on_confusion_matrix_rates_at_the_logged_decision(sliced_logdir):
    """Without --threshold a rate is read off the confusion-matrix slices (score > 0.5 for one
    sigmoid output), per class; accuracy is the matrix's."""
    labels, scores, group, _ = sliced_data(STEPS - 1)
    predicted = (scores > np.float32(0.5)).astype(int)
    recall = {g: skm.recall_score(labels[group == g], predicted[group == g], average=None) for g in "ab"}
    base = ["check", "--logdir", str(sliced_logdir), "--metric", "tpr", "--slice-key", "group"]
    status, output = run_cli(*base, "--max-gap", "0.01", "--class", "positive")
    gap = abs(recall["a"][1] - recall["b"][1])
    assert status == 1 and f"tpr gap {gap:.6g} between group=" in output and "tag='cm'" in output
    status, output = run_cli(*base, "--max-gap", "1")
    assert status == 0 and "5 of 5 tpr gaps between slices of 'group'" in output  # 2 classes, 3 averages
    # The macro average: each slice's macro recall (scikit-learn's, on the subset) and their gap.
    macro = {g: skm.recall_score(labels[group == g], predicted[group == g], average="macro") for g in "ab"}
    status, output = run_cli(*base, "--max-gap", "0.01", "--average", "macro")
    assert status == 1 and f"class='macro' (average): tpr gap {abs(macro['a'] - macro['b']):.6g}" in output
    assert "1 of 1" not in output and "0 of 1 tpr gaps" in output
    accuracy = {g: skm.accuracy_score(labels[group == g], predicted[group == g]) for g in "ab"}
    status, output = run_cli("check", "--logdir", str(sliced_logdir), "--metric", "accuracy", "--slice-key", "group",
                             "--max-gap", "0.001")
    assert status == 1 and f"accuracy gap {abs(accuracy['a'] - accuracy['b']):.6g}" in output


def test_gap_gate_names_the_slices_where_the_rate_is_undefined(tmp_path):
    """A slice without positives has no TPR: the gate leaves it out and says so, naming it."""
    labels = np.array([1, 0, 1, 0, 0, 0, 1, 1, 0, 0])
    scores = np.array([0.9, 0.2, 0.4, 0.7, 0.1, 0.8, 0.6, 0.3, 0.2, 0.9], dtype=np.float32)
    site = np.array(["x", "x", "x", "x", "y", "y", "z", "z", "z", "z"])  # site y: negatives only
    with SummaryWriter(str(tmp_path / "run")) as writer:
        writer.add_summary(summary.threshold_curves_pb("curves", labels, scores, slices={"site": site}), 0)
    status, output = run_cli("check", "--logdir", str(tmp_path), "--metric", "tpr", "--threshold", "0.5",
                             "--slice-key", "site", "--max-gap", "0.6", "--class", "positive")
    assert status == 0
    assert "NOTE run='run' tag='curves' step=0 class='positive': tpr is not defined on site=y" in output
    assert "1 of 1 tpr gaps" in output


@pytest.mark.parametrize(("extra", "message"), [
    (["--metric", "tpr", "--tag", "curves", "--min", "0.5"], "no selected run has confusion_matrix tags"),
    (["--metric", "roc_auc", "--threshold", "0.5", "--min", "0.5"], "--threshold applies to the rate metrics"),
    (["--metric", "tpr", "--threshold", "0.5", "--slice-key", "group"], "needs both --slice-key"),
    (["--metric", "tpr", "--threshold", "0.5", "--slice-key", "nope", "--max-gap", "0.1"], "names no slices"),
    (["--metric", "tpr", "--threshold", "0.5", "--slice-key", "group", "--max-gap", "-1"], "non-negative"),
    (["--metric", "roc_auc", "--min", "0.5", "--reference-slice", "a"], "goes with the gap gate"),
])
def test_check_refuses_inconsistent_slice_options(sliced_logdir, extra, message, capsys):
    status, _ = run_cli("check", "--logdir", str(sliced_logdir), *extra)
    assert status == 2
    assert message in capsys.readouterr().err


@pytest.fixture(params=[True, False], ids=["rust_loader", "python_loader"])
def sliced_board(request, sliced_logdir):
    board = InProcessTensorBoard(sliced_logdir, load_fast=request.param)
    yield board
    board.close()


@pytest.mark.slow  # a TensorBoard (and with load_fast, its Rust data server) per loader
def test_routes_serve_slices_on_both_loaders(sliced_board):
    def tags():
        return json.loads(sliced_board.client.get("/data/plugin/tb_metrics/tags").get_data())

    listing = tags()
    for _ in range(150):  # the data server loads in the background
        if len(listing.get("run/validation", {})) == 17 and all(
                entry.get("num_steps") == STEPS for entry in listing["run/validation"].values()):
            break
        time.sleep(0.2)
        listing = tags()
    entries = listing["run/validation"]
    assert entries["curves"]["slices"] == {"group": ["a", "b"], "site": [str(s) for s in range(1, 12)]}
    assert entries["curves"]["min_slice_samples"] == slices.MIN_SLICE_SAMPLES
    assert entries["cm/group=a"]["slice"] == {"parent": "cm", "key": "group", "value": "a"}
    counts = json.loads(sliced_board.client.get(
        "/data/plugin/tb_metrics/counts?run=run/validation&tag=curves/group%3Db&step=2").get_data())
    assert counts["slice"] == {"parent": "curves", "key": "group", "value": "b"}
    summary_answer = json.loads(sliced_board.client.get(
        "/data/plugin/tb_metrics/summary?run=run/validation&tag=curves/site%3D10").get_data())
    assert summary_answer["slice"] == {"parent": "curves", "key": "site", "value": "10"}
    assert len(summary_answer["series"]["roc_auc"]["per_class"]) == STEPS
    served = json.loads(sliced_board.client.get(
        "/data/plugin/tb_metrics/export?run=run/validation&tag=curves/group%3Db&format=json&step=2").get_data())
    labels, scores, group, _ = sliced_data(2)
    assert served[0]["slice"] == "group=b"
    assert served[0]["roc_auc"] == pytest.approx(skm.roc_auc_score(labels[group == "b"], scores[group == "b"]),
                                                 abs=1e-12)


@pytest.mark.slow  # starts the command in a process of its own
def test_gap_gate_exit_status_through_the_console_script(sliced_logdir):
    status, stdout, _ = run_cli_process("check", "--logdir", sliced_logdir, "--metric", "tpr", "--threshold", "0.5",
                                        "--max-gap", "0.05", "--slice-key", "group", console_script=True)
    assert status == 1 and stdout.startswith("FAIL run='run/validation' tag='curves'")
