"""How long each step of each Molecule scenario took in one `make test` run.

    molecule test -s pair 2>&1 | python3 tests/step_times.py --record reports/steps-pair.json
    python3 tests/step_times.py --table reports/steps-*.json

With --record it passes every line through as it comes and notes when Molecule starts each step
(`pair ➜ converge: Executing`), so a step lasts until the next one starts or the output ends; the
file holds [[step, seconds], ...] in order. With --table it prints a row per scenario, a column
per step (a step run twice, like destroy, adds up), in minutes.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

STEP = re.compile(r"\S+ ➜ (\w+): Executing$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
ORDER = ["destroy", "syntax", "create", "prepare", "converge", "idempotence", "side_effect", "verify"]


def record(lines: Iterable[str], out: TextIO, clock: Callable[[], float] = time.monotonic) -> list[list]:
    """Echo the lines to out; return [step, seconds] for each step Molecule started."""
    steps: list[list] = []
    started = 0.0
    for line in lines:
        out.write(line)
        out.flush()
        found = STEP.search(ANSI.sub("", line).rstrip())
        if found:
            now = clock()
            if steps:
                steps[-1][1] = round(now - started, 1)
            steps.append([found.group(1), 0.0])
            started = now
    if steps:
        steps[-1][1] = round(clock() - started, 1)
    return steps


def table(runs: dict[str, list[list]]) -> str:
    """One row per scenario: minutes per step, and the scenario's total."""
    names = [s for s in ORDER if any(step == s for steps in runs.values() for step, _ in steps)]
    names += sorted({step for steps in runs.values() for step, _ in steps} - set(names))
    width = max([len("scenario"), *map(len, runs)])
    lines = [" ".join(["scenario".ljust(width), *(n.rjust(max(len(n), 5)) for n in names), "total".rjust(6)])]
    for scenario, steps in runs.items():
        cells = [scenario.ljust(width)]
        for name in names:
            took = [seconds for step, seconds in steps if step == name]
            cells.append((f"{sum(took) / 60:.1f}" if took else "-").rjust(max(len(name), 5)))
        cells.append(f"{sum(seconds for _, seconds in steps) / 60:6.1f}")
        lines.append(" ".join(cells))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--record":
        Path(argv[1]).write_text(json.dumps(record(sys.stdin, sys.stdout)) + "\n")
        return 0
    if len(argv) >= 1 and argv[0] == "--table":
        paths = [Path(p) for p in argv[1:] if Path(p).is_file()]  # an unmatched glob stays a pattern
        runs = {path.stem.removeprefix("steps-"): json.loads(path.read_text()) for path in paths}
        print("== minutes per Molecule step (reports/steps-*.json)")
        print(table(runs) if runs else "no scenario ran")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
