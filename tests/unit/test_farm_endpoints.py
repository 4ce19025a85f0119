"""farm_endpoints and farm_settings: where the farm answers, from the inventory and the adapters' defaults
(the balancer contract, lookup_plugins/balancers.py)."""

from __future__ import annotations

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from filter_plugins import farm
from lookup_plugins import balancers

CONTRACT = balancers.contract()

M3 = {"inventory_hostname": "m3", "lab_address": "192.168.56.4", "ansible_host": "lbfarm-m3"}
BACKENDS = farm.farm_backends(
    ["m1", "m2"], {"m1": {"lab_address": "a", "backend_weight": 3}, "m2": {"lab_address": "b"}}
)


def defaults(balancer: str) -> dict:
    return yaml.safe_load((balancers.ROLES / f"{balancer}_lb/defaults/main.yml").read_text())


def endpoints(host, balancer: str, backends=None) -> dict:
    """farm_endpoints of a balancer of the contract."""
    return farm.farm_endpoints(host, CONTRACT[balancer], backends)


def test_haproxy_answers_on_the_host_with_its_stats_page_from_the_role_defaults() -> None:
    got = endpoints(M3, "haproxy", BACKENDS)
    port, stats_port = defaults("haproxy")["haproxy_lb_port"], defaults("haproxy")["haproxy_lb_stats_port"]
    https_port = defaults("haproxy")["haproxy_lb_https_port"]
    assert got["url"] == f"http://192.168.56.4:{port}/"
    assert got["https_url"] == got["host_https_url"] == f"https://192.168.56.4:{https_port}/"
    assert got["stats"] == {
        # over TLS only, as HAProxy serves HTTPS by default (haproxy_lb_https)
        "url": f"https://192.168.56.4:{stats_port}{defaults('haproxy')['haproxy_lb_stats_uri']}",
        "port": stats_port,
        "user": defaults("haproxy")["haproxy_lb_stats_user"],
        "realm": defaults("haproxy")["haproxy_lb_stats_realm"],
    }
    assert got["api"] is None
    assert got["vip"] is None
    assert got["shares"] == {"m1": 0.75, "m2": 0.25}


def test_inventory_values_win_over_the_role_defaults() -> None:
    host = {**M3, "haproxy_lb_port": 8080, "haproxy_lb_stats_port": "8404", "haproxy_lb_stats_user": "ops"}
    got = endpoints(host, "haproxy")
    assert got["url"] == "http://192.168.56.4:8080/"
    assert got["stats"]["url"].startswith("https://192.168.56.4:8404/")
    assert got["stats"]["user"] == "ops"
    assert got["shares"] is None


def test_https_turned_off_is_no_endpoint_and_the_stats_page_is_plain_http() -> None:
    got = endpoints({**M3, "haproxy_lb_https": False}, "haproxy")
    assert (got["https_url"], got["host_https_url"]) == (None, None)
    assert got["stats"]["url"].startswith("http://192.168.56.4:")
    assert endpoints({**M3, "nginx_lb_https": "no"}, "nginx")["https_url"] is None


def test_https_answers_on_its_own_port() -> None:
    got = endpoints({**M3, "nginx_lb_https_port": 8443}, "nginx")
    assert got["https_url"] == "https://192.168.56.4:8443/"
    with pytest.raises(AnsibleFilterError, match="nginx_lb_https_port='x' is not an integer"):
        endpoints({**M3, "nginx_lb_https_port": "x"}, "nginx")


def test_stats_page_turned_off_is_not_an_endpoint() -> None:
    assert endpoints({**M3, "haproxy_lb_stats": False}, "haproxy")["stats"] is None
    assert endpoints({**M3, "haproxy_lb_stats": "no"}, "haproxy")["stats"] is None


def test_nginx_has_no_stats_page_and_no_api() -> None:
    got = endpoints(M3, "nginx")
    assert (got["url"], got["stats"], got["api"]) == ("http://192.168.56.4:80/", None, None)


def test_gobetween_api_is_on_the_balancer_host_over_tls_while_it_serves_https() -> None:
    got = endpoints(M3, "gobetween")
    bind, user = defaults("gobetween")["gobetween_lb_api_bind"], defaults("gobetween")["gobetween_lb_api_user"]
    # gobetween_lb_https is on by default: [api.tls], the password never in clear
    assert got["api"] == {"url": f"https://{bind}/", "user": user, "host": "m3"}
    assert endpoints({**M3, "gobetween_lb_https": False}, "gobetween")["api"]["url"] == f"http://{bind}/"
    assert endpoints({**M3, "gobetween_lb_api": False}, "gobetween")["api"] is None


def test_gobetween_answers_over_https_on_its_own_port() -> None:
    https_port = defaults("gobetween")["gobetween_lb_https_port"]
    got = endpoints(M3, "gobetween")
    assert got["url"] == "http://192.168.56.4:80/"
    assert got["https_url"] == got["host_https_url"] == f"https://192.168.56.4:{https_port}/"
    assert endpoints({**M3, "gobetween_lb_https_port": 8443}, "gobetween")["https_url"] == "https://192.168.56.4:8443/"
    off = endpoints({**M3, "gobetween_lb_https": "no"}, "gobetween")
    assert (off["https_url"], off["host_https_url"]) == (None, None)
    with pytest.raises(AnsibleFilterError, match="gobetween_lb_https_port=70000"):
        endpoints({**M3, "gobetween_lb_https_port": 70000}, "gobetween")


