import os
import subprocess
import sys
from pathlib import Path

import junit_summary

REPORT = """<?xml version="1.0"?>
<testsuites><testsuite name="pytest" tests="{tests}" failures="{failures}" errors="{errors}"
 skipped="{skipped}" time="{time}">
</testsuite></testsuites>"""


def write(tmp_path: Path, name: str, **counts: float) -> str:
    path = tmp_path / name
    path.write_text(REPORT.format(**{"failures": 0, "errors": 0, "skipped": 0, "time": 1.5, **counts}))
    return str(path)


def test_summary_adds_up_every_report_in_pytests_words(tmp_path, capsys) -> None:
    paths = [write(tmp_path, "a.xml", tests=10, skipped=2, time=100.25), write(tmp_path, "b.xml", tests=5)]
    assert junit_summary.main(paths) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.strip("=") == " 13 passed, 2 skipped in 101.75s (0:01:41) "
    assert last.startswith("==")
    assert last.endswith("==")


def test_summary_fails_on_failures_and_errors(tmp_path, capsys) -> None:
    paths = [write(tmp_path, "a.xml", tests=4, failures=1, errors=1, time=2)]
    assert junit_summary.main(paths) == 1
    assert capsys.readouterr().out.splitlines()[-1].strip("=") == " 1 failed, 2 passed, 1 error in 2.00s "


def test_summary_fails_when_nothing_passed(tmp_path, capsys) -> None:
    assert junit_summary.main([write(tmp_path, "a.xml", tests=0)]) == 1
    assert "no tests ran" in capsys.readouterr().out


def test_a_scenario_that_verifies_twice_keeps_both_reports(tmp_path) -> None:
    """conftest.py: under Molecule a second verify writes NAME-2.xml instead of overwriting NAME.xml."""
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "MOLECULE_EPHEMERAL_DIRECTORY": str(tmp_path)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit/test_step_times.py"]
    for _ in range(2):
        subprocess.run(
            [*command, f"--junitxml={tmp_path / 'r.xml'}"], cwd=repo, env=env, check=True, capture_output=True
        )
    reports = sorted(p.name for p in tmp_path.glob("r*.xml"))
    assert reports == ["r-2.xml", "r.xml"]
    assert junit_summary.totals([str(tmp_path / name) for name in reports])["tests"] == 6
