"""Look at the farm the way a user does: HTTP from this machine to the lab's addresses."""

from __future__ import annotations

import base64
import collections
import contextlib
import ctypes
import ctypes.util
import errno
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from http.cookiejar import CookieJar
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# How far the observed share per backend may be from the share its weight asks for.
SHARE_TOLERANCE = 0.05
# Requests per second, all clients together, of a load that runs beside a playbook: unpaced, the
# 16 clients took the 2 shared cores (about 2 600 requests a second) and backend.yml took 70-80 s
# instead of about 15; paced, every connection still carries a request every 20 ms.
PACED_RATE = 800.0


# The lab CA that the farm's certificate chains to (trust(), from the fixture farm): every https
# request of the tests verifies the chain and the name against it, never unverified.
_TRUSTED: list[ssl.SSLContext] = []


def trust(cafile: str | Path) -> None:
    """Verify the farm's https URLs against this CA from now on."""
    _TRUSTED[:] = [ssl.create_default_context(cafile=str(cafile))]


def tls_context() -> ssl.SSLContext:
    """The context https requests verify with: the lab CA once trusted, else the system's CAs."""
    return _TRUSTED[0] if _TRUSTED else ssl.create_default_context()


def verified_opener(*handlers: urllib.request.BaseHandler) -> urllib.request.OpenerDirector:
    """urllib's opener, verifying https against tls_context()."""
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=tls_context()), *handlers)


def handshake(url: str, context: ssl.SSLContext | None = None, name: str | None = None) -> ssl.SSLSocket:
    """A TLS connection to an https URL, verified (chain and `name`, else the URL's host)."""
    parts = urllib.parse.urlsplit(url)
    raw = socket.create_connection((parts.hostname, parts.port or 443), timeout=10)
    return (context or tls_context()).wrap_socket(raw, server_hostname=name or parts.hostname)


def served_certificate(url: str, context: ssl.SSLContext | None = None) -> bytes:
    """The DER certificate an https URL serves, verified against `context`, else tls_context()."""
    with handshake(url, context) as tls:
        return tls.getpeercert(binary_form=True)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # the redirect itself is the answer


def no_redirect() -> urllib.request.OpenerDirector:
    """An opener that returns a 301 as it is, instead of following it."""
    return verified_opener(_NoRedirect)


@dataclass
class Reply:
    status: int
    headers: Message = field(default_factory=Message)  # case-insensitive: HAProxy sends lower case
    body: str = ""

    @property
    def backend(self) -> str:
        return self.headers.get("X-Backend", "?") if self.status == 200 else f"HTTP {self.status}"


def fetch(
    url: str,
    opener: urllib.request.OpenerDirector | None = None,
    auth: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One GET; HTTP errors come back as a Reply, connection errors as status 0."""
    request = urllib.request.Request(url, headers=headers or {})
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with (opener or verified_opener()).open(request, timeout=10) as response:
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


_CLONE_NEWNET = 0x40000000  # setns(2): the descriptor must be a network namespace


@contextlib.contextmanager
def in_netns(netns: str):
    """Run the body in a named network namespace (ip netns add NAME): a lab client plugged into a
    VM lab segment. The calling thread enters it, and with it every socket the body opens and every
    process it starts; on the way out the thread goes back to the namespace it came from."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

    def enter(fd: int, what: str) -> None:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"setns into {what}: {os.strerror(code) or errno.errorcode.get(code)}")

    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        lab = os.open(f"/run/netns/{netns}", os.O_RDONLY)
        try:
            enter(lab, f"the network namespace {netns}")
        finally:
            os.close(lab)
        try:
            yield
        finally:
            enter(home, "this process's own network namespace")
    finally:
        os.close(home)


def cookie_client() -> urllib.request.OpenerDirector:
    """A client that keeps cookies, like a browser."""
    return verified_opener(urllib.request.HTTPCookieProcessor(CookieJar()))


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


