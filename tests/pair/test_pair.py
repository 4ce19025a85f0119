"""A pair of balancers sharing a floating address: one holds it, and it moves when that one fails.

The failover tests load the farm through the floating address from this machine (a bounded
client: 4 threads, 22 s, a 2 s timeout per request; a second one over HTTPS where the balancer
serves it), break the balancer that holds the address, and time what each client saw. Each test
restores the pair before it ends.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import modules
import pytest
from farmcheck import wait_until
from loadcheck import Load, LoadResult
from promcheck import prometheus_of

LOAD_SECONDS = 22.0
BREAK_AT = 4.0  # seconds of normal traffic first
RESTORE_AT = 11.0
CLIENT_TIMEOUT = 2.0  # a request that hangs longer counts as failed
# Generous on purpose: a busy CI machine must not flake; the measured windows are far shorter.
MAX_WINDOW = 10.0


def test_keepalived_runs_on_every_balancer(pair) -> None:
    for name in pair.balancers:
        keepalived = pair.farm.host(name).service("keepalived")
        assert keepalived.is_running, name
        assert keepalived.is_enabled, name


def test_the_address_is_on_exactly_one_balancer(pair) -> None:
    holder = pair.wait_for_holder()
    assert pair.state(holder) == "MASTER"
    for name in set(pair.balancers) - {holder}:
        assert pair.state(name) == "BACKUP", name


def test_live_configuration_passes_keepalived_check(pair) -> None:
    for name in pair.balancers:
        check = pair.farm.host(name).run("keepalived --config-test --use-file /etc/keepalived/keepalived.conf")
        assert check.rc == 0, f"{name}: {check.stderr}"


def failover(pair, what: str, break_it: Callable[[str], None], restore_it: Callable[[str], None]) -> LoadResult:
    """Load the farm, break the holder at BREAK_AT, restore it at RESTORE_AT; check and print the figures.
    Where the balancer serves HTTPS, a second client loads it over HTTPS at the same time (the
    certificate verified against the lab CA for the floating address), held to the same figures."""
    master = pair.wait_for_holder()
    moved_to = back_on = "?"
    https = pair.farm.endpoints.get("https_url")
    tls = ssl.create_default_context(cafile=pair.farm.ca_file) if https else None
    loads = {"http": Load(pair.farm.url, seconds=LOAD_SECONDS, workers=4, timeout=CLIENT_TIMEOUT)}
    if https:
        loads["https"] = Load(https, seconds=LOAD_SECONDS, workers=4, timeout=CLIENT_TIMEOUT, tls=tls)

    def mark(name: str) -> None:
        for load in loads.values():
            load.mark(name)

    with contextlib.ExitStack() as running:
        for load in loads.values():
            running.enter_context(load)
        time.sleep(BREAK_AT)
        mark("broken")
        try:
            break_it(master)
            moved_to = pair.wait_for_holder(other_than=master)
            mark("moved")
            time.sleep(max(0.0, RESTORE_AT - loads["http"].now()))
        finally:
            mark("restored")
            restore_it(master)
        # nopreempt: the address stays where it went; else the higher priority takes it back
        back_on = pair.wait_for_holder(wanted=moved_to if pair.nopreempt else master, timeout=30)
        mark("settled")
    for scheme, load in loads.items():
        check_failover(pair, f"{what} ({scheme})", load.result, master, moved_to, back_on)
    return loads["http"].result


def check_failover(pair, what: str, result: LoadResult, master: str, moved_to: str, back_on: str) -> None:
    broken, moved, restored, settled = (result.marks[m] for m in ("broken", "moved", "restored", "settled"))
    print(
        f"\n{what} on {master} ({pair.farm.balancer}, {result.requests} requests in {result.duration:.1f} s):"
        f"\n  address on {moved_to} {moved - broken:.2f} s later;"
        f" {len(result.failures_between(broken, restored))} failed,"
        f" window {result.window_seconds(broken, restored):.2f} s,"
        f" longest without a reply {result.longest_silence(broken, restored):.2f} s"
        f"\n  restored: address on {back_on} {settled - restored:.2f} s later"
        f" ({'nopreempt' if pair.nopreempt else 'preempted'});"
        f" {len(result.failures_between(restored))} failed, window {result.window_seconds(restored):.2f} s,"
        f" longest without a reply {result.longest_silence(restored):.2f} s"
        f"\n  errors {result.errors()}"
    )
    try:
        assert result.window_seconds(broken, restored) < MAX_WINDOW, result.summary(broken, restored)
        assert result.window_seconds(restored) < MAX_WINDOW, result.summary(restored)
        # once the address has settled (plus one client timeout for requests already under way),
        # every request succeeds: until the restore, and to the end of the load
        grace = CLIENT_TIMEOUT + 0.5
        assert not result.failures_between(moved + grace, restored), result.summary(broken, restored)
        assert not result.failures_between(settled + grace), result.summary(restored)
        assert result.succeeded_after(settled + grace) > 0, "no traffic after the pair settled"
    except AssertionError as err:
        raise AssertionError(f"{what}: {err}\n{pair.diagnose(result)}") from None


def test_stopped_balancer_moves_the_address(pair) -> None:
    def stop(name: str) -> None:
        pair.farm.host(name).run_test(f"systemctl stop {pair.unit}")

    def start(name: str) -> None:
        pair.farm.host(name).run_test(f"systemctl start {pair.unit}")

    failover(pair, f"{pair.unit} stopped (the track script notices)", stop, start)


def test_silent_balancer_host_is_replaced(pair) -> None:
    """A frozen container sends no last advert: the others wait for three missed adverts."""
    if not pair.farm.hostvars[pair.balancers[0]].get("ansible_connection", "").endswith("docker"):
        pytest.skip("the balancers are not containers this machine can pause")
    failover(
        pair,
        "container paused (no last advert)",
        lambda name: pair.docker("pause", pair.container(name)),
        lambda name: pair.docker("unpause", pair.container(name)),
    )


def test_prometheus_saw_the_address_move_and_sees_its_holder(pair) -> None:
    """The failovers above moved the address: each balancer's lbfarm_vrrp_master changed, the alert
    fired, and the series says who holds it now."""
    prometheus = prometheus_of(pair.farm)
    holder = pair.wait_for_holder()
    now = time.time()
    assert wait_until(lambda: prometheus.scraped_after("node", now), timeout=10 * prometheus.interval + 10)
    master = {name: value for name, (_, value) in prometheus.values("lbfarm_vrrp_master").items()}
    assert master == {name: float(name == holder) for name in pair.balancers}, (master, holder)
    changes = prometheus.values("changes(lbfarm_vrrp_master[10m])")
    assert all(changes[name][1] > 0 for name in pair.balancers), changes
    fired = prometheus.values('count_over_time(ALERTS{alertname="FloatingAddressMoved", alertstate="firing"}[10m])')
    assert set(fired) == set(pair.balancers), fired


def test_proof_passes_with_other_clients_and_both_balancers_at_once(pair, playbook) -> None:
    """site.yml's proof on a pair (each balancer's own address, then the floating address) three
    times over, two proofs at once, with another client loading the floating address all the
    while; and the proof's own rule 40 times from four threads at once, through the floating
    address and each balancer's own address: a correct farm never fails it."""
    proof = modules.load("roles/balancer/library/farm_proof.py")
    urls = [pair.farm.url] + [
        f"http://{pair.farm.hostvars[name]['lab_address']}:{pair.farm.endpoints['port']}/" for name in pair.balancers
    ]
    with (
        Load(pair.farm.url, seconds=180, workers=2, rate=100) as load,
        ThreadPoolExecutor(2) as playbooks,
        ThreadPoolExecutor(4) as rules,
    ):
        started = [playbooks.submit(playbook, "playbooks/proof.yml", check=False) for _ in range(6)]
        pending = [(url, rules.submit(proof.prove, url, pair.farm.shares)) for url in (urls * 14)[:40]]
        runs = [future.result() for future in started]
        proofs = [(url, future.result()) for url, future in pending]
        load.stop()
    failed = [run.output[-3000:] for run in runs if run.rc != 0]
    assert not failed, failed[0]
    missed = [(url, got) for url, got in proofs if got.get("failed") or got["missing"] or got["unexpected"]]
    assert not missed, missed[:3]
    assert load.result.succeeded_after(0) > 0, "the other client sent nothing: the proofs ran alone"
    print(f"\n6 proofs and 40 proof rules beside {load.result.requests} other requests: none failed")


