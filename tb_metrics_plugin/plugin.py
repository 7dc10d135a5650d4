"""The TensorBoard plugin: registration (`MetricsLoader`) and the HTTP routes (`MetricsPlugin`).

Every route is a thin `*_route(request)` that parses and validates its parameters and calls a pure
`*_impl(ctx, experiment, ...)` returning plain data, as TensorBoard's own plugins do. All data comes
through `context.data_provider`, one run/tag per call, so both loaders (Rust data server and
Python), remote logdirs and `--path_prefix` work. Routes and their parameters: docs/routes.md.
"""

from __future__ import annotations

import collections
import json
import logging
import math
import os
import re
import threading
from typing import Any

from tensorboard import errors as tb_errors
from tensorboard import plugin_util
from tensorboard.backend import http_util
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

from tb_metrics_plugin import core, metadata, reading, tables, wire

logger = logging.getLogger(__name__)

# The frontend bundle (frontend/build.mjs writes it): the plugin's only file.
INDEX_JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static", "index.js")
_JSON = "application/json"
# Experiments whose caches are kept. The experiment id comes from the URL or a request header, so
# any client can make up new ones: an unbounded cache per id would let it grow memory without end.
MAX_CACHED_EXPERIMENTS = 8
_SAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
# Run and tag names are unbounded; file systems allow 255 bytes per file name.
_MAX_FILENAME_PART = 60


class BadParameterError(reading.ReadError):
    """A query parameter is missing, repeated, unknown or has a value the route cannot use."""

    status = 400


