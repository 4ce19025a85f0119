"""The docs stay true to the roles, and their links lead somewhere."""

from __future__ import annotations

import importlib.util
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def load_generator() -> ModuleType:
    """docs/variables.py, imported from its file (docs/ is no package)."""
    spec = importlib.util.spec_from_file_location("docs_variables", ROOT / "docs" / "variables.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def options(spec_file: Path) -> Iterator[tuple[str, dict]]:
    """(entry point and option name, option spec) for every option, sub-options included."""

    def walk(prefix: str, opts: dict) -> Iterator[tuple[str, dict]]:
        for name, opt in (opts or {}).items():
            yield f"{prefix}{name}", opt or {}
            yield from walk(f"{prefix}{name}.", (opt or {}).get("options") or {})

    specs = (yaml.safe_load(spec_file.read_text()) or {}).get("argument_specs") or {}
    for entry, spec in specs.items():
        yield from walk(f"{entry}: ", (spec or {}).get("options") or {})


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    for line in FENCE.sub("", page.read_text()).splitlines():
        if match := re.match(r"#{1,6}\s+(.*?)\s*#*$", line):
            base = anchor = slug(match.group(1))
            count = 0
            while anchor in found:  # GitHub numbers repeated headings: name, name-1, name-2
                count += 1
                anchor = f"{base}-{count}"
            found.add(anchor)
    return found


def test_variables_md_is_up_to_date() -> None:
    generator = load_generator()
    written = (ROOT / "docs" / "variables.md").read_text()
    assert generator.render(ROOT) == written, generator.STALE


def test_check_reports_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    generator = load_generator()
    shutil.copytree(ROOT / "roles", tmp_path / "roles")
    spec = tmp_path / "roles" / "balancer" / "meta" / "argument_specs.yml"
    spec.write_text(spec.read_text().replace("The balancer that owns port 80.", "Changed."))
    monkeypatch.setattr(generator, "ROOT", tmp_path)
    monkeypatch.setattr(generator, "OUTPUT", ROOT / "docs" / "variables.md")
    assert generator.main(["variables.py", "--check"]) == 1
    assert "docs/variables.md is stale: run make docs" in capsys.readouterr().err


def test_every_role_variable_has_a_description() -> None:
    missing = [
        f"{spec_file.relative_to(ROOT)}: {name}"
        for spec_file in sorted(ROOT.glob("roles/*/meta/argument_specs.yml"))
        for name, opt in options(spec_file)
        if not str(opt.get("description") or "").strip()
    ]
    assert not missing, "give these options a description in argument_specs: " + ", ".join(missing)


@pytest.mark.parametrize("page", PAGES, ids=[str(page.relative_to(ROOT)) for page in PAGES])
def test_relative_links_lead_somewhere(page: Path) -> None:
    text = INLINE_CODE.sub("", FENCE.sub("", page.read_text()))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target} (no file {path})")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target} (no heading #{anchor} in {linked.relative_to(ROOT)})")
    assert not broken, f"{page.relative_to(ROOT)}: fix these links: " + ", ".join(broken)


def roles_map() -> dict[str, list[str]]:
    """roles/README.md's table of the roles: each role and the entry points it names (tasks/)."""
    rows = re.findall(r"^\| `([a-z_]+)` \| .* \| ([^|]+) \|$", (ROOT / "roles" / "README.md").read_text(), re.M)
    contract = ["preflight", "install", "configure", "summary", "state"]
    named = {}
    for role, column in rows:
        words = [w.strip() for w in column.replace("the contract's:", "").replace("the contract's", "").split(",")]
        named[role] = [*(contract if "the contract's" in column else []), *(w for w in words if w)]
    return named


def test_the_roles_map_names_every_role_and_only_those() -> None:
    assert sorted(roles_map()) == sorted(p.parent.name for p in (ROOT / "roles").glob("*/tasks"))


def test_every_entry_point_the_roles_map_names_is_a_tasks_file() -> None:
    missing = [
        f"{r}/tasks/{e}.yml"
        for r, es in roles_map().items()
        for e in es
        if not (ROOT / "roles" / r / "tasks" / f"{e}.yml").is_file()
    ]
    assert missing == []
