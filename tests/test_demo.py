"""`servflow demo`: every sample case runs, replays, and no personal data is printed."""

from __future__ import annotations

from servflow.cli import main


def test_demo_runs_every_story_and_masks_personal_data(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert out.count("equals the live case: yes") == 4
    for story in ("repair:", "complaint:", "renovation:"):
        assert f"== {story}" in out
    for secret in ("王小明", "138 0000 0000", "A-1203", "馬先生", "136 5555 6666", "何太"):
        assert secret not in out
    assert "resident_name=***" in out
    assert "breached:dispatch_in_time" in out
    assert "refused as it should be: reply by officer-zhang: beyond_authority" in out
