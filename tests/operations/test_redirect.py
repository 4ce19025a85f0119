"""Plain HTTP sent to HTTPS, and HSTS, turned on and off again on the running farm (molecule/default,
on HAProxy and on nginx): a browser that asks for http:// is sent to https:// on the same address, and told to
keep to HTTPS; the farm behind it answers as before."""

from __future__ import annotations

import urllib.parse

import pytest
from farmcheck import count_backends, fetch, no_redirect

HSTS = 600


def test_redirect_and_hsts_turned_on_then_off(farm, playbook) -> None:
    https = farm.endpoints.get("https_url")
    if farm.balancer not in ("haproxy", "nginx") or not https:
        pytest.skip(f"{farm.balancer} sends no HTTP of its own: the redirect and HSTS are nginx's and HAProxy's")
    on = [f"{farm.balancer}_lb_https_redirect=true", f"{farm.balancer}_lb_hsts={HSTS}"]
    try:
        playbook("playbooks/balancer.yml", *[a for e in on for a in ("-e", e)])
        moved = fetch(farm.url + "page?x=1", no_redirect())
        assert moved.status == 301, moved
        target = urllib.parse.urlsplit(moved.headers.get("Location", ""))
        wanted = urllib.parse.urlsplit(https)
        assert (target.scheme, target.hostname, target.port or 443, target.path, target.query) == (
            "https",
            wanted.hostname,
            wanted.port or 443,
            "/page",
            "x=1",
        ), moved.headers
        assert moved.headers.get("Strict-Transport-Security") is None, "HSTS is sent over HTTPS only"
        assert fetch(https).headers.get("Strict-Transport-Security") == f"max-age={HSTS}"
        # a client that follows the redirect (verifying the chain) still reaches every backend
        assert set(count_backends(farm.url, 20)) == set(farm.shares)
    finally:
        playbook("playbooks/balancer.yml")
    assert fetch(farm.url, no_redirect()).status == 200
    assert fetch(https).headers.get("Strict-Transport-Security") is None
