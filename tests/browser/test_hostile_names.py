"""Hostile run, tag and class names (markup, quotes, entities, RTL, emoji, very long) are shown as text.

The logs are written with the public writer; the names travel through a real TensorBoard (its
loader, the plugin's routes) into a real page. The page is opened with the Content-Security-Policy
bypassed, so that an injected inline handler would really run: TensorBoard's CSP must not be what
keeps the plugin safe. Each payload sets `__pwned`, calls `alert` or loads an image whose path
contains PROBE; none of that may happen, and every name must come back exactly, as text.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import urllib.parse
import urllib.request

import numpy as np
import pytest

from tb_metrics_plugin import SummaryWriter, metadata, summary
from tests.browser.conftest import VIEWPORT
from tests.browser.plugin_page import PluginPage
from tests.conftest import TensorBoardServer

PROBE = "tbm-probe"
STEPS = (0, 1)

# Run names are folder paths relative to the logdir: a "/" in a run name is a sub-folder, which is
# how a run gets a closing tag.
RUNS = (
    "<script>parent.__pwned='run';alert('run')</script>",
    f"<img src={PROBE}-run onerror=\"parent.__pwned='img run';alert(1)\"> ' \" ` \\ ${{alert(2)}} &amp; &lt;b&gt;",
    "تقييم \u202eevil\u202c עברית 🐱‍👤 🧪",
    "long_" + "a" * 200 + "/" + "b" * 200,
)
CURVES_TAG = (f"curves <img src={PROBE}-tag onerror=\"parent.__pwned='tag';alert(3)\"> \"q\" 'q' `b` \\ ${{x}} "
              "&amp; \u202eRTL 🎯")
# CR/LF and quotes: would split or end the Content-Disposition header of an export.
MATRIX_TAG = "matrix <script>parent.__pwned='tag2'</script> &lt;b&gt;\r\nSet-Cookie: tbm=1; x=\""
TAGS = (CURVES_TAG, MATRIX_TAG)
CLASSES = (
    "<script>parent.__pwned='class';alert(4)</script>",
    f"<img src={PROBE}-class onerror=\"parent.__pwned='class img';alert(5)\">",
    "' \" ` \\ ${alert(6)} &amp; &lt;b&gt; , ;",
    "مرحبا \u202eשלום\u202c 😀👍🏽",
    "007",
    "ℵ" * 20 + " long class" * 30,
)
# The Rust loader names a folder b"bad\xff\xfename" with U+FFFD for each byte it cannot decode.
NON_UTF8_FOLDER = b"/bad\xff\xfename"
NON_UTF8_RUN = "bad\ufffd\ufffdname"
AVERAGES = ("micro average", "macro average", "weighted average")
SAFE_FILENAME = re.compile(r"[A-Za-z0-9._-]{1,255}")


def write_hostile_logs(logdir, runs=RUNS) -> None:
    """Two steps of a 6-class softmax classifier per run, under both hostile tags."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, len(CLASSES), size=300)
    for run in runs:
        with SummaryWriter(logdir / run) as writer:
            for step in STEPS:
                logits = rng.normal(size=(labels.size, len(CLASSES)))
                logits[np.arange(labels.size), labels] += 1 + step
                scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
                writer.add_summary(summary.threshold_curves_pb(CURVES_TAG, labels, scores, class_names=CLASSES), step)
                writer.add_summary(summary.confusion_matrix_pb(MATRIX_TAG, labels, scores, class_names=CLASSES), step)


def write_non_utf8_run(logdir) -> None:
    """A run folder whose name has bytes that are not UTF-8 (written under a plain name, then renamed)."""
    write_hostile_logs(logdir, ["renamed"])
    os.rename(os.fsencode(logdir / "renamed"), os.fsencode(logdir) + NON_UTF8_FOLDER)


def served_runs(load_fast: bool) -> tuple[str, ...]:
    return (*RUNS, NON_UTF8_RUN) if load_fast else RUNS