class MetricsPlugin(base_plugin.TBPlugin):
    """Serves the threshold-curve and confusion-matrix summaries written by this package."""

    plugin_name = metadata.PLUGIN_NAME

    def __init__(self, context: base_plugin.TBContext):
        self._data_provider = context.data_provider
        # Per experiment: steps of each run/tag (re-read only when its max_step or max_wall_time
        # moves) and per-step summaries.
        self._caches = _ExperimentCaches(MAX_CACHED_EXPERIMENTS)

    def get_plugin_apps(self):
        return {
            "/tags": self.tags_route,
            "/counts": self.counts_route,
            "/summary": self.summary_route,
            "/export": self.export_route,
            "/index.js": self.index_js_route,
        }

    def is_active(self) -> bool:
        return False  # the tab is shown when `data_plugin_names` have data

    def data_plugin_names(self):
        return (metadata.PLUGIN_NAME,)

    def frontend_metadata(self):
        return base_plugin.FrontendMetadata(es_module_path="/index.js", tab_name="Threshold metrics")

    # Routes: parse and validate, then call the `_impl`.

    @wrappers.Request.application
    def tags_route(self, request: wrappers.Request) -> wrappers.Response:
        return _respond(request, lambda: _json_response(request, self.tags_impl(*_where(request))), set())

    @wrappers.Request.application
    def counts_route(self, request: wrappers.Request) -> wrappers.Response:
        def answer():
            run, tag = _required(request, "run"), _required(request, "tag")
            step = _step(request)
            return _json_response(request, self.counts_impl(*_where(request), run, tag, step))

        return _respond(request, answer, {"run", "tag", "step"})

    @wrappers.Request.application
    def summary_route(self, request: wrappers.Request) -> wrappers.Response:
        def answer():
            run, tag = _required(request, "run"), _required(request, "tag")
            return _json_response(request, self.summary_impl(*_where(request), run, tag))

        return _respond(request, answer, {"run", "tag"})

    @wrappers.Request.application
    def export_route(self, request: wrappers.Request) -> wrappers.Response:
        def answer():
            run, tag = _required(request, "run"), _required(request, "tag")
            step, threshold = _step(request), _threshold(request)
            export_format = _required(request, "format")
            if export_format not in tables.EXPORT_FORMATS:
                raise BadParameterError(f"format={export_format!r} is not one of {list(tables.EXPORT_FORMATS)}.")
            content = _single(request, "content")
            content = "metrics" if content is None else content  # `content=` (empty) is refused below
            if content not in tables.EXPORT_CONTENTS:
                raise BadParameterError(f"content={content!r} is not one of {list(tables.EXPORT_CONTENTS)}.")
            if content == "counts" and threshold is not None:
                raise BadParameterError("threshold applies to content=metrics; content=counts has every threshold.")
            max_fpr = _max_fpr(request)
            if content == "counts" and max_fpr is not None:
                raise BadParameterError("max_fpr applies to content=metrics; content=counts has no areas.")
            k = _top_k(request)
            if content == "counts" and k is not None:
                raise BadParameterError("k applies to content=metrics; content=counts has no top-k fields.")
            body, filename = self.export_impl(
                *_where(request), run, tag, step, threshold, export_format, content, max_fpr=max_fpr, k=k)
            content_type = "text/csv" if export_format == "csv" else _JSON
            disposition = [("Content-Disposition", f'attachment; filename="{filename}"')]
            return http_util.Respond(request, body, content_type, headers=disposition)

        return _respond(request, answer, {"run", "tag", "step", "threshold", "format", "content", "max_fpr", "k"})

    @wrappers.Request.application
    def index_js_route(self, request: wrappers.Request) -> wrappers.Response:
        return _respond(request, lambda: _index_js(request), set())

    # Implementations: plain data in, JSON-safe plain data out (`core.json_safe`: no numpy, NaN as None).

    def tags_impl(self, ctx, experiment: str) -> dict[str, dict[str, dict[str, Any]]]:
        """{run: {tag: {kind, class_names, version, num_steps, steps, max_step, ignore_class,
        decision}}}; a tag this plugin cannot read has `{error}` instead (see `reading.tag_listing`)."""
        return core.json_safe(reading.tag_listing(self._data_provider, ctx, experiment, self._caches.steps(experiment)))

    def counts_impl(self, ctx, experiment: str, run: str, tag: str, step: int | None = None) -> dict[str, Any]:
        """The raw counts of one run/tag, all steps or only `step`, with typed arrays (see `wire`).

        threshold_curves: `thresholds` float32, (S, T) when every class of every step shares one grid,
        else (S, C, T) per class padded with +inf; `positive` and `negative` (S, C, T + 1); `exact`
        uint8 (S, C), 1 where a class's thresholds are its distinct scores (see `reading.TagSeries`);
        confusion_matrix: `matrix` (S, C, C); when some step holds the rank counts of top-k
        metrics, also `ranked` uint8 (S,), `true_ranks` (S, C, K + 1) and `class_ranks` (S, C, K),
        zeros on steps without them (`layout.ConfusionMatrixCounts`). S is 1 when `step` is given.
        `damaged_steps` lists the steps left out because their tensors cannot be decoded.
        """
        series = reading.read_series(
            self._data_provider, ctx, experiment, run, tag, step, step_cache=self._caches.steps(experiment))
        answer = _header(series)
        if series.kind == metadata.KIND_THRESHOLD_CURVES:
            answer["thresholds"] = wire.encode_array(series.thresholds, "float32")
            answer["positive"] = wire.encode_array(series.positive_histograms)
            answer["negative"] = wire.encode_array(series.negative_histograms)
            answer["exact"] = wire.encode_array(series.exact, "uint8")
        else:
            answer["matrix"] = wire.encode_array(series.matrices)
            if series.true_ranks is not None:
                answer["ranked"] = wire.encode_array(series.ranked, "uint8")
                answer["true_ranks"] = wire.encode_array(series.true_ranks)
                answer["class_ranks"] = wire.encode_array(series.class_ranks)
        return core.json_safe(answer)

    def summary_impl(self, ctx, experiment: str, run: str, tag: str) -> dict[str, Any]:
        """Per-step metrics of one run/tag for "over epochs" charts, from the numeric core.

        {run, tag, kind, class_names, slice, steps, wall_times, damaged_steps, series: {metric: {per_class,
        macro, micro, weighted} or {value}}}; see `tables.summary_series`. Undefined values are None.
        """
        summaries = self._caches.summaries(experiment)
        # Steps summarised by an earlier request (same step and wall time) are not decoded again.
        summarised = {(step, wall) for (run_, tag_, step, wall) in list(summaries) if (run_, tag_) == (run, tag)}
        series = reading.read_series(self._data_provider, ctx, experiment, run, tag, already_summarised=summarised)
        header = _header(series)
        keys = ("run", "tag", "kind", "class_names", "slice", "steps", "wall_times", "damaged_steps")
        answer = {key: header[key] for key in keys}
        answer["series"] = tables.summary_series(series, summaries)
        return core.json_safe(answer)

    def export_impl(
        self,
        ctx,
        experiment: str,
        run: str,
        tag: str,
        step: int | None,
        threshold: float | None,
        export_format: str,
        content: str = "metrics",
        max_fpr: float | None = None,
        k: int | None = None,
    ) -> tuple[str, str]:
        """(file content, file name) of the records of one run/tag, all steps or only `step`.

        content="metrics": the per-step, per-class metric records of the CLI's `export`
        (`tables.records`), with `threshold` also the counts and rates at that threshold, with
        `max_fpr` also the partial ROC-AUC up to it; on a confusion-matrix tag `k` is the k of the
        top-k fields (default min(5, K));
        content="counts": the raw counts (`tables.count_records`).
        """
        series = reading.read_series(self._data_provider, ctx, experiment, run, tag, step)
        if threshold is not None and series.kind != metadata.KIND_THRESHOLD_CURVES:
            raise BadParameterError(
                f"threshold={threshold!r} applies to threshold_curves tags; tag={tag!r} is a {series.kind} "
                f"(decided by {series.plugin_data.decision!r}); leave threshold out."
            )
        if max_fpr is not None and series.kind != metadata.KIND_THRESHOLD_CURVES:
            raise BadParameterError(
                f"max_fpr={max_fpr!r} applies to threshold_curves tags; tag={tag!r} is a {series.kind}; "
                "leave max_fpr out."
            )
        if k is not None and series.kind != metadata.KIND_CONFUSION_MATRIX:
            raise BadParameterError(
                f"k={k!r} applies to confusion_matrix tags; tag={tag!r} is a {series.kind}; leave k out.")
        if content == "counts":
            records = tables.count_records(series)
        else:
            try:
                records = tables.records(series, threshold, self._caches.summaries(experiment), max_fpr=max_fpr, k=k)
            except ValueError as error:  # a k this log's rank counts do not reach
                raise BadParameterError(str(error)) from None
        body = tables.to_csv(records) if export_format == "csv" else tables.to_json(records)
        parts = ["tb_metrics", run, tag] + ([f"step{step}"] if step is not None else [])
        parts += ["counts"] if content == "counts" else []
        parts = [_SAFE_FILENAME.sub("_", part)[:_MAX_FILENAME_PART].strip("_") for part in parts]
        filename = "_".join(part for part in parts if part) + "." + export_format
        return body, filename


