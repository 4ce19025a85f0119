"""Look at the farm the way a user does: HTTP from this machine to the lab's addresses."""

from __future__ import annotations

import base64
import collections
import http.client
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from http.cookiejar import CookieJar
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
# Every balancer lbfarm knows and the systemd unit that runs it, as the balancer role lists them.
UNITS: dict[str, str] = yaml.safe_load((REPO / "roles/balancer/vars/main.yml").read_text())["_balancer_units"]
BALANCERS = tuple(UNITS)
# How far the observed share per backend may be from the share its weight asks for.
SHARE_TOLERANCE = 0.05


@dataclass
class Reply:
    status: int
    headers: Message = field(default_factory=Message)  # case-insensitive: HAProxy sends lower case
    body: str = ""

    @property
    def backend(self) -> str:
        return self.headers.get("X-Backend", "?") if self.status == 200 else f"HTTP {self.status}"


def fetch(url: str, opener: urllib.request.OpenerDirector | None = None, auth: tuple[str, str] | None = None) -> Reply:
    """One GET; HTTP errors come back as a Reply, connection errors as status 0."""
    request = urllib.request.Request(url)
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=10) as response:
            return Reply(response.status, response.headers, response.read().decode(errors="replace"))
    except urllib.error.HTTPError as err:
        return Reply(err.code, err.headers, err.read().decode(errors="replace"))
    except (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException) as err:
        return Reply(0, Message(), str(err))


def count_backends(url: str, requests: int, opener: urllib.request.OpenerDirector | None = None) -> collections.Counter:
    """Send requests one after another and count who answered ("HTTP 502", "HTTP 0" for failures)."""
    return collections.Counter(fetch(url, opener).backend for _ in range(requests))


def count_backends_in_netns(netns: str, url: str, requests: int) -> collections.Counter:
    """count_backends from a network namespace (a lab client plugged into a VM lab segment)."""
    out = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, __file__, "count", url, str(requests)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return collections.Counter(json.loads(out))


def cookie_client() -> urllib.request.OpenerDirector:
    """A client that keeps cookies, like a browser."""
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))


def wait_until(check, timeout: float, every: float = 0.5) -> bool:
    """Poll check() until it is true or timeout seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return bool(check())


def keep_alive_holds(address: str, port: int, path: str, requests: int = 3) -> bool:
    """Send several requests over one HTTP/1.1 connection; true if the server kept it open."""
    conn = http.client.HTTPConnection(address, port, timeout=10)
    try:
        for _ in range(requests):
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if response.status != 200 or response.will_close:
                return False
        return True
    finally:
        conn.close()


if __name__ == "__main__":  # python farmcheck.py count URL N: what count_backends_in_netns runs
    _, command, url, requests = sys.argv
    if command != "count":
        sys.exit(f"unknown command {command}: use count URL N")
    print(json.dumps(count_backends(url, int(requests))))