@pytest.fixture(scope="module", params=[True, False], ids=["rust_loader", "python_loader"])
def hostile_server(request, tmp_path_factory):
    """A TensorBoard on the hostile logs, every step loaded; the routes hand the names back exactly.

    The Rust loader's logdir also holds a folder whose name is not UTF-8. TensorBoard's Python loader
    cannot list a logdir holding one at all (TensorFlow's directory walk raises UnicodeDecodeError
    and TensorBoard shows no run), which no plugin can change: its logdir has none.
    """
    load_fast = request.param
    logdir = tmp_path_factory.mktemp("hostile") / "logs"
    write_hostile_logs(logdir)
    if load_fast:
        write_non_utf8_run(logdir)
    server = TensorBoardServer(logdir, load_fast=load_fast)

    runs = served_runs(load_fast)

    def all_loaded(listing) -> bool:
        return all(listing.get(run, {}).get(tag, {}).get("num_steps") == len(STEPS) for run in runs for tag in TAGS)

    try:
        listing = server.wait_until(all_loaded, f"/data/plugin/{metadata.PLUGIN_NAME}/tags", timeout=60)
        assert set(listing) == set(runs)
        for run in runs:
            assert set(listing[run]) == set(TAGS)
            assert listing[run][CURVES_TAG]["class_names"] == list(CLASSES)
            assert listing[run][MATRIX_TAG]["class_names"] == list(CLASSES)
        yield server
    finally:
        server.stop()


class Probe:
    """A page on `server` with the CSP bypassed, recording dialogs and requests of probe images."""

    def __init__(self, chromium, server):
        self.context = chromium.new_context(viewport=VIEWPORT, bypass_csp=True, accept_downloads=True)
        page = self.context.new_page()
        self.dialogs: list[str] = []
        self.probe_requests: list[str] = []
        page.on("dialog", self._on_dialog)
        page.on("request", self._on_request)
        self.plugin = PluginPage(page, server)

    def _on_dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _on_request(self, request) -> None:
        # The names are in the query strings of the plugin's own requests; a loaded image is a path.
        if PROBE in urllib.parse.urlsplit(request.url).path:
            self.probe_requests.append(request.url)

    def assert_nothing_ran(self) -> None:
        """No dialog, no `__pwned` in the page or the plugin's frame, no injected element or image."""
        assert not self.dialogs, self.dialogs
        assert not self.probe_requests, self.probe_requests
        page, frame = self.plugin.page, self.plugin.frame
        for where, target in (("TensorBoard page", page), ("plugin iframe", frame)):
            assert target.evaluate("() => typeof window.__pwned") == "undefined", where
            injected = target.evaluate(
                """() => [...document.querySelectorAll('img, [onerror], script:not([src])')]
                          .filter((node) => node.outerHTML.includes('pwned')).map((node) => node.outerHTML)""")
            assert injected == [], f"{where}: {injected}"


@pytest.fixture
def probe(request, chromium, hostile_server):
    opened = Probe(chromium, hostile_server)
    yield opened
    opened.context.close()
    if not getattr(request.node, "rep_call_failed", False):
        opened.plugin.assert_no_errors()


def check_runs(plugin: PluginPage, runs) -> None:
    """Checks exactly `runs` in the run list, by the checkboxes' values (no CSS selector of a name)."""
    offered = plugin.testid("run-select").evaluate(
        """(list, wanted) => {
             const boxes = [...list.querySelectorAll('input[type=checkbox]')];
             for (const want of [true, false]) {
               for (const box of boxes) {
                 if (wanted.includes(box.value) === want && box.checked !== want) box.click();
               }
             }
             return boxes.map((box) => box.value);
           }""",
        list(runs),
    )
    assert set(runs) <= set(offered), offered
    plugin.wait_idle()


def texts(locator) -> list[str]:
    return locator.evaluate_all("(nodes) => nodes.map((node) => node.textContent)")


def download(plugin: PluginPage, click) -> tuple[str, bytes]:
    """(suggested file name, bytes) of the download `click()` starts."""
    with plugin.page.expect_download() as info:
        click()
    saved = info.value
    assert saved.failure() is None, saved.failure()
    with open(saved.path(), "rb") as file:
        return saved.suggested_filename, file.read()


