"""Damaged logs in the browser: the tab names, in words, every tag it cannot read and every step it
leaves out, the good run and the good steps of a partly damaged tag still work; TensorBoard's log
holds one warning per problem however often the page asks."""

from __future__ import annotations

from tb_metrics_plugin import metadata
from tests.test_damaged_logs import DAMAGED_STEP, FLIPPED, STEPS, UNPARSABLE, UNREADABLE, write_damaged_logdir

# run -> words of its problem the error bar must show.
SHOWN_PROBLEMS = {run: words for run, (_tag, words) in UNREADABLE.items()}
# The Rust data server passes the flipped byte of the step's compressed blob on: the plugin leaves that
# step out and says so (the blob's own checksum tells).
FLIPPED_WARNING = (f"Run “{FLIPPED}”, tag “threshold_curves”: 1 of {STEPS} steps cannot be decoded and are left "
                   f"out: step={DAMAGED_STEP}: threshold_curves blob cannot be decoded")


def test_the_tab_names_each_unreadable_tag_and_shows_the_good_run(start_tensorboard, page_on, tmp_path):
    logdir = tmp_path / "logs"
    write_damaged_logdir(logdir)
    server = start_tensorboard(logdir, load_fast=True)
    server.wait_until(
        lambda listing: {*SHOWN_PROBLEMS, FLIPPED} <= set(listing)
        and listing.get("good", {}).get("threshold_curves", {}).get("num_steps") == STEPS
        and UNPARSABLE in listing,
        f"/data/plugin/{metadata.PLUGIN_NAME}/tags",
    )
    plugin_page = page_on(server).open()
    error = plugin_page.testid("error")
    error.wait_for(state="visible")
    text = error.inner_text()
    for run, words in SHOWN_PROBLEMS.items():
        assert f"Run “{run}”, tag “{UNREADABLE[run][0]}” cannot be shown: " in text, (run, text)
        assert words in text, (run, text)
    assert FLIPPED_WARNING in text
    assert "“good”" not in text

    plugin_page.show(FLIPPED, "threshold_curves")
    plugin_page.assert_drawn("view-roc")
    plugin_page.set_epoch(DAMAGED_STEP + 1)
    plugin_page.set_range("epoch-slider", DAMAGED_STEP)  # the slider offers only the good steps
    assert plugin_page.epoch() in (DAMAGED_STEP - 1, DAMAGED_STEP + 1)

    plugin_page.show("good", "threshold_curves")
    plugin_page.assert_drawn("view-roc")
    plugin_page.set_epoch(STEPS - 1)
    assert plugin_page.epoch() == STEPS - 1
    plugin_page.show("good", "confusion_matrix")
    plugin_page.assert_drawn("view-confusion")
    plugin_page.reload()  # every route asked again

    log = server.log_text()
    for run in [*SHOWN_PROBLEMS, FLIPPED]:
        assert log.count(f"tb_metrics: cannot read run {run!r}") == 1, (run, log[-3000:])
