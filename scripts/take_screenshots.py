"""Retakes the README's screenshots: the demo's runs in TensorBoard's "Threshold metrics" tab, light
and dark, 900 and 1600 px wide, in headless Chromium (what the browser tests drive).

    python scripts/take_screenshots.py --logdir DIR [--out docs/screenshots] [--chromium PATH]

DIR holds the demo's logs; when it has none, the demo is trained into it first (about 25 s on 2
cores). Writes <scene>-<theme>-<width>.png for the scenes in SCENES, as 256-colour PNGs (Pillow).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image  # noqa: E402

from tb_metrics_plugin import demo, metadata  # noqa: E402
from tests.browser.plugin_page import PluginPage  # noqa: E402
from tests.conftest import TensorBoardServer  # noqa: E402

WIDTHS = (900, 1600)
THEMES = ("light", "dark")
# Window height per width: the tab stacks its views at 900 px, so it needs more height there.
HEIGHTS = {900: 1700, 1600: 1150}
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run")


def show_binary(page: PluginPage) -> str | None:
    page.show("binary/validation", "threshold_curves", "0")
    page.set_threshold(0.4)
    return None


def show_two_runs(page: PluginPage) -> str | None:
    page.select_tag("threshold_curves")
    page.select_runs("multiclass/train", "multiclass/validation")
    page.select_class("macro")
    return None


def show_matrix(page: PluginPage) -> str | None:
    page.show("multiclass/validation", "confusion_matrix")
    return "view-confusion"


def show_segmentation(page: PluginPage) -> str | None:
    page.select_tag("confusion_matrix")
    page.select_runs("segmentation/train", "segmentation/validation")
    return "view-iou"


def show_slices(page: PluginPage) -> str | None:
    page.show("sliced/validation", "threshold_curves", "0")
    page.testid("slice-key").select_option("texture")
    page.wait_idle()
    page.testid("slice-metrics").wait_for()
    page.set_threshold(0.5)
    return "view-slices"


# Scene name → what to select, returning the test id of the view the shot starts at (None: the
# top of the tab); each is shot at every width and theme.
SCENES = {
    "threshold-tab": show_binary,
    "compare-runs": show_two_runs,
    "confusion-matrix": show_matrix,
    "segmentation": show_segmentation,
    "slices": show_slices,
}


def choose_host_theme(page, theme: str) -> None:
    """Picks "Light" or "Dark" in TensorBoard's own theme menu; the tab follows it."""
    page.get_by_role("button", name="Menu for changing light or dark theme").click()
    page.get_by_role("menuitem", name=theme.capitalize()).click()


def take(logdir: Path, out: Path, chromium_path: str) -> list[Path]:
    """Shoots every scene at every width and theme into `out`; the files written."""
    from playwright.sync_api import sync_playwright

    server = TensorBoardServer(logdir, load_fast=True)
    written = []
    try:
        server.wait_until(lambda listing: "segmentation/validation" in listing and "sliced/validation" in listing,
                          f"/data/plugin/{metadata.PLUGIN_NAME}/tags", timeout=120)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path, args=list(CHROMIUM_ARGS))
            for width in WIDTHS:
                for theme in THEMES:
                    context = browser.new_context(viewport={"width": width, "height": HEIGHTS[width]})
                    page = PluginPage(context.new_page(), server)
                    page.page.goto(server.url + "/")
                    choose_host_theme(page.page, theme)
                    page.open()
                    for scene, select in SCENES.items():
                        view = select(page)
                        path = out / f"{scene}-{theme}-{width}.png"
                        page.frame.evaluate(
                            "(testid) => testid ? document.querySelector(`[data-testid=${testid}]`)"
                            ".closest('.tbm-card').scrollIntoView() : window.scrollTo(0, 0)", view)
                        page.wait_idle()
                        page.page.screenshot(path=str(path))
                        # UI pixels fit a palette: a tenth of the bytes, no visible change.
                        Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)
                        written.append(path)
                    page.assert_no_errors()
                    context.close()
            browser.close()
    finally:
        server.stop()
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logdir", type=Path, required=True, help="the demo's logs (trained there when absent)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "screenshots")
    parser.add_argument("--chromium", default=shutil.which("chromium"), help="a Chromium executable")
    args = parser.parse_args(argv)
    if not args.chromium:
        parser.error("no Chromium found on PATH; pass --chromium PATH")
    if not any(args.logdir.glob("*/*/events.out.tfevents.*")):
        demo.run_tasks(str(args.logdir), epochs=3, task_names=("binary", "multiclass", "segmentation", "sliced"))
    elif not any(args.logdir.glob("sliced/*/events.out.tfevents.*")):
        demo.run_tasks(str(args.logdir), epochs=3, task_names=("sliced",))
    args.out.mkdir(parents=True, exist_ok=True)
    for path in take(args.logdir, args.out, args.chromium):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
