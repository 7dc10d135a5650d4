"""The committed slice-maths golden vectors (tests/golden/fairness_vectors.json) are what the Python
slice maths gives now; frontend/test/fairness.test.mjs holds the browser's copy to them.

Regenerate with `python scripts/make_fairness_vectors.py`.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib

from tests.test_core_golden import assert_same

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_script():
    spec = importlib.util.spec_from_file_location(
        "make_fairness_vectors", ROOT / "scripts" / "make_fairness_vectors.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_fairness_vectors_are_current():
    script = load_script()
    committed = json.loads(script.OUTPUT.read_text(encoding="utf-8"))
    regenerated = json.loads(json.dumps(script.golden(), allow_nan=False))
    assert committed["version"] == regenerated["version"] == 1
    assert [case["name"] for case in committed["cases"]] == [case["name"] for case in regenerated["cases"]]
    assert_same(committed, regenerated, "golden", 1e-12)


def test_fairness_vectors_are_small_and_cover_every_ported_function():
    script = load_script()
    assert script.OUTPUT.stat().st_size < 200_000
    cases = json.loads(script.OUTPUT.read_text(encoding="utf-8"))["cases"]
    covered = {(case["module"], case["function"]) for case in cases}
    assert covered == {(module, function) for module, functions in script.FUNCTIONS.items() for function in functions}
    for module in ("fairness_intervals", "fairness_thresholds"):
        public = {name for name in script.MODULES[module].__all__ if callable(getattr(script.MODULES[module], name))}
        assert public == set(script.FUNCTIONS[module]), module
    modes = {case["args"]["mode"] for case in cases if case["function"] == "slice_thresholds"}
    assert modes == set(script.fairness_thresholds.MODES)
