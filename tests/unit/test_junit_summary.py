from pathlib import Path

import junit_summary

REPORT = """<?xml version="1.0"?>
<testsuites><testsuite name="pytest" tests="{tests}" failures="{failures}" errors="{errors}" skipped="{skipped}">
</testsuite></testsuites>"""


def write(tmp_path: Path, name: str, **counts: int) -> str:
    path = tmp_path / name
    path.write_text(REPORT.format(**{"failures": 0, "errors": 0, "skipped": 0, **counts}))
    return str(path)


def test_summary_adds_up_every_report(tmp_path, capsys) -> None:
    paths = [write(tmp_path, "a.xml", tests=10, skipped=2), write(tmp_path, "b.xml", tests=5)]
    assert junit_summary.main(paths) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "lbfarm: 13 passed, 0 failed, 2 skipped"


def test_summary_fails_on_failures_and_errors(tmp_path, capsys) -> None:
    paths = [write(tmp_path, "a.xml", tests=4, failures=1, errors=1)]
    assert junit_summary.main(paths) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "lbfarm: 2 passed, 2 failed, 0 skipped"


def test_summary_fails_when_nothing_passed(tmp_path) -> None:
    assert junit_summary.main([write(tmp_path, "a.xml", tests=0)]) == 1
