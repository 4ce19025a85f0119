"""A new certificate goes live under load without losing a request: roles/tls issues a new one (its
file removed, as at renewal) and playbooks/balancer.yml installs it while two clients that never
resend send HTTPS requests, one on kept-alive connections and one with a new TLS handshake per
request. HAProxy takes it through its runtime API (no reload), nginx by a graceful reload."""

from __future__ import annotations

import ssl

import pytest
from cryptography import x509
from farmcheck import PACED_RATE, served_certificate
from loadcheck import Load

WORKERS = 4
# What a graceful reload may cost a client that never resends, per kept-alive connection: HAProxy
# takes the certificate without one (nothing); nginx closes its idle kept-alive connections on
# reload, and a request sent on one as it closes fails (at most one per connection).
LOST_PER_CONNECTION = {"haproxy": 0, "nginx": 1}


def haproxy_pid(farm) -> str:
    """The pid of the HAProxy process that serves (show info): a reload starts a new one."""
    info = farm.host(farm.balancer_host).check_output("lbfarm-haproxy-api 'show info'")
    return next(line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("Pid:"))


def test_a_new_certificate_goes_live_under_load_without_a_lost_request(farm, playbook, report) -> None:
    url = farm.endpoints.get("https_url")
    if not url:
        pytest.skip(f"{farm.balancer} does not terminate HTTPS in lbfarm")
    if farm.balancer not in LOST_PER_CONNECTION:
        # gobetween reads its certificate as it starts: a new one goes live by a restart, every connection cut
        pytest.skip(f"{farm.balancer} takes a new certificate by restarting, which cuts every connection: not measured")
    context = ssl.create_default_context(cafile=farm.ca_file)
    before = x509.load_der_x509_certificate(served_certificate(url)).serial_number
    pid_before = haproxy_pid(farm) if farm.balancer == "haproxy" else None
    (farm.ca_file.parent / "farm.crt").unlink()  # roles/tls issues a new one from the lab CA
    with (
        Load(url, seconds=240, workers=WORKERS, keep_alive=True, rate=PACED_RATE / 2, tls=context) as kept,
        Load(url, seconds=240, workers=WORKERS, keep_alive=False, rate=PACED_RATE / 4, tls=context) as fresh,
    ):
        run = playbook("playbooks/balancer.yml")
        kept_result, fresh_result = kept.stop(), fresh.stop()
    after = x509.load_der_x509_certificate(served_certificate(url)).serial_number
    report(f"certificate rotation on {farm.balancer}, kept-alive ({run.seconds:.0f} s play)", kept_result.summary())
    report(f"certificate rotation on {farm.balancer}, a handshake per request", fresh_result.summary())
    assert after != before, "the balancer still serves the old certificate"
    assert kept_result.requests > 0
    assert fresh_result.requests > 0
    assert fresh_result.failures == [], fresh_result.summary()
    assert len(kept_result.failures) <= LOST_PER_CONNECTION[farm.balancer] * WORKERS, kept_result.summary()
    if farm.balancer == "haproxy":
        assert haproxy_pid(farm) == pid_before, "HAProxy reloaded: the runtime API should have taken the certificate"
