"""Scale: 1000 classes × 1000 epochs through the writer and TensorBoard's real app on both loaders.

    python benchmarks/bench_scale.py [--classes 1000] [--epochs 1000] [--python-epochs 200]
        [--curve-epochs 100] [--loaders python,rust] [--output benchmarks/results/scale.json]

What it does, in a temporary folder it deletes at the end:

1. Writer memory, in this process under `tracemalloc` (numpy buffers are traced): peak of one
   `confusion_matrix_pb` and one `threshold_curves_pb` call on 10,000 validation samples × C
   classes (default grid and 10,000 explicit thresholds), against the input and count sizes.
2. Logs, written by a child process (its peak RSS is the writer's, read after the first epoch and at
   the end: flat means memory does not grow with epochs):
   - `confusion/validation`: a `confusion_matrix` tag, C × C per epoch, `--epochs` epochs, counted by
     `counting.confusion_counts` from 10,000 synthetic predictions per epoch (accuracy rising with
     the epoch); float32 (exact counts), so 4·C² bytes per step: 4 GB for 1000 × 1000.
   - `curves/validation`: a `threshold_curves` tag for C classes on the default 960-threshold grid,
     `--curve-epochs` epochs of (1 + 2C) × 961 float32 (7.7 MB per step at C = 1000).
   Tensors and metadata are exactly what `summary.*_pb_from_counts` makes; the events are written
   with TensorFlow's native event writer, because the recorded run predates the numpy checksums of
   the TensorFlow-free `SummaryWriter` (it then managed 2–6 MB/s; its speed is timed on
   `--summary-writer-steps` steps and reported).
3. Serving, through TensorBoard's real WSGI app (`bench_serving.App`): the Rust data server reads the
   full logs; the Python loader reads a second copy with `--python-epochs` confusion-matrix epochs
   (the Python loader keeps every tensor in this process and the data-provider API converts every
   step of a run/tag to numpy on each read, so the full 4 GB run would need over 12 GB here; its
   figures scale linearly with the epochs and are extrapolated). Recorded per loader and run:
   `tags` (cold, then cached), `counts?step=S` for the first, middle and last step (time, bytes,
   gzipped bytes, and the served counts checked equal to the written ones), the whole-run `counts`
   and `summary` (status, time, bytes; over the Rust cap they must be 413, never a 5xx), peak RSS
   of this process and of the Rust data server.

Exits with status 1 if any request got a 5xx or a served count differs from the written one.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_serving  # noqa: E402 - sibling benchmark module
from bench_serving import App, peak_rss_mb, timed_get  # noqa: E402

from tb_metrics_plugin import counting, layout, metadata, summary, wire  # noqa: E402
from tb_metrics_plugin.thresholds import default_thresholds  # noqa: E402

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "scale.json"
PREFIX = f"/data/plugin/{metadata.PLUGIN_NAME}"
VALIDATION_SAMPLES = 10_000
CONFUSION_RUN, CONFUSION_TAG = "confusion/validation", "confusion_matrix"
CURVES_RUN, CURVES_TAG = "curves/validation", "threshold_curves"


# synthetic data, a pure function of (epoch, classes) so the reader can check what it is served ---------


def synthetic_matrix(epoch: int, num_classes: int, num_epochs: int) -> np.ndarray:
    """Confusion counts of 10,000 predictions whose accuracy rises from 10 % to 90 % over the epochs."""
    rng = np.random.default_rng([epoch, num_classes])
    true_classes = np.arange(VALIDATION_SAMPLES) % num_classes
    accuracy = 0.1 + 0.8 * epoch / max(1, num_epochs - 1)
    wrong = rng.random(VALIDATION_SAMPLES) >= accuracy
    predicted = true_classes.copy()
    predicted[wrong] = rng.integers(0, num_classes, int(wrong.sum()))
    return counting.confusion_counts(true_classes, predicted, num_classes)


def synthetic_histograms(epoch: int, num_classes: int, num_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """`bench_serving`'s Poisson score histograms of 10,000 samples, seeded by (epoch, shape) so that
    any epoch can be rebuilt on its own."""
    rng = np.random.default_rng([epoch, num_classes, num_bins])
    return bench_serving.synthetic_histograms(rng, num_classes, num_bins)


def class_names(num_classes: int) -> list[str]:
    return [f"class {c}" for c in range(num_classes)]


def memory_mb() -> dict[str, float]:
    """This process's resident memory now and its peak since start or `reset_peak_rss()` (Linux)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {"rss_mb": int(fields["VmRSS"].split()[0]) / 1024, "peak_rss_mb": int(fields["VmHWM"].split()[0]) / 1024}


