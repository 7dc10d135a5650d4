"""Times serving raw counts through TensorBoard's real WSGI app: our `counts` route against
TensorBoard's own `pr_curves` route on the same number of stored bytes, in the same process.

    python benchmarks/bench_serving.py [--epochs 1000] [--classes 100] [--equal-classes 10]
        [--repeats 3] [--loaders python,rust] [--output benchmarks/results/serving.json]

Two cases, each served by the Python loader (in process) and the Rust data server (a subprocess
of this process, as `tensorboard --load_fast=true` starts it):

* full: one run of `--epochs` steps × `--classes` classes × the default 960-threshold grid, that
  is (1 + 2·C) × 961 float32 per step (772 MB for 1000 × 100), written with `SummaryWriter` from
  synthetic histograms. Timed: `counts` of the whole run, `counts?step=S` (first, middle, last),
  `tags` (which reads every tensor to list the steps) and `summary` (the numeric core on every
  step), each first on a fresh plugin and then again (answered from the plugin's caches).
* equal bytes: the same epochs with `--equal-classes` classes, and a `pr_curves` tag written with
  `tensorboard.plugins.pr_curve.summary.raw_data_pb` whose (6, T') float32 tensor per step has the
  same size as ours, T' = (1 + 2·C) × 961 / 6. Both whole runs are served by their own route; the
  ratio is pr_curves' time over ours. TensorBoard's pr_curves answer is per-number JSON, which at
  the full size would be about 1.8 GB of text built from over 200 million Python numbers, hence
  the smaller case.

Each figure is the median of `--repeats` requests after one warm-up, timed from the request to the
last byte of the body (werkzeug test client). Requests without `Accept-Encoding` are timed; one
more with `Accept-Encoding: gzip` records the gzipped size and time (what a browser gets).

`--wire` also compares, for one step of 100 classes, the size of our base64 typed arrays with one
JSON number per value (sparse and dense integer counts, weighted float64 counts), raw and gzipped;
with `--chromium PATH` it times decoding both forms in that headless browser (Playwright).
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorboard
from tensorboard import program
from tensorboard.backend import application
from tensorboard.backend.event_processing import data_ingester
from tensorboard.compat.proto import summary_pb2
from tensorboard.data import server_ingester
from tensorboard.plugins.core import core_plugin
from tensorboard.plugins.pr_curve import pr_curves_plugin
from tensorboard.plugins.pr_curve import summary as pr_summary
from werkzeug.test import Client

import tb_metrics_plugin
from tb_metrics_plugin import metadata, summary, wire
from tb_metrics_plugin.plugin import MetricsLoader
from tb_metrics_plugin.thresholds import default_thresholds
from tb_metrics_plugin.writer import SummaryWriter

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "serving.json"
VALIDATION_SAMPLES = 10_000
PREFIX = f"/data/plugin/{metadata.PLUGIN_NAME}"


def synthetic_histograms(rng, num_classes: int, num_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Poisson counts of a 10,000-sample validation set: positives (1 %) pile up at high scores."""
    position = np.linspace(0.0, 1.0, num_bins)
    positive_shape = np.exp(-((position - 0.8) ** 2) / 0.02)
    negative_shape = np.exp(-((position - 0.2) ** 2) / 0.02)
    positives = VALIDATION_SAMPLES / num_classes
    positive = rng.poisson(positives * positive_shape / positive_shape.sum(), (num_classes, num_bins))
    negative = rng.poisson((VALIDATION_SAMPLES - positives) * negative_shape / negative_shape.sum(),
                           (num_classes, num_bins))
    return positive.astype(np.float64), negative.astype(np.float64)


def write_ours(run_dir: Path, epochs: int, num_classes: int, seed: int = 0) -> int:
    """Our threshold-curves tag over `epochs` steps; returns the stored tensor bytes."""
    rng = np.random.default_rng(seed)
    thresholds = default_thresholds()
    names = [f"class {c}" for c in range(num_classes)]
    stored = 0
    with SummaryWriter(run_dir) as writer:
        for epoch in range(epochs):
            positive, negative = synthetic_histograms(rng, num_classes, len(thresholds) + 1)
            pb = summary.threshold_curves_pb_from_counts("threshold_curves", thresholds, positive, negative, names)
            stored += len(pb.value[0].tensor.SerializeToString())
            writer.add_summary(pb, step=epoch)
    return stored


