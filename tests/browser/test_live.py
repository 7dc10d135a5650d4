"""The tab is live by default: new epochs and runs appear on their own, TensorBoard's reload button
refreshes it at once, and an epoch the user picked stays until they go back to the latest.

Each test writes its own run while the page is open, on its own TensorBoard (the shared logs stay as
the other tests expect them).
"""

from __future__ import annotations

import time

from tb_metrics_plugin import metadata
from tests.browser.synthetic_logs import write_binary_steps

TAGS_ROUTE = f"/data/plugin/{metadata.PLUGIN_NAME}/tags"
# The tab polls the tags route 5 s after a change and backs off to 30 s while nothing changes
# (frontend/src/live.js); TensorBoard reads new events every second (--reload_interval 1 in the
# tests). The bound leaves slack for a busy 2-core machine.
POLL_MAX_S = 30.0
SHOWN_WITHIN_S = POLL_MAX_S + 15.0


def _offered_runs(plugin_page) -> list[str]:
    return plugin_page.testid("run-select").locator("input[type=checkbox]").evaluate_all(
        "(boxes) => boxes.map((box) => box.value)")


def _slider_max(plugin_page) -> int:
    return int(plugin_page.testid("epoch-slider").get_attribute("max"))


def test_new_epochs_and_runs_appear_without_a_click_and_a_picked_epoch_stays(
        start_tensorboard, page_on, tmp_path, load_fast):
    logdir = tmp_path / "logs"
    write_binary_steps(logdir / "live", steps=(0, 1))
    server = start_tensorboard(logdir, load_fast)
    server.wait_until(lambda listing: listing.get("live", {}).get("threshold_curves", {}).get("num_steps") == 2,
                      TAGS_ROUTE)
    plugin_page = page_on(server).open()
    assert plugin_page.epoch() == 1
    assert plugin_page.testid("follow-latest").is_checked(), "following the latest epoch is the default"

    # A new epoch of the shown run, and a new run, appear with no click at all.
    write_binary_steps(logdir / "live", steps=(2,))
    plugin_page.wait_until(lambda: plugin_page.epoch() == 2, "the new epoch 2 to be shown", timeout=SHOWN_WITHIN_S)
    write_binary_steps(logdir / "second", steps=(0,))
    plugin_page.wait_until(lambda: "second" in _offered_runs(plugin_page), "the new run to be listed",
                           timeout=SHOWN_WITHIN_S)

    # An earlier epoch picked by the user stays while training goes on …
    plugin_page.set_epoch(0)
    assert not plugin_page.testid("follow-latest").is_checked()
    write_binary_steps(logdir / "live", steps=(3,))
    plugin_page.wait_until(lambda: _slider_max(plugin_page) == 3, "epoch 3 to be offered", timeout=SHOWN_WITHIN_S)
    plugin_page.wait_idle()
    assert plugin_page.epoch() == 0

    # … until the user goes back to the latest: then the view follows training again.
    plugin_page.set_epoch(3)
    assert plugin_page.testid("follow-latest").is_checked()
    write_binary_steps(logdir / "live", steps=(4,))
    plugin_page.wait_until(lambda: plugin_page.epoch() == 4, "the new epoch 4 to be shown", timeout=SHOWN_WITHIN_S)


def test_tensorboards_reload_button_refreshes_the_tab_at_once(start_tensorboard, page_on, tmp_path):
    logdir = tmp_path / "logs"
    write_binary_steps(logdir / "live", steps=(0,))
    server = start_tensorboard(logdir, load_fast=True)
    server.wait_until(lambda listing: "live" in listing, TAGS_ROUTE)
    plugin_page = page_on(server)
    page = plugin_page.page
    tags_requests = []
    page.on("request", lambda request: tags_requests.append(time.monotonic())
            if request.url.endswith(TAGS_ROUTE) else None)
    plugin_page.open()
    # After two polls that found nothing new the next one is 20 s away: a tags request within a
    # few seconds of the click can only come from TensorBoard's reload signal.
    for _ in range(2):
        with page.expect_request(lambda request: request.url.endswith(TAGS_ROUTE), timeout=30_000):
            pass
    write_binary_steps(logdir / "live", steps=(1,))
    server.wait_until(lambda listing: listing["live"]["threshold_curves"]["num_steps"] == 2, TAGS_ROUTE)
    clicked = time.monotonic()
    page.locator("app-header-reload button").click()
    plugin_page.wait_until(lambda: plugin_page.epoch() == 1, "the reload to show epoch 1", timeout=5)
    assert any(0 <= when - clicked < 5 for when in tags_requests), (clicked, tags_requests)
