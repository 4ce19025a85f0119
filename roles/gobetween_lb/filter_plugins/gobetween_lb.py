"""gobetween's own filters for roles/gobetween_lb (role-local: they load with the role).

They check a gobetween TOML configuration the way gobetween would read it, write its Go strings,
render the farm's backend list as static_list entries and say how long gobetween's health checks
take to judge a backend.

gobetween has no config-check flag: a value it refuses stops it at start-up ("[FATAL] (manager): ..."),
and some values it silently reads as something else. This check runs before a configuration replaces
the live one. Its rules are ported from the gobetween release lbfarm installs (0.8.1, see
roles/gobetween_lb/defaults/main.yml), each naming the Go file and function it follows.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
  name: gobetween_config_errors
  short_description: List what is wrong with a gobetween TOML configuration
  description:
    - "Parses the text as TOML and checks it against what gobetween 0.8.1 (and 0.8.0: the same rules,
      but for initial_status, new in 0.8.1, and the TLS names: 0.8.0 has no tls1.3, no TLS 1.3 or
      ChaCha20 suites, and still ssl3 and prefer_server_ciphers) does with each value when it starts.
      Returns a list of messages, each naming the key and the value; an empty list means the configuration is sound.
      With a mapping of dotted keys to what sets them (the role's _gobetween_lb_toml_variables), each
      message about such a key ends with (set by VARIABLE), text that is not TOML too (by its line)."
    - "C(gobetween_toml_string) writes any text as a TOML basic string (quotes, backslashes and control
      characters escaped, everything else as it is: an emoji stays an emoji, where to_json would write
      a surrogate pair that TOML refuses); its errors name the variable given as its argument."
    - "Refused because gobetween exits on them at start-up (FATAL or panic):
      a TOML value of the wrong type (burntsushi/toml v0.3.1 Decode, cmd/from-file.go);
      [logging] level that logrus.ParseLevel does not know (logging/log.go Configure);
      a server without bind or without discovery, a healthcheck kind other than ping, probe, exec or none,
      an interval that time.ParseDuration refuses or that is not above 0 (kind not none), a healthcheck
      timeout ParseDuration refuses, probe_protocol other than tcp, udp or tls, a probe without probe_send
      or probe_recv, probe_send or probe_recv that strconv.Unquote refuses (a real line feed, a bare double
      quote, a backslash escape Go does not know), probe_strategy other than starts_with or regexp,
      probe_recv_len with starts_with or without it with regexp, initial_status other than healthy or
      unhealthy, protocol other than tcp, udp or tls, balance other than the six methods, failpolicy
      other than keeplast or setempty, protocol tls without a tls section, a tls section without both
      cert_path and key_path (or acme_hosts) (manager/manager.go prepareConfig);
      a server bind or an enabled API bind that net.SplitHostPort refuses (server/tcp/server.go Listen,
      api/api.go Start), or whose port is past 65535; two servers, or a server and the enabled API, on
      one TCP port (the second net.Listen fails: address already in use); an enabled API whose [api.tls]
      lacks cert_path or key_path (api/api.go Start: gin's RunTLS cannot open it, log.Fatal); an empty
      API basic_auth login (gin's BasicAuth panics); no server at all (main.go waits on nothing: Go
      reports a deadlock)."
    - "Refused because gobetween would silently read them as something else: unknown keys (ignored),
      static_list entries outside its grammar (skipped, utils/parsers/backend.go) or with a weight or
      priority past int64 (read as 1), client/backend idle and connection timeouts ParseDuration refuses
      (read as 0, no timeout; utils/time.go ParseDurationOrDefault), fails or passes below 1 (read as 1),
      a negative max_connections (every client refused) or negative durations (every check or connection
      times out at once), an empty static_list, a metrics bind that is not host:port or that a server or
      the API takes (gobetween only logs the error); in a tls section, a min_version or max_version
      gobetween does not name (utils/tls/tls.go MapVersion reads it as 0: Go's default), a min_version
      above the max_version (Go's crypto/tls then refuses every client), a cipher name gobetween does not
      know (utils/tls/tls.go MapCiphers skips it; with none it knows left, Go's crypto/tls gets an empty
      list and takes no TLS 1.2 client) or a TLS 1.3 suite (Go's crypto/tls reads the list for TLS 1.0 to
      1.2 only: ignored); a tls section on a udp server (server/udp ignores it)."
    - "Stricter than gobetween, lbfarm's own rules: a bind port must be a number from 1 to 65535 (Go also
      takes 0 and service names); a basic_auth password must not be empty; a tls section's min_version is
      not below tls1.2 (Mozilla's intermediate profile, which every balancer of the farm follows)."
    - "Not covered: whether a bind address exists on the host or is free of other programs (net.Listen at
      start-up), whether cert_path and key_path exist on the host, are readable by gobetween's user and
      hold a matching pair (tls.LoadX509KeyPair at start-up: gobetween exits; lbfarm writes them from the
      certificate roles/tls checked on the controller), TOML syntax only burntsushi/toml v0.3.1 reads
      differently from TOML 1.0 (lbfarm's template writes neither), probe_recv as a regexp (RE2; lbfarm
      writes starts_with), acme_hosts and the acme, udp, backends_tls, sni, access, proxy_protocol and
      profiler sections, and discovery kinds other than static (lbfarm writes none)."
    - "C(gobetween_lb_tls_ciphers) maps the farm's TLS 1.2 ciphers (OpenSSL's names, as roles/tls
      publishes Mozilla's intermediate profile in balancer_tls.ciphers) to the names gobetween's
      utils/tls/tls.go knows; finite-field DHE suites, which Go's crypto/tls does not implement, are
      left out; any other name it cannot map is refused, naming the variable and the value."
    - "C(gobetween_lb_static_list) renders the list from C(farm_backends) as static_list entries
      (host:port weight=N priority=N; a backup is priority 2, a backend that is not ready is left out,
      backend_max_conns is refused: the grammar has no per-backend cap)."
    - "C(gobetween_lb_health_window) gives the seconds gobetween's health checks take to call a backend
      down, or up again: interval x max(fails, passes) + timeout, 0 with healthcheck none. Its input is
      the role's settings, the gobetween_lb_* values with the prefix dropped."
    - "Every error of those two names the host, the variable and the bad value."
"""

