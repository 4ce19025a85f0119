"""The VM image's bytecode cache for modules imported from zip files (Ansible's AnsiballZ)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import zipfile
import zipimport
from pathlib import Path

import pytest

_PATH = Path(__file__).parents[2] / "molecule/resources/vm/files/lbfarm_zipimport_cache.py"
_SPEC = importlib.util.spec_from_file_location("lbfarm_zipimport_cache", _PATH)
assert _SPEC is not None
assert _SPEC.loader is not None
cache = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(cache)


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """Install the cache in tmp_path over a zipimport compile step that counts its calls."""
    calls: list[str] = []
    original = zipimport._compile_source

    def counting(pathname: str, source: bytes):
        calls.append(pathname)
        return original(pathname, source)

    monkeypatch.setattr(zipimport, "_compile_source", counting)
    monkeypatch.setattr(cache, "CACHE_DIR", str(tmp_path / "cache"))
    cache.install()
    return calls


def _import_from_zip(tmp_path: Path, name: str, source: str, zip_name: str) -> object:
    archive = tmp_path / zip_name
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr(f"{name}.py", source)
    sys.path.insert(0, str(archive))
    try:
        sys.modules.pop(name, None)
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(archive))
        sys.modules.pop(name, None)


def test_second_import_from_another_zip_loads_the_kept_code(compiles: list[str], tmp_path: Path) -> None:
    first = _import_from_zip(tmp_path, "lbfarm_probe", "VALUE = 42\n", "one.zip")
    second = _import_from_zip(tmp_path, "lbfarm_probe", "VALUE = 42\n", "two.zip")
    assert (first.VALUE, second.VALUE) == (42, 42)
    assert len(compiles) == 1
    assert len(list((tmp_path / "cache").iterdir())) == 1


def test_changed_source_is_compiled_again(compiles: list[str], tmp_path: Path) -> None:
    _import_from_zip(tmp_path, "lbfarm_probe", "VALUE = 1\n", "one.zip")
    changed = _import_from_zip(tmp_path, "lbfarm_probe", "VALUE = 2\n", "two.zip")
    assert changed.VALUE == 2
    assert len(compiles) == 2


def test_damaged_cache_entry_is_compiled_again(compiles: list[str], tmp_path: Path) -> None:
    _import_from_zip(tmp_path, "lbfarm_probe", "VALUE = 3\n", "one.zip")
    for entry in (tmp_path / "cache").iterdir():
        entry.write_bytes(b"not marshal data")
    again = _import_from_zip(tmp_path, "lbfarm_probe", "VALUE = 3\n", "two.zip")
    assert again.VALUE == 3
    assert len(compiles) == 2


def test_unwritable_cache_still_imports(compiles: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setattr(cache, "CACHE_DIR", str(tmp_path / "file" / "cache"))
    module = _import_from_zip(tmp_path, "lbfarm_probe", "VALUE = 4\n", "one.zip")
    assert module.VALUE == 4


def test_install_twice_wraps_once(compiles: list[str]) -> None:
    wrapper = zipimport._compile_source
    cache.install()
    assert zipimport._compile_source is wrapper
