#!/usr/bin/python
"""The proof of site.yml: requests one after another through the farm, and who answered each.

Pure stdlib on the client, so that it runs on the controller, on a lab host, or inside the lab
client's network namespace.
"""

from __future__ import annotations

import ctypes
import math
import ssl
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: farm_proof
short_description: Show which backend answers each request through the farm, and that every one does
description:
  - Sends GET requests to O(url) one after another, each on a new connection, and reads the
    C(X-Backend) header that each backend's Apache adds.
  - Goes on past O(requests) until every backend of O(shares) has answered, up to enough
    requests that a backend with a share would be missed by chance less than once in 400 million
    runs (e^-20) even if other clients' requests were interleaved with these at random
    (C(20 / smallest share), at most O(max_requests)). So the result does not depend on other traffic through the
    same balancer at the same time. A backend whose share is too small for that within
    O(max_requests) is not required to answer.
  - Fails when a backend of O(shares) never answered, when a backend without a share answered,
    or when a request still fails after O(retries) tries one second apart.
  - Sends the same requests in check mode (they change nothing).
options:
  url: {type: str, required: true, description: Where the farm answers.}
  shares:
    type: dict
    required: true
    description: The share per backend the weights ask for (filter farm_shares); the backends that must answer.
  requests: {type: int, default: 6, description: Requests sent at least, all shown.}
  max_requests: {type: int, default: 1000, description: Upper bound on the requests sent.}
  retries: {type: int, default: 10, description: Tries of a request that fails (not 200), one second apart.}
  timeout: {type: float, default: 5, description: Seconds to wait for each answer.}
  netns:
    type: str
    default: ""
    description: A network namespace of this host (ip netns) to send the requests from.
  ca:
    type: str
    default: ""
    description: >-
      The CA certificate (PEM) that an https URL's certificate must chain to (the lab CA); empty,
      the system's CAs. Never unverified.
"""

EXAMPLES = r"""
- name: Request pages through the balancer
  farm_proof:
    url: http://172.30.56.4:80/
    shares: {m1: 0.6667, m2: 0.3333}
"""

RETURN = r"""
msg:
  description: "The answers in one line: ['m1', 'm2', ...] answered through URL; the weights ask for SHARES."
  type: str
  returned: success
backends: {description: The backend that answered each request, in order., type: list, returned: always}
counts: {description: Answers per backend., type: dict, returned: always}
missing: {description: Backends with a share that never answered., type: list, returned: always}
unexpected: {description: Backends without a share that answered., type: list, returned: always}
"""

CLONE_NEWNET = 0x40000000
# A backend with share s is missed in n requests taken at random with chance (1 - s)^n < e^(-s*n).
MISS_EXPONENT = 20


def request_bound(shares: Mapping[str, float], requests: int, max_requests: int) -> int:
    """How many requests at most: enough that each backend with a share is seen, never below `requests`."""
    smallest = min(float(s) for s in shares.values()) if shares else 1.0
    if smallest <= 0:
        raise ValueError(f"every share must be above 0, got {dict(shares)}")
    return max(requests, min(max_requests, math.ceil(MISS_EXPONENT / smallest)))


def getter(ca: str = "") -> Callable[[str, float], tuple[int, str]]:
    """get_backend that verifies an https URL's certificate against `ca` (PEM), else the system's CAs."""
    context = ssl.create_default_context(cadata=ca or None)
    return lambda url, timeout: get_backend(url, timeout, context)


def get_backend(url: str, timeout: float, context: ssl.SSLContext | None = None) -> tuple[int, str]:
    """One GET on a new connection: its status and its X-Backend header ('none' without one)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
            response.read()
            return response.status, (response.headers.get("X-Backend") or "none").strip()
    except urllib.error.HTTPError as err:
        return err.code, f"HTTP {err.code}"
    except OSError as err:  # refused, reset, timed out (URLError is an OSError)
        return 0, str(getattr(err, "reason", err))


def prove(
    url: str,
    shares: Mapping[str, float],
    requests: int = 6,
    max_requests: int = 1000,
    retries: int = 10,
    timeout: float = 5,
    get: Callable[[str, float], tuple[int, str]] = get_backend,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Send requests until `requests` are answered and every backend of `shares` has answered (bounded)."""
    bound = request_bound(shares, requests, max_requests)
    # a share so small that the bound cannot make its absence unlikely is not required to answer
    required = {name for name, share in shares.items() if float(share) * bound >= MISS_EXPONENT}
    backends: list[str] = []
    while len(backends) < bound:
        if len(backends) >= requests and required <= set(backends):
            break
        for attempt in range(1, retries + 1):
            status, backend = get(url, timeout)
            if status == 200:
                break
            if attempt == retries:
                return {
                    "failed": True,
                    "msg": f"{url} did not answer 200 after {retries} tries: {backend}",
                    "backends": backends,
                }
            sleep(1)
        backends.append(backend)
    counts = Counter(backends)
    return {
        "backends": backends,
        "counts": dict(counts),
        "missing": sorted(required - set(counts)),
        "unexpected": sorted(set(counts) - set(shares)),
    }


def enter_netns(name: str) -> None:
    """Move this process into the network namespace /run/netns/NAME (what ip netns exec does)."""
    libc = ctypes.CDLL(None, use_errno=True)
    with open(f"/run/netns/{name}") as handle:
        if libc.setns(handle.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"cannot enter the network namespace {name}")


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "url": {"type": "str", "required": True},
            "shares": {"type": "dict", "required": True},
            "requests": {"type": "int", "default": 6},
            "max_requests": {"type": "int", "default": 1000},
            "retries": {"type": "int", "default": 10},
            "timeout": {"type": "float", "default": 5},
            "netns": {"type": "str", "default": ""},
            "ca": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        if p["netns"]:
            enter_netns(p["netns"])
        get = getter(p["ca"])
        result = prove(p["url"], p["shares"], p["requests"], p["max_requests"], p["retries"], p["timeout"], get)
    except (OSError, ValueError, ssl.SSLError) as err:
        module.fail_json(msg=str(err))
    if result.get("failed"):
        module.fail_json(**result)
    if result["missing"] or result["unexpected"]:
        said = [
            f"{', '.join(result['missing'])} never answered" if result["missing"] else "",
            f"{', '.join(result['unexpected'])} answered without a share" if result["unexpected"] else "",
        ]
        module.fail_json(
            msg=f"Not every backend answered as its share asks through {p['url']} in {len(result['backends'])} "
            f"requests ({'; '.join(s for s in said if s)}; answers {result['counts']}): check those backends "
            "and the balancer's log.",
            **result,
        )
    where = f" (from {p['netns']})" if p["netns"] else ""
    shown = {name: round(float(share), 4) for name, share in p["shares"].items()}
    said = f"{result['backends']} answered through {p['url']}{where}; the weights ask for {shown}"
    module.exit_json(changed=False, msg=said, **result)


if __name__ == "__main__":
    main()
