"""roles/gobetween_lb's filters for the farm: the backends as static_list entries, and how long the
health checks take to judge a backend (the balancer role's health gate waits that long)."""

from __future__ import annotations

import modules
import pytest
import yaml
from ansible.errors import AnsibleFilterError
from lab_backends import backends

gobetween = modules.load("roles/gobetween_lb/filter_plugins/gobetween_lb.py")
DEFAULTS = yaml.safe_load((modules.REPO / "roles/gobetween_lb/defaults/main.yml").read_text())
PREFIX = "gobetween_lb_"


def settings(**host_vars) -> dict:
    """The role's variables without the prefix: the host's value, else the role's default."""
    values = {**DEFAULTS, **host_vars}
    return {key[len(PREFIX) :]: value for key, value in values.items() if key.startswith(PREFIX)}


# ---- gobetween_lb_static_list --------------------------------------------------------------------


def test_entries_in_the_order_its_parser_expects() -> None:
    b = backends(m1={"backend_max_conns": None}, m2={"backend_max_conns": None, "backend_port": 8082})
    assert gobetween.gobetween_lb_static_list(b) == [
        "192.168.56.2:80 weight=3 priority=1",
        "192.168.56.3:8082 weight=1 priority=1",
    ]


def test_a_backup_is_priority_2_unless_a_priority_is_given() -> None:
    b = backends(
        m1={"backend_max_conns": None, "backend_backup": True},
        m2={"backend_max_conns": None, "backend_priority": 5, "backend_weight": 0},
    )
    assert gobetween.gobetween_lb_static_list(b) == [
        "192.168.56.2:80 weight=3 priority=2",
        "192.168.56.3:80 weight=0 priority=5",
    ]


def test_a_per_backend_connection_cap_is_refused() -> None:
    with pytest.raises(AnsibleFilterError, match="backend m1: backend_max_conns=32 has no equivalent in gobetween"):
        gobetween.gobetween_lb_static_list(backends())


def test_a_backend_that_is_not_ready_is_left_out() -> None:
    b = backends(m1={"backend_max_conns": None, "backend_state": "drain"}, m2={"backend_max_conns": None})
    assert gobetween.gobetween_lb_static_list(b) == ["192.168.56.3:80 weight=1 priority=1"]


@pytest.mark.parametrize("bad", [[], None, "m1"])
def test_anything_but_a_backend_list_is_refused(bad) -> None:
    with pytest.raises(AnsibleFilterError, match="expected the non-empty list from farm_backends"):
        gobetween.gobetween_lb_static_list(bad)


# ---- gobetween_lb_health_window ------------------------------------------------------------------


def test_the_window_is_the_interval_times_fails_or_passes_and_one_timeout() -> None:
    # the role's defaults: interval 2s, timeout 1s, fails 2, passes 2
    assert gobetween.gobetween_lb_health_window(settings(), "m3") == 5.0
    host = {"gobetween_lb_healthcheck_interval": "1m30s", "gobetween_lb_healthcheck_passes": 3}
    assert gobetween.gobetween_lb_health_window(settings(**host), "m3") == 271.0
    host = {"gobetween_lb_healthcheck_interval": "500ms", "gobetween_lb_healthcheck_fails": "4"}  # INI: text
    assert gobetween.gobetween_lb_health_window(settings(**host), "m3") == 3.0


@pytest.mark.parametrize("healthcheck", ["none", None])
def test_no_health_check_judges_nothing(healthcheck) -> None:
    assert gobetween.gobetween_lb_health_window(settings(gobetween_lb_healthcheck=healthcheck), "m3") == 0.0
    assert gobetween.gobetween_lb_health_window({}, "m3") == 0.0


def test_a_timeout_of_0_is_what_gobetween_reads_it_as() -> None:
    assert gobetween.gobetween_lb_health_window(settings(gobetween_lb_healthcheck_timeout="0"), "m3") == 4.0


@pytest.mark.parametrize(
    ("var", "value", "said"),
    [
        ("gobetween_lb_healthcheck_interval", "2", "must be a Go duration such as 2s or 1m30s"),
        ("gobetween_lb_healthcheck_interval", "2 s", "must be a Go duration"),
        ("gobetween_lb_healthcheck_timeout", "-1s", "is negative"),
        ("gobetween_lb_healthcheck_fails", 0, "is out of range: use 1 or more"),
        ("gobetween_lb_healthcheck_passes", "two", "is not an integer"),
        ("gobetween_lb_healthcheck_passes", True, "is not an integer"),
    ],
)
def test_a_bad_value_is_named_with_its_host(var: str, value, said: str) -> None:
    with pytest.raises(AnsibleFilterError, match=f"m3: {var}={value!r} {said}"):
        gobetween.gobetween_lb_health_window(settings(**{var: value}), "m3")


def test_a_setting_missing_is_named() -> None:
    partial = {"healthcheck": "ping", "healthcheck_interval": "2s"}
    with pytest.raises(AnsibleFilterError, match=r"m3: gobetween_lb_healthcheck_timeout, .* not set"):
        gobetween.gobetween_lb_health_window(partial, "m3")


def test_the_window_wants_the_roles_settings() -> None:
    with pytest.raises(AnsibleFilterError, match="gobetween_lb_health_window expects the role's settings"):
        gobetween.gobetween_lb_health_window(None, "m3")


def test_the_filters_are_exposed() -> None:
    assert set(gobetween.FilterModule().filters()) == {
        "gobetween_config_errors",
        "gobetween_go_string",
        "gobetween_toml_string",
        "gobetween_lb_static_list",
        "gobetween_lb_health_window",
        "gobetween_lb_tls_ciphers",
    }
