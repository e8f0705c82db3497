"""The smoke chain's per-step training losses for a fixed seed, against the ones recorded before the
trainer was restructured (tests/train/chain_losses.json): a refactor of the engine must not change
what it computes. Regenerate only for an intended change of the numbers:
MPA_RECORD_LOSSES=1 pytest tests/train/test_chain_losses.py (and say why in the commit)."""

import json
import os
from pathlib import Path

import pytest

REFERENCE = Path(__file__).with_name("chain_losses.json")


def _losses(run_dir: Path) -> dict[str, dict[str, float]]:
    lines = (run_dir / "losses.jsonl").read_text().splitlines()
    return {str(r["step"]): r["losses"] for r in map(json.loads, lines)}


@pytest.mark.slow
def test_the_smoke_chain_computes_the_recorded_losses(midtrained):
    now = {phase: _losses(midtrained / phase) for phase in ("pretrain", "midtrain")}
    if os.environ.get("MPA_RECORD_LOSSES") == "1":
        REFERENCE.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
    ref = json.loads(REFERENCE.read_text())
    assert now.keys() == ref.keys()
    for phase in ref:
        assert now[phase].keys() == ref[phase].keys(), phase
        for step, losses in ref[phase].items():
            assert now[phase][step].keys() == losses.keys(), (phase, step)
            for name, v in losses.items():
                assert now[phase][step][name] == pytest.approx(v, rel=2e-4, abs=1e-6), (phase, step, name)