EXAMPLES = r"""
- ansible.builtin.assert:
    that: _config | gobetween_config_errors(_gobetween_lb_toml_variables) | length == 0
    fail_msg: "{{ _config | gobetween_config_errors(_gobetween_lb_toml_variables) }}"

# the farm's TLS 1.2 ciphers in gobetween's names (the DHE ones left out: Go has none)
ciphers = {{ balancer_tls.ciphers | gobetween_lb_tls_ciphers | to_json }}
# ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", ...]

# any text as a TOML string, its errors naming the variable
password = {{ gobetween_lb_api_password | gobetween_toml_string('gobetween_lb_api_password') }}

# a probe string as gobetween reads it: real CR/LF become \r\n, valid escapes are kept
probe_send = {{ "HEAD / HTTP/1.0\r\n\r\n" | gobetween_go_string | to_json }}

_gobetween_lb_static_list: "{{ gobetween_lb_backends | gobetween_lb_static_list }}"
# ['192.168.56.2:80 weight=2 priority=1', '192.168.56.3:80 weight=1 priority=1']

# _settings: the host's gobetween_lb_* values without the prefix, the role's defaults where it sets none
_window: "{{ _settings | gobetween_lb_health_window(inventory_hostname) }}"
# 5.0 with the role's defaults: 2s x max(2, 2) + 1s
"""

