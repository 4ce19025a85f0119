"""gobetween's configuration: the role's template for the lab, and the check that guards it."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import jinja2
import pytest
import yaml
from ansible.errors import AnsibleFilterError

from filter_plugins import farm
from filter_plugins.gobetween import STATIC_ENTRY, gobetween_config_errors

ROLE = Path(__file__).parents[2] / "roles/gobetween_lb"
LAB = {
    "m1": {"lab_address": "172.30.56.2", "backend_weight": 2},
    "m2": {"lab_address": "172.30.56.3", "backend_weight": 1},
}


def render(**overrides) -> str:
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    variables = {
        **defaults,
        "ansible_managed": "Ansible managed",
        "gobetween_lb_api_password": "not-a-real-password",
        "_gobetween_lb_static_list": farm.farm_gobetween_static_list(farm.farm_backends(list(LAB), LAB)),
        **overrides,
    }
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, keep_trailing_newline=True)
    env.filters["to_json"] = json.dumps
    return env.from_string((ROLE / "templates/gobetween.toml.j2").read_text()).render(variables)


def test_lab_template_is_toml_with_only_documented_keys() -> None:
    text = render()
    config = tomllib.loads(text)
    assert gobetween_config_errors(text) == []
    farm_server = config["servers"]["farm"]
    assert farm_server["bind"] == "0.0.0.0:80"
    assert farm_server["protocol"] == "tcp"
    assert farm_server["balance"] == "weight"
    assert farm_server["discovery"] == {
        "kind": "static",
        "static_list": ["172.30.56.2:80 weight=2 priority=1", "172.30.56.3:80 weight=1 priority=1"],
    }
    assert farm_server["healthcheck"]["probe_send"] == "HEAD / HTTP/1.0\r\n\r\n"
    assert config["api"] == {
        "enabled": True,
        "bind": "127.0.0.1:8888",
        "basic_auth": {"login": "admin", "password": "not-a-real-password"},
    }
    assert config["metrics"] == {"enabled": False, "bind": "127.0.0.1:9284"}


@pytest.mark.parametrize("healthcheck", ["ping", "none"])
def test_other_health_checks_render_clean(healthcheck: str) -> None:
    text = render(gobetween_lb_healthcheck=healthcheck, gobetween_lb_api=False, gobetween_lb_metrics=True)
    assert gobetween_config_errors(text) == []
    assert ("healthcheck" in tomllib.loads(text)["servers"]["farm"]) == (healthcheck != "none")


def test_every_rendered_entry_matches_gobetweens_grammar() -> None:
    for entry in tomllib.loads(render())["servers"]["farm"]["discovery"]["static_list"]:
        assert STATIC_ENTRY.match(entry)


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ('[servers.farm\nbind = "x"', "not valid TOML"),
        ("[logging]\nlevel = 'info'\n", "[servers]: no server is defined"),
        ('[servers.farm]\nbind = ":80"\nbalanse = "weight"\n[servers.farm.discovery]\nkind = "static"\n'
         'static_list = ["a:80"]\n', "servers.farm: unknown key 'balanse'"),
        ('[servers.farm]\n[servers.farm.discovery]\nkind = "static"\nstatic_list = ["a:80"]\n',
         "servers.farm: bind is required"),
        ('[servers.farm]\nbind = "0.0.0.0:99999"\n[servers.farm.discovery]\nkind = "static"\nstatic_list = ["a:80"]\n',
         "bind='0.0.0.0:99999' is not host:port"),
        ('[servers.farm]\nbind = ":80"\nbalance = "random"\n[servers.farm.discovery]\nkind = "static"\n'
         'static_list = ["a:80"]\n', "balance='random' is not one of"),
        ('[servers.farm]\nbind = ":80"\n', "servers.farm.discovery: the section is required"),
        ('[servers.farm]\nbind = ":80"\n[servers.farm.discovery]\nkind = "static"\nstatic_list = []\n',
         "static_list must list at least one backend"),
        ('[servers.farm]\nbind = ":80"\n[servers.farm.discovery]\nkind = "static"\n'
         'static_list = ["a:80 priority=1 weight=2"]\n', "entry 'a:80 priority=1 weight=2' is not"),
        ('[servers.farm]\nbind = ":80"\n[servers.farm.discovery]\nkind = "static"\n'
         'static_list = ["a:80 weight=2 max_connections=5"]\n', "entry 'a:80 weight=2 max_connections=5' is not"),
        ('[servers.farm]\nbind = ":80"\nclient_idle_timeout = "10 minutes"\n[servers.farm.discovery]\n'
         'kind = "static"\nstatic_list = ["a:80"]\n', "client_idle_timeout='10 minutes' is not a duration"),
        ('[servers.farm]\nbind = ":80"\n[servers.farm.discovery]\nkind = "static"\nstatic_list = ["a:80"]\n'
         '[servers.farm.healthcheck]\nkind = "probe"\ninterval = "2s"\n', "probe_send is required"),
        ('[servers.farm]\nbind = ":80"\n[servers.farm.discovery]\nkind = "static"\nstatic_list = ["a:80"]\n'
         '[servers.farm.healthcheck]\nkind = "ping"\n', "interval is required with kind='ping'"),
        ('[api]\nenabled = true\nbind = ":8888"\n[api.basic_auth]\nlogin = "admin"\npassword = ""\n'
         '[servers.farm]\nbind = ":80"\n[servers.farm.discovery]\nkind = "static"\nstatic_list = ["a:80"]\n',
         "[api.basic_auth]: password must not be empty"),
    ],
)  # fmt: skip
def test_check_names_what_gobetween_would_reject_or_ignore(broken: str, message: str) -> None:
    assert any(message in error for error in gobetween_config_errors(broken)), gobetween_config_errors(broken)


def test_check_wants_text() -> None:
    with pytest.raises(AnsibleFilterError, match="expects the configuration text"):
        gobetween_config_errors(None)