def test_proof_fails_when_a_backend_does_not_answer(pair, playbook) -> None:
    backend = min(pair.farm.shares, key=pair.farm.shares.get)  # the one seen least often
    host = pair.farm.host(backend)
    host.run_test("systemctl stop apache2")
    try:
        run = playbook("playbooks/proof.yml", check=False)
    finally:
        host.run_test("systemctl start apache2")
    assert run.rc != 0, run.output[-3000:]
    assert f"{backend} never answered" in run.output, run.output[-3000:]
    assert wait_until(lambda: pair.farm.count(6)[backend] > 0, 60), f"{backend} did not come back"


def test_configuration_that_serves_nothing_never_reaches_port_80(pair, playbook) -> None:
    """Every backend on a closed port, applied to the pair under load through the floating address:
    on each balancer the canary (roles/balancer/tasks/canary.yml) sees it not serve on the side
    port, so port 80 keeps what served, on both, and a client that never resends loses nothing."""
    if pair.farm.balancer not in ("haproxy", "nginx", "gobetween"):
        pytest.skip(f"{pair.farm.balancer} runs no canary")
    served = "/etc/lbfarm/last-good/served.json"
    before = {name: pair.farm.host(name).file(served).content_string for name in pair.balancers}
    with Load(pair.farm.url, seconds=300, workers=8, keep_alive=True, rate=400) as load:
        time.sleep(1)
        run = playbook("playbooks/balancer.yml", "-e", "backend_port=81", check=False)
        time.sleep(1)
        result = load.stop()
    print(
        f"\nbackend_port=81 on the pair ({run.seconds:.0f} s play, 8 kept-alive connections, never resent): "
        f"{result.summary()}"
    )
    assert run.rc != 0, run.output[-3000:]
    for name in pair.balancers:
        assert f"The new {pair.farm.balancer} configuration on {name} did not serve on the side port" in run.output
        assert pair.farm.host(name).file(served).content_string == before[name]
    assert "Port 80 was not touched" in run.output
    assert result.requests > 0
    assert not result.failures, result.summary()
    assert set(pair.farm.count(60)) == set(pair.farm.shares)