# gobetween's static discovery entry grammar (utils/parsers/backend.go DEFAULT_BACKEND_PATTERN), with Go's
# RE2 classes spelled out: \s is [\t\n\f\r ], \S its complement, \d ASCII digits, and $ the end of the text.
_GO_SPACE_CLASS = r"[\t\n\f\r ]"
STATIC_ENTRY = re.compile(
    r"(?P<host>[^\t\n\f\r ]+):(?P<port>[0-9]+)"
    rf"({_GO_SPACE_CLASS}weight=(?P<weight>[0-9]+))?"
    rf"({_GO_SPACE_CLASS}priority=(?P<priority>[0-9]+))?"
    rf"({_GO_SPACE_CLASS}sni=(?P<sni>[^\t\n\f\r ]+))?"
)
# what Go's strings.TrimSpace removes (unicode.IsSpace), before an entry is matched
_GO_TRIM = "\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B)))
INT64_MAX = 2**63 - 1

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
# a server's [tls] (src/config/config.go Tls and tlsCommon; 0.8.1 dropped prefer_server_ciphers) and the API's
# [api.tls] (ApiTlsConfig: the certificate only, Go's defaults for the rest)
TLS_KEYS = {"acme_hosts", "cert_path", "key_path", "ciphers", "min_version", "max_version", "session_tickets"}
API_TLS_KEYS = {"cert_path", "key_path"}
HEALTHCHECK_KEYS = {
    "kind",
    "interval",
    "timeout",
    "fails",
    "passes",
    "initial_status",
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
# The names gobetween maps to Go's crypto/tls (src/utils/tls/tls.go: versions, suites); any other name maps to 0:
# no bound for a version (Go's default: TLS 1.2 to 1.3 for a server built with Go 1.22 or later, as 0.8.1 is),
# nothing for a cipher (MapCiphers skips it). 0.8.1 dropped ssl3 and added tls1.3 and the TLS 1.3 suites.
TLS_VERSIONS = {"tls1": 0x0301, "tls1.1": 0x0302, "tls1.2": 0x0303, "tls1.3": 0x0304}
# Mozilla's intermediate profile: TLS 1.2 at least (lbfarm's own rule, every balancer of the farm follows it)
TLS_LOWEST = "tls1.2"
# TLS 1.0 to 1.2 suites, each with OpenSSL's name for it (how roles/tls publishes the farm's profile)
TLS12_SUITES = {
    "TLS_RSA_WITH_RC4_128_SHA": "RC4-SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA": "DES-CBC3-SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256": "AES128-SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA": "ECDHE-ECDSA-RC4-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA": "ECDHE-RSA-RC4-SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA": "ECDHE-RSA-DES-CBC3-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": "ECDHE-ECDSA-AES128-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": "ECDHE-RSA-AES128-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
}
OPENSSL_SUITES = {openssl: go for go, openssl in TLS12_SUITES.items()}
# TLS 1.3 suites: gobetween maps them, but Go's crypto/tls takes no TLS 1.3 suite from Config.CipherSuites (it
# always offers these three, which are Mozilla's)
TLS13_SUITES = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
# Finite-field Diffie-Hellman: in Mozilla's intermediate profile, in neither gobetween's table nor Go's crypto/tls
_NO_DHE = ("DHE-", "EDH-", "TLS_DHE_")
PROTOCOLS = {"tcp", "udp", "tls"}
# logrus.ParseLevel (lower-cased first)
LOG_LEVELS = {"panic", "fatal", "error", "warn", "warning", "info", "debug", "trace"}

# The Go type of each key lbfarm may write (src/config/config.go); burntsushi/toml refuses another type.
_STR, _INT, _BOOL, _TABLE, _STRINGS = "a string", "an integer", "true or false", "a table", "a list of strings"
TYPES: dict[str, dict[str, str]] = {
    "logging": dict.fromkeys(("level", "output", "format"), _STR),
    "api": {"enabled": _BOOL, "bind": _STR, "cors": _BOOL, "basic_auth": _TABLE, "tls": _TABLE},
    "api.basic_auth": {"login": _STR, "password": _STR},
    "metrics": {"enabled": _BOOL, "bind": _STR},
    "server": {
        **dict.fromkeys(("bind", "protocol", "balance"), _STR),
        **dict.fromkeys(("client_idle_timeout", "backend_idle_timeout", "backend_connection_timeout"), _STR),
        "max_connections": _INT,
        **dict.fromkeys(("sni", "tls", "backends_tls", "udp", "access", "proxy_protocol"), _TABLE),
        **dict.fromkeys(("discovery", "healthcheck"), _TABLE),
    },
    "discovery": {**dict.fromkeys(("kind", "failpolicy", "interval", "timeout"), _STR), "static_list": _STRINGS},
    "tls": {
        **dict.fromkeys(("cert_path", "key_path", "min_version", "max_version"), _STR),
        **dict.fromkeys(("acme_hosts", "ciphers"), _STRINGS),
        "session_tickets": _BOOL,
    },
    "api.tls": dict.fromkeys(API_TLS_KEYS, _STR),
    "healthcheck": {
        **dict.fromkeys(("fails", "passes", "probe_recv_len"), _INT),
        **dict.fromkeys(HEALTHCHECK_KEYS - {"fails", "passes", "probe_recv_len"}, _STR),
    },
}
_IS_TYPE: dict[str, Callable[[Any], bool]] = {
    _STR: lambda v: isinstance(v, str),
    _INT: lambda v: isinstance(v, int) and not isinstance(v, bool),
    _BOOL: lambda v: isinstance(v, bool),
    _TABLE: lambda v: isinstance(v, Mapping),
    _STRINGS: lambda v: isinstance(v, list) and all(isinstance(item, str) for item in v),
}

# --- Go's strconv.Unquote for a double-quoted string (strconv/quote.go UnquoteChar, unquote) ---------------

_GO_SIMPLE_ESCAPES = {"a": b"\a", "b": b"\b", "f": b"\f", "n": b"\n", "r": b"\r", "t": b"\t", "v": b"\v"}
_GO_SIMPLE_ESCAPES |= {"\\": b"\\", '"': b'"'}
_HEX = set("0123456789abcdefABCDEF")
_GO_CHAR_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v"}
_GO_CHAR_ESCAPES |= {'"': r"\"", "\\": r"\\"}


def _go_escape(text: str, i: int) -> tuple[int, bytes]:
    """The Go escape sequence at text[i] (a backslash) inside "...": its length and bytes, or (0, b"")."""
    if i + 1 >= len(text):
        return 0, b""
    c = text[i + 1]
    if c in _GO_SIMPLE_ESCAPES:
        return 2, _GO_SIMPLE_ESCAPES[c]
    if c in "xuU":
        n = {"x": 2, "u": 4, "U": 8}[c]
        digits = text[i + 2 : i + 2 + n]
        if len(digits) < n or not set(digits) <= _HEX:
            return 0, b""
        value = int(digits, 16)
        if c == "x":  # a single byte, possibly not UTF-8
            return 2 + n, bytes([value])
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:  # utf8.ValidRune
            return 0, b""
        return 2 + n, chr(value).encode()
    if c in "01234567":  # exactly three octal digits, at most 255
        digits = text[i + 1 : i + 4]
        if len(digits) < 3 or not set(digits) <= set("01234567") or int(digits, 8) > 255:
            return 0, b""
        return 4, bytes([int(digits, 8)])
    return 0, b""  # \' too: it is valid only inside '...'


def go_unquote(text: str) -> bytes:
    """strconv.Unquote('"' + text + '"'), as gobetween runs it on probe_send and probe_recv.

    Returns the bytes gobetween would send or expect; raises ValueError saying where Go stops and how to
    write that character instead.
    """
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\n":
            raise ValueError(f"a real line feed at character {i + 1}: write it as the two characters \\n")
        if c == '"':
            raise ValueError(f'a bare double quote at character {i + 1}: write it as \\"')
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        length, value = _go_escape(text, i)
        if not length:
            raise ValueError(
                f"{text[i : i + 2]} at character {i + 1} is no escape Go knows "
                '(\\a \\b \\f \\n \\r \\t \\v \\\\ \\" \\xHH \\ooo \\uHHHH \\UHHHHHHHH): write \\\\ for a backslash'
            )
        out += value
        i += length
    return bytes(out)


def gobetween_go_string(value: str) -> str:
    """Write a string so that gobetween's strconv.Unquote reads back what the user meant.

    Real control characters (CR, LF, tab...), double quotes and non-ASCII characters become Go escapes;
    escapes already written (the two characters backslash and n, \\x0d...) are kept; any other backslash
    stands for itself. So "HEAD / HTTP/1.0\\r\\n\\r\\n" in YAML (real CR/LF) and 'HEAD / HTTP/1.0\\r\\n\\r\\n'
    (escapes written out) both give the same text. The result is printable ASCII.
    """
    if not isinstance(value, str):
        raise AnsibleFilterError(f"gobetween_go_string expects a string, got {type(value).__name__}: {value!r}")
    out: list[str] = []
    i = 0
    while i < len(value):
        c = value[i]
        if c == "\\":
            length, _ = _go_escape(value, i)
            out.append(value[i : i + length] if length else r"\\")
            i += max(length, 1)
            continue
        code = ord(c)
        if 0xD800 <= code <= 0xDFFF:
            raise AnsibleFilterError(f"gobetween_go_string: {value!r} holds a lone surrogate (U+{code:04X})")
        if c in _GO_CHAR_ESCAPES:
            out.append(_GO_CHAR_ESCAPES[c])
        elif 0x20 <= code < 0x7F:
            out.append(c)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
        i += 1
    return "".join(out)


# TOML basic strings: these characters must be escaped (TOML 1.0; burntsushi/toml, which gobetween uses, reads
# the same escapes); every other character is written as it is, in UTF-8.
_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def gobetween_toml_string(value: Any, variable: str = "the value") -> str:
    """A TOML basic string holding exactly `value`: any Unicode, an emoji included.

    JSON (to_json) writes a character outside Unicode's Basic Multilingual Plane as a surrogate
    pair, which TOML refuses; here it is written as it is. Quotes, backslashes and control
    characters are escaped. `variable` names the value in the error for what no TOML string can
    hold (a lone surrogate) or a value that is not text.
    """
    if not isinstance(value, str):
        raise AnsibleFilterError(f"{variable}={value!r} must be text for gobetween.toml, got {type(value).__name__}")
    out = []
    for i, c in enumerate(value):
        code = ord(c)
        if 0xD800 <= code <= 0xDFFF:
            raise AnsibleFilterError(
                f"{variable}={value!r}: character {i + 1} is a lone surrogate (U+{code:04X}), which no UTF-8 "
                "text can hold: write the character itself"
            )
        if c in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[c])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


