"""tests/step_times.py: the minutes of each Molecule step, from Molecule's own output."""

from __future__ import annotations

import io
import itertools

import step_times

OUTPUT = [
    "\x1b[36mINFO    \x1b[0m \x1b[32mpair\x1b[0m ➜ \x1b[33mdestroy\x1b[0m: \x1b[36mExecuting\x1b[0m\n",
    "  │ PLAY [Destroy]\n",
    "INFO     pair ➜ destroy: Executed: Successful\n",
    "INFO     pair ➜ create: Executing\n",
    "INFO     pair ➜ converge: Executing\n",
    "INFO     pair ➜ verify: Executing\n",
    "INFO     pair ➜ verify: Executing Testinfra tests found in /tmp/tests/...\n",
    "INFO     pair ➜ destroy: Executing\n",
    "pair                      : actions=7  successful=6  disabled=0  skipped=0  missing=0  failed=0\n",
]


def test_each_step_lasts_until_the_next_starts_and_every_line_is_passed_on() -> None:
    clock = itertools.count(0, 30).__next__  # each step start, and the end, 30 s after the last
    out = io.StringIO()
    steps = step_times.record(OUTPUT, out, clock=lambda: float(clock()))
    assert out.getvalue() == "".join(OUTPUT)
    assert steps == [["destroy", 30.0], ["create", 30.0], ["converge", 30.0], ["verify", 30.0], ["destroy", 30.0]]


def test_no_step_no_record() -> None:
    assert step_times.record(["just a line\n"], io.StringIO()) == []


def test_table_adds_up_a_step_run_twice_and_marks_steps_a_scenario_lacks() -> None:
    text = step_times.table(
        {
            "farm-pair": [["destroy", 6.0], ["create", 60.0], ["converge", 120.0], ["verify", 90.0], ["destroy", 6.0]],
            "farm-default": [["prepare", 60.0], ["converge", 60.0]],
        }
    )
    header, pair, default = text.splitlines()
    assert header.split() == ["scenario", "destroy", "create", "prepare", "converge", "verify", "total"]
    assert pair.split() == ["farm-pair", "0.2", "1.0", "-", "2.0", "1.5", "4.7"]
    assert default.split() == ["farm-default", "-", "-", "1.0", "1.0", "-", "2.0"]
