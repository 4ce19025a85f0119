"""HAProxy's own filters for roles/haproxy_lb (role-local: only this role uses them)."""

from __future__ import annotations

import re
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: haproxy_lb_weight_changes
short_description: The servers whose weight alone changed between two haproxy.cfg texts
description:
  - Compares the live haproxy.cfg with the new one line by line. When they differ only in the
    C(weight N) of C(server) lines, the change can be made through the runtime API
    (C(set weight backend/server N)) with no reload; the result maps each such server to its new
    weight. Anything else that differs (a weight to or from 0, which is how a drain is written,
    a line added or removed) needs a reload - the result is then None.
options:
  _input: {description: The live haproxy.cfg (empty when there is none), type: str, required: true}
  new: {description: The new haproxy.cfg, type: str, required: true}
"""

EXAMPLES = r"""
_haproxy_lb_weights: "{{ _live | haproxy_lb_weight_changes(lookup('ansible.builtin.template', 'haproxy.cfg.j2')) }}"
"""

RETURN = r"""
_value:
  description: "{server: new weight} (empty when nothing differs), or None when a reload is needed."
  type: dict
"""

_SERVER = re.compile(r"^(\s*server\s+(\S+)\s.*?\bweight\s+)(\d+)(\b.*)$")


def haproxy_lb_weight_changes(live: Any, new: Any) -> dict[str, int] | None:
    if not isinstance(live, str) or not isinstance(new, str):
        kinds = f"{type(live).__name__} and {type(new).__name__}"
        raise AnsibleFilterError(f"haproxy_lb_weight_changes expects two haproxy.cfg texts, got {kinds}")
    old_lines, new_lines = live.splitlines(), new.splitlines()
    if not live or len(old_lines) != len(new_lines):
        return None
    changes: dict[str, int] = {}
    for old_line, new_line in zip(old_lines, new_lines, strict=True):
        if old_line == new_line:
            continue
        old_match, new_match = _SERVER.match(old_line), _SERVER.match(new_line)
        if not old_match or not new_match:
            return None
        same_rest = (old_match.group(1), old_match.group(4)) == (new_match.group(1), new_match.group(4))
        old_weight, new_weight = int(old_match.group(3)), int(new_match.group(3))
        if not same_rest or 0 in (old_weight, new_weight):
            return None
        changes[new_match.group(2)] = new_weight
    return changes


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"haproxy_lb_weight_changes": haproxy_lb_weight_changes}
