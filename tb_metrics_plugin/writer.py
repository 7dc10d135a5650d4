"""A small TensorFlow-free writer of `Summary` protos into a TensorBoard log directory."""

from __future__ import annotations

import numbers
import os
import time

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter


class SummaryWriter:
    """Appends summaries to an event file in `logdir` (created if missing).

    Works without TensorFlow (PyTorch, Keras on JAX or torch). Several writers may share a folder
    with Keras' TensorBoard callback: TensorBoard merges every event file of a folder into one run.
    Events reach the file on `flush()`, on `close()` and every `flush_secs`: in a custom loop call
    `flush()` after each epoch, so that a killed process keeps every completed epoch.

    Example:
      >>> with SummaryWriter("logs/run1/validation") as writer:  # doctest: +SKIP
      ...     writer.add_summary(threshold_curves_pb("roc", labels, scores), step=epoch)
    """

    def __init__(self, logdir: str | os.PathLike, flush_secs: float = 10.0):
        self.logdir = os.fspath(logdir)
        os.makedirs(self.logdir, exist_ok=True)
        self._writer = EventFileWriter(self.logdir, flush_secs=flush_secs, filename_suffix=".tb_metrics")

    def add_summary(self, summary: summary_pb2.Summary, step: int, wall_time: float | None = None) -> None:
        """Queues one `Summary` (all its values) as a single event at `step`.

        One event per step keeps a step whole: a reader sees all of its values or none.
        """
        # numpy integers (e.g. from np.arange) are integers too; bools and floats are not.
        if isinstance(step, (bool, np.bool_)) or not isinstance(step, numbers.Integral) or step < 0:
            raise ValueError(f"step={step!r} must be a non-negative integer (the epoch or batch number).")
        event = event_pb2.Event(
            wall_time=time.time() if wall_time is None else wall_time, step=int(step), summary=summary
        )
        self._writer.add_event(event)

    def flush(self) -> None:
        """Writes queued events to disk."""
        self._writer.flush()

    def close(self) -> None:
        """Flushes and closes the event file."""
        self._writer.close()

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