def reset_peak_rss() -> None:
    """Restarts this process's peak-RSS count (VmHWM), so each phase reports its own peak."""
    Path("/proc/self/clear_refs").write_text("5")


# 1. writer memory --------------------------------------------------------------------------------------


def traced(function) -> tuple[float, float]:
    """(peak traced MB above the start, seconds) of one call."""
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        started = time.perf_counter()
        function()
        seconds = time.perf_counter() - started
        return (tracemalloc.get_traced_memory()[1] - start) / 1e6, seconds
    finally:
        tracemalloc.stop()


def writer_memory(num_classes: int) -> dict:
    """Peak memory of the numpy writers on 10,000 samples × C classes (and 10× fewer, 10× more)."""
    rng = np.random.default_rng(0)
    results = {}
    explicit = np.linspace(0, 1, 10_000, dtype=np.float32)
    for grid_name, thresholds in (("default_960", default_thresholds()), ("explicit_10000", explicit)):
        summary.threshold_curves_pb("warm", [0, 1], [0.2, 0.7], thresholds=thresholds)  # cached bin table
        for samples in (1_000, VALIDATION_SAMPLES):
            labels = rng.integers(0, num_classes, samples)
            scores = rng.random((samples, num_classes), dtype=np.float32)
            peak, seconds = traced(lambda labels=labels, scores=scores, thresholds=thresholds: (
                summary.threshold_curves_pb("curves", labels, scores, thresholds=thresholds)))
            results[f"threshold_curves_pb_{grid_name}_n{samples}"] = {
                "samples": samples, "classes": num_classes, "thresholds": len(thresholds),
                "input_mb": (labels.nbytes + scores.nbytes) / 1e6,
                "histogram_float64_mb": num_classes * (len(thresholds) + 1) * 8 / 1e6,
                "peak_mb": peak, "seconds": seconds,
            }
    for samples in (1_000, VALIDATION_SAMPLES, 10 * VALIDATION_SAMPLES):
        labels = rng.integers(0, num_classes, samples)
        scores = rng.random((samples, num_classes), dtype=np.float32)
        peak, seconds = traced(lambda labels=labels, scores=scores: summary.confusion_matrix_pb(
            "matrix", labels, scores))
        results[f"confusion_matrix_pb_n{samples}"] = {
            "samples": samples, "classes": num_classes, "input_mb": (labels.nbytes + scores.nbytes) / 1e6,
            "matrix_float64_mb": num_classes * num_classes * 8 / 1e6, "peak_mb": peak, "seconds": seconds,
        }
        del labels, scores
    return results


# 2. writing the logs (child process) -------------------------------------------------------------------


def write_logs(logdir: Path, num_classes: int, epochs: int, curve_epochs: int, summary_writer_steps: int) -> dict:
    """Writes both runs (see the module docstring); returns sizes, times and this process's peak RSS."""
    import tensorflow as tf

    from tb_metrics_plugin.writer import SummaryWriter

    names = class_names(num_classes)
    thresholds = default_thresholds()
    figures: dict = {}

    def content(pb) -> bytes:
        return pb.value[0].metadata.SerializeToString()

    started = time.perf_counter()
    stored = 0
    matrix_metadata = content(summary.confusion_matrix_pb_from_counts(
        CONFUSION_TAG, np.zeros((num_classes, num_classes)), names))
    with tf.summary.create_file_writer(str(logdir / CONFUSION_RUN)).as_default():
        for epoch in range(epochs):
            tensor = layout.encode_confusion_matrix(synthetic_matrix(epoch, num_classes, epochs))
            stored += len(tensor.item())
            tf.summary.write(CONFUSION_TAG, tensor, step=epoch, metadata=matrix_metadata)
            if epoch == 0:
                figures["memory_after_first_epoch"] = memory_mb()
    figures["confusion"] = {"epochs": epochs, "classes": num_classes, "tensor_bytes": stored,
                            "encoding": "version 2 blob", "seconds": time.perf_counter() - started}
    started = time.perf_counter()
    stored = 0
    if curve_epochs:
        with tf.summary.create_file_writer(str(logdir / CURVES_RUN)).as_default():
            curves_metadata = None
            for epoch in range(curve_epochs):
                positive, negative = synthetic_histograms(epoch, num_classes, len(thresholds) + 1)
                if curves_metadata is None:
                    curves_metadata = content(summary.threshold_curves_pb_from_counts(
                        CURVES_TAG, thresholds, positive, negative, names))
                tensor = layout.encode_threshold_curves(
                    layout.ThresholdCurveCounts(thresholds, positive, negative, tuple(names)))
                stored += len(tensor.item())
                tf.summary.write(CURVES_TAG, tensor, step=epoch, metadata=curves_metadata)
        figures["curves"] = {"epochs": curve_epochs, "classes": num_classes, "thresholds": len(thresholds),
                             "tensor_bytes": stored, "encoding": "version 2 blob",
                             "seconds": time.perf_counter() - started}
    figures["memory_at_end"] = memory_mb()
    # The TensorFlow-free writer, on a few steps of the same size, in a folder removed right after.
    scratch = logdir.parent / f"{logdir.name}-summary-writer"
    if summary_writer_steps:
        pb = summary.confusion_matrix_pb_from_counts(CONFUSION_TAG, synthetic_matrix(0, num_classes, epochs), names)
        started = time.perf_counter()
        with SummaryWriter(scratch) as writer:
            for step in range(summary_writer_steps):
                writer.add_summary(pb, step=step)
        seconds = time.perf_counter() - started
        written = sum(path.stat().st_size for path in scratch.iterdir())
        shutil.rmtree(scratch)
        figures["summary_writer"] = {"steps": summary_writer_steps, "bytes": written, "seconds": seconds,
                                     "mb_per_second": written / 1e6 / seconds}
    figures["event_file_bytes"] = {
        run: sum(path.stat().st_size for path in (logdir / run).iterdir())
        for run in (CONFUSION_RUN, CURVES_RUN) if (logdir / run).exists()
    }
    return figures


