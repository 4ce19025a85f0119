"""The local lab's two backends as the model reads them (m1 weight 3, m2 weight 1, 32 connections
each, as in the configurations written by hand): the input of the renderers' unit tests."""

from __future__ import annotations

from filter_plugins import farm

LAB = {
    "m1": {"lab_address": "192.168.56.2", "backend_weight": 3, "backend_max_conns": 32},
    "m2": {"lab_address": "192.168.56.3", "backend_weight": 1, "backend_max_conns": 32},
}


def backends(**overrides: dict) -> list[dict]:
    """farm_backends of the lab, with some host variables changed: backends(m2={"backend_backup": True})."""
    hostvars = {host: {**hvars, **overrides.get(host, {})} for host, hvars in LAB.items()}
    return farm.farm_backends(list(hostvars), hostvars)
