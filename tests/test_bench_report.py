"""The benchmark report judges figures only at the size its targets are set for, and
never prints a ratio as "0.0×". Checked on the committed full run (bench/results)."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from bench import report

pytestmark = pytest.mark.unit


RESULTS = Path(__file__).resolve().parent.parent / "bench" / "results"


def test_full_run_is_judged_and_a_smaller_one_is_not(tmp_path):
    full = report.load(str(RESULTS), ["hub", "spread", "churn"])
    assert report.judged(full)
    verdicts = [ok for _, _, ok in report.targets(full)]
    assert True in verdicts  # the full run's rows carry a verdict

    small = copy.deepcopy(full)
    for runs in small.values():
        for impl in runs.values():
            impl.pop(str(report.TARGET_SIZE), None)
    assert not report.judged(small)
    assert all(ok is None for _, _, ok in report.targets(small))
    md = tmp_path / "RESULTS.md"
    report.write_markdown(small, {"machine": {"cpu": "x", "cores": 2, "python": "3", "sqlite": "3", "commit": "c",
                                              "date": "d"}, "command": "python -m bench --quick"}, str(md), str(tmp_path))
    text = md.read_text()
    assert "shown without a verdict" in text and "missed" not in text and "| met |" not in text


def test_ratios_never_read_zero():
    assert report._x(None) == "–"
    assert report._x(2.0) == "2.0×" and report._x(1234.0) == "1,234×"
    assert report._x(0.5) == "baseline 2.0× faster"
    assert report._x(0.02) == "baseline 50× faster"
    assert "0.0×" not in report._x(0.0001)