def write_pr_curves(run_dir: Path, epochs: int, num_thresholds: int, seed: int = 1) -> int:
    """A pr_curves tag with a (6, num_thresholds) float32 tensor per step; returns the stored bytes."""
    rng = np.random.default_rng(seed)
    stored = 0
    with SummaryWriter(run_dir) as writer:
        for epoch in range(epochs):
            positive, negative = synthetic_histograms(rng, 1, num_thresholds)
            tp = np.cumsum(positive[0, ::-1])[::-1]
            fp = np.cumsum(negative[0, ::-1])[::-1]
            fn, tn = positive.sum() - tp, negative.sum() - fp
            precision = tp / np.maximum(tp + fp, 1)
            recall = tp / max(positive.sum(), 1)
            made = pr_summary.raw_data_pb("pr_curve", tp, fp, tn, fn, precision, recall, num_thresholds=num_thresholds)
            # With TensorFlow installed the op returns TensorFlow's Summary class; same wire format.
            pb = summary_pb2.Summary.FromString(made.SerializeToString())
            stored += len(pb.value[0].tensor.SerializeToString()) or 4 * len(pb.value[0].tensor.float_val)
            writer.add_summary(pb, step=epoch)
    return stored


class App:
    """TensorBoard's WSGI app over `logdir` with the core, pr_curves and our plugin."""

    def __init__(self, logdir: Path, load_fast: bool, epochs: int):
        board = program.TensorBoard(
            plugins=[core_plugin.CorePluginLoader, pr_curves_plugin.PrCurvesPlugin, MetricsLoader]
        )
        board.configure(logdir=str(logdir), load_fast="true" if load_fast else "false", reload_interval=0,
                        reload_task="blocking", samples_per_plugin={"pr_curves": epochs})
        flags = board.flags
        if load_fast:
            self.ingester = server_ingester.SubprocessServerDataIngester(
                server_binary=server_ingester.get_server_binary(), logdir=flags.logdir, reload_interval=0,
                channel_creds_type=flags.grpc_creds_type, samples_per_plugin=flags.samples_per_plugin,
            )
        else:
            self.ingester = data_ingester.LocalDataIngester(flags)
        started = time.perf_counter()
        self.ingester.start()
        self.load_seconds = time.perf_counter() - started
        multiplexer = None if load_fast else self.ingester.deprecated_multiplexer
        app = application.TensorBoardWSGIApp(
            flags, board.plugin_loaders, self.ingester.data_provider, board.assets_zip_provider, multiplexer
        )
        self.client = Client(app)

    def wait_for_steps(self, run: str, epochs: int, timeout: float = 900.0) -> float:
        """Seconds until the data server has every step of `run` (its loading is asynchronous)."""
        from tensorboard.context import RequestContext

        started = time.perf_counter()
        provider = self.ingester.data_provider
        while time.perf_counter() - started < timeout:
            listing = provider.list_tensors(RequestContext(), experiment_id="", plugin_name=metadata.PLUGIN_NAME)
            series = listing.get(run, {}).get("threshold_curves")
            if series is not None and series.max_step == epochs - 1:
                return time.perf_counter() - started + self.load_seconds
            time.sleep(0.5)
        raise TimeoutError(f"run {run!r} not loaded in {timeout} s")

    def close(self) -> None:
        stdin = getattr(self.ingester, "_stdin_handle", None)  # the data server exits when stdin closes
        if stdin is not None:
            stdin.close()


