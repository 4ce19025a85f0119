"""The balancer contract (roles/balancer/vars/main.yml): every balancer in the list is a role that
provides every entry point, and nothing the balancer role does for all of them lives in one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CONTRACT = yaml.safe_load((REPO / "roles/balancer/vars/main.yml").read_text())
BALANCERS = list(CONTRACT["_balancer_units"])
# The lifecycle that roles/balancer writes once for every daemon.
SHARED_STEPS = {"prepare", "start", "stop"}
# Balancers without a unit on the balancer host (an appliance): their roles start and stop them.
UNITLESS = [name for name, unit in CONTRACT["_balancer_units"].items() if unit is None]
OWN_LIFECYCLE = {"start", "stop"}


def missing_entry_points(role_dir: Path) -> list[str]:
    """The contract's entry points that the role at role_dir does not provide."""
    return [step for step in CONTRACT["_balancer_entry_points"] if not (role_dir / "tasks" / f"{step}.yml").is_file()]


def test_argument_spec_offers_every_balancer_and_only_those() -> None:
    spec = yaml.safe_load((REPO / "roles/balancer/meta/argument_specs.yml").read_text())
    assert spec["argument_specs"]["main"]["options"]["balancer"]["choices"] == BALANCERS


@pytest.mark.parametrize("balancer", BALANCERS)
def test_every_balancer_role_provides_every_entry_point(balancer: str) -> None:
    assert missing_entry_points(REPO / "roles" / f"{balancer}_lb") == []


@pytest.mark.parametrize("balancer", BALANCERS)
def test_no_balancer_role_repeats_the_shared_lifecycle(balancer: str) -> None:
    tasks = {p.stem for p in (REPO / "roles" / f"{balancer}_lb" / "tasks").glob("*.yml")}
    assert tasks & (SHARED_STEPS - (OWN_LIFECYCLE if balancer in UNITLESS else set())) == set()


@pytest.mark.parametrize("balancer", UNITLESS)
def test_a_balancer_without_a_unit_starts_and_stops_through_its_role(balancer: str) -> None:
    tasks = {p.stem for p in (REPO / "roles" / f"{balancer}_lb" / "tasks").glob("*.yml")}
    assert tasks >= OWN_LIFECYCLE


@pytest.mark.parametrize("balancer", BALANCERS)
def test_every_balancer_role_has_a_default_port_for_its_endpoint(balancer: str) -> None:
    defaults = yaml.safe_load((REPO / "roles" / f"{balancer}_lb" / "defaults" / "main.yml").read_text())
    assert isinstance(defaults.get(f"{balancer}_lb_port"), int)


def test_a_role_lacking_an_entry_point_is_caught(tmp_path: Path) -> None:
    (tmp_path / "tasks").mkdir()
    for step in ("preflight", "install", "configure", "state"):
        (tmp_path / "tasks" / f"{step}.yml").write_text("---\n")
    assert missing_entry_points(tmp_path) == ["summary"]


def test_the_contract_sets_a_backend_state() -> None:
    assert "state" in CONTRACT["_balancer_entry_points"]
    assert set(CONTRACT["_balancer_reuseport"]) <= set(BALANCERS)
