"""The tab follows TensorBoard's dark mode and keeps its state across a reload."""

from __future__ import annotations

import math

from tests.browser import expected

# The colour behind the plugin's content: the first non-transparent background up the tree.
_BACKGROUND_JS = """() => {
  for (let node = document.querySelector('[data-testid=readout]') || document.body; node; node = node.parentElement) {
    const colour = getComputedStyle(node).backgroundColor;
    if (colour && colour !== 'transparent' && colour !== 'rgba(0, 0, 0, 0)') return colour;
  }
  return 'rgb(255, 255, 255)';
}"""


def _brightness(css_colour: str) -> float:
    channels = [float(part) for part in css_colour[css_colour.index("(") + 1:-1].split(",")[:3]]
    return sum(channels) / 3


def choose_host_theme(page, label: str) -> None:
    """Picks "Light" / "Dark" in TensorBoard's own theme menu (the brightness button in its header)."""
    page.get_by_role("button", name="Menu for changing light or dark theme").click()
    page.get_by_role("menuitem", name=label).click()


def test_dark_mode_follows_the_host_live(plugin_page, artifacts_dir):
    plugin_page.open()
    plugin_page.show("binary/validation", "threshold_curves")
    choose_host_theme(plugin_page.page, "Light")
    plugin_page.wait_until(lambda: _brightness(plugin_page.frame.evaluate(_BACKGROUND_JS)) > 200, "a light background")

    light_charts = plugin_page.canvas_fingerprint("view-roc")

    choose_host_theme(plugin_page.page, "Dark")
    assert "dark-mode" in plugin_page.page.evaluate("document.body.className")
    plugin_page.wait_until(lambda: _brightness(plugin_page.frame.evaluate(_BACKGROUND_JS)) < 80,
                           "the plugin's background to turn dark")
    plugin_page.assert_drawn("view-roc")
    plugin_page.wait_until(lambda: plugin_page.canvas_fingerprint("view-roc") != light_charts,
                           "the ROC chart to redraw in dark colours")
    plugin_page.screenshot(artifacts_dir / "binary-dark-page.png", height=2000)

    choose_host_theme(plugin_page.page, "Light")
    plugin_page.wait_until(lambda: _brightness(plugin_page.frame.evaluate(_BACKGROUND_JS)) > 200,
                           "the plugin's background to turn light again")


def test_a_dark_host_at_load_time_gives_a_dark_plugin(plugin_page):
    plugin_page.page.goto(plugin_page.server.url + "/")
    choose_host_theme(plugin_page.page, "Dark")  # TensorBoard remembers the choice
    plugin_page.open()
    plugin_page.wait_until(lambda: _brightness(plugin_page.frame.evaluate(_BACKGROUND_JS)) < 80,
                           "a dark plugin on a dark host")


def test_reload_keeps_run_tag_class_epoch_and_threshold(plugin_page, browser_logdir):
    curves = expected.counts(browser_logdir, "multiclass/validation", 1, "threshold_curves")
    threshold = expected.stored_value_near(curves, 0.25, c=7)
    plugin_page.open()
    plugin_page.show("multiclass/validation", "threshold_curves", "7")
    plugin_page.set_epoch(1)
    plugin_page.set_threshold(repr(threshold))
    plugin_page.wait_threshold(threshold)
    want = expected.metrics_at_threshold(curves, "7", threshold)

    plugin_page.reload()
    plugin_page.wait_threshold(threshold)
    assert plugin_page.testid("tag-select").input_value() == "threshold_curves"
    assert plugin_page.testid("class-select").input_value() == "7"
    assert plugin_page.epoch() == 1
    checked = plugin_page.testid("run-select").locator("input:checked")
    assert [checked.nth(i).get_attribute("value") for i in range(checked.count())] == ["multiclass/validation"]
    assert math.isclose(plugin_page.metric("precision"), want["precision"], rel_tol=1e-9)
    assert plugin_page.cell("tp") == want["tp"]
