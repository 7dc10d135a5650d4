"""A run with slices for the slice views: binary scores of 640 items over 4 epochs, logged with
`summary.threshold_curves_pb(..., slices=...)` by two keys. The model is worse on site "c" (noisier
scores) and site "d" has fewer items than `slices.MIN_SLICE_SAMPLES`, so the views have gaps to show
and a small slice to flag."""

from __future__ import annotations

import numpy as np

from tb_metrics_plugin import SummaryWriter, summary

SLICED_RUN = "sliced/validation"
SLICED_STEPS = 4
SITE_SIZES = {"a": 300, "b": 200, "c": 120, "d": 20}
# Score noise per site: the model separates the classes worst on site "c".
SITE_NOISE = {"a": 1.0, "b": 1.3, "c": 2.6, "d": 1.5}


def sliced_data(step: int, seed: int = 12):
    """(labels, float32-exact scores, {"site": ..., "sex": ...}) of one epoch; scores sharpen per step."""
    rng = np.random.default_rng(seed)
    sites = np.concatenate([np.full(size, site) for site, size in SITE_SIZES.items()])
    sexes = rng.choice(np.array(["female", "male"]), size=sites.size)
    labels = rng.integers(0, 2, size=sites.size)
    noise = np.array([SITE_NOISE[site] for site in sites])
    epoch_rng = np.random.default_rng(seed + 1 + step)
    logits = (2 * labels - 1) * (1.0 + 0.5 * step) + noise * epoch_rng.normal(size=sites.size)
    scores = (1 / (1 + np.exp(-logits))).astype(np.float32).astype(np.float64)
    return labels, scores, {"site": sites, "sex": sexes}


def write_sliced_run(run_dir, steps: int = SLICED_STEPS) -> None:
    """Writes the sliced run's event file into `run_dir`."""
    with SummaryWriter(str(run_dir)) as writer:
        for step in range(steps):
            labels, scores, slices = sliced_data(step)
            curves = summary.threshold_curves_pb(
                "threshold_curves", labels, scores, class_names=["negative", "positive"], slices=slices
            )
            writer.add_summary(curves, step)


TEN_SLICE_RUN, TEN_SLICES, TEN_SLICE_ITEMS, TEN_SLICE_EPOCHS = "sliced10/validation", 10, 2000, 5


def write_ten_slice_run(logdir) -> None:
    """The slice views' speed case: one binary run, 10 slices of 2,000 items ("g0"…"g9", noisier
    scores from g0 to g9) by the key "group", over 5 epochs, written into `logdir / TEN_SLICE_RUN`."""
    rng = np.random.default_rng(0)
    groups = np.repeat(np.array([f"g{index}" for index in range(TEN_SLICES)]), TEN_SLICE_ITEMS)
    labels = rng.integers(0, 2, size=groups.size)
    noise = np.repeat(np.linspace(0.8, 2.5, TEN_SLICES), TEN_SLICE_ITEMS)
    with SummaryWriter(str(logdir / TEN_SLICE_RUN)) as writer:
        for epoch in range(TEN_SLICE_EPOCHS):
            logits = (2 * labels - 1) * (1 + 0.4 * epoch) + noise * rng.normal(size=groups.size)
            scores = 1 / (1 + np.exp(-logits))
            writer.add_summary(summary.threshold_curves_pb(
                "threshold_curves", labels, scores, class_names=["negative", "positive"], slices={"group": groups}),
                step=epoch)
