"""The committed golden vectors (tests/golden/core_vectors.json) are what the Python core gives now.

The JavaScript core is checked against the same file (frontend/test/core.test.mjs), so a change to
tb_metrics_plugin/core.py that is not mirrored in frontend/src/core.js fails one of the two.
Regenerate with `python scripts/make_golden_vectors.py`.
"""

from __future__ import annotations

import importlib.util
import json
import math
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_script(name: str = "make_golden_vectors"):
    """The vector-writing script `scripts/<name>.py` as a module."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_committed_vectors_are_current(script) -> None:
    """The script's committed JSON holds the cases it writes now, in order, numbers within 1e-12."""
    committed = json.loads(script.OUTPUT.read_text(encoding="utf-8"))
    regenerated = json.loads(json.dumps(script.golden(), allow_nan=False))
    assert committed["version"] == regenerated["version"] == 1
    assert [case["name"] for case in committed["cases"]] == [case["name"] for case in regenerated["cases"]]
    assert_same(committed, regenerated, "golden", 1e-12)


def assert_same(committed, regenerated, path: str, tolerance: float):
    """Equal structure and strings; numbers within `tolerance` relative (platform libm may differ in
    the last bits, e.g. the log in PR-AUC)."""
    if isinstance(committed, dict):
        assert isinstance(regenerated, dict) and committed.keys() == regenerated.keys(), path
        for key in committed:
            assert_same(committed[key], regenerated[key], f"{path}.{key}", tolerance)
    elif isinstance(committed, list):
        assert isinstance(regenerated, list) and len(committed) == len(regenerated), path
        for index, (a, b) in enumerate(zip(committed, regenerated, strict=True)):
            assert_same(a, b, f"{path}[{index}]", tolerance)
    elif isinstance(committed, float) and not isinstance(regenerated, bool | str | type(None)):
        assert math.isclose(committed, regenerated, rel_tol=tolerance, abs_tol=tolerance), path
    else:
        assert committed == regenerated, path


def test_committed_golden_vectors_are_current():
    assert_committed_vectors_are_current(load_script())


def test_golden_vectors_are_small_and_cover_every_public_function():
    script = load_script()
    assert script.OUTPUT.stat().st_size < 300_000
    functions = {case["function"] for case in json.loads(script.OUTPUT.read_text(encoding="utf-8"))["cases"]}
    from tb_metrics_plugin import core, top_k

    python_only = {"json_safe"}  # JSON encoding: no JS twin
    public = {name for module in (core, top_k) for name in module.__all__ if callable(getattr(module, name))}
    assert public - python_only == functions