def timed_get(client: Client, path: str, repeats: int, warm_up: bool = True, gzipped: bool = True) -> dict:
    """Median time of `repeats` GETs (after a warm-up), status and body size; then one gzipped GET."""
    times, status, size, error = [], None, None, None
    for attempt in range(repeats + int(warm_up)):
        gc.collect()
        started = time.perf_counter()
        response = client.get(path)
        body = response.get_data()
        elapsed = time.perf_counter() - started
        status, size = response.status_code, len(body)
        if response.mimetype == "application/json" and status >= 400:
            error = response.get_json().get("error")
        del response, body
        if attempt or not warm_up:
            times.append(elapsed)
    result = {"path": path, "status": status, "seconds": statistics.median(times), "all_seconds": times,
              "bytes": size}
    if gzipped:
        gc.collect()
        started = time.perf_counter()
        response = client.get(path, headers={"Accept-Encoding": "gzip"})
        result["gzip_bytes"] = len(response.get_data())
        result["gzip_seconds"] = time.perf_counter() - started
        del response
    if error:
        result["error"] = error
    return result


def check_counts(client: Client, run: str, epochs: int, num_classes: int) -> None:
    """The whole-run answer decodes to the stored shape (a sanity check, untimed)."""
    answer = client.get(f"{PREFIX}/counts?run={run}&tag=threshold_curves").get_json()
    shape = wire.decode_array(answer["positive"]).shape
    assert shape == (epochs, num_classes, 961), shape
    assert answer["steps"] == list(range(epochs))


WIRE_DECODE_JS = """
(cases) => {
  const timings = {};
  const time = (decode) => {
    for (let i = 0; i < 3; i++) decode();
    const started = performance.now();
    for (let i = 0; i < 20; i++) decode();
    return (performance.now() - started) / 20;
  };
  for (const [name, bodies] of Object.entries(cases)) {
    timings[name] = {
      base64_ms: time(() => {
        const typed = JSON.parse(bodies.base64);
        const text = atob(typed.data);
        const bytes = new Uint8Array(text.length);
        for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
        return typed.dtype === "float32" ? new Float32Array(bytes.buffer) : new Float64Array(bytes.buffer);
      }),
      json_ms: time(() => JSON.parse(bodies.json).map((rows) => rows.map((row) => Float64Array.from(row)))),
    };
  }
  return timings;
}
"""