# --- Go's time.ParseDuration (time/format.go) ------------------------------------------------------------

_DURATION_UNITS = {"ns": 1, "us": 10**3, "\u00b5s": 10**3, "\u03bcs": 10**3, "ms": 10**6, "s": 10**9}
_DURATION_UNITS |= {"m": 60 * 10**9, "h": 3600 * 10**9}
_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")


def go_parse_duration(text: str) -> int:
    """time.ParseDuration: the duration in nanoseconds, or ValueError ("[-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+")."""
    s, negative = text, False
    if s[:1] in ("-", "+"):
        negative, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError("invalid duration")
    total = Fraction(0)
    while s:
        if not (s[0] == "." or (s[0].isascii() and s[0].isdigit())):
            raise ValueError("invalid duration")
        match = _DURATION_PART.match(s)
        assert match is not None  # the pattern matches the empty string
        whole, fraction, unit = match.groups()
        if not whole and not fraction:
            raise ValueError("invalid duration")
        if not unit:
            raise ValueError("missing unit in duration")
        if unit not in _DURATION_UNITS:
            raise ValueError(f"unknown unit {unit!r} in duration")
        scale = _DURATION_UNITS[unit]
        total += int(whole or "0") * scale
        if fraction:
            total += int(Fraction(int(fraction), 10 ** len(fraction)) * scale)
        s = s[match.end() :]
    if total > (INT64_MAX + 1 if negative else INT64_MAX):
        raise ValueError("invalid duration (overflows int64 nanoseconds)")
    return -int(total) if negative else int(total)


# --- Go's net.SplitHostPort (net/ipsock.go) --------------------------------------------------------------


def go_split_host_port(hostport: str) -> tuple[str, str]:
    """net.SplitHostPort: (host, port), or ValueError with Go's reason."""
    i = hostport.rfind(":")
    if i < 0:
        raise ValueError("missing port in address")
    j = k = 0
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise ValueError("missing ']' in address")
        if end + 1 == len(hostport):
            raise ValueError("missing port in address")
        if end + 1 != i:
            raise ValueError("too many colons in address" if hostport[end + 1] == ":" else "missing port in address")
        host = hostport[1:end]
        j, k = 1, end + 1
    else:
        host = hostport[:i]
        if ":" in host:
            raise ValueError("too many colons in address (write an IPv6 address in brackets: [::]:80)")
    if "[" in hostport[j:]:
        raise ValueError("unexpected '[' in address")
    if "]" in hostport[k:]:
        raise ValueError("unexpected ']' in address")
    return host, hostport[i + 1 :]


# --- the check ------------------------------------------------------------------------------------------


def _unknown(where: str, table: Mapping[str, Any], known: set[str]) -> list[str]:
    return [f"{where}: unknown key {key!r} (gobetween would ignore it)" for key in sorted(set(table) - known)]


def _types(where: str, table: Mapping[str, Any], types: Mapping[str, str]) -> list[str]:
    """burntsushi/toml refuses a value of another type than the Go field: gobetween exits."""
    return [
        f"{where}: {key}={table[key]!r} must be {kind} (gobetween exits: the TOML value has the wrong type)"
        for key, kind in types.items()
        if key in table and not _IS_TYPE[kind](table[key])
    ]


def _bind(where: str, key: str, value: Any, fatal: bool = True) -> list[str]:
    consequence = "gobetween exits" if fatal else "gobetween would not serve it"
    if not isinstance(value, str):
        return []  # reported by _types
    try:
        _, port = go_split_host_port(value)
    except ValueError as err:
        return [f"{where}: {key}={value!r} is not host:port ({consequence}: {err})"]
    if port.isascii() and port.isdigit() and int(port) > 65535:
        return [f"{where}: {key}={value!r}: the port must be a number from 1 to 65535 ({consequence}: invalid port)"]
    if not (port.isascii() and port.isdigit() and int(port) >= 1):
        return [f"{where}: {key}={value!r}: the port must be a number from 1 to 65535"]
    return []


def _duration(where: str, key: str, value: Any, if_wrong: str) -> list[str]:
    if not isinstance(value, str):
        return []  # reported by _types
    try:
        nanoseconds = go_parse_duration(value)
    except ValueError as err:
        return [f"{where}: {key}={value!r} is not a Go duration like 500ms, 2s, 1m30s or 0 ({if_wrong}: {err})"]
    if nanoseconds < 0:
        return [f"{where}: {key}={value!r} is negative: every wait would end at once"]
    return []


