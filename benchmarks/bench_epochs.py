"""Every epoch on both loaders: 1000 epochs × 100 classes × 10,000 samples, format v1 against v2.

    python benchmarks/bench_epochs.py [--epochs 1000] [--classes 100] [--python-v1-epochs 200]
        [--output benchmarks/results/epochs.json]

Ten distinct synthetic epochs of 10,000 validation samples (softmax scores of a model that gets
better with the epoch) are counted with the real writer and repeated over `--epochs` steps, in two
runs of one logdir: `v2/validation` as the writer stores it today (format version 2, the default
grid for 10,000 samples of 100 classes) and `v1/validation`, the same counts as the dense float32
tensors of format version 1. Each loader serves the logdir through TensorBoard's real WSGI app
(`bench_serving.App`); per run it records the bytes on disk, `tags` (whether every step is listed,
or a sample), `counts?step=S` for the first, middle and last step (time and bytes), and the whole-run
`summary` (the over-epochs series) twice: cold, and again (cached). The Python loader holds every
tensor in memory: its v1 run is written with `--python-v1-epochs` epochs only (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tensorboard.util import tensor_util

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serving import App, timed_get  # noqa: E402

from tb_metrics_plugin import inputs, metadata, summary  # noqa: E402
from tb_metrics_plugin.thresholds import default_thresholds  # noqa: E402
from tb_metrics_plugin.writer import SummaryWriter  # noqa: E402

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "epochs.json"
PREFIX = f"/data/plugin/{metadata.PLUGIN_NAME}"
SAMPLES = 10_000
DISTINCT_EPOCHS = 10


def epoch_data(epoch: int, num_classes: int):
    rng = np.random.default_rng(epoch)
    labels = rng.integers(0, num_classes, SAMPLES)
    logits = rng.normal(size=(SAMPLES, num_classes)) * 1.5
    logits[np.arange(SAMPLES), labels] += 1.0 + 0.3 * epoch
    logits -= logits.max(axis=1, keepdims=True)
    scores = np.exp(logits)
    return labels, (scores / scores.sum(axis=1, keepdims=True)).astype(np.float32)


def write_logs(logdir: Path, num_classes: int, epochs: int, v1_epochs: int) -> dict:
    grid = default_thresholds()
    names = [f"class {c}" for c in range(num_classes)]
    v2_protos, v1_protos = [], []
    version_1 = metadata.create_summary_metadata(metadata.PluginData(
        metadata.KIND_THRESHOLD_CURVES, tuple(names), version=1))
    for epoch in range(DISTINCT_EPOCHS):
        labels, scores = epoch_data(epoch, num_classes)
        v2_protos.append(summary.threshold_curves_pb("threshold_curves", labels, scores, class_names=names))
        positive, negative = inputs.prepare(labels, scores).threshold_histograms(grid)
        dense = np.vstack([np.append(grid, np.inf)[None, :], positive, negative]).astype(np.float32)
        proto = summary.threshold_curves_pb("threshold_curves", labels[:1], scores[:1], class_names=names)
        proto.value[0].metadata.CopyFrom(version_1)
        proto.value[0].tensor.CopyFrom(tensor_util.make_tensor_proto(dense))
        v1_protos.append(proto)
    for run, protos, count in (("v2/validation", v2_protos, epochs), ("v1/validation", v1_protos, v1_epochs)):
        with SummaryWriter(logdir / run) as writer:
            for step in range(count):
                writer.add_summary(protos[step % DISTINCT_EPOCHS], step=step)
    return {run: sum(p.stat().st_size for p in (logdir / run).iterdir()) for run in ("v2/validation", "v1/validation")}


def bench(load_fast: bool, logdir: Path, epochs: dict[str, int]) -> dict:
    app = App(logdir, load_fast, max(epochs.values()))
    figures = {}
    try:
        for run, count in epochs.items():
            app.wait_for_steps(run, count)
        started = time.perf_counter()
        listing = app.client.get(f"{PREFIX}/tags").get_json()
        figures["tags_cold_seconds"] = time.perf_counter() - started
        for run, count in epochs.items():
            entry = listing[run]["threshold_curves"]
            row = {"epochs_written": count, "steps_listed": entry.get("num_steps"),
                   "sampled": bool(entry.get("sampled"))}
            for name, step in (("first", 0), ("middle", count // 2), ("last", count - 1)):
                    row[f"counts_{name}"] = timed_get(
                    app.client, f"{PREFIX}/counts?run={run}&tag=threshold_curves&step={step}", repeats=2,
                    gzipped=False)
            path = f"{PREFIX}/summary?run={run}&tag=threshold_curves"
            row["summary_cold"] = timed_get(app.client, path, repeats=1, warm_up=False, gzipped=False)
            row["summary_cached"] = timed_get(app.client, path, repeats=2, warm_up=False, gzipped=False)
            figures[run] = row
            shown = {key: (value["seconds"] if isinstance(value, dict) else value) for key, value in row.items()}
            print(run, "rust" if load_fast else "python", json.dumps(shown), flush=True)
    finally:
        app.close()
    return figures


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--python-v1-epochs", type=int, default=200)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench_epochs-"))
    try:
        results = {"python": sys.version.split()[0], "machine": platform.machine(), "epochs": args.epochs,
                   "classes": args.classes, "samples": SAMPLES}
        rust_dir, python_dir = workdir / "rust", workdir / "python"
        results["bytes_on_disk"] = write_logs(rust_dir, args.classes, args.epochs, args.epochs)
        results["rust"] = bench(True, rust_dir, {"v2/validation": args.epochs, "v1/validation": args.epochs})
        shutil.rmtree(rust_dir)
        write_logs(python_dir, args.classes, args.epochs, args.python_v1_epochs)
        results["python"] = bench(False, python_dir, {"v2/validation": args.epochs,
                                                      "v1/validation": args.python_v1_epochs})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
