"""A finished chain's figures copied to docs/ with how they were made (mpa_dist/report/publish.py)."""

import json

import pytest

from mpa_dist.report.publish import publish


def test_publish_copies_the_report_and_states_command_machine_and_wall_time(tmp_path):
    run = tmp_path / "runs" / "et"
    sweep = run / "sweep-random"
    sweep.mkdir(parents=True)
    (sweep / "report.md").write_text("# report\n")
    (sweep / "results.csv").write_text("task,arm\n")
    (sweep / "sweep.json").write_text(json.dumps({"trials": 660, "failed": 0, "wall_s": 3000.0, "slots": 2,
                                                  "utilisation": 0.93, "exposed": 0}))
    (run / "chain.json").write_text(json.dumps({"total_seconds": 7200.0, "steps": {
        "pre-training": {"seconds": 600.0, "starts": 2, "finished": True}}}))
    with pytest.raises(FileNotFoundError, match="has not finished"):
        publish(run, tmp_path / "docs", "make every-task")  # the default sweep folder holds no report
    dest = publish(run, tmp_path / "docs", "make every-task", sweep="sweep-random")
    assert (dest / "report.md").read_text() == "# report\n" and (dest / "results.csv").exists()
    text = (dest / "README.md").read_text()
    assert "`make every-task`" in text and "cores" in text and "slot utilisation 0.93; exposure 0" in text
    assert "2.00 h" in text and "pre-training: 10.0 min (2 start(s))" in text