def write_in_child(logdir: Path, args, epochs: int, summary_writer_steps: int) -> dict:
    """Runs `write_logs` in a fresh interpreter, so its peak RSS is the writer's alone."""
    command = [sys.executable, __file__, "--write-only", str(logdir), "--classes", str(args.classes),
               "--epochs", str(epochs), "--curve-epochs", str(args.curve_epochs),
               "--summary-writer-steps", str(summary_writer_steps)]
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, timeout=1800,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if completed.returncode:
        raise RuntimeError(f"writer failed: {completed.stderr[-3000:]}")
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    figures["wall_seconds"] = time.perf_counter() - started
    return figures


# 3. serving ------------------------------------------------------------------------------------------


def child_peak_rss_mb() -> dict[str, float]:
    """Peak RSS (VmHWM) of this process's children, by name: the Rust data server when it runs."""
    peaks = {}
    for status_path in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status_path.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if int(fields.get("PPid", "0").strip()) == os.getpid() and "VmHWM" in fields:
            peaks[f"{fields['Name'].strip()} (pid {status_path.parent.name})"] = (
                int(fields["VmHWM"].split()[0]) / 1024)
    return peaks


def wait_loaded(app: App, expected: dict[str, tuple[str, int]], timeout: float) -> float:
    """Seconds until the provider lists the last step of every run/tag (the Rust server loads in the
    background)."""
    from tensorboard.context import RequestContext

    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        listing = app.ingester.data_provider.list_tensors(
            RequestContext(), experiment_id="", plugin_name=metadata.PLUGIN_NAME)
        if all(run in listing and tag in listing[run] and listing[run][tag].max_step == last
               for run, (tag, last) in expected.items()):
            return time.perf_counter() - started + app.load_seconds
        time.sleep(1.0)
    raise TimeoutError(f"logs not loaded in {timeout} s")


def served_equals_written(answer: dict, run: str, step: int, num_classes: int, epochs: int) -> bool:
    if run == CONFUSION_RUN:
        return np.array_equal(wire.decode_array(answer["matrix"])[0], synthetic_matrix(step, num_classes, epochs))
    positive, negative = synthetic_histograms(step, num_classes, 961)
    return (np.array_equal(wire.decode_array(answer["positive"])[0], positive)
            and np.array_equal(wire.decode_array(answer["negative"])[0], negative))


