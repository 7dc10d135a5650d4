"""Drives the "Threshold metrics" tab inside a real TensorBoard page through its `data-testid` hooks."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable

from tb_metrics_plugin import metadata

# TensorBoard loads a dynamic plugin's ES module into this same-origin iframe.
PLUGIN_IFRAME = f'iframe[src*="plugin_entry.html?name={metadata.PLUGIN_NAME}"]'
TIMEOUT_MS = 30_000

# Pixels of every canvas in an element: size, painted (non-transparent) share and distinct colours.
_CANVAS_INK_JS = """(element) => [...element.querySelectorAll('canvas')].map((canvas) => {
  const context = canvas.width && canvas.height ? canvas.getContext('2d') : null;
  if (!context) return {width: canvas.width, height: canvas.height, painted: 0, colours: 0};
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const count = pixels.length / 4, stride = Math.max(1, Math.floor(count / 50000));
  const colours = new Set();
  let painted = 0, sampled = 0;
  for (let i = 0; i < count; i += stride, sampled++) {
    const o = 4 * i;
    if (pixels[o + 3] > 0) painted++;
    colours.add(((pixels[o] << 24) | (pixels[o + 1] << 16) | (pixels[o + 2] << 8) | pixels[o + 3]) >>> 0);
  }
  return {width: canvas.width, height: canvas.height, painted: painted / sampled, colours: colours.size};
})"""

# SVG marks with a visible extent inside an element.
_SVG_MARKS_JS = """(element) => [...element.querySelectorAll('svg path, svg rect, svg line, svg circle, svg polyline')]
  .filter((mark) => { const box = mark.getBoundingClientRect(); return box.width > 0 || box.height > 0; }).length"""


class PluginPage:
    """One browser page on TensorBoard's tab; `frame` is the plugin's iframe once `open()` returned."""

    def __init__(self, page, server):
        self.page = page
        self.server = server
        self.frame = None
        self.errors: list[str] = []
        page.set_default_timeout(TIMEOUT_MS)
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught error: {error}"))

    def _on_console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"console.error: {message.text} at {message.location}")

    # Navigation -----------------------------------------------------------------------------------

    def open(self) -> PluginPage:
        """Opens TensorBoard on our tab and waits until the plugin rendered something."""
        self.page.goto(f"{self.server.url}/#{metadata.PLUGIN_NAME}")
        self._attach()
        return self

    def reload(self) -> PluginPage:
        """Reloads the whole TensorBoard page (the iframe is created anew)."""
        self.page.reload()
        self._attach()
        return self

    def _attach(self) -> None:
        iframe = self.page.wait_for_selector(PLUGIN_IFRAME, state="attached")
        self.frame = iframe.content_frame()
        self.frame.wait_for_selector(
            "[data-testid=readout], [data-testid=empty-state], [data-testid=error]", state="visible"
        )
        self.wait_idle()

    def wait_idle(self) -> None:
        """Waits until no loading indicator is visible, then two frames (views draw in the next one),
        then until no view out of sight still waits to catch up (`data-stale`, view_registry.js)."""
        self.frame.wait_for_function(
            """() => [...document.querySelectorAll('[data-testid=loading]')]
                      .every((el) => !(el.offsetWidth || el.offsetHeight || el.getClientRects().length))"""
        )
        self.frame.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
        self.frame.wait_for_function("() => !document.querySelector('[data-stale]')")

    def locator(self, selector: str):
        return self.frame.locator(selector)

    def testid(self, name: str):
        return self.frame.locator(f"[data-testid={name}]")

    # Controls -------------------------------------------------------------------------------------

    def select_runs(self, *runs: str) -> None:
        """Checks exactly `runs` in the run selector."""
        boxes = self.testid("run-select").locator("input[type=checkbox]")
        boxes.first.wait_for()
        values = [boxes.nth(index).get_attribute("value") for index in range(boxes.count())]
        missing = set(runs) - set(values)
        assert not missing, f"runs {sorted(missing)} are not offered; the run list has {values}"
        # Check the wanted runs before unchecking the others: never pass through "no run selected".
        for wanted in (True, False):
            for value in values:
                if (value in runs) == wanted:
                    self.testid("run-select").locator(f"input[value={json.dumps(value)}]").set_checked(wanted)
        self.wait_idle()

    def select_tag(self, tag: str) -> None:
        self.testid("tag-select").select_option(tag)
        self.wait_idle()

    def select_class(self, class_key: str) -> None:
        """`class_key`: a class index as a string, or "micro" / "macro" / "weighted"."""
        self.testid("class-select").select_option(class_key)
        self.wait_idle()

    def show(self, run: str, tag: str = "threshold_curves", class_key: str | None = None) -> None:
        """One run, one tag (the run list only offers runs that have the tag: tag first)."""
        self.select_tag(tag)
        self.select_runs(run)
        if class_key is not None:
            self.select_class(class_key)

    def set_threshold(self, value: float | str) -> None:
        """Types `value` into the threshold box and commits it, as a user would."""
        box = self.testid("threshold-input")
        box.fill(str(value))
        box.dispatch_event("change")
        self.wait_idle()

    def drag_threshold(self, values, then: str):
        """Moves the threshold slider through `values`, one `input` per animation frame as a drag
        does (no `change`, no waiting for views to rest), and returns at once what the JS function
        `then` (source, no arguments) returns in the plugin's frame after the last one."""
        # Composed here, not eval'd in the page: the plugin's frame forbids eval (its CSP).
        return self.frame.evaluate(
            f"""async (values) => {{
                  const slider = document.querySelector('[data-testid=threshold-slider]');
                  for (const value of values) {{
                    slider.value = String(value);
                    slider.dispatchEvent(new Event('input', {{bubbles: true}}));
                    await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
                  }}
                  return ({then})();
                }}""",
            list(values),
        )

    def set_range(self, testid: str, value: float) -> None:
        """Moves a range slider to `value` and fires `input` and `change`."""
        self.testid(testid).evaluate(
            """(slider, value) => {
                 slider.value = String(value);
                 slider.dispatchEvent(new Event('input', {bubbles: true}));
                 slider.dispatchEvent(new Event('change', {bubbles: true}));
               }""",
            value,
        )
        self.wait_idle()

    def set_epoch(self, step: int) -> None:
        self.set_range("epoch-slider", step)
        self.wait_until(lambda: self.epoch() == step, f"epoch {step}")

    def epoch(self) -> int | None:
        text = self.testid("epoch-value").inner_text().strip()
        digits = "".join(char for char in text if char.isdigit())
        return int(digits) if digits else None

    def set_number(self, testid: str, value: float) -> None:
        box = self.testid(testid)
        box.fill(str(value))
        box.dispatch_event("change")
        self.wait_idle()

    # Reading --------------------------------------------------------------------------------------

    def metric(self, name: str, run: str | None = None) -> float:
        """`data-value` of a readout metric, of the first run or of `run` (NaN when absent or empty)."""
        selector = f"[data-testid=readout] [data-metric={name}]"
        if run is not None:
            selector += f"[data-run={json.dumps(run)}]"
        return _number(self.locator(selector).first.get_attribute("data-value"))

    def metric_text(self, name: str) -> str:
        """The number a readout metric displays (its cell's first line; an interval may follow)."""
        text = self.locator(f"[data-testid=readout] [data-metric={name}]").first.inner_text()
        return text.strip().splitlines()[0].strip()

    def cell(self, name: str) -> float:
        """`data-value` of a binary confusion cell (tp, fp, tn, fn)."""
        cell = self.locator(f"[data-testid=confusion-binary] [data-cell={name}]").first
        return _number(cell.get_attribute("data-value"))

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = TIMEOUT_MS / 1000) -> None:
        """Polls `condition` (Python side) until it holds; fails naming `what`."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if condition():
                    return
            except Exception:  # the element may be re-rendered between two reads
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def wait_threshold(self, value: float, rel: float = 1e-6, timeout: float = TIMEOUT_MS / 1000) -> None:
        """Waits until the readout reports the threshold `value`."""
        self.wait_until(lambda: math.isclose(self.metric("threshold"), value, rel_tol=rel, abs_tol=1e-12),
                        f"the readout threshold to become {value}", timeout)

    def canvas_ink(self, testid: str) -> list[dict]:
        """Size, painted share and colour count of every canvas in a view."""
        return self.testid(testid).evaluate(_CANVAS_INK_JS)

    def canvas_fingerprint(self, testid: str) -> list[int]:
        """A hash of each canvas' pixels (PNG data URL) in a view: changes when the drawing does."""
        return self.testid(testid).evaluate(
            """(view) => [...view.querySelectorAll('canvas')].map((canvas) => {
                 const text = canvas.toDataURL();
                 let hash = 2166136261;
                 for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619) >>> 0;
                 return hash;
               })"""
        )

    def svg_marks(self, testid: str) -> int:
        return self.testid(testid).evaluate(_SVG_MARKS_JS)

    def html_cells(self, testid: str) -> int:
        """Cells of an HTML-drawn view (the binary confusion matrix) that hold a number."""
        return self.testid(testid).evaluate(
            """(view) => [...view.querySelectorAll('[data-cell][data-value]')]
                 .filter((cell) => cell.offsetWidth > 0 && Number.isFinite(Number(cell.dataset.value))).length"""
        )

    def assert_drawn(self, testid: str) -> None:
        """The view has a canvas with real drawing (≥ 1 % painted, ≥ 4 colours), SVG marks, or (the
        binary confusion matrix) four visible cells with numbers."""
        view = self.testid(testid)
        view.wait_for(state="visible")
        box = view.bounding_box()
        assert box and box["width"] > 50 and box["height"] > 50, f"{testid} has no size: {box}"

        def drawn() -> bool:
            inks = self.canvas_ink(testid)
            return (any(ink["painted"] >= 0.01 and ink["colours"] >= 4 for ink in inks)
                    or self.svg_marks(testid) >= 3 or self.html_cells(testid) >= 4)

        try:
            self.wait_until(drawn, f"{testid} to draw", timeout=10)
        except AssertionError:
            raise AssertionError(
                f"{testid} drew nothing: canvases {self.canvas_ink(testid)}, svg marks {self.svg_marks(testid)}"
            ) from None

    def download(self, testid: str, file_format: str, timeout_ms: float = TIMEOUT_MS) -> bytes:
        """Clicks a view's export button (`csv`, `json`, `png`) and returns the downloaded bytes."""
        return self.download_file(testid, file_format, timeout_ms)[1]

    def download_file(self, testid: str, file_format: str, timeout_ms: float = TIMEOUT_MS) -> tuple[str, bytes]:
        """Clicks a view's export button; the suggested file name and the downloaded bytes."""
        with self.page.expect_download(timeout=timeout_ms) as download_info:
            self.testid(testid).locator(f"[data-export={file_format}]").click()
        download = download_info.value
        assert download.failure() is None, download.failure()
        with open(download.path(), "rb") as file:
            return download.suggested_filename, file.read()

    def screenshot(self, path, testid: str | None = None, height: int | None = None) -> None:
        """One view of the plugin, or the page (in a window `height` px tall: the tab scrolls inside
        its iframe, so a full-page shot of TensorBoard would cut it)."""
        if testid is not None:
            self.testid(testid).screenshot(path=str(path))
            return
        viewport = self.page.viewport_size
        if height is not None:
            self.page.set_viewport_size({"width": viewport["width"], "height": height})
        # Element shots scroll the plugin's document: show it from its top (no frame yet when a test
        # failed before `open`: the page as it is).
        if self.frame is not None:
            self.frame.evaluate("() => window.scrollTo(0, 0)")
            self.wait_idle()
        self.page.screenshot(path=str(path))
        if height is not None:
            self.page.set_viewport_size(viewport)

    def assert_no_errors(self) -> None:
        assert not self.errors, "errors in the browser console:\n" + "\n".join(self.errors)


def _number(text: str | None) -> float:
    if text is None or text.strip() == "":
        return math.nan
    return float(text)