def shortened_from(text: str, name: str) -> bool:
    """True when `text` is `name`, or `name` with parts of it replaced by "…" (first and last kept)."""
    if text == name:
        return True
    pieces = text.split("…")
    if len(pieces) < 2 or not name.startswith(pieces[0]) or not name.endswith(pieces[-1]):
        return False
    position = len(pieces[0])
    for piece in pieces[1:-1]:
        position = name.find(piece, position)
        if position < 0:
            return False
        position += len(piece)
    return position <= len(name) - len(pieces[-1])


def assert_safe_filename(name: str) -> None:
    assert SAFE_FILENAME.fullmatch(name), f"download file name {name!r} is not a plain short name"


def hover_until(plugin: PluginPage, target, tooltip, positions) -> str:
    """Hovers `target` at fractions (x, y) of its box until `tooltip` shows; returns its text."""
    box = target.bounding_box()
    for x, y in positions:
        target.hover(position={"x": box["width"] * x, "y": box["height"] * y})
        try:
            tooltip.wait_for(state="visible", timeout=1500)
            return tooltip.evaluate("(node) => node.textContent")
        except Exception:
            continue
    raise AssertionError(f"no tooltip at any of {positions}")


# The page's behaviour does not depend on the loader; the routes are checked on both below.
@pytest.mark.parametrize("hostile_server", [True], indirect=True, ids=["rust_loader"])
def test_hostile_names_are_shown_as_text_and_nothing_runs(probe, hostile_server):
    plugin = probe.plugin.open()
    runs = served_runs(load_fast=True)
    frame = plugin.frame

    # Tag select: each tag exactly, as value and as text.
    plugin.select_tag(CURVES_TAG)
    options = plugin.testid("tag-select").locator("option")
    assert sorted(texts(options)) == sorted(TAGS)
    assert sorted(options.evaluate_all("(nodes) => nodes.map((node) => node.value)")) == sorted(TAGS)

    # Run list: each run exactly (checkbox value, name button, tooltip); the long one shortened.
    check_runs(plugin, runs)
    names = plugin.testid("run-select").locator("[data-run-name]")
    listed = names.evaluate_all("(nodes) => nodes.map((node) => [node.dataset.runName, node.textContent, node.title])")
    assert sorted(run for run, _, _ in listed) == sorted(runs)
    for run, text, title in listed:
        assert shortened_from(text, run), (run, text)
        assert title == f"{run} (click to show this run alone)"

    # Class select and the readout's subtitle, class by class.
    class_options = plugin.testid("class-select").locator("option")
    assert texts(class_options) == [*AVERAGES, *CLASSES]
    subtitle = plugin.testid("readout").locator(".tbm-muted").first
    def shown() -> str:
        return subtitle.evaluate("(node) => node.textContent")

    for index, name in enumerate(CLASSES):
        plugin.select_class(str(index))
        plugin.wait_until(lambda name=name: shown().startswith(f"class {name} · "),
                          f"the readout to name class {index} ({name!r}); it shows {shown()!r}")

    # Readout table: one column per run, named exactly (shortened in the middle where too long).
    readout = plugin.testid("readout")
    headers = readout.locator("th .tbm-run-name").evaluate_all(
        "(nodes) => nodes.map((node) => [node.dataset.run, node.textContent, node.title])")
    assert sorted(run for run, _, _ in headers) == sorted(runs)
    for run, text, title in headers:
        assert shortened_from(text, run) and title == run, (run, text, title)
    cells = readout.locator("td[data-run]")
    assert set(cells.evaluate_all("(nodes) => nodes.map((n) => n.dataset.run)")) == set(runs)

    # ROC legend: "<run>  AUC …" for each run.
    legend = texts(plugin.testid("view-roc").locator(".tbm-chart-legend-item"))
    for run in runs:
        assert any(item.startswith(f"{run}  AUC ") for item in legend), (run, legend)

    # Chart tooltips: the metrics-vs-threshold table names every run; the ROC header names one.
    threshold_view = plugin.testid("view-threshold")
    tip = hover_until(plugin, threshold_view.locator(".u-over").first, threshold_view.locator(".tbm-chart-tooltip"),
                      [(0.5, 0.5), (0.3, 0.5)])
    header = threshold_view.locator(".tbm-chart-tooltip table tr").first.locator("td")
    assert sorted(cell.removeprefix("● ") for cell in texts(header)[1:]) == sorted(runs), tip
    roc = plugin.testid("view-roc")
    hover_until(plugin, roc.locator(".u-over").first, roc.locator(".tbm-chart-tooltip"),
                [(x, 1 - y) for x, y in ((0.05, 0.6), (0.1, 0.8), (0.2, 0.9), (0.02, 0.4), (0.3, 0.95))])
    assert roc.locator(".tbm-chart-tooltip b").first.evaluate("(node) => node.textContent") in runs

    # Exports of a view: the names in the file exactly, a plain file name.
    name, data = download(plugin, lambda: roc.locator("[data-export=csv]").click())
    assert_safe_filename(name)
    assert {row["run"] for row in csv.DictReader(io.StringIO(data.decode("utf-8")))} == set(runs)
    name, data = download(plugin, lambda: roc.locator("[data-export=json]").click())
    assert_safe_filename(name)
    assert {record["run"] for record in json.loads(data)} == set(runs)

    # Server-side exports of the readout (first run, this class, epoch and threshold).
    first_run = headers[0][0]
    plugin.select_class("micro")
    name, data = download(plugin, lambda: frame.get_by_role("link", name="metrics CSV").click())
    assert_safe_filename(name)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert {(row["run"], row["tag"]) for row in rows} == {(first_run, CURVES_TAG)}
    assert {row["class"] for row in rows} == {*CLASSES, "micro", "macro", "weighted"}
    name, data = download(plugin, lambda: frame.get_by_role("link", name="JSON").click())
    assert_safe_filename(name)
    assert {record["class"] for record in json.loads(data)} == {*CLASSES, "micro", "macro", "weighted"}

    # The confusion matrix: heatmap hover, top confusions, its exports.
    plugin.select_tag(MATRIX_TAG)
    check_runs(plugin, [runs[0]])
    confusion = plugin.testid("view-confusion")
    canvas = confusion.locator("canvas").first
    canvas.wait_for()
    tip = hover_until(plugin, canvas, confusion.locator(".tbm-tooltip"), [(0.6, 0.6), (0.5, 0.5), (0.7, 0.7)])
    pair = confusion.locator(".tbm-tooltip b").first.evaluate("(node) => node.textContent")
    found = re.fullmatch(r"true (.+) → predicted (.+)", pair, flags=re.DOTALL)
    assert found and found[1] in CLASSES and found[2] in CLASSES, tip
    top = texts(confusion.locator(".tbm-top-confusions li"))
    assert top, "no top confusions listed"
    pairs = [(a, b) for a in CLASSES for b in CLASSES if a != b]
    for item in top:
        assert any(item.startswith(f"{a} → {b}: ") and item.endswith(f" of {a})") for a, b in pairs), item
    name, data = download(plugin, lambda: confusion.locator("[data-export=csv]").click())
    assert_safe_filename(name)
    table = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    context = ["run", "tag", "step", "decision"]
    assert table[0] == [*context, "true \\ predicted", *CLASSES]
    assert [row[0] for row in table[1:]] == [runs[0]] * len(CLASSES)
    assert [row[len(context)] for row in table[1:]] == list(CLASSES)
    name, data = download(plugin, lambda: confusion.locator("[data-export=json]").click())
    assert_safe_filename(name)
    records = json.loads(data)
    assert [record["true \\ predicted"] for record in records] == list(CLASSES)
    assert all(set(record) == {*context, "true \\ predicted", *CLASSES} for record in records)

    # IoU bars: the hovered class and the run in the tooltip; the class column of its exports.
    iou = plugin.testid("view-iou")
    hover_until(plugin, iou.locator(".u-over").first, iou.locator(".tbm-chart-tooltip"),
                [(x, 0.5) for x in (0.1, 0.3, 0.5, 0.7, 0.9)])
    bold = texts(iou.locator(".tbm-chart-tooltip b"))
    assert bold[0] in CLASSES and bold[1:] == [runs[0]], bold
    name, data = download(plugin, lambda: iou.locator("[data-export=csv]").click())
    assert_safe_filename(name)
    # One row per class, then the run's mean IoU.
    per_class = [(runs[0], name) for name in CLASSES] + [(runs[0], "mean_iou")]
    rows = csv.DictReader(io.StringIO(data.decode("utf-8")))
    assert [(row["run"], row["class"]) for row in rows] == per_class
    name, data = download(plugin, lambda: iou.locator("[data-export=json]").click())
    assert [(record["run"], record["class"]) for record in json.loads(data)] == per_class

    # Over epochs: the tooltip's table is headed by the run.
    epochs = plugin.testid("view-epochs")
    hover_until(plugin, epochs.locator(".u-over").first, epochs.locator(".tbm-chart-tooltip").first,
                [(0.5, 0.5), (0.05, 0.5), (0.95, 0.5)])
    header = epochs.locator(".tbm-chart-tooltip").first.locator("table tr").first.locator("td")
    assert [cell.removeprefix("● ") for cell in texts(header)[1:]] == [runs[0]]

    probe.assert_nothing_ran()

    # The selection is kept in the URL hash / storage: a reload restores the hostile names intact.
    plugin.reload()
    assert plugin.testid("tag-select").input_value() == MATRIX_TAG
    checked = plugin.testid("run-select").locator("input:checked")
    assert checked.evaluate_all("(nodes) => nodes.map((node) => node.value)") == [runs[0]]
    probe.plugin.frame = plugin.frame
    probe.assert_nothing_ran()


