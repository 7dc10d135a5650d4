"""The committed slice-maths golden vectors (tests/golden/fairness_vectors.json) are what the Python
slice maths gives now; frontend/test/fairness.test.mjs holds the browser's copy to them.

Regenerate with `python scripts/make_fairness_vectors.py`.
"""

from __future__ import annotations

import json

from tests.test_core_golden import assert_committed_vectors_are_current, load_script


def test_committed_fairness_vectors_are_current():
    assert_committed_vectors_are_current(load_script("make_fairness_vectors"))


def test_fairness_vectors_are_small_and_cover_every_ported_function():
    script = load_script("make_fairness_vectors")
    assert script.OUTPUT.stat().st_size < 200_000
    cases = json.loads(script.OUTPUT.read_text(encoding="utf-8"))["cases"]
    covered = {(case["module"], case["function"]) for case in cases}
    assert covered == {(module, function) for module, functions in script.FUNCTIONS.items() for function in functions}
    for module in ("fairness_intervals", "fairness_thresholds"):
        public = {name for name in script.MODULES[module].__all__ if callable(getattr(script.MODULES[module], name))}
        assert public == set(script.FUNCTIONS[module]), module
    modes = {case["args"]["mode"] for case in cases if case["function"] == "slice_thresholds"}
    assert modes == set(script.fairness_thresholds.MODES)
