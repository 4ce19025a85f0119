"""playbooks/backend.yml: a drained backend gets no new request and can stop without a failed
request; the state survives a run of the balancer play; a wrong request changes nothing."""

from __future__ import annotations

import time

from farmcheck import Load, wait_until

STATES_FILE = "/etc/lbfarm/backend-states.json"
# how each balancer's configuration says that m1 is out (farm_nginx_servers, farm_haproxy_servers)
DRAINED_LINE = {"haproxy": ("/etc/haproxy/haproxy.cfg", " weight 0 "), "nginx": ("/etc/nginx/nginx.conf", " down;")}


def test_unknown_backend_or_state_changes_nothing(farm, playbook) -> None:
    balancer = farm.host(farm.balancer_host)
    before = balancer.run(
        f"cat {STATES_FILE} 2>/dev/null; sha256sum /etc/*/*.cfg /etc/nginx/nginx.conf 2>/dev/null"
    ).stdout
    for extra, message in (
        ({"backend": "m9", "state": "drain"}, "backend='m9' is not in the backends group"),
        ({"backend": "m1", "state": "off"}, "state='off' is unknown: use one of ready, drain, maint"),
    ):
        run = playbook("playbooks/backend.yml", check=False, **extra)
        assert run.rc != 0
        assert message in run.output, run.output[-2000:]
    assert (
        balancer.run(f"cat {STATES_FILE} 2>/dev/null; sha256sum /etc/*/*.cfg /etc/nginx/nginx.conf 2>/dev/null").stdout
        == before
    )


def test_drained_backend_stops_without_a_failed_request(farm, playbook, report) -> None:
    farm.require_running_balancer()
    m1 = farm.host("m1")
    balancer = farm.host(farm.balancer_host)
    path, mark = DRAINED_LINE.get(farm.balancer, ("", ""))
    address = next(b["address"] for b in farm.backends if b["name"] == "m1")
    ready = None
    try:
        # bounded by time and count; the bound must outlast the three playbooks on a busy machine
        # (in one CI run they took 262 s, the load had stopped at 240 s and m1 could not "come back")
        with Load(farm.url, clients=16, seconds=600) as load:
            assert wait_until(lambda: load.since("m1", load.started), 10), "m1 answered nothing before the drain"
            drain = playbook("playbooks/backend.yml", backend="m1", state="drain")
            drained = time.monotonic()
            assert m1.run("systemctl stop apache2").rc == 0
            # the balancer play renders the recorded state again: m1 stays out
            playbook("playbooks/balancer.yml")
            if path:
                lines = [
                    line
                    for line in balancer.file(path).content_string.splitlines()
                    if f"server {address}" in line or f" {address}:" in line
                ]
                assert any(mark in f"{line} " for line in lines), lines
            time.sleep(2)
            assert not load.since("m1", drained), "m1 answered after the drain"
            assert m1.run("systemctl start apache2").rc == 0
            ready = playbook("playbooks/backend.yml", backend="m1", state="ready")
            back = time.monotonic()
            assert wait_until(lambda: load.since("m1", back), 15), f"m1 did not come back after ready: {load.summary()}"
        report(f"drain m1, stop its Apache, balancer play, ready ({farm.balancer})", load.summary())
        report(f"backend.yml drain / ready ({farm.balancer})", f"{drain.seconds:.1f} s / {ready.seconds:.1f} s")
        assert load.failed == 0, load.summary()
        assert load.non_2xx == 0, load.summary()
    finally:
        m1.run("systemctl start apache2")
        if ready is None:  # stopped before m1 was made ready: make it so
            playbook("playbooks/backend.yml", backend="m1", state="ready", check=False)
