"""Add up the junit reports of one `make test` run into a single pytest-style closing line."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def totals(paths: list[str]) -> dict[str, int]:
    counts = {"tests": 0, "failed": 0, "skipped": 0}
    for path in paths:
        root = ET.parse(path).getroot()
        for suite in root.iter("testsuite"):
            counts["tests"] += int(suite.get("tests", 0))
            counts["failed"] += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            counts["skipped"] += int(suite.get("skipped", 0))
    return counts


def main(paths: list[str]) -> int:
    counts = totals(paths)
    passed = counts["tests"] - counts["failed"] - counts["skipped"]
    print(f"{len(paths)} reports")
    print(f"lbfarm: {passed} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    return 1 if counts["failed"] or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
