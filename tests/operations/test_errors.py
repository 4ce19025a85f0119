"""A value the argument specs accept and the daemon refuses: the failure quotes the daemon, the
running configuration stays as it was and the farm keeps answering."""

from __future__ import annotations

import pytest
from farmcheck import fetch

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