def test_export_route_file_name_is_a_plain_header_value(hostile_server):
    """Content-Disposition stays one header with a plain, bounded file name for every hostile run/tag."""
    tried = 0
    for run in RUNS:
        for tag in TAGS:
            for export_format in ("csv", "json"):
                query = urllib.parse.urlencode({"run": run, "tag": tag, "format": export_format, "step": 1})
                url = f"{hostile_server.url}/data/plugin/{metadata.PLUGIN_NAME}/export?{query}"
                with urllib.request.urlopen(url, timeout=30) as response:
                    headers = response.headers
                    body = response.read().decode("utf-8")
                tried += 1
                assert headers.get_all("Set-Cookie") is None
                disposition = headers.get_all("Content-Disposition")
                assert disposition is not None and len(disposition) == 1, disposition
                found = re.fullmatch(r'attachment; filename="([^"\r\n]*)"', disposition[0])
                assert found, disposition
                assert_safe_filename(found[1])
                assert found[1].endswith(f"_step1.{export_format}")
                records = (list(csv.DictReader(io.StringIO(body))) if export_format == "csv" else json.loads(body))
                assert {(record["run"], record["tag"]) for record in records} == {(run, tag)}
    assert tried == len(RUNS) * len(TAGS) * 2



@pytest.mark.parametrize("hostile_server", [True], indirect=True, ids=["rust_loader"])
def test_a_run_folder_named_with_bytes_that_are_not_utf8_is_served(hostile_server):
    """The Rust loader names such a run with U+FFFD; the plugin serves it like any other."""
    query = urllib.parse.urlencode({"run": NON_UTF8_RUN, "tag": CURVES_TAG})
    counts = hostile_server.get(f"/data/plugin/{metadata.PLUGIN_NAME}/counts?{query}")
    assert counts["run"] == NON_UTF8_RUN and counts["steps"] == list(STEPS)
    url = f"{hostile_server.url}/data/plugin/{metadata.PLUGIN_NAME}/export?{query}&format=csv"
    with urllib.request.urlopen(url, timeout=30) as answer:
        disposition = answer.headers["Content-Disposition"]
        assert disposition.startswith('attachment; filename="tb_metrics_bad_name_curves_img_src_'), disposition
        rows = csv.DictReader(io.StringIO(answer.read().decode("utf-8")))
        assert {row["run"] for row in rows} == {NON_UTF8_RUN}