def _go_string(where: str, key: str, value: Any, variable: str) -> list[str]:
    if not isinstance(value, str):
        return []
    try:
        go_unquote(value)
    except ValueError as err:
        return [
            f"{where}: {key}={value!r} is refused by gobetween's strconv.Unquote, gobetween exits "
            f'("{key} has invalid syntax"): {err}. Set {variable} as text or with escapes; the role '
            "writes it through gobetween_go_string"
        ]
    return []


def _healthcheck(where: str, check: Mapping[str, Any]) -> list[str]:
    errors = _unknown(where, check, HEALTHCHECK_KEYS) + _types(where, check, TYPES["healthcheck"])
    kind = check.get("kind", "")
    if kind not in {"none", "ping", "probe", "exec"}:
        return [*errors, f"{where}: kind={kind!r} is not ping, probe, exec or none (gobetween exits)"]
    interval = check.get("interval") or "0"
    errors += _duration(where, "timeout", check.get("timeout") or "0", "gobetween exits")
    if kind != "none" and isinstance(interval, str):
        try:
            above_zero = go_parse_duration(interval) > 0
        except ValueError as err:
            errors.append(
                f"{where}: interval={interval!r} is not a Go duration like 2s or 1m30s (gobetween exits: {err})"
            )
        else:
            if not above_zero:
                errors.append(f"{where}: interval={interval!r} must be above 0 with kind={kind!r} (gobetween exits)")
    for key in ("fails", "passes"):
        if key in check and isinstance(check[key], int) and check[key] < 1:
            errors.append(f"{where}: {key}={check[key]!r} must be 1 or more (gobetween would read it as 1)")
    if check.get("initial_status", "healthy") not in {"healthy", "unhealthy"}:
        errors.append(
            f"{where}: initial_status={check['initial_status']!r} is not healthy or unhealthy (gobetween exits)"
        )
    if kind == "probe":
        errors += _probe(where, check)
    return errors


def _probe(where: str, check: Mapping[str, Any]) -> list[str]:
    errors = []
    if check.get("probe_protocol") not in PROTOCOLS:
        errors.append(
            f"{where}: probe_protocol={check.get('probe_protocol')!r} is not tcp, udp or tls (gobetween exits)"
        )
    missing = [key for key in ("probe_send", "probe_recv") if not check.get(key)]
    errors += [f"{where}: {key} is required with kind='probe' (gobetween exits)" for key in missing]
    if missing:
        return errors
    errors += _go_string(where, "probe_send", check["probe_send"], "gobetween_lb_probe_send")
    strategy = check.get("probe_strategy") or "starts_with"
    recv_len = check.get("probe_recv_len", 0)
    if strategy == "starts_with":
        if isinstance(recv_len, int) and recv_len > 0:
            errors.append(
                f"{where}: probe_recv_len={recv_len} is refused with probe_strategy='starts_with' (gobetween exits)"
            )
        errors += _go_string(where, "probe_recv", check["probe_recv"], "gobetween_lb_probe_recv")
    elif strategy == "regexp":
        if recv_len == 0:
            errors.append(f"{where}: probe_recv_len is required with probe_strategy='regexp' (gobetween exits)")
    else:
        errors.append(f"{where}: probe_strategy={strategy!r} is not starts_with or regexp (gobetween exits)")
    return errors


def _static_entry(where: str, entry: Any) -> list[str]:
    match = STATIC_ENTRY.fullmatch(entry.strip(_GO_TRIM)) if isinstance(entry, str) else None
    if not match:
        return [
            f"{where}: static_list entry {entry!r} is not 'host:port weight=N priority=N' "
            "(gobetween would skip it: utils/parsers/backend.go)"
        ]
    return [
        f"{where}: static_list entry {entry!r}: {key}={match[key]} is past int64 (gobetween would read it as 1)"
        for key in ("weight", "priority")
        if match[key] and int(match[key]) > INT64_MAX
    ]


def _discovery(where: str, discovery: Mapping[str, Any]) -> list[str]:
    errors = _unknown(where, discovery, DISCOVERY_KEYS) + _types(where, discovery, TYPES["discovery"])
    if discovery.get("failpolicy", "keeplast") not in {"keeplast", "setempty", ""}:
        errors.append(f"{where}: failpolicy={discovery['failpolicy']!r} is not keeplast or setempty (gobetween exits)")
    for key in ("interval", "timeout"):
        if discovery.get(key):
            errors += _duration(where, key, discovery[key], "gobetween exits" if key == "interval" else "read as 0")
    if "kind" not in discovery:
        errors.append(f"{where}: kind is required")
    elif discovery["kind"] == "static":
        entries = discovery.get("static_list")
        if not isinstance(entries, list) or not entries:
            errors.append(f"{where}: static_list must list at least one backend")
        else:
            for entry in entries:
                errors += _static_entry(where, entry)
    return errors


