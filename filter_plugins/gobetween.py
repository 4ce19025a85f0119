"""Check a gobetween TOML configuration the way gobetween would read it.

gobetween has no config-check flag, and it ignores keys it does not know and skips static_list
entries it cannot parse. This check runs before a configuration replaces the live one.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
  name: gobetween_config_errors
  short_description: List what is wrong with a gobetween TOML configuration
  description:
    - Parses the text as TOML and checks it against gobetween's configuration (sections, keys,
      values, and every static_list entry against gobetween's own entry grammar).
    - Returns a list of messages; an empty list means the configuration is sound.
"""

EXAMPLES = r"""
- ansible.builtin.assert:
    that: _config | gobetween_config_errors | length == 0
    fail_msg: "{{ _config | gobetween_config_errors }}"
"""

# gobetween's static discovery entry grammar (src/utils/parsers/backend.go).
STATIC_ENTRY = re.compile(
    r"^(?P<host>\S+):(?P<port>\d+)(\sweight=(?P<weight>\d+))?(\spriority=(?P<priority>\d+))?(\ssni=(?P<sni>[^\s]+))?$"
)
DURATION = re.compile(r"^(0|\d+(ms|s|m|h))$")

TOP_KEYS = {"logging", "api", "metrics", "defaults", "servers", "profiler", "acme"}
SECTION_KEYS = {
    "logging": {"level", "output", "format"},
    "api": {"enabled", "bind", "cors", "basic_auth", "tls"},
    "metrics": {"enabled", "bind"},
    "defaults": {"max_connections", "client_idle_timeout", "backend_idle_timeout", "backend_connection_timeout"},
}
SERVER_KEYS = {
    "bind",
    "protocol",
    "balance",
    "max_connections",
    "client_idle_timeout",
    "backend_idle_timeout",
    "backend_connection_timeout",
    "sni",
    "tls",
    "backends_tls",
    "udp",
    "access",
    "proxy_protocol",
    "discovery",
    "healthcheck",
}
DISCOVERY_KEYS = {"kind", "failpolicy", "interval", "timeout", "static_list"}
HEALTHCHECK_KEYS = {
    "kind",
    "interval",
    "timeout",
    "fails",
    "passes",
    "probe_protocol",
    "probe_strategy",
    "probe_send",
    "probe_recv",
    "probe_recv_len",
    "exec_command",
    "exec_expected_positive_output",
    "exec_expected_negative_output",
}
BALANCES = {"weight", "leastconn", "roundrobin", "leastbandwidth", "iphash", "iphash1"}
PROTOCOLS = {"tcp", "udp", "tls"}
LOG_LEVELS = {"debug", "info", "warn", "error"}


def _unknown(where: str, table: Mapping[str, Any], known: set[str]) -> list[str]:
    return [f"{where}: unknown key {key!r} (gobetween would ignore it)" for key in sorted(set(table) - known)]


def _bind(where: str, value: Any) -> list[str]:
    match = re.fullmatch(r"(.*):(\d+)", value) if isinstance(value, str) else None
    if not match or not 1 <= int(match.group(2)) <= 65535:
        return [f"{where}: bind={value!r} is not host:port"]
    return []


def _durations(where: str, table: Mapping[str, Any], keys: list[str]) -> list[str]:
    return [
        f"{where}: {key}={table[key]!r} is not a duration like 500ms, 5s or 0"
        for key in keys
        if key in table and not (isinstance(table[key], str) and DURATION.match(table[key]))
    ]


