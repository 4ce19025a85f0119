"""Operations on the running farm under load: each test drives ansible-playbook against the
scenario's own inventory, as a user would, and leaves the farm as it found it."""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    rc: int
    output: str
    seconds: float


@pytest.fixture(scope="session")
def playbook(farm):
    """Run a playbook of the repository against the scenario's hosts: playbook("backend.yml", backend="m1")."""

    def run(name: str, *args: str, check: bool = True, **extra: str) -> Run:
        env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
        command = ["ansible-playbook", "-i", farm.inventory, str(REPO / name), *args]
        for key, value in extra.items():
            command += ["-e", f"{key}={value}"]
        start = time.monotonic()
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
        output = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)  # Molecule forces colour
        result = Run(done.returncode, output, time.monotonic() - start)
        if check and result.rc != 0:
            pytest.fail(f"{' '.join(command)} failed (rc {result.rc}):\n{result.output[-4000:]}")
        return result

    return run


# What the tests measured, printed at the end of the run whatever pytest's capture.
MEASURED: list[str] = []


@pytest.fixture
def report(record_property):
    """Note a figure: report("swap haproxy -> nginx", load.summary())."""

    def note(what: str, figure: str) -> None:
        MEASURED.append(f"{what}: {figure}")
        record_property(what, figure)

    return note


def pytest_terminal_summary(terminalreporter) -> None:
    if MEASURED:
        terminalreporter.write_sep("=", "operations on the farm, measured")
        for line in MEASURED:
            terminalreporter.write_line(line)