def _server(name: str, server: Any) -> list[str]:
    where = f"servers.{name}"
    if not isinstance(server, Mapping):
        return [f"{where}: is not a table"]
    errors = _unknown(where, server, SERVER_KEYS) + _types(where, server, TYPES["server"])
    if server.get("bind"):
        errors += _bind(where, "bind", server["bind"])
    else:
        errors.append(f"{where}: bind is required (gobetween exits)")
    protocol = server.get("protocol") or "tcp"
    if protocol not in PROTOCOLS:
        errors.append(f"{where}: protocol={server['protocol']!r} is not one of {sorted(PROTOCOLS)} (gobetween exits)")
    tls = server.get("tls")
    if isinstance(tls, Mapping):
        errors += _tls(f"{where}.tls", tls)
        if protocol == "udp":
            # server/server.go New gives udp to server/udp, which never reads Tls
            errors.append(f"{where}: the tls section does nothing with protocol='udp' (gobetween would ignore it)")
    elif protocol == "tls":
        # manager.go prepareConfig, case "tls"
        errors.append(
            f"{where}: protocol='tls' needs a tls section (gobetween exits: \"Need tls section for tls protocol\")"
        )
    if (server.get("balance") or "weight") not in BALANCES:
        errors.append(f"{where}: balance={server['balance']!r} is not one of {sorted(BALANCES)} (gobetween exits)")
    if isinstance(server.get("max_connections"), int) and server["max_connections"] < 0:
        errors.append(
            f"{where}: max_connections={server['max_connections']} is negative (gobetween would refuse every client)"
        )
    for key in ("client_idle_timeout", "backend_idle_timeout", "backend_connection_timeout"):
        if key in server:
            errors += _duration(where, key, server[key], "gobetween would read it as 0, no timeout")
    discovery = server.get("discovery")
    if not isinstance(discovery, Mapping):
        return [*errors, f"{where}.discovery: the section is required (gobetween exits)"]
    errors += _discovery(f"{where}.discovery", discovery)
    if isinstance(server.get("healthcheck"), Mapping):
        errors += _healthcheck(f"{where}.healthcheck", server["healthcheck"])
    return errors


def _tls(where: str, tls: Mapping[str, Any]) -> list[str]:
    """A server's [tls] section, as manager.go prepareConfig and utils/tls/tls.go MakeTlsConfig read it."""
    errors = _unknown(where, tls, TLS_KEYS) + _types(where, tls, TYPES["tls"])
    # manager.go prepareConfig: "if (len(server.Tls.AcmeHosts) == 0) && ((server.Tls.KeyPath == "") || ...)"
    if not tls.get("acme_hosts"):
        errors += [
            f"{where}: {key} is required: a tls section needs both cert_path and key_path, or acme_hosts "
            '(gobetween exits: "tls requires specify either acme hosts or both key and cert paths")'
            for key in ("cert_path", "key_path")
            if not tls.get(key)
        ]
    errors += _tls_versions(where, tls)
    ciphers = tls.get("ciphers")
    if isinstance(ciphers, list):
        errors += [error for name in ciphers if isinstance(name, str) and (error := _cipher(where, name))]
    return errors


def _tls_versions(where: str, tls: Mapping[str, Any]) -> list[str]:
    """min_version and max_version through utils/tls/tls.go MapVersion: a name it lacks is 0, Go's default."""
    errors = []
    for key, bound in (("min_version", "lowest"), ("max_version", "highest")):
        value = tls.get(key)
        if isinstance(value, str) and value and value not in TLS_VERSIONS:
            hint = " (its names are lower case)" if value.lower() in TLS_VERSIONS else ""
            hint = " (0.8.1 dropped ssl3)" if value == "ssl3" else hint
            errors.append(
                f"{where}: {key}={value!r} is not one of {', '.join(TLS_VERSIONS)}{hint} (gobetween would read it "
                f"as no {bound} version at all: Go's default)"
            )
    low, high = (TLS_VERSIONS.get(str(tls.get(key))) for key in ("min_version", "max_version"))
    if low and high and low > high:
        # Go's crypto/tls supportedVersions is then empty: "tls: client offered only unsupported versions"
        errors.append(
            f"{where}: min_version={tls['min_version']!r} is above max_version={tls['max_version']!r} "
            "(Go's crypto/tls would refuse every client)"
        )
    if low and low < TLS_VERSIONS[TLS_LOWEST]:
        errors.append(
            f"{where}: min_version={tls['min_version']!r} lets TLS 1.0 or 1.1 in: use {TLS_LOWEST} or tls1.3 "
            "(lbfarm's own rule: Mozilla's intermediate profile)"
        )
    return errors


def _cipher(where: str, name: str) -> str:
    """One name of ciphers, through utils/tls/tls.go MapCiphers; '' when Go's crypto/tls uses it."""
    if name in TLS12_SUITES:
        return ""
    if name in TLS13_SUITES:
        # Go's crypto/tls Config.cipherSuites: the list is for TLS 1.0 to 1.2, matched against the suites of those
        return (
            f"{where}: ciphers: {name!r} is a TLS 1.3 suite, which Go's crypto/tls never takes from the list (TLS 1.3 "
            "always offers its three suites; the list is for TLS 1.0 to 1.2): Go would ignore it; leave it out"
        )
    hint = f": OpenSSL's name for {OPENSSL_SUITES[name]}" if name in OPENSSL_SUITES else ""
    # MapCiphers returns an empty, not a nil, list when it knows none of the names: Go's crypto/tls then has no
    # TLS 1.2 suite at all (Config.cipherSuites takes nil alone as its defaults)
    return (
        f"{where}: ciphers: {name!r} is no cipher suite gobetween knows{hint} (gobetween would skip it: "
        "utils/tls/tls.go MapCiphers; with no name it knows left, no TLS 1.2 client could connect)"
    )