def _healthcheck(where: str, check: Mapping[str, Any]) -> list[str]:
    errors = _unknown(where, check, HEALTHCHECK_KEYS)
    kind = check.get("kind", "none")
    if kind not in {"none", "ping", "probe", "exec"}:
        return [*errors, f"{where}: kind={kind!r} is not ping, probe, exec or none"]
    if kind != "none" and "interval" not in check:
        errors.append(f"{where}: interval is required with kind={kind!r}")
    errors += _durations(where, check, ["interval", "timeout"])
    for key in ("fails", "passes"):
        if key in check and not (isinstance(check[key], int) and check[key] >= 1):
            errors.append(f"{where}: {key}={check[key]!r} must be a whole number of 1 or more")
    if kind == "probe":
        errors += [
            f"{where}: {key} is required with kind='probe'"
            for key in ("probe_send", "probe_recv")
            if not check.get(key)
        ]
        strategy = check.get("probe_strategy", "starts_with")
        if strategy not in {"starts_with", "regexp"}:
            errors.append(f"{where}: probe_strategy={strategy!r} is not starts_with or regexp")
        if strategy == "starts_with" and check.get("probe_recv_len", 0) != 0:
            errors.append(f"{where}: probe_recv_len must be 0 with probe_strategy='starts_with'")
    return errors


def _server(name: str, server: Any) -> list[str]:
    where = f"servers.{name}"
    if not isinstance(server, Mapping):
        return [f"{where}: is not a table"]
    errors = _unknown(where, server, SERVER_KEYS)
    errors += _bind(where, server.get("bind")) if "bind" in server else [f"{where}: bind is required"]
    if server.get("protocol", "tcp") not in PROTOCOLS:
        errors.append(f"{where}: protocol={server['protocol']!r} is not one of {sorted(PROTOCOLS)}")
    if server.get("balance", "weight") not in BALANCES:
        errors.append(f"{where}: balance={server['balance']!r} is not one of {sorted(BALANCES)}")
    errors += _durations(where, server, ["client_idle_timeout", "backend_idle_timeout", "backend_connection_timeout"])
    discovery = server.get("discovery")
    if not isinstance(discovery, Mapping):
        return [*errors, f"{where}.discovery: the section is required"]
    errors += _unknown(f"{where}.discovery", discovery, DISCOVERY_KEYS)
    if discovery.get("kind") == "static":
        entries = discovery.get("static_list")
        if not isinstance(entries, list) or not entries:
            errors.append(f"{where}.discovery: static_list must list at least one backend")
        else:
            errors += [
                f"{where}.discovery: static_list entry {entry!r} is not 'host:port weight=N priority=N'"
                for entry in entries
                if not (isinstance(entry, str) and STATIC_ENTRY.match(entry))
            ]
    elif "kind" not in discovery:
        errors.append(f"{where}.discovery: kind is required")
    if "healthcheck" in server:
        errors += _healthcheck(f"{where}.healthcheck", server["healthcheck"])
    return errors


def gobetween_config_errors(text: str) -> list[str]:
    """Everything gobetween would reject, ignore or misread in this configuration."""
    if not isinstance(text, str):
        raise AnsibleFilterError(f"gobetween_config_errors expects the configuration text, got {type(text).__name__}")
    try:
        config = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        return [f"not valid TOML: {err}"]
    errors = _unknown("top level", config, TOP_KEYS)
    for section, known in SECTION_KEYS.items():
        if section in config:
            errors += _unknown(f"[{section}]", config[section], known)
    if config.get("logging", {}).get("level", "info") not in LOG_LEVELS:
        errors.append(f"[logging]: level={config['logging']['level']!r} is not one of {sorted(LOG_LEVELS)}")
    for section in ("api", "metrics"):
        table = config.get(section, {})
        if table.get("enabled"):
            errors += _bind(f"[{section}]", table.get("bind"))
    auth = config.get("api", {}).get("basic_auth")
    if auth is not None:
        errors += _unknown("[api.basic_auth]", auth, {"login", "password"})
        errors += [f"[api.basic_auth]: {key} must not be empty" for key in ("login", "password") if not auth.get(key)]
    servers = config.get("servers")
    if not isinstance(servers, Mapping) or not servers:
        errors.append("[servers]: no server is defined")
    else:
        for name, server in servers.items():
            errors += _server(name, server)
    return errors


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {"gobetween_config_errors": gobetween_config_errors}
