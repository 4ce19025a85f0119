"""requirements.yml lists every collection the playbooks, roles and scenarios use.

`make deps` gets collections from the `ansible` package, which has them all, so a missing entry
only shows for whoever installs with ansible-galaxy (the README's path for the VirtualBox lab).
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from farmcheck import REPO

# namespace.collection.plugin, as a task's module key or a connection's value.
FQCN = re.compile(r"^([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\.[a-z][a-z0-9_]*$")
# ansible-core itself: nothing to install.
CORE = {"ansible.builtin", "ansible.legacy"}
CONNECTION_KEYS = {"connection", "ansible_connection"}


class _AnyTagLoader(yaml.SafeLoader):
    """SafeLoader that reads Ansible's tags (!vault, !unsafe...) as their plain values."""


def _plain(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)


_AnyTagLoader.add_multi_constructor("!", _plain)


def yaml_files() -> list[Path]:
    files = [REPO / "site.yml"]
    for top in ("roles", "playbooks", "molecule", "inventory"):
        files += [p for p in (REPO / top).rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file()]
    return sorted(files)


def plugin_names(node: Any) -> Iterator[str]:
    """Every FQCN used as a task's module (a key of a list item) or as a connection plugin."""
    if isinstance(node, list):
        for item in node:
            if isinstance(item, dict):
                yield from (key for key in item if isinstance(key, str) and FQCN.match(key))
            yield from plugin_names(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in CONNECTION_KEYS and isinstance(value, str) and FQCN.match(value):
                yield value
            yield from plugin_names(value)


def used_collections() -> dict[str, set[str]]:
    """Each collection outside ansible-core, with the files that use it (and ansible.cfg's callbacks)."""
    used: dict[str, set[str]] = {}
    for path in yaml_files():
        for document in yaml.load_all(path.read_text(), Loader=_AnyTagLoader):
            for name in plugin_names(document):
                collection = ".".join(name.split(".")[:2])
                if collection not in CORE:
                    used.setdefault(collection, set()).add(str(path.relative_to(REPO)))
    config = configparser.ConfigParser()
    config.read(REPO / "ansible.cfg")
    for name in config.get("defaults", "callbacks_enabled", fallback="").split(","):
        if FQCN.match(name.strip()):
            used.setdefault(".".join(name.strip().split(".")[:2]), set()).add("ansible.cfg")
    return used


def required_collections() -> set[str]:
    requirements = yaml.safe_load((REPO / "requirements.yml").read_text())
    return {entry["name"] if isinstance(entry, dict) else entry for entry in requirements["collections"]}


def test_the_scan_sees_modules_of_collections() -> None:
    assert "community.docker" in used_collections()


def test_requirements_list_every_collection_used() -> None:
    missing = {name: sorted(files) for name, files in used_collections().items() if name not in required_collections()}
    assert not missing, f"add these collections to requirements.yml (used in the files listed): {missing}"
