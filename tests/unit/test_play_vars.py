"""No play hides an inventory variable: play vars win over the inventory's, so setting it there would do nothing."""

from __future__ import annotations

from pathlib import Path

import yaml
from farmcheck import REPO


def inventory_variables() -> dict[str, set[str]]:
    """Each variable set in an inventory's group_vars or host_vars, with the files that set it."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO / "inventory").rglob("*.yml")):
        if "group_vars" not in path.parts and "host_vars" not in path.parts:
            continue
        variables = yaml.safe_load(path.read_text())
        # an ansible-vault file (encrypted) reads as one string: its names cannot be seen
        for name in variables if isinstance(variables, dict) else {}:
            found.setdefault(name, set()).add(str(path.relative_to(REPO)))
    return found


def playbooks() -> list[Path]:
    return [REPO / "site.yml", *sorted((REPO / "playbooks").glob("*.yml"))]


def test_inventory_variables_are_found() -> None:
    assert "lab_debian_mirror" in inventory_variables()


def test_no_play_sets_a_variable_the_inventory_sets() -> None:
    in_inventory = inventory_variables()
    hidden = [
        f"{path.relative_to(REPO)}, play {play.get('name')!r}: {name} (set in {', '.join(sorted(in_inventory[name]))})"
        for path in playbooks()
        for play in yaml.safe_load(path.read_text()) or []
        for name in play.get("vars") or {}
        if name in in_inventory
    ]
    assert not hidden, "play vars hide the inventory's value; use name | default(...) instead: " + "; ".join(hidden)
