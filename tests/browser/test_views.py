"""Every view draws, for each kind of demo run and for a 100-class run."""

from __future__ import annotations

from tests.browser.conftest import MANY_CLASSES_RUN

CURVE_VIEWS = ("view-roc", "view-pr", "view-threshold", "view-distribution", "view-calibration",
               "view-confusion", "view-iou", "view-epochs")
MATRIX_VIEWS = ("view-confusion", "view-iou", "view-epochs")


def assert_views_drawn(plugin_page, views, screenshot_dir=None, prefix="") -> None:
    for view in views:
        plugin_page.assert_drawn(view)
        if screenshot_dir is not None:
            plugin_page.screenshot(screenshot_dir / f"{prefix}{view}.png", testid=view)
    failures = plugin_page.locator(".tbm-view-error:visible").all_inner_texts()
    assert not failures, f"views report errors: {failures}"
    assert plugin_page.testid("error").is_hidden(), plugin_page.testid("error").inner_text()


def test_every_curve_view_draws_for_the_binary_run(plugin_page, artifacts_dir):
    plugin_page.open()
    plugin_page.show("binary/validation", "threshold_curves")
    plugin_page.set_threshold(0.4)
    assert_views_drawn(plugin_page, CURVE_VIEWS, artifacts_dir, "binary-")
    plugin_page.screenshot(artifacts_dir / "binary-page.png", height=2000)


def test_det_view_draws_when_asked_for(plugin_page, artifacts_dir):
    plugin_page.open()
    plugin_page.show("binary/validation", "threshold_curves")
    assert plugin_page.testid("view-det").count() == 0, "DET is an option, off by default"
    plugin_page.frame.get_by_label("DET curve").check()
    plugin_page.wait_idle()
    assert_views_drawn(plugin_page, ("view-det",), artifacts_dir, "binary-")


def test_binary_confusion_cells_are_shown(plugin_page):
    plugin_page.open()
    plugin_page.show("binary/validation", "threshold_curves")
    cells = {name: plugin_page.cell(name) for name in ("tp", "fp", "tn", "fn")}
    # 170 validation items (30 % of 569), all counted once.
    assert sum(cells.values()) == 170, cells


def test_multiclass_curves_draw_for_a_class_and_an_average(plugin_page, artifacts_dir):
    plugin_page.open()
    plugin_page.show("multiclass/validation", "threshold_curves")
    drawings = []
    for class_key in ("3", "macro"):
        plugin_page.select_class(class_key)
        assert_views_drawn(plugin_page, CURVE_VIEWS, artifacts_dir, f"multiclass-{class_key}-")
        drawings.append({view: plugin_page.canvas_fingerprint(view) for view in ("view-roc", "view-pr")})
    assert all(drawings[0][view] != drawings[1][view] for view in drawings[0]), "class 3 and macro look alike"


def test_multiclass_confusion_matrix_draws(plugin_page, artifacts_dir):
    plugin_page.open()
    plugin_page.show("multiclass/validation", "confusion_matrix")
    assert_views_drawn(plugin_page, MATRIX_VIEWS, artifacts_dir, "multiclass-matrix-")
    plugin_page.screenshot(artifacts_dir / "multiclass-matrix-page.png", height=2000)


def test_segmentation_run_renders(plugin_page, artifacts_dir):
    plugin_page.open()
    plugin_page.show("segmentation/validation", "confusion_matrix")
    assert_views_drawn(plugin_page, MATRIX_VIEWS, artifacts_dir, "segmentation-")
    plugin_page.screenshot(artifacts_dir / "segmentation-page.png", height=2000)
    plugin_page.show("segmentation/validation", "threshold_curves", "1")  # "square"
    assert_views_drawn(plugin_page, CURVE_VIEWS)


def test_hundred_class_run_renders(plugin_page, artifacts_dir):
    plugin_page.open()
    plugin_page.show(MANY_CLASSES_RUN, "threshold_curves", "macro")
    assert_views_drawn(plugin_page, CURVE_VIEWS)
    plugin_page.show(MANY_CLASSES_RUN, "threshold_curves", "42")
    assert_views_drawn(plugin_page, ("view-roc", "view-pr"))
    plugin_page.show(MANY_CLASSES_RUN, "confusion_matrix")
    assert_views_drawn(plugin_page, MATRIX_VIEWS, artifacts_dir, "hundred-")
    plugin_page.screenshot(artifacts_dir / "hundred-matrix-page.png", height=2000)


def test_multilabel_run_renders(plugin_page):
    plugin_page.open()
    plugin_page.show("multilabel/validation", "threshold_curves", "2")  # "prime"
    assert_views_drawn(plugin_page, CURVE_VIEWS)
