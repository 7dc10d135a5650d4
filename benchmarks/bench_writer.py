"""Writing one epoch: `SummaryWriter` (numpy checksums) against TensorBoard's own TF-free writer.

    python benchmarks/bench_writer.py [--repeats 5] [--output benchmarks/results/writer.json]

For 1 (binary), 100 and 1000 classes, one `threshold_curves` summary on the default grid plus one
C × C `confusion_matrix` (float64 counts, the weighted case) is written as one event and flushed:
what `MetricsCallback` does per split and epoch. Both writers run in this process, interleaved,
`--repeats` rounds each; the table gives the fastest round. TensorBoard's `EventFileWriter`
computes CRC-32C in pure Python; ours cuts the record into lanes that numpy checksums together
(`tb_metrics_plugin/crc32c.py`). Both files are read back and compared record by record.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tensorboard.compat.proto import event_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from tb_metrics_plugin import SummaryWriter, summary

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "writer.json"
CLASS_COUNTS = (1, 100, 1000)
SAMPLES = 3000


def epoch_summary(num_classes: int, rng: np.random.Generator):
    """Threshold curves and a weighted confusion matrix of one synthetic epoch, as one Summary."""
    weights = rng.uniform(0.5, 2.0, SAMPLES)
    if num_classes == 1:
        labels = rng.integers(0, 2, SAMPLES)
        scores = rng.random(SAMPLES).astype(np.float32)
    else:
        labels = rng.integers(0, num_classes, SAMPLES)
        scores = rng.dirichlet(np.ones(num_classes), SAMPLES).astype(np.float32)
    both = summary.threshold_curves_pb("threshold_curves", labels, scores)
    both.MergeFrom(summary.confusion_matrix_pb("confusion_matrix", labels, scores, sample_weight=weights))
    return both


def write_ours(logdir: Path, pb) -> float:
    start = time.perf_counter()
    with SummaryWriter(logdir) as writer:
        writer.add_summary(pb, step=1)
        writer.flush()
    return time.perf_counter() - start


def write_tensorboards(logdir: Path, pb) -> float:
    start = time.perf_counter()
    writer = EventFileWriter(str(logdir), filename_suffix=".tb")
    writer.add_event(event_pb2.Event(wall_time=time.time(), step=1, summary=pb))
    writer.flush()
    writer.close()
    return time.perf_counter() - start


def last_summary(logdir: Path):
    """The Summary of the last event in the only file of `logdir`, via TensorBoard's reader."""
    from tensorboard.backend.event_processing import event_file_loader

    (path,) = logdir.iterdir()
    events = list(event_file_loader.RawEventFileLoader(str(path)).Load())
    return event_pb2.Event.FromString(events[-1]).summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for num_classes in CLASS_COUNTS:
            pb = epoch_summary(num_classes, rng)
            size = pb.ByteSize()
            times: dict[str, list[float]] = {"ours": [], "tensorboard": []}
            for round_number in range(args.repeats):
                for name, write in (("ours", write_ours), ("tensorboard", write_tensorboards)):
                    logdir = Path(scratch) / f"{num_classes}-{name}-{round_number}"
                    times[name].append(write(logdir, pb))
                    if round_number == 0 and last_summary(logdir) != pb:
                        sys.exit(f"{name} wrote a different summary for {num_classes} classes")
            fastest = {name: min(values) for name, values in times.items()}
            results[str(num_classes)] = {
                "event_bytes": size, "fastest_seconds": fastest, "seconds": times,
                "tensorboard_over_ours": fastest["tensorboard"] / fastest["ours"],
                "ours_mb_per_second": size / fastest["ours"] / 1e6,
            }
            print(f"{num_classes:>5} classes, {size / 1e6:7.2f} MB: ours {fastest['ours'] * 1e3:8.1f} ms, "
                  f"TensorBoard's writer {fastest['tensorboard'] * 1e3:8.1f} ms "
                  f"({fastest['tensorboard'] / fastest['ours']:.0f}x)")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "machine": {"python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform()},
        "repeats": args.repeats, "classes": results,
    }, indent=1))
    print(f"JSON written to {args.output}")


if __name__ == "__main__":
    main()
