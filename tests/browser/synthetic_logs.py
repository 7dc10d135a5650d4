"""Small event files written by the browser tests themselves (runs that grow while a page is open)."""

from __future__ import annotations

import numpy as np

from tb_metrics_plugin import SummaryWriter, summary


def write_binary_steps(run_dir, steps) -> None:
    """Threshold curves of 500 binary items at each of `steps`, scores sharpening with the step.

    Each call adds a new event file to `run_dir`, as a training that resumes would.
    """
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, size=500)
    with SummaryWriter(run_dir, flush_secs=0.1) as writer:
        for step in steps:
            scores = np.clip(labels * (0.2 + 0.1 * step) + rng.uniform(0, 0.7, size=labels.size), 0, 1)
            writer.add_summary(summary.threshold_curves_pb("threshold_curves", labels, scores), step)