def wire_sizes(chromium: str | None) -> dict:
    """Base64 typed array vs one JSON number per value, for one 100-class step (see module doc)."""

    rng = np.random.default_rng(2)
    positive, negative = synthetic_histograms(rng, 100, 961)
    sparse = np.stack([positive, negative]).astype(np.float32)
    cases = {
        "sparse integer counts": sparse,
        "dense integer counts": (sparse * 100 + rng.poisson(50, sparse.shape)).astype(np.float32),
        "weighted float64 counts": sparse.astype(np.float64) * rng.uniform(0.5, 2.0, sparse.shape),
    }
    bodies, sizes = {}, {}
    for name, values in cases.items():
        as_json = values.astype(np.int64).tolist() if values.dtype == np.float32 else values.tolist()
        bodies[name] = {"base64": json.dumps(wire.encode_array(values)),
                        "json": json.dumps(as_json, separators=(",", ":"))}
        sizes[name] = {
            "zero_share": float(np.mean(values == 0)),
            **{f"{form}_chars": len(text) for form, text in bodies[name].items()},
            **{f"{form}_gzip_bytes": len(gzip.compress(text.encode(), 3)) for form, text in bodies[name].items()},
        }
    if chromium:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run"])
            page = browser.new_page()
            for name, timing in page.evaluate(WIRE_DECODE_JS, bodies).items():
                sizes[name].update(timing)
            browser.close()
    return sizes


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_loader(load_fast: bool, args, workdir: Path, stored: dict) -> dict:
    loader = "rust" if load_fast else "python"
    results: dict = {}
    print(f"[{loader}] equal-bytes case", flush=True)
    app = App(workdir / "equal", load_fast, args.epochs)
    try:
        results["equal_load_seconds"] = app.wait_for_steps("ours", args.epochs)
        check_counts(app.client, "ours", args.epochs, args.equal_classes)
        ours = timed_get(app.client, f"{PREFIX}/counts?run=ours&tag=threshold_curves", args.repeats)
        theirs = timed_get(app.client, "/data/plugin/pr_curves/pr_curves?run=pr&tag=pr_curve/pr_curves", args.repeats)
        results["equal_bytes"] = {"ours": ours, "pr_curves": theirs, "ratio": theirs["seconds"] / ours["seconds"],
                                  "gzip_ratio": theirs["gzip_seconds"] / ours["gzip_seconds"]}
        results["equal_summary"] = timed_get(
            app.client, f"{PREFIX}/summary?run=ours&tag=threshold_curves", 1, warm_up=False, gzipped=False
        )
        print(json.dumps(results["equal_bytes"], indent=1), flush=True)
    finally:
        app.close()
        del app
        gc.collect()
    print(f"[{loader}] full case", flush=True)
    app = App(workdir / "full", load_fast, args.epochs)
    try:
        results["full_load_seconds"] = app.wait_for_steps("ours", args.epochs)
        full: dict = {}
        full["counts_all_steps"] = timed_get(app.client, f"{PREFIX}/counts?run=ours&tag=threshold_curves",
                                             args.full_repeats)
        for name, step in (("first", 0), ("middle", args.epochs // 2), ("last", args.epochs - 1)):
            full[f"counts_step_{name}"] = timed_get(
                app.client, f"{PREFIX}/counts?run=ours&tag=threshold_curves&step={step}", args.repeats
            )
            full[f"counts_step_{name}"]["step"] = step
        # First calls read every tensor (and run the core on every step); later ones hit the
        # plugin's caches, valid until the run/tag's max step or wall time moves.
        full["tags_first"] = timed_get(app.client, f"{PREFIX}/tags", 1, warm_up=False, gzipped=False)
        full["tags"] = timed_get(app.client, f"{PREFIX}/tags", args.repeats)
        summary_path = f"{PREFIX}/summary?run=ours&tag=threshold_curves"
        full["summary_first"] = timed_get(app.client, summary_path, 1, warm_up=False, gzipped=False)
        full["summary"] = timed_get(app.client, summary_path, args.full_repeats, warm_up=False, gzipped=False)
        listing = app.client.get(f"{PREFIX}/tags").get_json()["ours"]["threshold_curves"]
        full["tags_num_steps"] = listing["num_steps"]
        full["tags_sampled"] = listing.get("sampled", False)
        results["full"] = full
        print(json.dumps(full, indent=1), flush=True)
    finally:
        app.close()
    results["peak_rss_mb_so_far"] = peak_rss_mb()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--equal-classes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--full-repeats", type=int, default=2)
    parser.add_argument("--loaders", default="python,rust")
    parser.add_argument("--workdir", type=Path, help="where to write the logs (default: a temporary folder)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--wire", action="store_true", help="also compare base64 with per-number JSON")
    parser.add_argument("--chromium", help="a Chromium executable to time decoding in (with --wire)")
    args = parser.parse_args()
    wire_figures = wire_sizes(args.chromium) if args.wire else None
    if wire_figures:
        print(json.dumps(wire_figures, indent=1), flush=True)

    with tempfile.TemporaryDirectory(prefix="bench_serving_") as scratch:
        workdir = args.workdir or Path(scratch)
        stored: dict = {}
        started = time.perf_counter()
        stored["full_ours"] = write_ours(workdir / "full" / "ours", args.epochs, args.classes)
        stored["full_write_seconds"] = time.perf_counter() - started
        stored["equal_ours"] = write_ours(workdir / "equal" / "ours", args.epochs, args.equal_classes)
        pr_thresholds = (1 + 2 * args.equal_classes) * 961 // 6
        stored["equal_pr_curves"] = write_pr_curves(workdir / "equal" / "pr", args.epochs, pr_thresholds)
        stored["pr_curves_num_thresholds"] = pr_thresholds
        print(json.dumps(stored), flush=True)
        results = {loader: bench_loader(loader == "rust", args, workdir, stored) for loader in args.loaders.split(",")}

    output = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "tensorboard": tensorboard.__version__,
            "tb_metrics_plugin": tb_metrics_plugin.__version__,
        },
        "config": {"epochs": args.epochs, "classes": args.classes, "equal_classes": args.equal_classes,
                   "num_thresholds": 960, "repeats": args.repeats, "full_repeats": args.full_repeats,
                   "validation_samples": VALIDATION_SAMPLES},
        "stored_bytes": stored,
        "results": results,
        "wire": wire_figures,
        "peak_rss_mb": peak_rss_mb(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(output, indent=1) + "\n")
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
