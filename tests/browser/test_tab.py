"""The plugin's tab in TensorBoard's own tab bar, on both loaders."""

from __future__ import annotations

from tests.browser.conftest import both_loaders
from tests.browser.plugin_page import PLUGIN_IFRAME


@both_loaders
def test_tab_appears_in_tensorboard_tab_bar_and_loads_the_plugin_frame(plugin_page):
    page = plugin_page.page
    page.goto(plugin_page.server.url + "/")
    tab = page.get_by_role("tab", name="Threshold metrics")
    if tab.count() == 0:  # a narrow window folds extra tabs into a menu; ours fits at 1400 px
        tab = page.get_by_text("Threshold metrics", exact=True)
    tab.first.click()
    page.wait_for_url("**/#tb_metrics")
    frame = page.wait_for_selector(PLUGIN_IFRAME, state="attached").content_frame()
    frame.wait_for_function("() => document.body && document.body.children.length > 0")
    plugin_page.assert_no_errors()
