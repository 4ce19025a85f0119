"""HAProxy's own pages and persistence: the stats page behind basic auth (over TLS only), the sticky
cookie (Secure over HTTPS), the servers' state kept across a reload (server-state-file)."""

import csv
import io

import pytest
from farmcheck import cookie_client, count_backends, fetch, wait_until


@pytest.fixture
def stats(farm) -> dict:
    return farm.endpoints["stats"]


def test_stats_asks_for_credentials_with_the_realm(stats) -> None:
    reply = fetch(stats["url"])
    assert reply.status == 401
    assert f'realm="{stats["realm"]}"' in reply.headers.get("WWW-Authenticate", "")


def test_stats_rejects_wrong_password(stats, farm) -> None:
    assert fetch(stats["url"], auth=(stats["user"], farm.stats_password() + "x")).status == 401


def test_stats_with_the_password_names_every_backend(stats, farm) -> None:
    reply = fetch(stats["url"], auth=(stats["user"], farm.stats_password()))
    assert reply.status == 200
    for backend in farm.backends:
        assert backend["name"] in reply.body


def test_stats_csv_shows_every_backend_up(stats, farm) -> None:
    reply = fetch(stats["url"] + ";csv", auth=(stats["user"], farm.stats_password()))
    assert reply.status == 200
    rows = csv.DictReader(io.StringIO(reply.body.lstrip("# ")))
    status = {row["svname"]: row["status"] for row in rows if row["pxname"] == "farm"}
    assert {b["name"]: status.get(b["name"]) for b in farm.backends} == {b["name"]: "UP" for b in farm.backends}


def test_stats_answers_nothing_in_clear(stats) -> None:
    """With HTTPS on, the stats page is over TLS only: its password never travels in clear."""
    if not stats["url"].startswith("https://"):
        pytest.skip("HTTPS is off (haproxy_lb_https): the stats page is plain HTTP")
    assert fetch("http://" + stats["url"].removeprefix("https://")).status == 0


def test_cookie_is_secure_over_https_only(farm) -> None:
    https = farm.endpoints["https_url"]
    if not https:
        pytest.skip("HTTPS is off (haproxy_lb_https)")
    name = farm.setting("cookie_name")
    over_tls = fetch(https).headers.get("Set-Cookie", "")
    assert over_tls.startswith(f"{name}="), over_tls
    assert over_tls.endswith("; Secure"), over_tls
    if not farm.setting("https_redirect"):
        in_clear = fetch(farm.url).headers.get("Set-Cookie", "")
        assert in_clear.startswith(f"{name}="), in_clear
        assert "Secure" not in in_clear, in_clear


def test_cookie_keeps_a_client_on_one_backend(farm) -> None:
    for _ in range(3):
        seen = count_backends(farm.url, 20, cookie_client())
        assert len(seen) == 1, seen
        assert next(iter(seen)) in farm.shares, seen


def op_state(balancer, server: str) -> int | None:
    """srv_op_state of a server in the running HAProxy (show servers state): 0 down, 2 up."""
    for line in balancer.check_output("lbfarm-haproxy-api 'show servers state farm'").splitlines():
        fields = line.split()
        if len(fields) > 5 and fields[3] == server:
            return int(fields[5])
    return None


def worker_pid(balancer) -> str | None:
    """The pid of the HAProxy process that answers on the runtime API (show info)."""
    info = balancer.run("lbfarm-haproxy-api 'show info'").stdout
    return next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("Pid:")), None)


def test_a_reload_keeps_a_server_that_is_down_down(farm) -> None:
    """A reload saves the servers' state first (the unit's drop-in) and the new HAProxy loads it
    (server-state-file): a server its checks found down is down at once in the new process,
    instead of up until three checks have failed again (and taking requests meanwhile)."""
    balancer, m1 = farm.host(farm.balancer_host), farm.host("m1")
    try:
        assert m1.run("systemctl stop apache2").rc == 0
        assert wait_until(lambda: op_state(balancer, "m1") == 0, 20), "HAProxy did not see m1 down"
        old = worker_pid(balancer)
        assert balancer.run("systemctl reload haproxy").rc == 0
        # the runtime API answers from the new process once it has taken the socket
        assert wait_until(lambda: worker_pid(balancer) not in (None, old), 10), "no new HAProxy after the reload"
        assert op_state(balancer, "m1") == 0, balancer.check_output("lbfarm-haproxy-api 'show servers state farm'")
    finally:
        m1.run("systemctl start apache2")
        assert wait_until(lambda: op_state(balancer, "m1") == 2, 20), "m1 did not come back"
