"""Plugin name, summary kinds and the versioned metadata that tells a reader how to decode a tensor.

The metadata content is UTF-8 JSON rather than a compiled protobuf: it is a handful of fields
(kind, class names, decision rule), it keeps the package free of generated code whose protobuf
runtime must match TensorFlow's pin, and every reader (Python backend, CLI, browser) can parse it.
The tensor layouts the `version` refers to are described in `layout.py` and `docs/format.md`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tensorboard.compat.proto import summary_pb2

PLUGIN_NAME = "tb_metrics"

# Version of the metadata content and tensor layout written by this package. Readers accept every
# version up to this one and refuse newer ones (a log written by a newer plugin). Version 1: dense
# float tensors; version 2: one compact blob per step, exact distinct scores for small classes (see
# layout.py); version 3: as 2, plus the confusion-matrix blob's optional rank arrays (top-k) and the
# metadata's optional `slice` field, which a version-2 reader would take for damage or for plain tags.
FORMAT_VERSION = 3

KIND_THRESHOLD_CURVES = "threshold_curves"
KIND_CONFUSION_MATRIX = "confusion_matrix"
KINDS = (KIND_THRESHOLD_CURVES, KIND_CONFUSION_MATRIX)

# What "predicted positive at threshold t" means in every threshold-curve summary: Keras' rule.
POSITIVE_RULE = "score > threshold"


class UnsupportedFormatError(ValueError):
    """Raised for metadata this version of the plugin cannot read (newer or damaged)."""


@dataclass(frozen=True)
class SliceInfo:
    """Which slice a summary holds: the samples of summary `parent` whose `key` is `value`.

    Its tag is ``f"{parent}/{key}={value}"``; `value` is text (an integer value as its decimal text).
    """

    parent: str
    key: str
    value: str

    def to_json(self) -> dict[str, str]:
        return {"parent": self.parent, "key": self.key, "value": self.value}

    @property
    def name(self) -> str:
        """``"key=value"``, how exports and the CLI name the slice."""
        return f"{self.key}={self.value}"


@dataclass(frozen=True)
class PluginData:
    """The decoded metadata of one summary tag.

    Attributes:
      kind: `KIND_THRESHOLD_CURVES` or `KIND_CONFUSION_MATRIX`.
      class_names: names of the classes along the tensor's class axis (one per curve for threshold
        curves; one per row and column for a confusion matrix).
      version: format version the summary was written with.
      ignore_class: label value that was left out of the counts, if any.
      decision: for confusion matrices, how the predicted class was chosen ("argmax" or
        "score > 0.5" for a single sigmoid output); for threshold curves, `POSITIVE_RULE`.
      slice: for the summary of one slice, which one (`SliceInfo`); None for the overall summary.
        Written only when set, so overall summaries keep the metadata of earlier versions.
    """

    kind: str
    class_names: tuple[str, ...]
    version: int = FORMAT_VERSION
    ignore_class: int | None = None
    decision: str = POSITIVE_RULE
    slice: SliceInfo | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        fields = {
            "version": self.version,
            "kind": self.kind,
            "class_names": list(self.class_names),
            "ignore_class": self.ignore_class,
            "decision": self.decision,
        }
        if self.slice is not None:
            fields["slice"] = self.slice.to_json()
        return fields


def create_summary_metadata(plugin_data: PluginData, display_name: str | None = None,
                            description: str | None = None) -> summary_pb2.SummaryMetadata:
    """Returns the `SummaryMetadata` proto for one of our summaries.

    `data_class` is `DATA_CLASS_TENSOR`: without it both TensorBoard loaders drop the tag.
    """
    if plugin_data.kind not in KINDS:
        raise ValueError(f"kind={plugin_data.kind!r} is not one of {KINDS}.")
    content = json.dumps(plugin_data.to_json(), separators=(",", ":"), ensure_ascii=False)
    return summary_pb2.SummaryMetadata(
        display_name=display_name or "",
        summary_description=description or "",
        plugin_data=summary_pb2.SummaryMetadata.PluginData(
            plugin_name=PLUGIN_NAME, content=content.encode("utf-8")
        ),
        data_class=summary_pb2.DATA_CLASS_TENSOR,
    )


def parse_plugin_metadata(content: bytes) -> PluginData:
    """Decodes `plugin_data.content` of one of our summaries.

    Raises:
      UnsupportedFormatError: the content is not valid JSON of a known kind, or was written by a
        newer format version than this plugin reads (upgrade tb-metrics-plugin to read it).
    """
    try:
        fields = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UnsupportedFormatError(f"metadata is not UTF-8 JSON: {error}") from error
    if not isinstance(fields, dict):
        raise UnsupportedFormatError(f"metadata must be a JSON object, got {type(fields).__name__}")
    version = fields.get("version")
    if not isinstance(version, int) or version < 1:
        raise UnsupportedFormatError(f"metadata version={version!r} is not a positive integer")
    if version > FORMAT_VERSION:
        raise UnsupportedFormatError(
            f"summary format version {version} is newer than this plugin reads ({FORMAT_VERSION}); "
            "upgrade tb-metrics-plugin"
        )
    return _parse_fields(fields)


def _parse_fields(fields: dict[str, Any]) -> PluginData:
    kind = fields.get("kind")
    if kind not in KINDS:
        raise UnsupportedFormatError(f"metadata kind={kind!r} is not one of {KINDS}")
    class_names = fields.get("class_names")
    if not isinstance(class_names, list) or not all(isinstance(n, str) for n in class_names):
        raise UnsupportedFormatError("metadata class_names must be a list of strings")
    ignore_class = fields.get("ignore_class")
    if ignore_class is not None and not isinstance(ignore_class, int):
        raise UnsupportedFormatError(f"metadata ignore_class={ignore_class!r} is not an integer")
    known = {"version", "kind", "class_names", "ignore_class", "decision", "slice"}
    return PluginData(
        kind=kind,
        class_names=tuple(class_names),
        version=fields["version"],
        ignore_class=ignore_class,
        decision=str(fields.get("decision", POSITIVE_RULE)),
        slice=_parse_slice(fields.get("slice")),
        extra={k: v for k, v in fields.items() if k not in known},
    )


def _parse_slice(fields: Any) -> SliceInfo | None:
    if fields is None:
        return None
    names = ("parent", "key", "value")
    if not isinstance(fields, dict) or not all(isinstance(fields.get(name), str) for name in names):
        raise UnsupportedFormatError(f"metadata slice={fields!r} must be an object of strings parent, key, value")
    parent, key, value = fields["parent"], fields["key"], fields["value"]
    if not parent or not key or "/" in key or "=" in key:
        raise UnsupportedFormatError(
            f"metadata slice={fields!r}: parent must be a tag and key a non-empty name without '/' or '='"
        )
    return SliceInfo(parent, key, value)