def _listeners(config: Mapping[str, Any]) -> list[str]:
    """Two TCP listeners of one file on one port: the second net.Listen fails ("address already in use").

    manager.go Initialize starts the servers (a failed Listen is FATAL), then metrics/metrics.go Start (which
    only logs) and api/api.go Start (log.Fatal). An empty host, 0.0.0.0 and :: listen on every address.
    """
    servers = config.get("servers")
    binds = [
        (f"servers.{name}", server.get("bind"), True)
        for name, server in (servers.items() if isinstance(servers, Mapping) else [])
        if isinstance(server, Mapping) and server.get("protocol") != "udp"
    ]
    for section, fatal in (("api", True), ("metrics", False)):
        table = config.get(section)
        if isinstance(table, Mapping) and table.get("enabled") is True:
            binds.append((f"[{section}]", table.get("bind"), fatal))
    listeners: list[tuple[str, str, str, int, bool]] = []  # where, bind, host ("" for every address), port, fatal
    for where, bind, fatal in binds:
        try:
            host, port = go_split_host_port(bind) if isinstance(bind, str) else ("", "")
        except ValueError:
            continue  # reported by _bind
        if port.isascii() and port.isdigit():
            listeners.append((where, bind, "" if host in ("0.0.0.0", "::") else host, int(port), fatal))
    errors = []
    for i, (where, bind, host, port, fatal) in enumerate(listeners):
        for other, other_bind, other_host, other_port, other_fatal in listeners[:i]:
            if port == other_port and (host == other_host or "" in (host, other_host)):
                consequence = "gobetween exits" if fatal and other_fatal else "gobetween exits, or serves no metrics"
                errors.append(
                    f"{where}: bind={bind!r} is on the port of {other}'s bind={other_bind!r} "
                    f"({consequence}: net.Listen: address already in use)"
                )
                break
    return errors


def _globals(config: Mapping[str, Any]) -> list[str]:
    errors = []
    for section, known in SECTION_KEYS.items():
        if isinstance(config.get(section), Mapping):
            errors += _unknown(f"[{section}]", config[section], known)
            errors += _types(f"[{section}]", config[section], TYPES.get(section, {}))
    level = config.get("logging", {}).get("level", "")
    if isinstance(level, str) and level and level.lower() not in LOG_LEVELS:
        errors.append(f"[logging]: level={level!r} is not a logrus level: {sorted(LOG_LEVELS)} (gobetween exits)")
    api = config.get("api", {})
    if api.get("enabled") is True:
        errors += _bind("[api]", "bind", api.get("bind", ""))
    metrics = config.get("metrics", {})
    if metrics.get("enabled") is True:
        errors += _bind("[metrics]", "bind", metrics.get("bind", ""), fatal=False)
    auth = api.get("basic_auth")
    if isinstance(auth, Mapping):
        errors += _unknown("[api.basic_auth]", auth, {"login", "password"})
        errors += _types("[api.basic_auth]", auth, TYPES["api.basic_auth"])
        if not auth.get("login"):
            errors.append("[api.basic_auth]: login must not be empty (gin's BasicAuth panics: gobetween exits)")
        if not auth.get("password"):
            errors.append("[api.basic_auth]: password must not be empty")
    api_tls = api.get("tls")
    if isinstance(api_tls, Mapping):
        errors += _unknown("[api.tls]", api_tls, API_TLS_KEYS)
        errors += _types("[api.tls]", api_tls, TYPES["api.tls"])
        if api.get("enabled") is True:
            # api/api.go Start: app.RunTLS(bind, CertPath, KeyPath), log.Fatal on its error (open : no such file)
            errors += [
                f"[api.tls]: {key} is required (gobetween exits: gin's RunTLS cannot open an empty path)"
                for key in sorted(API_TLS_KEYS)
                if not api_tls.get(key)
            ]
    return errors