class Load:
    """A bounded load on the farm while something changes: threads sending GETs over kept-alive
    connections, counting every request as ok (2xx), non-2xx or failed (refused, reset, cut), and
    when each backend last answered. Stops at `requests` requests or `seconds`, whichever is first;
    with `rate`, the clients together send at most that many requests a second.
    Like a browser, it sends a GET again once when a kept-alive connection closes before the answer
    (counted in `retried`, not in `failed`).

        with Load(url) as load:
            change_something()
        assert load.failed == 0
    """

    def __init__(
        self, url: str, clients: int = 16, requests: int = 2_000_000, seconds: float = 300, rate: float | None = None
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port, self.path = parsed.hostname or "", parsed.port or 80, parsed.path or "/"
        self.clients, self.requests, self.seconds = clients, requests, seconds
        # each client waits this long between the starts of two requests (rate: all clients together)
        self.pace = clients / rate if rate else 0.0
        self.ok = self.non_2xx = self.failed = 0
        self.retried = 0  # requests sent again after a kept-alive connection closed (see _client)
        self.errors: collections.Counter = collections.Counter()
        self.last_seen: dict[str, float] = {}  # backend -> time.monotonic() of its last answer
        self.started = self.stopped = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def total(self) -> int:
        return self.ok + self.non_2xx + self.failed

    def __enter__(self) -> Load:
        self.started = time.monotonic()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self.stopped = time.monotonic()

    def _count(self, outcome: str, backend: str = "", error: str = "") -> bool:
        """Count one request; false once the load has had its requests or its time."""
        with self._lock:
            setattr(self, outcome, getattr(self, outcome) + 1)
            if backend:
                self.last_seen[backend] = time.monotonic()
            if error:
                self.errors[error] += 1
            return self.total < self.requests and time.monotonic() - self.started < self.seconds

    def _client(self) -> None:
        conn = None
        reused = False  # the connection has carried a response already
        retry = False
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
                    reused = False
                conn.request("GET", self.path)
                response = conn.getresponse()
                response.read()
                reused, retry = True, False
                if response.will_close:
                    conn.close()
                    conn = None
                if 200 <= response.status < 300:
                    going = self._count("ok", response.getheader("X-Backend", "?"))
                else:
                    going = self._count("non_2xx", error=f"HTTP {response.status}")
            except (OSError, http.client.HTTPException) as err:
                if conn is not None:
                    conn.close()
                conn = None
                # A kept-alive connection the server closed before any byte of the answer (a
                # graceful reload closes idle ones): browsers and HTTP libraries send the GET again
                # on a new connection (RFC 9112, 9.3.1). Once, and counted apart; a second failure,
                # or one on a new connection, is a failed request.
                if (
                    reused
                    and not retry
                    and isinstance(err, (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected))
                ):
                    retry = True
                    with self._lock:
                        self.retried += 1
                    continue
                retry = False
                going = self._count("failed", error=type(err).__name__)
                time.sleep(0.01)  # a refused connection returns at once: do not spin while nothing listens
            if not going:
                self._stop.set()
            elif self.pace:
                time.sleep(max(0.0, started + self.pace - time.monotonic()))
        if conn is not None:
            conn.close()

    def since(self, backend: str, moment: float) -> bool:
        """True if backend answered a request after moment (a time.monotonic() value)."""
        return self.last_seen.get(backend, 0.0) > moment

    def summary(self) -> str:
        seconds = (self.stopped or time.monotonic()) - self.started
        share = 100 * (self.failed + self.non_2xx) / self.total if self.total else 0.0
        errors = ", ".join(f"{name} {count}" for name, count in self.errors.most_common()) or "none"
        return (
            f"{self.total} requests in {seconds:.1f} s ({self.total / seconds if seconds else 0:.0f}/s, "
            f"{self.clients} clients): {self.ok} ok, {self.non_2xx} non-2xx, {self.failed} failed "
            f"({share:.3f} %), {self.retried} sent again on a new connection; errors: {errors}"
        )


def wait_for_answer(url: str, timeout: float, every: float = 0.1) -> float | None:
    """Seconds until url answers 200 again, or None if it did not within timeout."""
    start = time.monotonic()
    deadline = start + timeout
    while time.monotonic() < deadline:
        if fetch_quick(url) == 200:
            return time.monotonic() - start
        time.sleep(every)
    return None


def fetch_quick(url: str) -> int:
    """The status of one GET with a short timeout; 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
    except (urllib.error.URLError, OSError, http.client.HTTPException):
        return 0


if __name__ == "__main__":  # python farmcheck.py count URL N: what count_backends_in_netns runs
    _, command, url, requests = sys.argv
    if command != "count":
        sys.exit(f"unknown command {command}: use count URL N")
    print(json.dumps(count_backends(url, int(requests))))
