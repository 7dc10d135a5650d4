"""The slice views of a confusion-matrix tag in real Chromium on a real TensorBoard, both loaders: a
3-class argmax classifier logged with `summary.confusion_matrix_pb(..., slices=...)`; each slice's
rates of the chosen class and its multiclass accuracy against scikit-learn on the slice's subset,
the gaps with Newcombe's interval, "not defined" shown for a slice without the class, no threshold
(the logged decision named), the gaps over epochs and the exports."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest
from sklearn import metrics as sk

from tb_metrics_plugin import SummaryWriter, metadata, summary
from tb_metrics_plugin.fairness_intervals import averaged_gap_intervals, newcombe_difference_interval

RUN = "slicedcm/validation"
OTHER_RUN = "slicedcm_other/validation"  # a second run with slices, for the run picker
OTHER_SEED = 77
TAG = "confusion_matrix"
CURVES_TAG = "threshold_curves"
STEPS = 3
SITE_SIZES = {"a": 300, "b": 200, "c": 20}  # site c: small, and without samples of class 2
SITE_NOISE = {"a": 1.0, "b": 2.2, "c": 1.2}
CLASS = 2


def matrix_data(step: int, seed: int = 21):
    """(labels, argmax predictions, site per sample, softmax scores) of one epoch."""
    rng = np.random.default_rng(seed + step)
    sites = np.concatenate([np.full(size, site) for site, size in SITE_SIZES.items()])
    labels = np.where(sites == "c", rng.integers(0, 2, sites.size), rng.integers(0, 3, sites.size))
    noise = np.array([SITE_NOISE[site] for site in sites])[:, None]
    logits = (1.0 + 0.4 * step) * np.eye(3)[labels] + noise * rng.normal(size=(sites.size, 3))
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return labels, scores.argmax(axis=1), sites, scores.astype(np.float32)


@pytest.fixture(scope="module")
def matrix_logdir(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("sliced_matrix") / "logs"
    for run, seed in ((RUN, 21), (OTHER_RUN, OTHER_SEED)):
        with SummaryWriter(str(logdir / run)) as writer:
            for step in range(STEPS):
                labels, _, sites, scores = matrix_data(step, seed)
                writer.add_summary(summary.confusion_matrix_pb(TAG, labels, scores, class_names=["x", "y", "z"],
                                                               slices={"site": sites}), step)
                if run == RUN:  # the same scores as threshold curves, for the macro-averaged slice table
                    writer.add_summary(summary.threshold_curves_pb(CURVES_TAG, labels, scores,
                                                                   class_names=["x", "y", "z"], slices={"site": sites}),
                                       step)
    return logdir


@pytest.fixture(params=[True, False], ids=["rust_loader", "python_loader"])
def matrix_page(request, matrix_logdir, start_tensorboard, page_on):
    server = start_tensorboard(matrix_logdir, load_fast=request.param)
    server.wait_until(
        lambda tags: all(tags.get(run, {}).get(f"{TAG}/site=c", {}).get("num_steps") == STEPS
                         for run in (RUN, OTHER_RUN)),
        f"/data/plugin/{metadata.PLUGIN_NAME}/tags",
        timeout=120,
    )
    page = page_on(server).open()
    page.show(RUN, TAG, str(CLASS))
    return page


def subset(step: int, site: str, seed: int = 21):
    labels, predicted, sites, _ = matrix_data(step, seed)
    return labels[sites == site], predicted[sites == site]


def cell_value(page, selector: str) -> float:
    return float(page.locator(selector).get_attribute("data-value"))


def test_confusion_matrix_slice_views_on_both_loaders(matrix_page):
    page = matrix_page
    assert page.testid("slice-key").locator("option").all_inner_texts() == ["none", "site (3)"]
    page.testid("slice-key").select_option("site")
    page.wait_idle()
    page.testid("slice-reference").select_option("a")
    page.wait_idle()
    page.testid("view-slices-matrix").wait_for()
    last = STEPS - 1

    # No threshold applies: the note and the title name the logged decision.
    assert "No threshold applies" in page.testid("slice-decision-note").inner_text()
    assert "argmax" in page.testid("view-slices-matrix").locator(".tbm-chart-title").inner_text()

    # Each slice's rates of class 2 one-vs-rest and its multiclass accuracy equal scikit-learn's.
    metric = "[data-testid=slice-metrics] [data-metric={}][data-slice={}]"
    for site in ("a", "b"):
        truth, predicted = subset(last, site)
        expected = {
            "tpr": sk.recall_score(truth, predicted, labels=[CLASS], average=None)[0],
            "precision": sk.precision_score(truth, predicted, labels=[CLASS], average=None)[0],
            "selection_rate": np.mean(predicted == CLASS),
            "accuracy": sk.accuracy_score(truth, predicted),
        }
        page.wait_until(lambda site=site, value=expected["tpr"]: math.isclose(
            cell_value(page, metric.format("tpr", site)), value, rel_tol=1e-9), f"TPR of site {site}")
        for rate, value in expected.items():
            assert cell_value(page, metric.format(rate, site)) == pytest.approx(value, rel=1e-9), (rate, site)
    # Site c has no samples of class 2: its TPR is not defined, shown as "–", and so is its gap.
    assert page.locator(metric.format("tpr", "c")).get_attribute("data-value") == "NaN"
    assert page.locator(metric.format("tpr", "c")).inner_text().startswith("–")
    assert page.locator("[data-testid=slice-gaps] [data-gap=tpr][data-slice=c]").inner_text().startswith("–")
    truth, predicted = subset(last, "c")
    assert cell_value(page, metric.format("accuracy", "c")) == pytest.approx(sk.accuracy_score(truth, predicted))
    warning = page.locator(".tbm-slice-warning").inner_text()
    assert "site=c" in warning and "site=a" not in warning

    # The accuracy gap of site b to site a, with Newcombe's interval on the subsets' counts.
    (truth_b, predicted_b), (truth_a, predicted_a) = subset(last, "b"), subset(last, "a")
    correct_b, correct_a = np.sum(truth_b == predicted_b), np.sum(truth_a == predicted_a)
    gap_cell = page.locator("[data-testid=slice-gaps] [data-gap=accuracy][data-slice=b]")
    assert float(gap_cell.get_attribute("data-value")) == pytest.approx(
        correct_b / truth_b.size - correct_a / truth_a.size, rel=1e-9)
    _, low, high = newcombe_difference_interval(correct_b, truth_b.size, correct_a, truth_a.size)
    assert f"[{low:.3f}, {high:.3f}]" in gap_cell.inner_text()

    # The table's export: one row per slice, naming the decision, the key and the run.
    name, body = page.download_file("view-slices-matrix", "csv")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert [row["slice"] for row in rows] == ["a", "b", "c"] and "slices-site" in name
    assert {row["decision"] for row in rows} == {"argmax"} and {row["slices_of_run"] for row in rows} == {RUN}
    assert {row["class"] for row in rows} == {"z"} and "class2" in name
    assert float(rows[1]["accuracy"]) == pytest.approx(correct_b / truth_b.size, rel=1e-9)
    assert rows[2]["tpr"] in ("", "NaN", "null")
    assert {row["intervals"] for row in rows} == {"wilson, newcombe, katz"}

    # Gaps over epochs at the logged decision: accuracy of b and c minus a, every epoch.
    page.assert_drawn("view-slice-epochs")
    assert "no threshold applies" in page.testid("view-slice-epochs").inner_text()
    page.testid("slice-gap-rate").select_option("accuracy")
    page.wait_idle()
    _, body = page.download_file("view-slice-epochs", "csv")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert {row["slice"] for row in rows} == {"site=b", "site=c"} and len(rows) == 2 * STEPS
    for row in rows:
        step, site = int(row["step"]), row["slice"].split("=")[1]
        accuracy = {s: sk.accuracy_score(*subset(step, s)) for s in (site, "a")}
        assert float(row["difference"]) == pytest.approx(accuracy[site] - accuracy["a"], rel=1e-9)

    # The macro average: each slice's recall averaged over the classes it has (scikit-learn's macro
    # recall on the subset's own labels), with the stated approximate interval; accuracy unchanged.
    page.select_class("macro")
    page.wait_until(lambda: "approximate" in page.testid("slice-metrics-heading").inner_text(), "the macro tables")
    for site in ("a", "b", "c"):
        truth, predicted = subset(last, site)
        present = sorted(set(truth))
        assert cell_value(page, metric.format("tpr", site)) == pytest.approx(
            sk.recall_score(truth, predicted, labels=present, average="macro"), rel=1e-9), site
        assert cell_value(page, metric.format("accuracy", site)) == pytest.approx(sk.accuracy_score(truth, predicted))
    assert "balanced accuracy" in page.testid("slice-decision-note").inner_text()

    # Micro: its recall and precision are the accuracy, which alone is shown.
    page.select_class("micro")
    page.wait_until(lambda: page.locator("[data-testid=slice-metrics] [data-metric=tpr]").count() == 0,
                    "the per-class rows to go")
    assert page.locator("[data-testid=slice-metrics] [data-metric=accuracy]").count() == 3
    assert "pick a class, or the macro or weighted average" in page.testid("slice-decision-note").inner_text()

    # Two selected runs with slices: a run picker chooses whose slices are compared; at 900 px the
    # slice selector stays within the window.
    page.page.set_viewport_size({"width": 900, "height": 1000})
    page.select_runs(RUN, OTHER_RUN)
    page.testid("slice-run").wait_for(state="visible")
    assert page.testid("slice-run").locator("option").all_inner_texts() == [RUN, OTHER_RUN]
    page.testid("slice-run").select_option(OTHER_RUN)
    page.wait_idle()
    truth, predicted = subset(last, "b", OTHER_SEED)
    page.wait_until(lambda: math.isclose(cell_value(page, metric.format("accuracy", "b")),
                                         sk.accuracy_score(truth, predicted), rel_tol=1e-9), "the other run's slices")
    assert OTHER_RUN in page.testid("view-slices-matrix").locator(".tbm-chart-title").inner_text()
    box = page.testid("slice-select").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 900, box

    # Threshold curves of the same scores, macro average at 0.5: each slice's TPR is scikit-learn's
    # macro recall of the one-vs-rest decisions score > 0.5 on its subset, and the gap's approximate
    # interval is the Python core's.
    page.show(RUN, CURVES_TAG, "macro")
    page.set_threshold(0.5)
    page.testid("view-slices").wait_for()
    page.wait_until(lambda: "macro average" in page.testid("slice-metrics-heading").inner_text(), "the macro table")
    labels, _, sites, scores = matrix_data(last)
    decided = scores > np.float32(0.5)
    truth = np.eye(3, dtype=bool)[labels]
    cells = {"tp": (truth, decided), "fp": (~truth, decided), "tn": (~truth, ~decided), "fn": (truth, ~decided)}
    counts = {name: np.stack([np.sum(a & b & (sites == site)[:, None], axis=0) for site in "abc"]).astype(float)
              for name, (a, b) in cells.items()}
    gaps = averaged_gap_intervals(counts["tp"], counts["fp"], counts["tn"], counts["fn"], "macro", reference=0)
    recall = {site: sk.recall_score(truth[sites == site], decided[sites == site], average="macro", zero_division=0)
              for site in ("a", "b")}
    gap_cell = page.locator("[data-testid=slice-gaps] [data-gap=tpr][data-slice=b]")
    page.wait_until(lambda: math.isclose(float(gap_cell.get_attribute("data-value")), recall["b"] - recall["a"],
                                         rel_tol=1e-9), "the macro TPR gap")
    low, high = gaps["tpr"]["difference_low"][1], gaps["tpr"]["difference_high"][1]
    assert f"[{low:.3f}, {high:.3f}]" in gap_cell.inner_text()
    assert "approximate" in page.testid("slice-gaps-heading").inner_text()
    _, body = page.download_file("view-slices", "csv")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert all(row["intervals"].startswith("approximate") and row["average"] == "macro" for row in rows)
    assert float(rows[1]["tpr_difference_low"]) == pytest.approx(low, rel=1e-9)
    assert "cannot run here" in page.testid("slice-optimiser-summary").inner_text()  # it needs one class