def bench_loader(load_fast: bool, logdir: Path, runs: dict[str, tuple[str, int]], num_classes: int,
                 repeats: int, problems: list[str]) -> dict:
    loader = "rust" if load_fast else "python"
    print(f"[{loader}] loading {logdir}", flush=True)
    reset_peak_rss()
    app = App(logdir, load_fast, epochs=1)
    results: dict = {}
    try:
        results["load_seconds"] = wait_loaded(app, {run: (tag, epochs - 1) for run, (tag, epochs) in runs.items()},
                                              timeout=1200)
        results["memory_after_load"] = memory_mb()
        results["tags_cold"] = timed_get(app.client, f"{PREFIX}/tags", 1, warm_up=False, gzipped=False)
        results["tags_cached"] = timed_get(app.client, f"{PREFIX}/tags", repeats, gzipped=False)
        listing = app.client.get(f"{PREFIX}/tags").get_json()
        for run, (tag, epochs) in runs.items():
            entry = listing[run][tag]
            run_results: dict = {"epochs": epochs, "listed_steps": entry.get("num_steps"),
                                 "sampled": entry.get("sampled", False), "error": entry.get("error")}
            query = f"run={run}&tag={tag}"
            for name, step in (("first", 0), ("middle", epochs // 2), ("last", epochs - 1)):
                path = f"{PREFIX}/counts?{query}&step={step}"
                figures = timed_get(app.client, path, repeats)
                figures["step"] = step
                if figures["status"] == 200:
                    figures["equals_written"] = served_equals_written(
                        app.client.get(path).get_json(), run, step, num_classes, epochs)
                    if not figures["equals_written"]:
                        problems.append(f"{loader} {path}: served counts differ from the written ones")
                run_results[f"counts_step_{name}"] = figures
            run_results["counts_all_steps"] = timed_get(app.client, f"{PREFIX}/counts?{query}", 1, warm_up=False,
                                                        gzipped=False)
            run_results["summary_first"] = timed_get(app.client, f"{PREFIX}/summary?{query}", 1, warm_up=False,
                                                     gzipped=False)
            run_results["summary_cached"] = timed_get(app.client, f"{PREFIX}/summary?{query}", 1, warm_up=False,
                                                      gzipped=False)
            for figures in run_results.values():
                if isinstance(figures, dict) and figures.get("status", 200) >= 500:
                    problems.append(f"{loader} {figures['path']}: status {figures['status']}")
            results[run] = run_results
            print(json.dumps({loader: {run: run_results}}, indent=1), flush=True)
            gc.collect()
        results["children_peak_rss_mb"] = child_peak_rss_mb()
        results["memory_at_end"] = memory_mb()
    finally:
        app.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=1000, help="confusion-matrix epochs for the Rust loader")
    parser.add_argument("--python-epochs", type=int, default=200, help="confusion-matrix epochs for the Python loader")
    parser.add_argument("--curve-epochs", type=int, default=100, help="threshold-curve epochs (both loaders)")
    parser.add_argument("--summary-writer-steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loaders", default="python,rust")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--write-only", type=Path, help=argparse.SUPPRESS)  # the child process of step 2
    args = parser.parse_args()
    if args.write_only:
        figures = write_logs(args.write_only, args.classes, args.epochs, args.curve_epochs, args.summary_writer_steps)
        print(json.dumps(figures))
        return

    started = time.perf_counter()
    print(f"free disk: {shutil.disk_usage(tempfile.gettempdir()).free / 1e9:.0f} GB", flush=True)
    config = {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()}
    output: dict = {"config": {key: value for key, value in config.items() if key not in ("write_only", "output")}}
    output["writer_memory"] = writer_memory(args.classes)
    print(json.dumps(output["writer_memory"], indent=1), flush=True)
    problems: list[str] = []
    loaders = args.loaders.split(",")
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as scratch:
        output["serving"] = {}
        output["written"] = {}
        for index, loader in enumerate(loaders):
            epochs = args.epochs if loader == "rust" else args.python_epochs
            logdir = Path(scratch) / f"{loader}_logs"
            print(f"[{loader}] writing {epochs} epochs of {args.classes}×{args.classes} matrices", flush=True)
            output["written"][loader] = write_in_child(
                logdir, args, epochs, args.summary_writer_steps if index == 0 else 0)
            print(json.dumps(output["written"][loader], indent=1), flush=True)
            runs = {CONFUSION_RUN: (CONFUSION_TAG, epochs)}
            if args.curve_epochs:
                runs[CURVES_RUN] = (CURVES_TAG, args.curve_epochs)
            output["serving"][loader] = bench_loader(loader == "rust", logdir, runs, args.classes, args.repeats,
                                                     problems)
            shutil.rmtree(logdir)  # frees the disk before the next loader's copy
    output["problems"] = problems
    output["peak_rss_mb"] = peak_rss_mb()
    output["seconds"] = time.perf_counter() - started
    output["machine"] = {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                         "python": platform.python_version(), "numpy": np.__version__,
                         "max_rss_unit": "MB (ru_maxrss / 1024)"}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(output, indent=1) + "\n")
    print(f"wrote {args.output} in {output['seconds']:.0f} s; problems: {problems or 'none'}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
