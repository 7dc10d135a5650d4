"""The TensorBoard plugin: registration (`MetricsLoader`) and the HTTP routes (`MetricsPlugin`).

Every route is a thin `*_route(request)` that parses parameters and calls a pure `*_impl(ctx,
experiment, ...)` returning plain data, as TensorBoard's own plugins do. All data comes through
`context.data_provider`, so both loaders (Rust data server and Python), remote logdirs and
`--path_prefix` work.
"""

from __future__ import annotations

import logging
from typing import Any

from tensorboard import plugin_util
from tensorboard.backend import http_util
from tensorboard.data import provider
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

from tb_metrics_plugin import metadata

logger = logging.getLogger(__name__)

# Read one run/tag per data-provider call (the Rust server caps a reply at 256 MiB); this many
# steps at most per call, far above any real number of epochs.
_MAX_STEPS_PER_READ = 1_000_000


class MetricsPlugin(base_plugin.TBPlugin):
    """Serves the threshold-curve and confusion-matrix summaries written by this package."""

    plugin_name = metadata.PLUGIN_NAME

    def __init__(self, context: base_plugin.TBContext):
        self._data_provider = context.data_provider
        self._warned: set[tuple[str, str, str]] = set()

    def get_plugin_apps(self):
        return {"/tags": self.tags_route}

    def is_active(self) -> bool:
        return False  # the tab is shown when `data_plugin_names` have data

    def data_plugin_names(self):
        return (metadata.PLUGIN_NAME,)

    def frontend_metadata(self):
        return base_plugin.FrontendMetadata(tab_name="Threshold metrics")

    @wrappers.Request.application
    def tags_route(self, request: wrappers.Request) -> wrappers.Response:
        ctx = plugin_util.context(request.environ)
        experiment = plugin_util.experiment_id(request.environ)
        return http_util.Respond(request, self.tags_impl(ctx, experiment), "application/json")

    def tags_impl(self, ctx, experiment: str) -> dict[str, dict[str, dict[str, Any]]]:
        """Lists runs → tags → {kind, class_names, num_steps, steps, version}.

        Tags whose metadata this plugin cannot read (newer format, damaged) are listed with an
        `error` instead, and logged once.
        """
        mapping = self._data_provider.list_tensors(
            ctx, experiment_id=experiment, plugin_name=metadata.PLUGIN_NAME
        )
        result: dict[str, dict[str, dict[str, Any]]] = {}
        for run, tags in sorted(mapping.items()):
            for tag, time_series in sorted(tags.items()):
                entry: dict[str, Any]
                try:
                    plugin_data = metadata.parse_plugin_metadata(time_series.plugin_content)
                except metadata.UnsupportedFormatError as error:
                    self._warn_once(run, tag, str(error))
                    entry = {"error": str(error)}
                else:
                    steps = self._steps(ctx, experiment, run, tag)
                    entry = {
                        "kind": plugin_data.kind,
                        "class_names": list(plugin_data.class_names),
                        "version": plugin_data.version,
                        "num_steps": len(steps),
                        "steps": steps,
                        "max_step": time_series.max_step,
                    }
                result.setdefault(run, {})[tag] = entry
        return result

    def _steps(self, ctx, experiment: str, run: str, tag: str) -> list[int]:
        data = self._data_provider.read_tensors(
            ctx,
            experiment_id=experiment,
            plugin_name=metadata.PLUGIN_NAME,
            downsample=_MAX_STEPS_PER_READ,
            run_tag_filter=provider.RunTagFilter(runs=[run], tags=[tag]),
        )
        return sorted({datum.step for datum in data.get(run, {}).get(tag, [])})

    def _warn_once(self, run: str, tag: str, problem: str) -> None:
        if (run, tag, problem) not in self._warned:
            self._warned.add((run, tag, problem))
            logger.warning("tb_metrics: cannot read run %r tag %r: %s", run, tag, problem)


class MetricsLoader(base_plugin.TBLoader):
    """Registers the plugin and makes TensorBoard keep every step of our tags.

    TensorBoard keeps a random sample of each tensor tag (100 steps with the Rust data server, 10
    with the Python loader); curves over epochs need all of them. `--samples_per_plugin
    tb_metrics=N` given by the user still wins.
    """

    def fix_flags(self, flags) -> None:
        samples = getattr(flags, "samples_per_plugin", None)
        if samples is None:
            flags.samples_per_plugin = samples = {}
        if isinstance(samples, dict):
            samples.setdefault(metadata.PLUGIN_NAME, 0)

    def load(self, context: base_plugin.TBContext) -> MetricsPlugin:
        return MetricsPlugin(context)
