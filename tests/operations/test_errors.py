"""A value the argument specs accept and the daemon refuses: the failure quotes the daemon, the
running configuration stays as it was and the farm keeps answering. One's own certificate with
something wrong: refused on the controller, naming the file, before any host changes."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import pytest
from farmcheck import fetch
from pki import DAY, NOW, issue, pem

# balancer -> (a bad value, the directive the daemon's own message must name, the live file)
REFUSED = {
    "haproxy": ("haproxy_lb_timeout_client=abc", "timeout client", "/etc/haproxy/haproxy.cfg"),
    "nginx": ("nginx_lb_keepalive_timeout=abc", "keepalive_timeout", "/etc/nginx/nginx.conf"),
}


def test_refused_value_is_named_and_the_running_configuration_stays(farm, playbook) -> None:
    if farm.balancer not in REFUSED:
        pytest.skip(f"no refused value written for {farm.balancer}")
    bad, directive, path = REFUSED[farm.balancer]
    balancer = farm.host(farm.balancer_host)
    before = balancer.file(path).sha256sum
    run = playbook("playbooks/balancer.yml", "-e", bad, check=False)
    assert run.rc != 0
    assert "refused the new configuration" in run.output
    assert directive in run.output, run.output[-3000:]
    assert balancer.file(path).sha256sum == before
    assert fetch(farm.url).status == 200


def bad_certificates(tmp: Path, address: str) -> list[tuple[str, str, str, str]]:
    """Each bad input of one's own certificate, as real files, with what the refusal must say."""
    ca, ca_key = issue("own CA", ca=True)
    inter, inter_key = issue("own intermediate", ca, ca_key, ca=True)
    good, good_key = issue("farm", inter, inter_key, sans=[address])
    expired, expired_key = issue("farm", inter, inter_key, sans=[address], start=NOW - 9 * DAY, end=NOW - DAY)
    elsewhere, elsewhere_key = issue("farm", inter, inter_key, sans=["192.0.2.1"])
    files = {
        "good.crt": pem(good), "good.key": pem(good_key), "other.key": pem(inter_key),
        "expired.crt": pem(expired), "expired.key": pem(expired_key),
        "elsewhere.crt": pem(elsewhere), "elsewhere.key": pem(elsewhere_key),
        "disordered.crt": pem(good) + pem(ca) + pem(inter),
    }  # fmt: skip
    for name, text in files.items():
        (tmp / name).write_text(text)
    # (the case, the certificate, the key, what the refusal says)
    return [
        ("a key that is not the certificate's", "good.crt", "other.key", "is not the key of the certificate"),
        ("an expired certificate", "expired.crt", "expired.key", "expired on"),
        ("a certificate for another address", "elsewhere.crt", "elsewhere.key", f"does not cover {address}"),
        ("a missing file", "none.crt", "good.key", "is missing, empty or unreadable"),
        ("a chain out of order", "disordered.crt", "good.key", "the chain is out of order: own CA did not issue farm"),
    ]


def test_a_bad_certificate_is_refused_before_any_host_changes(farm, playbook, tmp_path) -> None:
    https = farm.endpoints.get("https_url")
    if farm.balancer != "haproxy" or not https:
        pytest.skip("checked once, on HAProxy with HTTPS (molecule/default)")
    balancer = farm.host(farm.balancer_host)
    live = balancer.file("/etc/haproxy/certs/farm.pem").sha256sum
    address = urllib.parse.urlsplit(https).hostname
    for case, certificate, key, said in bad_certificates(tmp_path, address):
        named = tmp_path / (key if "key" in said else certificate)  # the file the refusal names
        given = ["-e", f"tls_certificate={tmp_path / certificate}", "-e", f"tls_private_key={tmp_path / key}"]
        run = playbook("site.yml", *given, check=False)
        assert run.rc != 0, case
        assert said in run.output, f"{case}: {run.output[-2000:]}"
        assert str(named) in run.output, f"{case}: {run.output[-2000:]}"
        changed = re.findall(r"changed=(\d+)", run.output)
        assert changed, run.output[-2000:]
        assert set(changed) == {"0"}, f"{case}: a host changed: {run.output[-2000:]}"
    assert balancer.file("/etc/haproxy/certs/farm.pem").sha256sum == live
    assert fetch(https).status == 200
