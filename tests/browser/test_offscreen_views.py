"""Views out of sight wait while the threshold moves and catch up when it rests, when they scroll
into sight and when they are exported (`createDeferredUpdates` in frontend/src/view_registry.js).

A drag repaints only what is on screen; these tests check that nothing out of sight is left showing
an old threshold once the user could see or save it.
"""

from __future__ import annotations

import csv
import io

# What the readout and the (out of sight) binary confusion card hold, read at once after a drag
# (`PluginPage.drag_threshold`); EXPORTED first clicks the card's CSV export.
DRAG_READ_JS = """() => {
  const card = document.querySelector('.tbm-card[data-view=confusion]');
  return {
    stale: card.dataset.stale === 'true',
    readoutTp: Number(document.querySelector('[data-testid=readout] [data-metric=tp]').dataset.value),
    cardTp: Number(card.querySelector('[data-cell=tp]').dataset.value),
  };
}"""
EXPORTED_READ_JS = f"""() => {{
  document.querySelector('.tbm-card[data-view=confusion] [data-export=csv]').click();
  return ({DRAG_READ_JS})();
}}"""

CARD_BELOW_FOLD_JS = """() => document.querySelector('.tbm-card[data-view=confusion]').getBoundingClientRect().top
  - innerHeight"""


def _show_binary_at_top(plugin_page):
    # A short window, so that the binary matrix is well below the fold.
    plugin_page.page.set_viewport_size({"width": 1400, "height": 600})
    plugin_page.open()
    plugin_page.show("binary/validation", "threshold_curves")
    plugin_page.set_threshold(0.5)
    plugin_page.frame.evaluate("() => window.scrollTo(0, 0)")
    plugin_page.wait_idle()
    # Out of sight, beyond the 300 px margin within which a card counts as in sight.
    assert plugin_page.frame.evaluate(CARD_BELOW_FOLD_JS) > 300


def test_a_view_out_of_sight_waits_during_a_drag_and_catches_up_when_it_rests(plugin_page):
    _show_binary_at_top(plugin_page)
    at_half = plugin_page.cell("tp")
    during = plugin_page.drag_threshold([0.45, 0.4, 0.3, 0.2, 0.1], DRAG_READ_JS)
    assert during["stale"], "the card out of sight was redrawn during the drag"
    assert during["cardTp"] == at_half, "the card out of sight changed during the drag"
    assert during["readoutTp"] > at_half, "the readout (in sight) follows the drag at once"
    plugin_page.wait_until(lambda: plugin_page.cell("tp") == during["readoutTp"], "the card to catch up")
    assert plugin_page.locator("[data-stale]").count() == 0


def test_a_view_catches_up_as_it_scrolls_into_sight(plugin_page):
    _show_binary_at_top(plugin_page)
    during = plugin_page.drag_threshold([0.4, 0.2], DRAG_READ_JS)
    assert during["stale"]
    # Scrolled into sight: current within a few frames, well before the drag's rest timer.
    caught_up = plugin_page.frame.evaluate("""async () => {
      const card = document.querySelector('.tbm-card[data-view=confusion]');
      card.scrollIntoView();
      for (let frames = 0; frames < 4 && card.dataset.stale; frames++) {
        await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
      }
      return {stale: card.dataset.stale === 'true', cardTp: Number(card.querySelector('[data-cell=tp]').dataset.value)};
    }""")
    assert not caught_up["stale"]
    assert caught_up["cardTp"] == during["readoutTp"]


def test_exporting_a_view_out_of_sight_saves_the_current_threshold(plugin_page):
    _show_binary_at_top(plugin_page)
    with plugin_page.page.expect_download() as download_info:
        # A script click: nothing scrolls the card into sight first, as Playwright's click would.
        during = plugin_page.drag_threshold([0.4, 0.2], EXPORTED_READ_JS)
    assert during["stale"] is False, "the export brought the card up to date"
    with open(download_info.value.path(), encoding="utf-8") as file:
        rows = list(csv.DictReader(io.StringIO(file.read())))
    assert [float(row["tp"]) for row in rows] == [during["readoutTp"]]


# At the tab's first render (the `tbm-render` mark), each card: its view, whether it waits
# (`data-stale`) and whether it lies below the fold.
FIRST_RENDER_JS = """(() => {
  const mark = performance.mark.bind(performance);
  performance.mark = (name, ...rest) => {
    if (name === 'tbm-render' && !window.__tbmFirstRenderCards) {
      window.__tbmFirstRenderCards = [...document.querySelectorAll('.tbm-card')].map((card) => ({
        view: card.dataset.view,
        stale: card.dataset.stale === 'true',
        belowFold: card.getBoundingClientRect().top >= innerHeight,
      }));
    }
    return mark(name, ...rest);
  };
})();"""


def test_views_below_the_fold_draw_after_the_first_data_is_on_screen(plugin_page):
    """When the tab opens, the views in sight draw first; those below the fold wait (as during a
    drag) and are drawn once the page rests."""
    plugin_page.page.set_viewport_size({"width": 1400, "height": 600})
    plugin_page.page.add_init_script(FIRST_RENDER_JS)
    plugin_page.open()
    cards = plugin_page.frame.evaluate("() => window.__tbmFirstRenderCards")
    below = [card["view"] for card in cards if card["belowFold"]]
    assert below and len(below) < len(cards), cards
    assert [card["view"] for card in cards if card["stale"]] == below, cards
    plugin_page.wait_idle()
    for view in below:  # each has drawn: a chart, or the binary matrices' numbers
        card = plugin_page.locator(f".tbm-card[data-view={view}]")
        assert card.locator("canvas, [data-cell=tp][data-value]").count() > 0, view
        assert card.get_attribute("data-stale") is None, view
