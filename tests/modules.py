"""The repository's own Ansible modules, loaded as Python modules for the tests that call them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def load(path: str) -> ModuleType:
    """The module at `path` (from the repository's top), e.g. load("roles/balancer/library/farm_proof.py")."""
    spec = importlib.util.spec_from_file_location(Path(path).stem, REPO / path)
    if spec is None or spec.loader is None:
        raise ImportError(f"no Python module at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
