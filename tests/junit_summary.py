"""Add up the junit reports of one `make test` run into a single closing line, shaped as pytest's own."""

from __future__ import annotations

import shutil
import sys
import xml.etree.ElementTree as ET
from datetime import timedelta


def totals(paths: list[str]) -> dict[str, float]:
    counts = {"tests": 0, "failed": 0, "errors": 0, "skipped": 0, "seconds": 0.0}
    for path in paths:
        root = ET.parse(path).getroot()
        for suite in root.iter("testsuite"):
            counts["tests"] += int(suite.get("tests", 0))
            counts["failed"] += int(suite.get("failures", 0))
            counts["errors"] += int(suite.get("errors", 0))
            counts["skipped"] += int(suite.get("skipped", 0))
            counts["seconds"] += float(suite.get("time", 0))
    return counts


def closing_line(counts: dict[str, float], width: int = 80) -> str:
    """pytest's terminal summary: '=== 1 failed, 13 passed, 2 skipped, 1 error in 9.50s (0:00:09) ==='."""
    passed = int(counts["tests"] - counts["failed"] - counts["errors"] - counts["skipped"])
    parts = [f"{int(counts['failed'])} failed"] if counts["failed"] else []
    parts += [f"{passed} passed"] if passed else []
    parts += [f"{int(counts['skipped'])} skipped"] if counts["skipped"] else []
    if counts["errors"]:
        parts.append(f"{int(counts['errors'])} error{'s' if counts['errors'] > 1 else ''}")
    seconds = counts["seconds"]
    text = f" {', '.join(parts) or 'no tests ran'} in {seconds:.2f}s"
    if seconds > 60:
        text += f" ({timedelta(seconds=int(seconds))})"
    text += " "
    fill = max(width - len(text), 4)
    return "=" * (fill // 2) + text + "=" * (fill - fill // 2)


def main(paths: list[str]) -> int:
    counts = totals(paths)
    passed = counts["tests"] - counts["failed"] - counts["errors"] - counts["skipped"]
    print(f"lbfarm: {len(paths)} junit reports (unit tests, Zevenet, every Molecule scenario's testinfra)")
    print(closing_line(counts, shutil.get_terminal_size((80, 24)).columns))
    return 1 if counts["failed"] or counts["errors"] or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
