"""Every fuzz target survives a short mutation run and its committed corpus (regressions).

The long run is `make fuzz`; this bounded one keeps each target honest on every
`make test` (a few seconds in all, reproducible: the RNG seed is fixed).
"""

from __future__ import annotations

import pytest

from fuzz.harness import run_target
from fuzz.targets import all_targets

SMOKE_EXECUTIONS = 1500
SMOKE_SECONDS = 3.0


@pytest.mark.parametrize("target", all_targets(), ids=lambda t: t.name)
def test_target_survives_a_smoke_run(target):
    result = run_target(target, iterations=SMOKE_EXECUTIONS, seconds=SMOKE_SECONDS, rng_seed=1, record=False)
    assert result.executions > 0
    assert [f.error for f in result.findings] == []
