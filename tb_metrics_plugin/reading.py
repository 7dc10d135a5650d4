"""Reading our summaries through a TensorBoard data provider, one run/tag per call.

The backend gets its data provider from TensorBoard (Rust data server or Python loader); the CLI
builds one over the event files (`event_files`, read as TensorBoard's Python loader reads them).
Both then read through this module, so a step, a run or a tag means the same thing in a route and
on the command line.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Container
from dataclasses import dataclass
from typing import Any

import numpy as np
from tensorboard.data import provider

from tb_metrics_plugin import layout, metadata, slices

logger = logging.getLogger(__name__)

# Asking for this many samples means "every step": far above any real number of epochs.
ALL_STEPS = 1_000_000
# The Python side of TensorBoard's channel to the Rust data server refuses replies above this.
DATA_SERVER_REPLY_LIMIT_BYTES = 256 * 1024 * 1024
# Share of that limit a fallback read aims at (protobuf framing, wall times and steps come on top).
_FALLBACK_SHARE = 0.8


class ReadError(Exception):
    """A request for data that cannot be answered; `status` is the HTTP status a route returns."""

    status = 400


class NotFoundError(ReadError):
    """No such run, tag or step."""

    status = 404


class TooLargeError(ReadError):
    """The data provider cannot send this much in one reply (the Rust data server's 256 MiB cap)."""

    status = 413


class UnreadableError(ReadError):
    """The tag's metadata or tensors do not fit any format version this plugin reads."""

    status = 422


@dataclass(frozen=True)
class TagSeries:
    """Every (or one) stored step of one run/tag, decoded step by step.

    Attributes:
      run, tag: where the data came from.
      plugin_data: the tag's decoded metadata (kind, class names, version, ...).
      steps: int64 (S,), increasing.
      wall_times: float64 (S,), seconds since the epoch.
      counts: S decoded steps, `layout.ThresholdCurveCounts` or `layout.ConfusionMatrixCounts` (None
        for steps a caller asked not to decode, see `read_series`).
      complete: False when the data provider could only send a sample of the steps.
      damaged_steps: steps left out because their tensors cannot be decoded (see `tag_listing`).

    The stacked views (`thresholds`, `positive_histograms`, `negative_histograms`, `exact`,
    `matrices`) put every step on one array, for the wire and for tests.
    """

    run: str
    tag: str
    plugin_data: metadata.PluginData
    steps: np.ndarray
    wall_times: np.ndarray
    counts: tuple = ()
    complete: bool = True
    damaged_steps: tuple[int, ...] = ()

    @property
    def kind(self) -> str:
        return self.plugin_data.kind

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.plugin_data.class_names

    @property
    def thresholds(self) -> np.ndarray:
        """float32 (S, T) when every class of every step shares one grid of T thresholds (all of
        format version 1), else (S, C, T) per class, rows padded at the end with +inf."""
        return self._stacked()[0]

    @property
    def positive_histograms(self) -> np.ndarray:
        """(S, C, T + 1), padded bins empty; see `layout`."""
        return self._stacked()[1]

    @property
    def negative_histograms(self) -> np.ndarray:
        return self._stacked()[2]

    @property
    def exact(self) -> np.ndarray:
        """bool (S, C): True where a class's thresholds are its distinct scores."""
        num_classes = len(self.class_names)
        return np.array([c.exact for c in self.counts], dtype=bool).reshape(len(self.counts), num_classes)

    @property
    def matrices(self) -> np.ndarray:
        """Confusion matrices only: (S, C, C)."""
        num_classes = len(self.class_names)
        if not self.counts:
            return np.zeros((0, num_classes, num_classes), dtype=np.float32)
        return np.stack([c.matrix for c in self.counts])

    @property
    def ranked(self) -> np.ndarray:
        """Confusion matrices only: bool (S,), True where a step holds the rank counts of top-k
        metrics (`layout.ConfusionMatrixCounts.true_ranks`)."""
        return np.array([c.true_ranks is not None for c in self.counts], dtype=bool)

    @property
    def true_ranks(self) -> np.ndarray | None:
        """Confusion matrices only: (S, C, K + 1), zeros on steps without ranks; None when no step
        has them."""
        return self._stacked_ranks("true_ranks", 1)

    @property
    def class_ranks(self) -> np.ndarray | None:
        """Confusion matrices only: (S, C, K), zeros on steps without ranks; None when no step has them."""
        return self._stacked_ranks("class_ranks", 0)

    def _stacked_ranks(self, name: str, extra_columns: int) -> np.ndarray | None:
        ranked = [getattr(c, name) for c in self.counts if c.true_ranks is not None]
        if not ranked:
            return None
        depth = max(c.class_ranks.shape[1] for c in self.counts if c.true_ranks is not None)
        stacked = np.zeros((len(self.counts), len(self.class_names), depth + extra_columns))
        for index, c in enumerate(self.counts):
            if c.true_ranks is not None:
                ranks = getattr(c, name)
                stacked[index, :, : ranks.shape[1]] = ranks
        return stacked

    def _stacked(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        num_classes = len(self.class_names)
        if not self.counts:
            empty = np.zeros((0, num_classes, 2), dtype=np.float32)
            return np.zeros((0, 1), dtype=np.float32), empty, empty
        width = max(c.thresholds.shape[-1] for c in self.counts)
        shared = all(c.thresholds.ndim == 1 and c.thresholds.size == width for c in self.counts)
        if shared:
            thresholds = np.stack([c.thresholds for c in self.counts]).astype(np.float32)
        else:
            thresholds = np.full((len(self.counts), num_classes, width), np.inf, dtype=np.float32)
            for index, c in enumerate(self.counts):
                rows = c.per_class_thresholds
                thresholds[index, :, : rows.shape[1]] = rows
        histograms = []
        for name in ("positive_histograms", "negative_histograms"):
            stacked = np.zeros((len(self.counts), num_classes, width + 1))
            for index, c in enumerate(self.counts):
                values = getattr(c, name)
                stacked[index, :, : values.shape[1]] = values
            histograms.append(stacked)
        return thresholds, histograms[0], histograms[1]


def list_series(data_provider, ctx, experiment: str) -> dict[str, dict[str, Any]]:
    """{run: {tag: TensorTimeSeries}} of this plugin's tags (metadata only, no tensors read)."""
    return data_provider.list_tensors(ctx, experiment_id=experiment, plugin_name=metadata.PLUGIN_NAME)


# (experiment, run, tag) -> ((max_step, max_wall_time), good steps, complete, {damaged step: problem},
# {(step, wall_time): problem or None} of every datum checked so far, so that a new epoch checks
# only itself; the tag's metadata, which TensorBoard keeps as the tag was first written).
StepCache = dict[
    tuple[str, str, str],
    tuple[
        tuple[int, float], list[int], bool, dict[int, str], dict[tuple[int, float], str | None],
        metadata.PluginData,
    ],
]


def tag_listing(
    data_provider, ctx, experiment: str, step_cache: StepCache | None = None
) -> dict[str, dict[str, dict[str, Any]]]:
    """{run: {tag: {kind, class_names, version, num_steps, steps, max_step, ignore_class, decision}}}.

    Counting the steps reads each run/tag's tensors (the data provider API has no step listing).
    The run/tags to read are read together (`_read_many`: two calls through the Rust data server,
    each of whose calls costs a round trip); one that does not fit that way is read alone (one of
    which not even one step fits in a data-server reply is listed with `error`). With `step_cache`
    (a dict kept between calls), a run/tag whose `max_step` and `max_wall_time` are unchanged since
    the last call is not read again: a new or rewritten step changes one of them. Tags whose
    metadata or every step's tensor cannot be decoded (newer format, damaged log) are listed with
    `error` naming the problem; steps that cannot be decoded beside good ones are left out of
    `steps` and listed in `damaged_steps`, with a `warning`. Each problem is logged once as a
    warning. A run/tag too large for one data-server reply is listed with the steps of a sample,
    `sampled: true` and a `warning`.
    """
    result: dict[str, dict[str, dict[str, Any]]] = {}
    listing = list_series(data_provider, ctx, experiment)
    parsed: dict[tuple[str, str], metadata.PluginData | metadata.UnsupportedFormatError] = {}
    for run, tags in listing.items():
        for tag, time_series in tags.items():
            try:
                parsed[run, tag] = metadata.parse_plugin_metadata(time_series.plugin_content)
            except metadata.UnsupportedFormatError as error:
                parsed[run, tag] = error
    stale = [
        (run, tag) for (run, tag), plugin_data in parsed.items()
        if not isinstance(plugin_data, Exception)
        and not _is_cached(step_cache, (experiment, run, tag), listing[run][tag])
    ]
    read = _read_many(data_provider, ctx, experiment, stale)
    for run, tags in sorted(listing.items()):
        for tag, time_series in sorted(tags.items()):
            entry: dict[str, Any]
            plugin_data = parsed[run, tag]
            if isinstance(plugin_data, Exception):
                _warn_once(run, tag, str(plugin_data))
                entry = {"error": str(plugin_data)}
            else:
                try:
                    steps, complete, damaged = _steps(
                        data_provider, ctx, experiment, run, tag, time_series, plugin_data, step_cache, read)
                except TooLargeError as error:
                    result.setdefault(run, {})[tag] = {"error": str(error)}
                    continue
                for problem in damaged.values():
                    _warn_once(run, tag, problem)
                if damaged and not steps:
                    result.setdefault(run, {})[tag] = {"error": damaged[min(damaged)]}
                    continue
                entry = {
                    "kind": plugin_data.kind,
                    "class_names": list(plugin_data.class_names),
                    "version": plugin_data.version,
                    "num_steps": len(steps),
                    "steps": steps,
                    "max_step": time_series.max_step,
                    "ignore_class": plugin_data.ignore_class,
                    "decision": plugin_data.decision,
                }
                if plugin_data.slice is not None:
                    entry["slice"] = plugin_data.slice.to_json()
                    entry["min_slice_samples"] = slices.MIN_SLICE_SAMPLES
                warnings = []
                if damaged:
                    entry["damaged_steps"] = sorted(damaged)
                    warnings.append(_damaged_warning(damaged, len(steps) + len(damaged)))
                if not complete:
                    entry["sampled"] = True
                    warnings.append(_sampled_warning(len(steps)))
                if warnings:
                    entry["warning"] = " ".join(warnings)
            result.setdefault(run, {})[tag] = entry
    for entries in result.values():
        _list_slices(entries)
    return result


def _list_slices(entries: dict[str, dict[str, Any]]) -> None:
    """Adds to each parent tag of one run `slices` ({key: values}) and `min_slice_samples`; values
    sort numerically when all of a key's are integers, else as strings."""
    found: dict[str, dict[str, set[str]]] = {}
    for entry in entries.values():
        if "slice" in entry:
            info = entry["slice"]
            found.setdefault(info["parent"], {}).setdefault(info["key"], set()).add(info["value"])
    for parent, keys in found.items():
        if parent in entries and "error" not in entries[parent]:
            entries[parent]["slices"] = {key: sort_slice_values(values) for key, values in sorted(keys.items())}
            entries[parent]["min_slice_samples"] = slices.MIN_SLICE_SAMPLES


def sort_slice_values(values) -> list[str]:
    """Slice values in display order: numerically when all are integers' text, else as strings.

    >>> sort_slice_values(["10", "2", "-1"]), sort_slice_values(["b", "10", "a"])
    (['-1', '2', '10'], ['10', 'a', 'b'])
    """
    values = list(values)
    if all(_INTEGER_TEXT.fullmatch(value) for value in values):
        return sorted(values, key=int)
    return sorted(values)


_INTEGER_TEXT = re.compile(r"-?[0-9]+")


def _is_cached(step_cache: StepCache | None, key: tuple[str, str, str], time_series) -> bool:
    """True when `step_cache` holds the steps of `key` as they are now (same max step and wall time)."""
    cached = step_cache.get(key) if step_cache is not None else None
    return cached is not None and cached[0] == (time_series.max_step, time_series.max_wall_time)


def _steps(
    data_provider, ctx, experiment, run, tag, time_series, plugin_data, step_cache, read
) -> tuple[list[int], bool, dict[int, str]]:
    """(good steps, complete, {damaged step: its problem in words}); for a step written twice the
    datum the provider lists last counts, as in `read_series`. `read` holds the data of run/tags
    read together (`_read_many`); others are read here."""
    version = (time_series.max_step, time_series.max_wall_time)
    key = (experiment, run, tag)
    cached = step_cache.get(key) if step_cache is not None else None
    if cached is not None and cached[0] == version:
        return cached[1], cached[2], cached[3]
    data, complete = read[run, tag] if (run, tag) in read else _read_data(data_provider, ctx, experiment, run, tag)
    decoded = cached[4] if cached is not None else {}
    problems = {}
    for datum in {int(datum.step): datum for datum in data}.values():
        seen = (int(datum.step), datum.wall_time)
        problems[seen] = decoded[seen] if seen in decoded else _step_problem(datum, plugin_data)
    damaged = {step: problem for (step, _), problem in problems.items() if problem is not None}
    steps = sorted(step for step, _ in problems if step not in damaged)
    if step_cache is not None:
        step_cache[key] = (version, steps, complete, damaged, problems, plugin_data)
    return steps, complete, damaged


def _step_problem(datum, plugin_data: metadata.PluginData) -> str | None:
    """Why one stored step cannot be decoded according to the tag's metadata, or None if it can
    (`layout.check`: as `decode` but without building the counts; what it leaves to `decode` is
    found when the step is read)."""
    try:
        layout.check(datum.numpy, plugin_data)
    except metadata.UnsupportedFormatError as error:
        return f"step={int(datum.step)}: {error}"
    return None


def read_series(
    data_provider, ctx, experiment: str, run: str, tag: str, step: int | None = None,
    already_summarised: Container[tuple[int, float]] = (), step_cache: StepCache | None = None,
) -> TagSeries:
    """All stored steps of `run`/`tag` (or only `step`), each decoded once.

    Steps whose (step, wall time) are in `already_summarised` (decoded and summarised by an earlier
    request: a rewritten step has a new wall time) are not decoded again: their `counts` are None.

    With `step_cache` (`tag_listing`'s), the latest listed step is read in one provider call: the
    tag's metadata and max step come from the listing, and the provider's last datum is the answer
    when it is that step (a newer step or a restart makes it another: then read as without it).

    When a step was written twice (a restarted run), the datum the provider lists last wins. Steps
    whose tensors cannot be decoded are left out of a whole-run read and named in
    `damaged_steps`.

    Raises:
      NotFoundError: unknown run, tag or step (the message lists what exists).
      UnreadableError: metadata this plugin version cannot decode, the requested step's tensor, or
        every step's.
      TooLargeError: the whole run/tag exceeds one data-server reply and `step` is not in the
        sample that fits.
    """
    def latest_step(plugin_data: metadata.PluginData) -> TagSeries | None:
        """`step` from the provider's last datum alone, or None when that datum is another step."""
        last = _last_datum(data_provider, ctx, experiment, run, tag)
        if last is not None and int(last.step) == step:
            return _stack(run, tag, plugin_data, [last], True, already_summarised)
        return None

    listed = step_cache.get((experiment, run, tag)) if step_cache is not None and step is not None else None
    read_last = listed is not None and listed[0][0] == step
    if read_last and (series := latest_step(listed[5])) is not None:
        return series
    time_series = _time_series(data_provider, ctx, experiment, run, tag)
    try:
        plugin_data = metadata.parse_plugin_metadata(time_series.plugin_content)
    except metadata.UnsupportedFormatError as error:
        raise _unreadable(run, tag, str(error)) from error
    if step is not None and step == time_series.max_step and not read_last \
            and (series := latest_step(plugin_data)) is not None:
        return series
    data, complete = _read_data(data_provider, ctx, experiment, run, tag)
    by_step = {int(datum.step): datum for datum in data}
    if step is None:
        if not complete:
            raise TooLargeError(
                f"run={run!r} tag={tag!r} is larger than the {_mib(DATA_SERVER_REPLY_LIMIT_BYTES)} the "
                "TensorBoard data server can send in one reply; request one step with step=S, or start "
                "TensorBoard with --load_fast=false."
            )
        chosen = [by_step[s] for s in sorted(by_step)]
    elif step in by_step:
        chosen = [by_step[step]]
    elif not complete:
        raise TooLargeError(
            f"step={step} of run={run!r} tag={tag!r} is not among the {len(by_step)} steps the TensorBoard "
            f"data server can send in one {_mib(DATA_SERVER_REPLY_LIMIT_BYTES)} reply (it always includes "
            f"the last, {max(by_step)}); start TensorBoard with --load_fast=false to read every step."
        )
    else:
        raise NotFoundError(f"step={step} is not a stored step of run={run!r} tag={tag!r}; {_describe_steps(by_step)}.")
    return _stack(run, tag, plugin_data, chosen, complete, already_summarised)


def _last_datum(data_provider, ctx, experiment: str, run: str, tag: str) -> provider.TensorDatum | None:
    """The datum the provider lists last for `run`/`tag` (the last step written), or None when it has
    none or that one step does not fit in a reply.

    One call asking for a sample of one: both loaders' samples always hold the last datum. The tab
    first asks for the latest step (`max_step`), and reading the whole run/tag for it costs the data
    server a further call (a round trip, about 40 ms when calls follow each other) and every step's
    bytes. The last datum is usually that step; after a restart that rewrote earlier steps it is
    not, and the caller reads them all.
    """
    try:
        data = _read(data_provider, ctx, experiment, run, tag, 1)
    except Exception as error:  # noqa: BLE001 - only a too-large reply is handled, the rest re-raised
        if not _is_reply_too_large(error):
            raise
        return None  # `_read_data` says why in words
    return data[-1] if data else None


def _time_series(data_provider, ctx, experiment: str, run: str, tag: str) -> provider.TensorTimeSeries:
    """The provider's `TensorTimeSeries` of `run`/`tag` (metadata, max step; no tensors read)."""
    listing = list_series(data_provider, ctx, experiment)
    if run not in listing:
        raise NotFoundError(f"run={run!r} has no tb_metrics data; runs with data: {sorted(listing)}.")
    if tag not in listing[run]:
        raise NotFoundError(f"tag={tag!r} is not a tb_metrics tag of run={run!r}; its tags: {sorted(listing[run])}.")
    return listing[run][tag]


def _unreadable(run: str, tag: str, problem: str) -> UnreadableError:
    """The 422 error for `problem`, logged as a warning the first time only (not once per request)."""
    _warn_once(run, tag, problem)
    return UnreadableError(f"run={run!r} tag={tag!r}: {problem}")


def _read_data(data_provider, ctx, experiment: str, run: str, tag: str) -> tuple[list, bool]:
    """The provider's data points of one run/tag, and whether they are all of them.

    A run/tag larger than one reply of the Rust data server is read as the largest sample that
    fits (the data server's sample always holds the last step). Through the data server the last
    step is read first, and the run/tag is never asked for whole when that many steps cannot fit:
    the data server builds the whole reply before it is refused (seconds and gigabytes of its
    memory), and above 2 GiB it cancels the stream instead of reporting RESOURCE_EXHAUSTED.
    """
    if not _is_data_server(data_provider):
        try:
            return _read(data_provider, ctx, experiment, run, tag, ALL_STEPS), True
        except Exception as error:  # noqa: BLE001 - only a too-large reply is handled, the rest re-raised
            if not _is_reply_too_large(error):
                raise
    try:
        last = _read(data_provider, ctx, experiment, run, tag, 1)
    except Exception as error:  # noqa: BLE001 - only a too-large reply is handled, the rest re-raised
        if not _is_reply_too_large(error):
            raise
        raise TooLargeError(
            f"one step of run={run!r} tag={tag!r} is larger than the {_mib(DATA_SERVER_REPLY_LIMIT_BYTES)} the "
            "TensorBoard data server can send in one reply; start TensorBoard with --load_fast=false."
        ) from None
    bytes_per_step = max(1, max(_stored_bytes(datum.numpy) for datum in last)) if last else 1
    fitting = max(1, int(_FALLBACK_SHARE * DATA_SERVER_REPLY_LIMIT_BYTES // bytes_per_step))
    try:  # one step more than fits in the share: fewer back means these are all the steps
        data = _read(data_provider, ctx, experiment, run, tag, fitting + 1)
        if len(data) <= fitting:
            return data, True
        fitting += 1
    except Exception as error:  # noqa: BLE001 - only a too-large reply is handled, the rest re-raised
        if not _is_reply_too_large(error):
            raise
        data = None
    logger.warning(
        "tb_metrics: run %r tag %r exceeds one data-server reply (%s); reading a sample of %d steps",
        run, tag, _mib(DATA_SERVER_REPLY_LIMIT_BYTES), fitting,
    )
    if data is not None:
        return data, False
    try:
        return _read(data_provider, ctx, experiment, run, tag, fitting), False
    except Exception as error:  # noqa: BLE001 - steps of uneven size: the sample did not fit either
        if not _is_reply_too_large(error):
            raise
        raise TooLargeError(
            f"run={run!r} tag={tag!r}: not even a sample of {fitting} steps fits in one "
            f"{_mib(DATA_SERVER_REPLY_LIMIT_BYTES)} reply of the TensorBoard data server; start TensorBoard "
            "with --load_fast=false."
        ) from None


def _read_many(
    data_provider, ctx, experiment: str, pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[list, bool]]:
    """{(run, tag): (data, complete)} of the run/tags `pairs`, read together in as few provider calls as
    fit in one reply; pairs it cannot answer that way are left out (`_read_data` reads them alone).

    Each call of the Rust data server costs a round trip (about 40 ms measured on one machine, against
    about 1 ms for the 20 tensors of 10 runs × 2 tags), so listing a logdir one run/tag at a time costs
    a round trip per run/tag, twice. Together: through the data server the last step of every pair
    first (its bytes bound a step of all of them), then as many steps of all of them as fit under
    the reply cap, plus one: a pair with fewer back is complete. A pair with more, or any failure to
    fit, is left to `_read_data`. The Python loader has no cap: one call reads every step.
    """
    if not pairs:
        return {}
    runs, tags = sorted({run for run, _ in pairs}), sorted({tag for _, tag in pairs})
    wanted = set(pairs)
    if not _is_data_server(data_provider):
        try:
            data = _read_all(data_provider, ctx, experiment, runs, tags, ALL_STEPS)
        except Exception as error:  # noqa: BLE001 - only a too-large reply is handled, the rest re-raised
            if not _is_reply_too_large(error):
                raise
            return {}
        return {pair: (data.get(pair, []), True) for pair in wanted}
    try:
        # Every pair of runs × tags that exists comes back, asked for or not: all count towards the reply.
        last = _read_all(data_provider, ctx, experiment, runs, tags, 1)
        bytes_per_step = max(1, sum(_stored_bytes(datum.numpy) for data in last.values() for datum in data))
        fitting = int(_FALLBACK_SHARE * DATA_SERVER_REPLY_LIMIT_BYTES // bytes_per_step)
        if fitting < 1:
            return {}
        data = _read_all(data_provider, ctx, experiment, runs, tags, fitting + 1)
    except Exception as error:  # noqa: BLE001 - only a too-large reply is handled, the rest re-raised
        if not _is_reply_too_large(error):
            raise
        return {}
    return {pair: (data.get(pair, []), True) for pair in wanted if len(data.get(pair, [])) <= fitting}


def _read_all(
    data_provider, ctx, experiment: str, runs: list[str], tags: list[str], downsample: int
) -> dict[tuple[str, str], list]:
    """{(run, tag): data} of every run/tag of `runs` × `tags` the provider holds, in one call."""
    data = data_provider.read_tensors(
        ctx,
        experiment_id=experiment,
        plugin_name=metadata.PLUGIN_NAME,
        downsample=downsample,
        run_tag_filter=provider.RunTagFilter(runs=runs, tags=tags),
    )
    return {(run, tag): list(series) for run, by_tag in data.items() for tag, series in by_tag.items()}


def _read(data_provider, ctx, experiment: str, run: str, tag: str, downsample: int) -> list:
    """The data of one run/tag (a sample of at most `downsample`), in one call."""
    return _read_all(data_provider, ctx, experiment, [run], [tag], downsample).get((run, tag), [])


def _stored_bytes(tensor: np.ndarray) -> int:
    """Bytes of one step's tensor: its numbers, or (format version 2) the length of its blob."""
    if tensor.dtype.kind == "O":
        return sum(len(item) for item in tensor.reshape(-1))
    return tensor.nbytes


def _is_data_server(data_provider) -> bool:
    """True for TensorBoard's gRPC client of the Rust data server (its replies are capped).

    Looked up in `sys.modules`, not imported: a provider of that class means its module is loaded,
    and importing it (gRPC, TensorBoard's tensor helpers) would add a second to the command line.
    """
    grpc_provider = sys.modules.get("tensorboard.data.grpc_provider")
    return grpc_provider is not None and isinstance(data_provider, grpc_provider.GrpcDataProvider)


def _is_reply_too_large(error: Exception) -> bool:
    try:
        import grpc
    except ImportError:  # no gRPC, so no data server
        return False
    if not isinstance(error, grpc.RpcError):
        return False
    # Above 2 GiB the data server resets the stream (RST_STREAM, CANCEL) rather than send it.
    cancelled = error.code() == grpc.StatusCode.CANCELLED and "RST_STREAM" in (error.details() or "")
    return error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED or cancelled


def _stack(
    run: str, tag: str, plugin_data: metadata.PluginData, data: list, complete: bool,
    already_summarised: Container[tuple[int, float]] = (),
) -> TagSeries:
    """The decodable steps of `data`, each decoded once; raises UnreadableError when none is."""
    decoded, damaged = [], {}
    for datum in data:
        if (int(datum.step), datum.wall_time) in already_summarised:
            decoded.append((datum, None))
            continue
        try:
            decoded.append((datum, layout.decode(datum.numpy, plugin_data)))
        except metadata.UnsupportedFormatError as error:
            damaged[int(datum.step)] = f"step={int(datum.step)}: {error}"
    for problem in damaged.values():
        _warn_once(run, tag, problem)
    if damaged and not decoded:
        raise _unreadable(run, tag, damaged[min(damaged)])
    return TagSeries(
        run=run,
        tag=tag,
        plugin_data=plugin_data,
        steps=np.array([datum.step for datum, _ in decoded], dtype=np.int64),
        wall_times=np.array([datum.wall_time for datum, _ in decoded], dtype=np.float64),
        counts=tuple(counts for _, counts in decoded),
        complete=complete,
        damaged_steps=tuple(sorted(damaged)),
    )


def _describe_steps(by_step: dict[int, Any]) -> str:
    if not by_step:
        return "it has no steps yet"
    steps = sorted(by_step)
    shown = ", ".join(map(str, steps[:10])) + (", ..." if len(steps) > 10 else "")
    return f"its {len(steps)} steps: {shown} (last {steps[-1]})"


def _damaged_warning(damaged: dict[int, str], num_steps: int) -> str:
    first = min(damaged)
    more = f" (and {len(damaged) - 1} more steps)" if len(damaged) > 1 else ""
    return (
        f"{len(damaged)} of {num_steps} steps cannot be decoded and are left out: {damaged[first]}{more}; "
        "the log is damaged there."
    )


def _sampled_warning(num_steps: int) -> str:
    return (
        f"only a sample of {num_steps} steps fits in one {_mib(DATA_SERVER_REPLY_LIMIT_BYTES)} reply of the "
        "TensorBoard data server; start TensorBoard with --load_fast=false to see every step."
    )


def _mib(num_bytes: int) -> str:
    return f"{num_bytes / 2**20:.0f} MiB"


_warned: set[tuple[str, str, str]] = set()


def _warn_once(run: str, tag: str, problem: str) -> None:
    if (run, tag, problem) not in _warned:
        _warned.add((run, tag, problem))
        logger.warning("tb_metrics: cannot read run %r tag %r: %s", run, tag, problem)
