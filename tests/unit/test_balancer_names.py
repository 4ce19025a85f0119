"""The balancer names live in the balancer role; its argument spec offers exactly those."""

import yaml
from farmcheck import BALANCERS, REPO


def test_argument_spec_offers_every_balancer_and_only_those() -> None:
    spec = yaml.safe_load((REPO / "roles/balancer/meta/argument_specs.yml").read_text())
    assert tuple(spec["argument_specs"]["main"]["options"]["balancer"]["choices"]) == BALANCERS


def test_every_balancer_has_its_role_with_the_switch_entry_points() -> None:
    for name in BALANCERS:
        tasks = REPO / "roles" / f"{name}_lb" / "tasks"
        assert {p.stem for p in tasks.glob("*.yml")} >= {"main", "preflight", "prepare", "start", "stop", "summary"}
