"""Prometheus' scrape jobs (filter_plugins/monitoring.py): every job, each label, and the errors."""

from __future__ import annotations

import re

import modules
import pytest
from ansible.errors import AnsibleFilterError

monitoring = modules.load("roles/monitoring/filter_plugins/monitoring.py")

ADDRESSES = {"m1": "172.30.56.2", "m2": "172.30.56.3", "m3": "172.30.56.4"}
PORTS = {"prometheus": 9090, "node": 9100, "apache": 9117}
HAPROXY = {
    "name": "haproxy",
    "metrics": {"m3": {"url": "https://172.30.56.4:9999/metrics", "user": "admin"}},
    "password_file": "/etc/prometheus/lbfarm-balancer.password",
    "ca_file": "/etc/prometheus/lbfarm-ca.crt",
}


def jobs(balancer=None, addresses=ADDRESSES, backends=("m1", "m2"), ports=PORTS) -> dict:
    got = monitoring.monitoring_scrape_configs(addresses, list(backends), "m3", ports, balancer)
    return {job["job_name"]: job for job in got}


def test_every_host_its_node_exporter_each_backend_its_apache_and_the_server_itself() -> None:
    got = jobs()
    assert list(got) == ["prometheus", "node", "apache"]
    assert got["prometheus"]["static_configs"] == [{"targets": ["172.30.56.4:9090"], "labels": {"instance": "m3"}}]
    assert [c["targets"] for c in got["node"]["static_configs"]] == [
        ["172.30.56.2:9100"],
        ["172.30.56.3:9100"],
        ["172.30.56.4:9100"],
    ]
    assert [c["labels"]["instance"] for c in got["apache"]["static_configs"]] == ["m1", "m2"]


def test_haproxy_metrics_with_its_password_from_a_file_and_the_lab_ca() -> None:
    got = jobs(HAPROXY)["balancer"]
    assert got == {
        "job_name": "balancer",
        "scheme": "https",
        "metrics_path": "/metrics",
        "static_configs": [{"targets": ["172.30.56.4:9999"], "labels": {"instance": "m3", "balancer": "haproxy"}}],
        "basic_auth": {"username": "admin", "password_file": "/etc/prometheus/lbfarm-balancer.password"},
        "tls_config": {"ca_file": "/etc/prometheus/lbfarm-ca.crt"},
        "enable_http2": False,
    }


def test_nginx_exporter_plain_without_a_password() -> None:
    nginx = {"name": "nginx", "metrics": {"m3": {"url": "http://172.30.56.4:9113/metrics", "user": None}}}
    got = jobs(nginx)["balancer"]
    assert "basic_auth" not in got
    assert "tls_config" not in got
    assert got["static_configs"][0]["targets"] == ["172.30.56.4:9113"]


def test_a_balancer_without_metrics_has_no_job() -> None:
    assert "balancer" not in jobs({"name": "ipvs", "metrics": {"m3": None}})


IPVS = {
    "name": "ipvs",
    "metrics": {"m3": None},
    "node_metrics": "node_ipvs_backend_",
    "backends": [
        {"name": "m1", "address": "192.168.56.2", "port": 80, "https_port": 443},
        {"name": "m2", "address": "192.168.56.3", "port": 8080, "https_port": 8443},
    ],
}


def test_ipvs_real_servers_are_named_after_their_backends_on_both_ports() -> None:
    got = jobs(IPVS)
    assert "balancer" not in got
    assert got["node"]["metric_relabel_configs"] == [
        {
            "source_labels": ["__name__", "remote_address", "remote_port"],
            "regex": r"node_ipvs_backend_.*;192\.168\.56\.2;(80|443)",
            "target_label": "server",
            "replacement": "m1",
        },
        {
            "source_labels": ["__name__", "remote_address", "remote_port"],
            "regex": r"node_ipvs_backend_.*;192\.168\.56\.3;(8080|8443)",
            "target_label": "server",
            "replacement": "m2",
        },
    ]
    # the relabelling is Prometheus': RE2, anchored at both ends, joined by ";"
    for rule, address, port in ((0, "192.168.56.2", "443"), (1, "192.168.56.3", "8080")):
        regex = got["node"]["metric_relabel_configs"][rule]["regex"]
        assert re.fullmatch(regex, f"node_ipvs_backend_weight;{address};{port}")
        assert not re.fullmatch(regex, f"node_ipvs_backend_weight;{address}0;{port}")
        assert not re.fullmatch(regex, f"node_cpu_seconds_total;{address};{port}")


def test_a_balancer_the_node_exporter_does_not_see_leaves_the_node_job_alone() -> None:
    assert "metric_relabel_configs" not in jobs(HAPROXY)["node"]
    assert "metric_relabel_configs" not in jobs({**IPVS, "node_metrics": ""})["node"]


def test_each_balancer_of_a_pair_is_a_target() -> None:
    pair = {
        **HAPROXY,
        "metrics": {**HAPROXY["metrics"], "m4": {"url": "https://172.30.56.5:9999/metrics", "user": "admin"}},
    }
    got = jobs(pair, addresses={**ADDRESSES, "m4": "172.30.56.5"})["balancer"]["static_configs"]
    assert [(c["targets"], c["labels"]["instance"]) for c in got] == [
        (["172.30.56.4:9999"], "m3"),
        (["172.30.56.5:9999"], "m4"),
    ]


def test_two_backends_on_one_host_are_one_apache_target() -> None:
    got = jobs(addresses={"m3": "127.0.0.1"}, backends=("m3", "m3"))
    assert [c["targets"] for c in got["apache"]["static_configs"]] == [["127.0.0.1:9117"]]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"addresses": {**ADDRESSES, "m2": None}}, "host m2: it has no lab_address"),
        ({"ports": {**PORTS, "node": "x"}}, "the port of node: 'x' is not a port number"),
        ({"ports": {**PORTS, "apache": 70000}}, "the port of apache: 70000 is not between 1 and 65535"),
        ({"ports": {**PORTS, "apache": 9100}}, "two exporters would answer on 172.30.56.2:9100"),
        ({"balancer": {**HAPROXY, "password_file": ""}}, "balancer haproxy: its metrics need a password"),
        ({"addresses": {}}, "addresses must map each farm host"),
        ({"balancer": {**IPVS, "backends": []}}, "balancer ipvs: the node exporter sees its real servers"),
        (
            {
                "balancer": {
                    **HAPROXY,
                    "metrics": {**HAPROXY["metrics"], "m4": {"url": "http://x:9999/metrics", "user": "admin"}},
                }
            },
            "balancer haproxy: its hosts serve their metrics differently",
        ),
    ],
)
def test_bad_input_is_named(kwargs: dict, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        jobs(**kwargs)
