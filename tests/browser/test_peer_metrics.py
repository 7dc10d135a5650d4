"""The peers' metrics in the tab: the ROC card's max-FPR box (partial ROC-AUC in the legend, the
view's CSV, the readout's downloads and the URL), the PR legend's PR-AUC between Keras' minoring
and majoring sums, the weighted kappas and the top-k line beside the confusion matrix; every number
the Python core's on the event files TensorBoard serves."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tb_metrics_plugin import core, top_k
from tests.browser import expected
from tests.browser.conftest import MANY_CLASSES_RUN

RUN = "binary/validation"
LAST_STEP = 2
MAX_FPR = 0.1


def _legend(plugin_page, view: str) -> str:
    return plugin_page.testid(view).locator(".tbm-chart-legend").inner_text()


def test_roc_max_fpr_box_adds_the_partial_auc_to_legend_csv_downloads_and_url(plugin_page, browser_logdir):
    plugin_page.open()
    plugin_page.show(RUN, "threshold_curves")
    plugin_page.set_epoch(LAST_STEP)
    assert "pAUC" not in _legend(plugin_page, "view-roc"), "off by default"
    curves = expected.counts(browser_logdir, RUN, LAST_STEP, "threshold_curves")
    partial = core.partial_roc_auc(curves.positive_histograms[0], curves.negative_histograms[0], MAX_FPR)
    plugin_page.set_number("roc-max-fpr-input", MAX_FPR)
    plugin_page.wait_until(lambda: "pAUC" in _legend(plugin_page, "view-roc"), "the partial AUC in the ROC legend")
    assert f"pAUC to FPR {MAX_FPR} {partial:.4f}" in _legend(plugin_page, "view-roc")

    _, data = plugin_page.download_file("view-roc", "csv", timeout_ms=5000)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert rows and all(float(row["max_fpr"]) == MAX_FPR for row in rows)
    assert float(rows[0]["partial_roc_auc"]) == pytest.approx(partial, abs=1e-12)

    links = plugin_page.locator("a[href*='export?']")
    metric_links = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert sum(f"max_fpr={MAX_FPR}" in href for href in metric_links) == 2, metric_links  # CSV and JSON
    # The URL hash is written once the state rests (state.js, PERSIST_DELAY_MS), not at once.
    plugin_page.wait_until(lambda: f"maxFpr={MAX_FPR}" in plugin_page.frame.evaluate("() => window.location.hash"),
                           "maxFpr in the URL hash")

    plugin_page.set_number("roc-max-fpr-input", "")
    plugin_page.wait_until(lambda: "pAUC" not in _legend(plugin_page, "view-roc"), "the partial AUC to go")
    plugin_page.set_number("roc-max-fpr-input", 1.5)
    assert plugin_page.testid("roc-max-fpr-input").get_attribute("aria-invalid") == "true"
    assert "pAUC" not in _legend(plugin_page, "view-roc")


def test_pr_legend_shows_pr_auc_between_keras_bounds(plugin_page, browser_logdir):
    plugin_page.open()
    plugin_page.show(RUN, "threshold_curves")
    plugin_page.set_epoch(LAST_STEP)
    curves = expected.counts(browser_logdir, RUN, LAST_STEP, "threshold_curves")
    positive, negative = curves.positive_histograms[0], curves.negative_histograms[0]
    low, high = (core.pr_auc_bound(positive, negative, method) for method in ("minoring", "majoring"))
    want = f"PR-AUC {core.pr_auc(positive, negative):.4f} (bounds {low:.3f}–{high:.3f})"
    plugin_page.wait_until(lambda: want in _legend(plugin_page, "view-pr"), f"{want!r} in the PR legend")


def test_weighted_kappas_and_top_k_beside_the_confusion_matrix(plugin_page, browser_logdir):
    plugin_page.open()
    plugin_page.show("multiclass/validation", "confusion_matrix")
    plugin_page.set_epoch(LAST_STEP)
    matrix = expected.counts(browser_logdir, "multiclass/validation", LAST_STEP, "confusion_matrix").matrix
    linear, quadratic = core.weighted_kappa(matrix, "linear"), core.weighted_kappa(matrix, "quadratic")
    readout = plugin_page.testid("readout")
    plugin_page.wait_until(lambda: "quadratic" in readout.inner_text(), "the weighted kappas in the readout")
    found = re.search(r"linear (\d\.\d{4}), quadratic (\d\.\d{4})", readout.inner_text())
    assert found, readout.inner_text()
    assert (float(found[1]), float(found[2])) == (round(linear, 4), round(quadratic, 4))
    # The demo's multiclass matrix comes from the compiled ConfusionMatrix metric: no ranks, no top-k line.
    assert expected.counts(browser_logdir, "multiclass/validation", LAST_STEP, "confusion_matrix").true_ranks is None
    assert not plugin_page.testid("top-k").is_visible()

    # The 100-class run is written by `confusion_matrix_pb` with the scores: ranks 0 … 9 are logged.
    plugin_page.show(MANY_CLASSES_RUN, "confusion_matrix")
    plugin_page.set_epoch(LAST_STEP)
    ranks = expected.counts(browser_logdir, MANY_CLASSES_RUN, LAST_STEP, "confusion_matrix")
    box = plugin_page.testid("top-k")
    for k in (5, 3):  # the default k, then one chosen in the selector
        if k != 5:
            plugin_page.testid("top-k-k").select_option(str(k))
            plugin_page.wait_idle()
        want = f"top-{k} accuracy {top_k.top_k_accuracy(ranks.true_ranks, k):.4f}"
        plugin_page.wait_until(lambda want=want: want in box.inner_text(), f"{want!r} in the top-k line")
        macro = top_k.top_k_precision_recall(ranks.true_ranks, ranks.class_ranks, k)["top_k_precision"]["macro"]
        assert f"top-{k} precision (macro) {macro:.4f}" in box.inner_text()
    links = plugin_page.locator("a[href*='export?']")
    assert any("k=3" in links.nth(i).get_attribute("href") for i in range(links.count()))
