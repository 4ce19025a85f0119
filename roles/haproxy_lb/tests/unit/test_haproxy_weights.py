"""roles/haproxy_lb's filter haproxy_lb_weight_changes: when a new haproxy.cfg differs from the live
one only in servers' weights, the runtime API takes them and HAProxy is not reloaded."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

PLUGIN = Path(__file__).parents[2] / "filter_plugins/haproxy_lb.py"
_spec = importlib.util.spec_from_file_location("haproxy_lb_filters", PLUGIN)
assert _spec
assert _spec.loader
filters = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(filters)
changes = filters.haproxy_lb_weight_changes
# the runtime API client the role installs (a script without .py)
API = PLUGIN.parents[1] / "files/lbfarm-haproxy-api"
_api_loader = importlib.machinery.SourceFileLoader("lbfarm_haproxy_api", str(API))
_api_spec = importlib.util.spec_from_loader("lbfarm_haproxy_api", _api_loader)
assert _api_spec
api = importlib.util.module_from_spec(_api_spec)
_api_loader.exec_module(api)

LIVE = """global
    maxconn 4096

backend farm
    balance roundrobin
    server m1 172.30.56.2:80 weight 2 cookie m1 check
    server m2 172.30.56.3:80 weight 1 cookie m2 check
"""


def test_nothing_differs() -> None:
    assert changes(LIVE, LIVE) == {}


def test_only_weights_differ() -> None:
    new = LIVE.replace("m1 172.30.56.2:80 weight 2", "m1 172.30.56.2:80 weight 5")
    assert changes(LIVE, new) == {"m1": 5}
    both = new.replace("weight 1 cookie m2", "weight 3 cookie m2")
    assert changes(LIVE, both) == {"m1": 5, "m2": 3}


@pytest.mark.parametrize(
    "new",
    [
        LIVE.replace("maxconn 4096", "maxconn 8192"),  # anything else
        LIVE.replace("weight 2 cookie m1", "weight 0 cookie m1"),  # a drain is written as weight 0
        LIVE.replace("weight 2 cookie m1 check", "weight 5 cookie m1"),  # the weight and the check
        LIVE.replace("172.30.56.2:80 weight 2", "172.30.56.2:81 weight 2"),  # the port
        LIVE + "    server m4 172.30.56.5:80 weight 1 cookie m4 check\n",  # a server added
        LIVE.replace("server m1", "server m9"),  # a server renamed
    ],
)
def test_anything_else_needs_a_reload(new: str) -> None:
    assert changes(LIVE, new) is None


def test_no_live_file_needs_a_start() -> None:
    assert changes("", LIVE) is None


def test_bad_input_is_refused() -> None:
    with pytest.raises(AnsibleFilterError, match=r"two haproxy\.cfg texts"):
        changes(None, LIVE)


STATE = """1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change
3 farm 1 m1 172.30.56.2 2 0 7 2 310
3 farm 2 m2 172.30.56.3 0 1 1 1 12
"""


def test_saved_state_gives_each_server_its_weight_now_as_initial() -> None:
    # HAProxy keeps a saved weight only where haproxy.cfg gives the saved initial weight: m1 was
    # set to 7 through the API (haproxy.cfg then says 7); a haproxy.cfg that says 2 again wins
    saved = api.weights_as_initial(STATE).splitlines()
    assert saved[2].split()[7:9] == ["7", "7"]
    assert saved[3].split()[5:9] == ["0", "1", "1", "1"]  # down, drained: kept as they were
    assert saved[:2] == STATE.splitlines()[:2]


def test_an_answer_without_the_state_header_is_saved_as_it_is() -> None:
    assert api.weights_as_initial("No such backend.\n") == "No such backend.\n"
