"""Unit tests for roles/benchmark/filter_plugins/benchmark.py on ab and wrk output captured from real runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from benchmark_role import bench
from benchmark_role import targets as role_targets

DATA = Path(__file__).parent / "data"


def sample(name: str) -> str:
    return (DATA / name).read_text()


def test_ab_report_is_parsed() -> None:
    ab = bench.bench_parse_ab(sample("ab_ok.txt"))
    assert ab["ok"] is True
    assert ab["requests_per_second"] == 3673.18
    assert (ab["complete_requests"], ab["failed_requests"], ab["non_2xx"]) == (2000, 0, 0)
    assert ab["keepalive_requests"] == 2000
    assert ab["mean_latency_ms"] == 5.445
    assert ab["transfer_kbytes_per_second"] == 1079.71
    assert ab["percentiles_ms"] == {
        "50": 4.0, "66": 5.0, "75": 5.0, "80": 6.0, "90": 8.0, "95": 15.0, "98": 21.0, "99": 23.0, "100": 39.0,
    }  # fmt: skip


def test_ab_non_2xx_responses_are_counted() -> None:
    ab = bench.bench_parse_ab(sample("ab_non2xx.txt"))
    assert (ab["non_2xx"], ab["failed_requests"]) == (500, 0)


def test_ab_failed_requests_come_with_their_breakdown() -> None:
    ab = bench.bench_parse_ab(sample("ab_failed.txt"))
    assert ab["failed_requests"] == 200
    assert ab["failed_breakdown"] == {"connect": 0, "receive": 0, "length": 200, "exceptions": 0}


def test_ab_that_could_not_connect_is_a_failed_target() -> None:
    assert bench.bench_parse_ab(sample("ab_refused.txt")) == {
        "ok": False,
        "error": "apr_socket_recv: Connection refused (111)",
    }


def test_empty_output_is_a_failed_target() -> None:
    assert bench.bench_parse_ab("") == {"ok": False, "error": "no output"}
    assert bench.bench_parse_wrk("") == {"ok": False, "error": "no output"}


def test_wrk_report_is_parsed() -> None:
    wrk = bench.bench_parse_wrk(sample("wrk_ok.txt"))
    assert wrk["ok"] is True
    assert (wrk["requests_per_second"], wrk["complete_requests"]) == (3736.04, 7534)
    assert wrk["mean_latency_ms"] == 7.11
    assert wrk["transfer_kbytes_per_second"] == 1095.68
    assert wrk["percentiles_ms"] == {"50": 4.63, "75": 9.02, "90": 16.32, "99": 39.58}


def test_wrk_errors_and_units_are_read() -> None:
    text = sample("wrk_ok.txt").replace("    Latency     7.11ms", "    Latency   712.00us")
    text += "  Socket errors: connect 1, read 2, write 0, timeout 3\n  Non-2xx or 3xx responses: 7\n"
    wrk = bench.bench_parse_wrk(text)
    assert (wrk["mean_latency_ms"], wrk["failed_requests"], wrk["non_2xx"]) == (0.712, 6, 7)


def test_unreadable_wrk_duration_is_an_error() -> None:
    with pytest.raises(AnsibleFilterError, match=r"cannot read the duration '7\.11parsecs'"):
        bench.bench_parse_wrk(sample("wrk_ok.txt").replace("7.11ms ", "7.11parsecs "))


def test_ab_over_tls_gives_the_protocol_and_cipher() -> None:
    ab = bench.bench_parse_ab(sample("ab_tls.txt"))
    assert (ab["ok"], ab["complete_requests"], ab["failed_requests"], ab["keepalive_requests"]) == (True, 2000, 0, 2000)
    assert ab["tls"] == "TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384"
    assert "tls_handshake" not in ab["failed_breakdown"]


def test_ab_counts_a_failed_tls_handshake_as_complete_so_it_is_added_to_the_failed() -> None:
    # ab -f TLS1.3 against a server without TLS 1.3: ab says 10 complete and 0 failed
    text = sample("ab_tls_refused.txt")
    assert "Failed requests:        0" in text
    assert "Complete requests:      10" in text
    ab = bench.bench_parse_ab(text)
    assert (ab["failed_requests"], ab["failed_breakdown"]["tls_handshake"]) == (10, 10)
    assert ab == {**ab, "ok": False, "error": "every TLS handshake failed (tlsv1 alert protocol version)"}


def test_ab_failed_handshakes_among_served_ones_are_counted_once() -> None:
    """Once a response has set the document length, ab counts a failed handshake (0 bytes read) as a
    Length failure itself: only the handshakes beyond those are added."""
    served = sample("ab_tls.txt")
    partial = served.replace(
        "Failed requests:        0\n",
        "Failed requests:        3\n   (Connect: 0, Receive: 0, Length: 3, Exceptions: 0)\n",
    )
    ab = bench.bench_parse_ab(partial + "SSL handshake failed (1).\n" * 3)
    assert (ab["ok"], ab["failed_requests"], ab["failed_breakdown"]["tls_handshake"]) == (True, 3, 3)
    # failed handshakes before any response: ab counted none of them
    early = bench.bench_parse_ab(served + "SSL handshake failed (1).\n" * 2)
    assert (early["ok"], early["failed_requests"]) == (True, 2)


def test_h2load_report_is_parsed() -> None:
    h2 = bench.bench_parse_h2load(sample("h2load_ok.txt"))
    rate = next(line for line in sample("h2load_ok.txt").splitlines() if line.startswith("finished in"))
    assert h2 == {
        "ok": True,
        "tool": "h2load",
        "complete_requests": 2000,
        "failed_requests": 0,
        "failed_breakdown": {"errored": 0, "timeout": 0},
        "non_2xx": 0,
        "requests_per_second": float(rate.split(", ")[1].split()[0]),
        "mean_latency_ms": 1.31,  # "time for request": min, max, mean
        "percentiles_ms": {},
        "application_protocol": "h2",
        "tls": "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256",
    }


def test_h2load_counts_its_3xx_to_5xx_as_non_2xx_not_as_failed() -> None:
    h2 = bench.bench_parse_h2load(sample("h2load_3xx.txt"))
    assert (h2["ok"], h2["non_2xx"], h2["failed_requests"]) == (True, 200, 0)
    # h2load's own "failed" counts its 5xx: 1 500 2xx and 500 5xx are 500 non-2xx, none failed
    text = sample("h2load_ok.txt").replace("2000 succeeded, 0 failed", "1500 succeeded, 500 failed")
    text = text.replace("status codes: 2000 2xx, 0 3xx, 0 4xx, 0 5xx", "status codes: 1500 2xx, 0 3xx, 0 4xx, 500 5xx")
    some = bench.bench_parse_h2load(text)
    assert (some["ok"], some["failed_requests"], some["non_2xx"]) == (True, 0, 500)
    # every answer a 5xx: nothing succeeded, a failed load
    assert bench.bench_parse_h2load(sample("h2load_5xx.txt")) == {
        "ok": False,
        "error": "no request succeeded (200 failed: 0 without a response, 0 timed out)",
    }


def test_h2load_with_nothing_to_talk_to_or_without_h2_is_a_failed_load() -> None:
    assert bench.bench_parse_h2load(sample("h2load_refused.txt")) == {
        "ok": False,
        "error": "no request succeeded (200 failed: 200 without a response, 0 timed out)",
    }
    # ALPN gave HTTP/1.1: the load measured no HTTP/2
    assert bench.bench_parse_h2load(sample("h2load_http11.txt")) == {
        "ok": False,
        "error": "h2load got http/1.1 by ALPN, not h2",
    }
    assert bench.bench_parse_h2load("") == {"ok": False, "error": "no output"}


@pytest.mark.parametrize("parser", [bench.bench_parse_ab, bench.bench_parse_wrk, bench.bench_parse_h2load])
def test_parsers_want_text(parser) -> None:
    with pytest.raises(AnsibleFilterError, match="expects the text"):
        parser(None)


BACKENDS = [
    {"name": "m1", "address": "10.0.0.2", "port": 80},
    {"name": "m2", "address": "10.0.0.3", "port": 8080},
]
M3 = {"inventory_hostname": "m3", "lab_address": "10.0.0.4"}
TLS = ["https", "handshakes", "h2"]


def test_targets_are_direct_backends_then_balancers_then_variants() -> None:
    variants = [{"name": "nginx keepalive 3", "balancer": "nginx", "vars": {"nginx_lb_keepalive": 3}}]
    variants.append({"name": "nginx on 8080", "balancer": "nginx", "vars": {"nginx_lb_port": 8080}})
    targets = role_targets(BACKENDS, M3, ["nginx", "haproxy"], variants, "/swap.html")
    assert targets == [
        {"name": "m1 direct", "kind": "direct", "mode": "http", "url": "http://10.0.0.2:80/swap.html"},
        {"name": "m2 direct", "kind": "direct", "mode": "http", "url": "http://10.0.0.3:8080/swap.html"},
        {
            "name": "nginx",
            "kind": "balancer",
            "mode": "http",
            "farm": "nginx",
            "url": "http://10.0.0.4:80/swap.html",
            "vars": {"balancer": "nginx"},
        },
        {
            "name": "haproxy",
            "kind": "balancer",
            "mode": "http",
            "farm": "haproxy",
            "url": "http://10.0.0.4:80/swap.html",
            "vars": {"balancer": "haproxy"},
        },
        {
            "name": "nginx keepalive 3",
            "kind": "balancer",
            "mode": "http",
            "farm": "nginx keepalive 3",
            "url": "http://10.0.0.4:80/swap.html",
            "vars": {"nginx_lb_keepalive": 3, "balancer": "nginx"},
        },
        {
            "name": "nginx on 8080",
            "kind": "balancer",
            "mode": "http",
            "farm": "nginx on 8080",
            "url": "http://10.0.0.4:8080/swap.html",
            "vars": {"nginx_lb_port": 8080, "balancer": "nginx"},
        },
    ]


def test_each_balancer_that_serves_https_is_loaded_over_tls_too() -> None:
    host = {**M3, "haproxy_lb_https_port": 8443}
    targets = role_targets(BACKENDS, host, ["nginx", "haproxy", "gobetween", "ipvs"], [], "/swap.html", False, TLS)
    assert [(t["name"], t["mode"], t["farm"], t["url"]) for t in targets] == [
        ("nginx", "http", "nginx", "http://10.0.0.4:80/swap.html"),
        ("nginx https", "https", "nginx", "https://10.0.0.4:443/swap.html"),
        ("nginx TLS handshakes", "handshakes", "nginx", "https://10.0.0.4:443/swap.html"),
        ("nginx h2", "h2", "nginx", "https://10.0.0.4:443/swap.html"),
        ("haproxy", "http", "haproxy", "http://10.0.0.4:80/swap.html"),
        ("haproxy https", "https", "haproxy", "https://10.0.0.4:8443/swap.html"),
        ("haproxy TLS handshakes", "handshakes", "haproxy", "https://10.0.0.4:8443/swap.html"),
        ("haproxy h2", "h2", "haproxy", "https://10.0.0.4:8443/swap.html"),
        # gobetween terminates TLS at L4, without ALPN: no HTTP/2
        ("gobetween", "http", "gobetween", "http://10.0.0.4:80/swap.html"),
        ("gobetween https", "https", "gobetween", "https://10.0.0.4:443/swap.html"),
        ("gobetween TLS handshakes", "handshakes", "gobetween", "https://10.0.0.4:443/swap.html"),
        # IPVS forwards TCP and terminates no TLS: plain HTTP only
        ("ipvs", "http", "ipvs", "http://192.168.100.1:80/swap.html"),  # its VIP
    ]
    # whether the farm serves is asked over plain HTTP: the load tools do not verify the certificate
    assert {t["probe_url"] for t in targets if t["mode"] != "http"} == {"http://10.0.0.4:80/swap.html"}
    # a balancer with HTTPS turned off is loaded over plain HTTP only
    off = role_targets(BACKENDS, {**M3, "nginx_lb_https": False}, ["nginx"], [], "/", False, TLS)
    assert [t["name"] for t in off] == ["nginx"]


def test_ipvs_is_loaded_on_its_vip() -> None:
    (target,) = role_targets(BACKENDS, {**M3, "ipvs_lb_vip": "10.0.1.1"}, ["ipvs"], direct=False)
    assert target["url"] == "http://10.0.1.1:80/"


def test_targets_without_direct_backends() -> None:
    assert [t["name"] for t in role_targets(BACKENDS, M3, ["nginx"], direct=False)] == ["nginx"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": "swap.html"}, "must start with /"),
        ({"variants": [{"name": "x"}]}, "needs a name and a balancer"),
        ({"variants": [{"name": "nginx", "balancer": "nginx"}]}, "target names must differ"),
        ({"tls_loads": ["http3"]}, "benchmark_tls_loads has 'http3': use some of https, handshakes, h2"),
    ],
)
def test_bad_targets_are_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        role_targets(BACKENDS, M3, ["nginx"], **kwargs)