class _ExperimentCaches:
    """The step and summary caches of the `limit` most recently used experiments."""

    def __init__(self, limit: int):
        self._limit = limit
        self._by_experiment: collections.OrderedDict[str, tuple[reading.StepCache, tables.SummaryCache]] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()  # routes run on the server's request threads

    def steps(self, experiment: str) -> reading.StepCache:
        return self._get(experiment)[0]

    def summaries(self, experiment: str) -> tables.SummaryCache:
        return self._get(experiment)[1]

    def __len__(self) -> int:
        return len(self._by_experiment)

    def _get(self, experiment: str) -> tuple[reading.StepCache, tables.SummaryCache]:
        with self._lock:
            caches = self._by_experiment.pop(experiment, None) or ({}, {})
            self._by_experiment[experiment] = caches
            while len(self._by_experiment) > self._limit:
                self._by_experiment.popitem(last=False)
            return caches


def _where(request: wrappers.Request) -> tuple[Any, str]:
    return plugin_util.context(request.environ), plugin_util.experiment_id(request.environ)


def _header(series: reading.TagSeries) -> dict[str, Any]:
    return {
        "run": series.run,
        "tag": series.tag,
        "kind": series.kind,
        "class_names": list(series.class_names),
        "ignore_class": series.plugin_data.ignore_class,
        "decision": series.plugin_data.decision,
        "version": series.plugin_data.version,
        "slice": None if series.plugin_data.slice is None else series.plugin_data.slice.to_json(),
        "steps": series.steps.tolist(),
        "wall_times": series.wall_times.tolist(),
        "damaged_steps": list(series.damaged_steps),
    }


def _respond(request: wrappers.Request, answer, allowed: set[str]) -> wrappers.Response:
    """Runs `answer()`; turns every refusal into a 4xx JSON `{"error": ...}`, never a traceback."""
    try:
        unknown = sorted(set(_arguments(request)) - allowed)
        if unknown:
            raise BadParameterError(
                f"unknown parameter {unknown[0]!r}; this route takes "
                + (", ".join(sorted(allowed)) if allowed else "no parameters")
                + "."
            )
        return answer()
    except reading.ReadError as error:
        return _error(request, str(error), error.status)
    except tb_errors.PublicError as error:  # raised by the data provider, e.g. an unknown experiment
        return _error(request, str(error), error.http_code)
    except Exception:  # noqa: BLE001 - a bug must not leak a traceback to the browser
        # Not `request.full_path`: it decodes the query strictly, and this handler must not fail.
        logger.exception("tb_metrics: %s?%s failed", request.path, request.query_string.decode("utf-8", "replace"))
        return _error(request, "internal error in the tb_metrics plugin; the TensorBoard log has details.", 500)