_WHERE_KEY = re.compile(r"^\[?([\w.-]+)\]?: (\w+)")  # "[api.basic_auth]: password ...", "servers.farm: bind ..."
_OTHER_BIND = re.compile(r"is on the port of \[?([\w.-]+)\]?'s bind=")  # the listener a bind collides with
_TOML_LINE = re.compile(r"\(at line (\d+)")
_TOML_SECTION = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+\s*(#.*)?$")
_TOML_KEY = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*=")


def _toml_path_at(text: str, lineno: int) -> str:
    """The dotted key written on line `lineno` of the text (its table's name before it), or ''."""
    lines = text.splitlines()
    if not 1 <= lineno <= len(lines):
        return ""
    key = _TOML_KEY.match(lines[lineno - 1])
    if not key:
        return ""
    section = next((m.group(1) for line in reversed(lines[: lineno - 1]) if (m := _TOML_SECTION.match(line))), "")
    return f"{section}.{key.group(1)}" if section else key.group(1)


def _named(error: str, path: str, variables: Mapping[str, str]) -> str:
    named = f"{error} (set by {variables[path]})" if path in variables else error
    other = _OTHER_BIND.search(error)
    if other and f"{other.group(1)}.bind" in variables:  # a collision: what set the other listener too
        named += f" ({other.group(1)}'s bind set by {variables[other.group(1) + '.bind']})"
    return named


def gobetween_config_errors(text: str, variables: Mapping[str, str] | None = None) -> list[str]:
    """Everything gobetween would reject, ignore or misread in this configuration.

    variables maps a dotted key of the file (servers.farm.bind) to what sets it; each refusal of a
    key found there names it.
    """
    if not isinstance(text, str):
        raise AnsibleFilterError(f"gobetween_config_errors expects the configuration text, got {type(text).__name__}")
    variables = variables or {}
    try:
        config = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        line = _TOML_LINE.search(str(err))
        return [_named(f"not valid TOML: {err}", _toml_path_at(text, int(line.group(1))) if line else "", variables)]
    errors = _unknown("top level", config, TOP_KEYS) + _globals(config)
    servers = config.get("servers")
    if not isinstance(servers, Mapping) or not servers:
        errors.append("[servers]: no server is defined (gobetween exits: with nothing to run, Go reports a deadlock)")
    else:
        for name, server in servers.items():
            errors += _server(name, server)
    errors += _listeners(config)
    return [_named(e, ".".join(m.groups()) if (m := _WHERE_KEY.match(e)) else "", variables) for e in errors]


# --- the farm's backends and health window, for gobetween ---------------------------------------------------


def _fail(host: str, var: str, value: Any, why: str) -> AnsibleFilterError:
    """An error naming the host, the variable and the bad value (worded as filter_plugins/farm.py words them)."""
    return AnsibleFilterError(f"backend {host}: {var}={value!r} {why}")


def _integer(host: str, var: str, value: Any, low: int) -> int:
    """Return value as an int of at least low, accepting digit strings from INI inventories."""
    if isinstance(value, bool):
        raise _fail(host, var, value, "is not an integer")
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        value = int(value)
    if not isinstance(value, int):
        raise _fail(host, var, value, "is not an integer")
    if value < low:
        raise _fail(host, var, value, f"is out of range: use {low} or more")
    return value


def _go_seconds(host: str, var: str, value: Any) -> float:
    """A Go duration (2s, 1m30s) in seconds, read by time.ParseDuration as gobetween reads it."""
    try:
        nanoseconds = go_parse_duration(str(value))
    except ValueError as err:
        raise _fail(host, var, value, f"must be a Go duration such as 2s or 1m30s ({err})") from None
    if nanoseconds < 0:
        raise _fail(host, var, value, "is negative: use a Go duration such as 2s or 1m30s")
    return nanoseconds / 10**9


def gobetween_lb_static_list(backends: list[Mapping[str, Any]]) -> list[str]:
    """Render each backend as a gobetween static_list entry: "host:port weight=N priority=N".

    gobetween's parser takes weight, then priority, in that order; a backup becomes priority 2.
    Its grammar has no per-backend connection cap, so backend_max_conns is refused here rather
    than dropped (gobetween_lb_max_connections caps the whole server). It has no per-backend state
    either: a backend that is not ready is left out of the list.
    """
    if not isinstance(backends, list) or not backends:
        raise AnsibleFilterError(f"expected the non-empty list from farm_backends, got {backends!r}")
    entries = []
    for b in backends:
        if b.get("state", "ready") != "ready":
            continue
        if b["max_conns"]:
            raise _fail(
                b["name"],
                "backend_max_conns",
                b["max_conns"],
                "has no equivalent in gobetween's static_list: unset it, and cap the server with "
                "gobetween_lb_max_connections",
            )
        priority = b["priority"] if b["priority"] is not None else (2 if b["backup"] else 1)
        entries.append(f"{b['address']}:{b['port']} weight={b['weight']} priority={priority}")
    return entries


def gobetween_lb_health_window(settings: Mapping[str, Any], host: str) -> float:
    """Seconds gobetween's health checks take to call a backend down, or up again, at most.

    settings: the role's variables with the prefix gobetween_lb_ dropped (the inventory's value,
    else the role's default). interval x max(fails, passes) + timeout; 0 with healthcheck none.
    """
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError(
            f"gobetween_lb_health_window expects the role's settings (gobetween_lb_* without the prefix), "
            f"got {settings!r}"
        )
    host = str(host)
    if settings.get("healthcheck") in (None, "none"):
        return 0.0
    missing = [
        f"gobetween_lb_{key}"
        for key in ("healthcheck_interval", "healthcheck_timeout", "healthcheck_fails", "healthcheck_passes")
        if key not in settings
    ]
    if missing:
        raise AnsibleFilterError(
            f"balancer {host}: {', '.join(missing)} not set (roles/gobetween_lb/defaults/main.yml)"
        )
    interval = _go_seconds(host, "gobetween_lb_healthcheck_interval", settings["healthcheck_interval"])
    timeout = _go_seconds(host, "gobetween_lb_healthcheck_timeout", settings["healthcheck_timeout"])
    fails = _integer(host, "gobetween_lb_healthcheck_fails", settings["healthcheck_fails"], 1)
    passes = _integer(host, "gobetween_lb_healthcheck_passes", settings["healthcheck_passes"], 1)
    return interval * max(fails, passes) + timeout


def gobetween_lb_tls_ciphers(ciphers: Any, variable: str = "balancer_tls.ciphers") -> list[str]:
    """The farm's TLS 1.2 ciphers (OpenSSL's names, colon-separated or a list) in gobetween's names.

    Mozilla's intermediate profile, as roles/tls publishes it, ends with three finite-field DHE suites: neither
    gobetween's table (utils/tls/tls.go suites) nor Go's crypto/tls has them, so they are left out. A name that
    is neither one gobetween knows (in OpenSSL's spelling or its own) nor DHE is refused: a cipher dropped in
    silence is a profile nobody chose.
    """
    names = ciphers.split(":") if isinstance(ciphers, str) else ciphers
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise AnsibleFilterError(f"{variable}={ciphers!r} must be cipher names, colon-separated or as a list")
    mapped = []
    for name in (name.strip() for name in names):
        if not name or name.startswith(_NO_DHE):
            continue
        go = OPENSSL_SUITES.get(name) or (name if name in TLS12_SUITES else None)
        if go is None:
            raise AnsibleFilterError(
                f"{variable}={ciphers!r}: {name!r} is no TLS 1.2 cipher suite gobetween knows "
                "(src/utils/tls/tls.go: ECDHE or RSA key exchange with AES, ChaCha20, 3DES or RC4)"
            )
        if go not in mapped:
            mapped.append(go)
    if not mapped:
        raise AnsibleFilterError(
            f"{variable}={ciphers!r}: no cipher gobetween knows is left (gobetween would fall back on Go's defaults)"
        )
    return mapped


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "gobetween_config_errors": gobetween_config_errors,
            "gobetween_go_string": gobetween_go_string,
            "gobetween_toml_string": gobetween_toml_string,
            "gobetween_lb_static_list": gobetween_lb_static_list,
            "gobetween_lb_health_window": gobetween_lb_health_window,
            "gobetween_lb_tls_ciphers": gobetween_lb_tls_ciphers,
        }
