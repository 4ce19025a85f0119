"""Operations on the running farm under load: each test drives ansible-playbook against the
scenario's own inventory (the playbook fixture, conftest.py), as a user would, and leaves
the farm as it found it."""

from __future__ import annotations

import pytest

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