def _error(request: wrappers.Request, message: str, status: int) -> wrappers.Response:
    return http_util.Respond(request, json.dumps({"error": message}), _JSON, code=status)


def _json_response(request: wrappers.Request, answer: Any) -> wrappers.Response:
    """An `_impl`'s answer (plain data, made JSON-safe there by `core.json_safe`) as compact JSON.

    Serialised here rather than by `Respond` (which walks the answer with `json_util.Cleanse`), so
    base64 arrays are copied without an escaping scan (`wire.dumps`).
    """
    return http_util.Respond(request, wire.dumps(answer), _JSON)


def _arguments(request: wrappers.Request):
    """The query's parameters; a query string that is not UTF-8 is the client's error, not ours.

    werkzeug decodes percent-escapes that are not UTF-8 leniently, but raw bytes sent on the request
    line (not percent-encoded) make `request.args` raise `UnicodeDecodeError`.
    """
    try:
        return request.args
    except UnicodeDecodeError:
        raise BadParameterError(
            f"the query string {request.query_string[:200]!r} is not valid UTF-8; percent-encode its "
            "parameters (as a browser's URLSearchParams or encodeURIComponent does)."
        ) from None


def _single(request: wrappers.Request, name: str) -> str | None:
    values = _arguments(request).getlist(name)
    if len(values) > 1:
        raise BadParameterError(f"parameter {name!r} was given {len(values)} times ({values!r}); give it once.")
    return values[0] if values else None


def _required(request: wrappers.Request, name: str) -> str:
    value = _single(request, name)
    if value is None or value == "":
        raise BadParameterError(f"parameter {name!r} is missing; add {name}=... to the query.")
    return value


def _step(request: wrappers.Request) -> int | None:
    text = _single(request, "step")
    if text is None:
        return None
    if not re.fullmatch(r"[0-9]{1,18}", text):
        raise BadParameterError(f"step={text!r} is not a non-negative integer; use a step listed by the tags route.")
    return int(text)


def _threshold(request: wrappers.Request) -> float | None:
    text = _single(request, "threshold")
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise BadParameterError(f"threshold={text!r} is not a number; give a value in [0, 1].") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise BadParameterError(f"threshold={text!r} is outside [0, 1]; give a value in [0, 1].")
    return value


def _max_fpr(request: wrappers.Request) -> float | None:
    text = _single(request, "max_fpr")
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise BadParameterError(f"max_fpr={text!r} is not a number; give a false positive rate in (0, 1].") from None
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise BadParameterError(f"max_fpr={text!r} is outside (0, 1]; give a false positive rate in (0, 1].")
    return value


def _top_k(request: wrappers.Request) -> int | None:
    text = _single(request, "k")
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise BadParameterError(f"k={text!r} is not a positive integer; give the k of top-k accuracy, e.g. 5.")
    return int(text)


def _index_js(request: wrappers.Request) -> wrappers.Response:
    """The frontend bundle, the plugin's only file, as `text/javascript` (TensorBoard's pages send
    `nosniff`, so a browser runs a module only with a JavaScript type)."""
    with open(INDEX_JS, "rb") as file:
        return http_util.Respond(request, file.read(), "text/javascript")


class MetricsLoader(base_plugin.TBLoader):
    """Registers the plugin, makes TensorBoard keep every step of our tags and follow every event
    file of a run.

    - TensorBoard keeps a random sample of each tensor tag (100 steps with the Rust data server, 10
      with the Python loader); curves over epochs need all of them. `--samples_per_plugin
      tb_metrics=N` given by the user still wins.
    - Our writer and Keras' TensorBoard callback each append to their own event file in the same
      run folder. The Python loader (`--load_fast=false`) by default follows only the file whose
      name sorts last: when Keras' file sorts after ours (both created in the same second), our
      epochs after the first would not appear until TensorBoard restarts. So `--reload_multifile`
      is turned on unless the user set it (TensorBoard's default, None, reads as false). The Rust
      data server always follows every file.
    """

    def fix_flags(self, flags) -> None:
        samples = getattr(flags, "samples_per_plugin", None)
        if samples is None:
            flags.samples_per_plugin = samples = {}
        if isinstance(samples, dict):
            samples.setdefault(metadata.PLUGIN_NAME, 0)
        if hasattr(flags, "reload_multifile") and flags.reload_multifile is None:
            flags.reload_multifile = True

    def load(self, context: base_plugin.TBContext) -> MetricsPlugin:
        return MetricsPlugin(context)

