"""Every view's export says what it holds: run, tag, step, class or average and threshold (or the
decision of a confusion-matrix tag), in its file name and in each of its rows."""

from __future__ import annotations

import csv
import io
import json

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

RUN = "multiclass/validation"
STEP = 1
THRESHOLD = 0.3
CURVE_VIEWS = ("view-roc", "view-pr", "view-threshold", "view-distribution", "view-calibration", "view-det",
               "view-confusion", "view-iou", "view-epochs")
MATRIX_VIEWS = ("view-confusion", "view-iou", "view-epochs")
FORMATS = ("csv", "json", "png")


def _download(plugin_page, view: str, file_format: str) -> tuple[str, bytes]:
    try:
        return plugin_page.download_file(view, file_format, timeout_ms=5000)
    except PlaywrightTimeoutError:
        # Headless Chromium drops about every eleventh of many downloads in quick succession.
        return plugin_page.download_file(view, file_format, timeout_ms=5000)


def _records(file_format: str, data: bytes) -> list[dict]:
    if file_format == "csv":
        return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    return json.loads(data)


def _check_rows(view: str, records: list[dict], want: dict) -> None:
    assert records, f"{view}: no rows"
    for record in records:
        assert record["run"] == RUN, (view, record)
        for name, value in want.items():
            if name == "step" and view == "view-epochs":
                continue  # every step, each in its own row
            assert str(record[name]) == str(value), (view, name, record)


def test_curve_exports_name_run_tag_step_class_or_average_and_threshold(plugin_page):
    plugin_page.open()
    plugin_page.show(RUN, "threshold_curves")
    plugin_page.frame.get_by_label("DET curve").check()
    plugin_page.set_epoch(STEP)
    plugin_page.set_threshold(THRESHOLD)
    names = {}
    for class_key, class_part, want in (
        ("3", "class3-3", {"class": "3", "average": ""}),
        ("macro", "macro-average", {"class": "macro", "average": "macro"}),
    ):
        plugin_page.select_class(class_key)
        want = {"tag": "threshold_curves", "step": STEP, "selected_threshold": THRESHOLD, **want}
        for view in CURVE_VIEWS:
            for file_format in FORMATS:
                name, data = _download(plugin_page, view, file_format)
                step_part = "steps0-2" if view == "view-epochs" else f"step{STEP}"
                for part in ("threshold_curves", view.removeprefix("view-"), "multiclass_validation", class_part,
                             step_part, f"t{THRESHOLD}"):
                    assert f"_{part}_" in f"_{name.rsplit('.', 1)[0]}_", (part, name)
                assert name.endswith(f".{file_format}"), name
                names[(class_key, view, file_format)] = name
                if file_format != "png":
                    _check_rows(view, _records(file_format, data), want)
    assert len(set(names.values())) == len(names), "two exports share a file name"


def test_confusion_matrix_exports_name_their_decision(plugin_page):
    plugin_page.open()
    plugin_page.show(RUN, "confusion_matrix")
    plugin_page.set_epoch(STEP)
    for view in MATRIX_VIEWS:
        for file_format in FORMATS:
            name, data = _download(plugin_page, view, file_format)
            step_part = "steps0-2" if view == "view-epochs" else f"step{STEP}"
            prefix = f"confusion_matrix_{view.removeprefix('view-')}_multiclass_validation_{step_part}"
            assert name.startswith(prefix), name
            assert name.endswith(f"_argmax.{file_format}"), name
            if file_format != "png":
                _check_rows(view, _records(file_format, data), {"tag": "confusion_matrix", "step": STEP,
                                                                "decision": "argmax"})
