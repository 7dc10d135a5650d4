"""Start-to-finish time of `tb-metrics export` and `check`, against `python -c "import tensorflow"`.

    python benchmarks/bench_cli.py [--repeats 3] [--output benchmarks/results/cli.json]

Each command runs as a user runs it, in a fresh interpreter (`python -m tb_metrics_plugin ...`),
interleaved with the references in every round, so that all of them see the same machine load:

- `python -c pass`: the interpreter alone;
- `python -c "import tensorflow"`: the floor of anything that imports TensorFlow;
- `export` and `check` of this package (event files read by `tb_metrics_plugin.event_files`);
- the same export through TensorBoard's `EventMultiplexer` (what the command line did before), in
  a child of this script.

Two log directories: "small" (a Keras-style fit: run1/{train,validation}, 10 epochs, 3 classes,
threshold curves and a confusion matrix) and "medium" (the same with 20 classes and 100 epochs,
about 30 MB of event files). Wall time and CPU time (user + system of the child) are recorded;
the table gives medians over `--repeats` rounds. The outputs of our export and of TensorBoard's
loader are compared, and our commands must print nothing on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "cli.json"
LOGDIRS = {"small": (3, 10), "medium": (20, 100)}  # name -> (classes, epochs)
SAMPLES = 2000


def write_logdir(logdir: Path, num_classes: int, epochs: int) -> int:
    """run1/train and run1/validation, one threshold-curve and one confusion-matrix summary per
    epoch, as `MetricsCallback` writes them; returns the bytes written."""
    from tb_metrics_plugin import SummaryWriter, summary

    rng = np.random.default_rng(0)
    for split in ("train", "validation"):
        with SummaryWriter(logdir / "run1" / split) as writer:
            for epoch in range(epochs):
                labels = rng.integers(0, num_classes, SAMPLES)
                scores = rng.dirichlet(np.ones(num_classes), SAMPLES).astype(np.float32)
                both = summary.threshold_curves_pb("threshold_curves", labels, scores)
                both.MergeFrom(summary.confusion_matrix_pb("confusion_matrix", labels, scores))
                writer.add_summary(both, step=epoch)
    return sum(path.stat().st_size for path in logdir.rglob("events.out.tfevents.*"))


def multiplexer_export(logdir: str) -> None:
    """`export --format json` of the last steps, read through TensorBoard's EventMultiplexer."""
    import logging

    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer

    from tb_metrics_plugin import metadata, reading, tables

    logging.getLogger("tensorboard").setLevel(logging.ERROR)
    multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={metadata.PLUGIN_NAME: 0})
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, logdir)
    from tensorboard.context import RequestContext

    ctx = RequestContext()
    listing = reading.list_series(provider, ctx, "")
    records = []
    for run in sorted(listing):
        for tag in sorted(listing[run]):
            series = reading.read_series(provider, ctx, "", run, tag, listing[run][tag].max_step)
            records.extend(tables.records(series))
    sys.stdout.write(tables.to_json(records))


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall seconds, CPU seconds of the child, the finished process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode not in (0, 1):
        sys.exit(f"{command} failed ({done.returncode}): {done.stderr[-2000:]}")
    return wall, cpu, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--multiplexer-export", metavar="LOGDIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.multiplexer_export:
        multiplexer_export(args.multiplexer_export)
        return
    python = sys.executable
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    quiet_env = {**env, "TF_CPP_MIN_LOG_LEVEL": "3"}  # the references' log lines are not measured
    with tempfile.TemporaryDirectory() as scratch:
        sizes = {name: write_logdir(Path(scratch) / name, *shape) for name, shape in LOGDIRS.items()}
        commands: dict[str, tuple[list[str], dict[str, str]]] = {
            "python -c pass": ([python, "-c", "pass"], env),
            "import tensorflow": ([python, "-c", "import tensorflow"], quiet_env),
        }
        for name in LOGDIRS:
            logdir = str(Path(scratch) / name)
            commands[f"{name}: export"] = (
                [python, "-m", "tb_metrics_plugin", "export", "--logdir", logdir, "--format", "json"], env)
            commands[f"{name}: check"] = ([python, "-m", "tb_metrics_plugin", "check", "--logdir", logdir,
                                           "--metric", "roc_auc", "--min", "0.4"], env)
            commands[f"{name}: export via EventMultiplexer"] = (
                [python, __file__, "--multiplexer-export", logdir], quiet_env)
        walls: dict[str, list[float]] = {label: [] for label in commands}
        cpus: dict[str, list[float]] = {label: [] for label in commands}
        for round_number in range(args.repeats):
            outputs = {}
            for label, (command, command_env) in commands.items():
                wall, cpu, done = timed(command, command_env)
                walls[label].append(wall)
                cpus[label].append(cpu)
                outputs[label] = done
                print(f"round {round_number + 1}: {label:<40} {wall:6.2f} s wall, {cpu:6.2f} s CPU", flush=True)
            for name in LOGDIRS:
                for command_name in ("export", "check"):
                    stderr = outputs[f"{name}: {command_name}"].stderr
                    if stderr:
                        sys.exit(f"{name} {command_name} printed on stderr: {stderr}")
                if json.loads(outputs[f"{name}: export"].stdout) != json.loads(
                        outputs[f"{name}: export via EventMultiplexer"].stdout):
                    sys.exit(f"{name}: our export differs from the export read through TensorBoard's loader")
    median_wall = {label: statistics.median(values) for label, values in walls.items()}
    median_cpu = {label: statistics.median(values) for label, values in cpus.items()}
    tensorflow = median_wall["import tensorflow"]
    print(f"\n{'command':<40} {'wall (median)':>14} {'CPU (median)':>13} {'/ import tensorflow':>20}")
    for label in commands:
        print(f"{label:<40} {median_wall[label]:12.2f} s {median_cpu[label]:11.2f} s "
              f"{median_wall[label] / tensorflow:19.3f}x")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "machine": {"python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform(),
                    "cpus": os.cpu_count(), "load_average_at_end": os.getloadavg()},
        "repeats": args.repeats,
        "logdirs": {name: {"classes": classes, "epochs": epochs, "runs": 2, "event_file_bytes": sizes[name]}
                    for name, (classes, epochs) in LOGDIRS.items()},
        "median_wall_seconds": median_wall, "median_cpu_seconds": median_cpu,
        "wall_over_import_tensorflow": {label: value / tensorflow for label, value in median_wall.items()},
        "wall_seconds": walls, "cpu_seconds": cpus,
    }, indent=1))
    print(f"JSON written to {args.output}")


if __name__ == "__main__":
    main()
