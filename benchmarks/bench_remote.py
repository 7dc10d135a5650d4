"""What logging to an object store costs: requests and bytes per epoch for the writer, requests per
reload for a TensorBoard reading the bucket.

    python benchmarks/bench_remote.py [--epochs 40] [--output benchmarks/results/remote.json]

Against moto's S3 server on loopback (`tests/object_stores.py`), with s3fs writing as
`MetricsCallback` does: per epoch and split one event holding a `threshold_curves` summary (default
960-threshold grid, float32 counts) and a `confusion_matrix`, then a flush. For 1 (binary), 10, 100
and 1000 classes: the requests the server answered for each flush, the bytes each flush uploaded
(the writer's whole current file), the files made, and the ratio of bytes uploaded to bytes stored.
Then a TensorFlow-free TensorBoard (`--load_fast=false`: TensorBoard's loader for s3:// without
TensorFlow; boto3) reads the bucket: once every step is listed, its requests are counted over
`--watch-seconds` and divided by its reload cycles (each starts with one recursive listing of the
log dir), whose length is timed too. Loopback times say nothing about a real store, so none are reported.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tb_metrics_plugin import SummaryWriter, metadata, summary  # noqa: E402
from tb_metrics_plugin.writer import OBJECT_BYTES  # noqa: E402
from tests.object_stores import S3Server, TensorBoardWithoutTensorFlow  # noqa: E402

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "remote.json"
CLASS_COUNTS = (1, 10, 100, 1000)
SAMPLES = 2000


def epoch_summary(num_classes: int, rng: np.random.Generator):
    """What `MetricsCallback` writes per split and epoch: threshold curves and a confusion matrix."""
    if num_classes == 1:
        labels, scores = rng.integers(0, 2, SAMPLES), rng.random(SAMPLES).astype(np.float32)
    else:
        labels = rng.integers(0, num_classes, SAMPLES)
        scores = rng.dirichlet(np.ones(num_classes), SAMPLES).astype(np.float32)
    both = summary.threshold_curves_pb("threshold_curves", labels, scores)
    both.MergeFrom(summary.confusion_matrix_pb("confusion_matrix", labels, scores))
    return both


def measure_writer(s3: S3Server, num_classes: int, epochs: int) -> dict:
    rng = np.random.default_rng(num_classes)
    pb = epoch_summary(num_classes, rng)
    writer = SummaryWriter(s3.url("bench", f"classes_{num_classes}", "validation"))
    uploads, requests_per_flush, files = [], [], {writer.path}
    for epoch in range(epochs):
        writer.add_summary(pb, step=epoch)
        before = len(s3.request_log.requests)
        writer.flush()
        uploads.append(len(writer._events._uploaded))  # exactly the body of the PUT just made
        logged = s3.request_log.since(before, until=lambda logged: any(method == "PUT" for method, _, _ in logged))
        requests_per_flush.append(collections.Counter(method for method, _, _ in logged))
        files.add(writer.path)
    writer.close()
    event_bytes = len(pb.SerializeToString())
    stored = sum(s3_sizes(s3, f"bench/classes_{num_classes}/").values())
    return {
        "event_bytes": event_bytes,
        "epochs": epochs,
        "files": len(files),
        "requests_per_flush": dict(sum(requests_per_flush, collections.Counter())),
        "flushes": epochs,
        "uploaded_bytes_per_flush": {"mean": float(np.mean(uploads)), "max": int(max(uploads))},
        "uploaded_bytes_total": int(sum(uploads)),
        "stored_bytes": int(stored),
        "uploaded_per_stored": round(sum(uploads) / stored, 2),
    }


def s3_sizes(s3: S3Server, prefix: str) -> dict[str, int]:
    import boto3

    client = boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1")
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=prefix)
    return {item["Key"]: item["Size"] for page in pages for item in page.get("Contents", [])}


def measure_reader(s3: S3Server, epochs: int, watch_seconds: float, scratch: Path) -> dict:
    board = TensorBoardWithoutTensorFlow(s3.url("bench"), scratch / "tensorboard.log", s3.env)
    try:
        expected = list(range(epochs))
        board.wait_until(lambda listing: len(listing) == len(CLASS_COUNTS) and all(
            tag["steps"] == expected for tags in listing.values() for tag in tags.values()),
            f"/data/plugin/{metadata.PLUGIN_NAME}/tags", timeout=600)
        time.sleep(2)  # let the reload that listed the last step end
        before = len(s3.request_log.requests)
        time.sleep(watch_seconds)
        logged = s3.request_log.since(before)
    finally:
        board.stop()
    cycle_start = f"/{s3.bucket}?prefix=bench/&encoding-type=url"  # the recursive listing of the log dir
    starts = [s3.request_log.times[before + index] for index, (_, path, _) in enumerate(logged) if path == cycle_start]
    files = len(s3_sizes(s3, "bench/"))
    per_cycle = len(logged) / max(len(starts) - 1, 1) if len(starts) > 1 else None
    return {
        "runs": len(CLASS_COUNTS),
        "files": files,
        "watch_seconds": watch_seconds,
        "reload_cycles_started": len(starts),
        "requests": dict(collections.Counter(method for method, _, _ in logged)),
        "seconds_per_cycle": round((starts[-1] - starts[0]) / (len(starts) - 1), 1) if len(starts) > 1 else None,
        "requests_per_cycle": None if per_cycle is None else round(per_cycle, 1),
        "requests_per_cycle_and_file": None if per_cycle is None else round(per_cycle / files, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--watch-seconds", type=float, default=90.0)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    s3 = S3Server()
    os.environ.update(s3.env)
    try:
        writer = {str(c): measure_writer(s3, c, args.epochs) for c in CLASS_COUNTS}
        with tempfile.TemporaryDirectory() as scratch:
            reader = measure_reader(s3, args.epochs, args.watch_seconds, Path(scratch))
    finally:
        s3.stop()
    result = {
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "object_bytes": OBJECT_BYTES,
        "writer_by_classes": writer,
        "tensorboard_without_tensorflow": reader,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