def test_ipvs_answers_on_its_vip() -> None:
    got = endpoints({**M3, "ipvs_lb_vip": "10.9.9.9"}, "ipvs")
    assert (got["address"], got["vip"], got["url"]) == ("10.9.9.9", "10.9.9.9", "http://10.9.9.9:80/")
    assert endpoints(M3, "ipvs")["vip"] == defaults("ipvs")["ipvs_lb_vip"]


def test_host_without_lab_address_answers_on_ansible_host() -> None:
    got = endpoints({"inventory_hostname": "m3", "ansible_host": "192.168.56.4"}, "nginx")
    assert got["address"] == "192.168.56.4"


def test_templated_default_counts_only_where_the_inventory_sets_it() -> None:
    assert "{{" in defaults("ipvs")["ipvs_lb_director_address"]
    assert "director_address" not in farm.farm_settings(M3, CONTRACT["ipvs"])
    assert farm.farm_settings({**M3, "ipvs_lb_director_address": "x"}, CONTRACT["ipvs"])["director_address"] == "x"


@pytest.mark.parametrize(
    ("host", "balancer", "message"),
    [
        ({**M3, "nginx_lb_port": 0}, "nginx", "nginx_lb_port=0 is out of range"),
        ({**M3, "haproxy_lb_stats_port": "x"}, "haproxy", "haproxy_lb_stats_port='x' is not an integer"),
        ({"inventory_hostname": "m3"}, "nginx", "balancer host m3: no address; set lab_address for it"),
        ("m3", "nginx", "expected a balancer host's hostvars"),
    ],
)
def test_bad_input_is_named(host, balancer: str, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message.replace("(", r"\(")):
        endpoints(host, balancer)


def test_balancer_settings_give_the_ipvs_real_servers_their_director_values() -> None:
    got = farm.farm_settings({**M3, "ipvs_lb_method": "route"}, CONTRACT["ipvs"])
    assert got["method"] == "route"
    assert got["vip"] == defaults("ipvs")["ipvs_lb_vip"]
    assert got["client_networks"] == defaults("ipvs")["ipvs_lb_client_networks"]
    with pytest.raises(AnsibleFilterError, match="expected a balancer host's hostvars"):
        farm.farm_settings(None, CONTRACT["ipvs"])
    with pytest.raises(AnsibleFilterError, match=r"expected a balancer's entry of lookup\('balancers'\)"):
        farm.farm_settings(M3, "ipvs")


def test_only_the_adapter_s_own_variables_are_read() -> None:
    got = farm.farm_settings({**M3, "ipvs_lb_not_a_variable": 1, "nginx_lb_port": 81}, CONTRACT["ipvs"])
    assert "not_a_variable" not in got
    assert got["port"] == defaults("ipvs")["ipvs_lb_port"]


def test_a_pair_of_balancers_answers_on_its_floating_address() -> None:
    got = endpoints({**M3, "lab_vip": "192.168.56.10"}, "haproxy")
    assert (got["address"], got["url"]) == ("192.168.56.10", "http://192.168.56.10:80/")
    assert got["host_url"] == "http://192.168.56.4:80/", "each balancer of the pair is proven on its own address too"
    assert (got["https_url"], got["host_https_url"]) == ("https://192.168.56.10:443/", "https://192.168.56.4:443/")
    assert got["stats"]["url"].startswith("https://192.168.56.4:"), "each balancer keeps its own stats page"
    ipvs = endpoints({**M3, "lab_vip": "192.168.56.10", "ipvs_lb_vip": "10.9.9.9"}, "ipvs")
    assert ipvs["address"] == "10.9.9.9", "IPVS answers on its own VIP"
    assert ipvs["host_url"] == ipvs["url"] == "http://10.9.9.9:80/"


def test_a_single_balancer_answers_on_its_own_address_only() -> None:
    got = endpoints(M3, "nginx")
    assert got["host_url"] == got["url"] == "http://192.168.56.4:80/"


def test_haproxy_metrics_are_on_its_stats_page_behind_its_user_and_over_tls() -> None:
    got = endpoints(M3, "haproxy")
    stats_port = defaults("haproxy")["haproxy_lb_stats_port"]
    assert got["metrics"] == {
        "url": f"https://192.168.56.4:{stats_port}{defaults('haproxy')['haproxy_lb_metrics_path']}",
        "user": defaults("haproxy")["haproxy_lb_stats_user"],
    }
    assert endpoints({**M3, "haproxy_lb_https": False}, "haproxy")["metrics"]["url"].startswith("http://")


def test_nginx_metrics_are_its_exporter_on_the_host_address_without_a_password() -> None:
    port = defaults("nginx")["nginx_lb_metrics_port"]
    got = endpoints({**M3, "lab_vip": "192.168.56.10"}, "nginx")
    assert got["metrics"] == {"url": f"http://192.168.56.4:{port}/metrics", "user": None}


@pytest.mark.parametrize(
    "host",
    [{**M3, "monitoring_enabled": False}, {**M3, "monitoring_enabled": "false"}, {**M3, "haproxy_lb_metrics": False}],
)
def test_metrics_turned_off_are_no_endpoint(host) -> None:
    assert endpoints(host, "haproxy")["metrics"] is None


def test_balancers_without_metrics_of_their_own_say_none() -> None:
    assert endpoints(M3, "ipvs")["metrics"] is None
    assert endpoints(M3, "gobetween")["metrics"] is None


def test_haproxy_metrics_go_with_its_stats_page() -> None:
    assert endpoints({**M3, "haproxy_lb_stats": False}, "haproxy")["metrics"] is None
