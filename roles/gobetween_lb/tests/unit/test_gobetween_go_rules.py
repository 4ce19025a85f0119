"""The Go rules gobetween applies to lbfarm's values, ported in roles/gobetween_lb/filter_plugins/gobetween_lb.py.

Each test names the Go source it follows. gobetween 0.8.1 is built with Go 1.24 (its CHANGELOG); the rules
below are the same in Go 1.23's sources, read for these tests.
"""

from __future__ import annotations

import re
import ssl

import modules
import pytest
from ansible.errors import AnsibleFilterError

gobetween = modules.load("roles/gobetween_lb/filter_plugins/gobetween_lb.py")
go_parse_duration = gobetween.go_parse_duration
go_split_host_port = gobetween.go_split_host_port
go_unquote = gobetween.go_unquote
gobetween_go_string = gobetween.gobetween_go_string

# --- strconv.Unquote('"' + s + '"'): gobetween 0.8.1 src/manager/manager.go prepareConfig, on probe_send and
# probe_recv; the rules are Go's strconv/quote.go unquote and UnquoteChar.


def test_unquote_refuses_a_real_line_feed_the_old_default_probe() -> None:
    # unquote: "rejecting any unescaped newline characters which are invalid"
    with pytest.raises(ValueError, match=r"real line feed at character 17: write it as the two characters \\n"):
        go_unquote("HEAD / HTTP/1.0\r\n\r\n")


def test_unquote_reads_the_escapes_written_out() -> None:
    assert go_unquote(r"HEAD / HTTP/1.0\r\n\r\n") == b"HEAD / HTTP/1.0\r\n\r\n"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (r"\a\b\f\n\r\t\v\\\"", b'\a\b\f\n\r\t\v\\"'),  # UnquoteChar: the one-letter escapes, \\ and \"
        (r"\x00\xff", b"\x00\xff"),  # \x: two hex digits, one byte, possibly not UTF-8
        (r"\101\377", b"A\xff"),  # octal: exactly three digits, at most 255
        (r"\u00e9\U0001F600", "é😀".encode()),  # \u and \U: a valid rune, written as UTF-8
        ("tab\there é", "tab\there é".encode()),  # real tab, CR and non-ASCII pass as they are
        ("cr\r", b"cr\r"),
        ("", b""),
    ],
)
def test_unquote_reads_what_go_reads(text: str, value: bytes) -> None:
    assert go_unquote(text) == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('say "hi"', "bare double quote at character 5"),  # unquote: the first " ends the string early
        (r"it\'s", r"\' at character 3 is no escape Go knows"),  # UnquoteChar: \' only inside '...'
        ("C:\\path", r"\p at character 3 is no escape Go knows"),  # UnquoteChar default: ErrSyntax
        ("ends with \\", "\\ at character 11 is no escape Go knows"),  # a backslash escapes the closing quote
        (r"\x4", "no escape Go knows"),  # too few hex digits
        (r"\400", "no escape Go knows"),  # octal past 255
        (r"\08", "no escape Go knows"),  # 8 is no octal digit
        (r"\ud800", "no escape Go knows"),  # utf8.ValidRune: no surrogates
        (r"\U00110000", "no escape Go knows"),  # utf8.ValidRune: past U+10FFFF
    ],
)
def test_unquote_refuses_what_go_refuses(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        go_unquote(text)


# --- gobetween_go_string: the role's way to write a probe string so that Unquote reads what the user meant


@pytest.mark.parametrize(
    "natural",
    [
        "HEAD / HTTP/1.0\r\n\r\n",
        'GET /x?q="a b" HTTP/1.1\r\nHost: m1\r\n\r\n',
        "tab\t bell\a nul\x00 del\x7f é € 😀",
        "",
    ],
)
def test_go_string_gives_back_the_bytes_the_user_wrote(natural: str) -> None:
    written = gobetween_go_string(natural)
    assert written.isascii()
    assert written.isprintable()
    assert go_unquote(written) == natural.encode()


def test_go_string_writes_the_lab_probe_as_escapes() -> None:
    assert gobetween_go_string("HEAD / HTTP/1.0\r\n\r\n") == r"HEAD / HTTP/1.0\r\n\r\n"


def test_go_string_keeps_escapes_already_written() -> None:
    # the same probe written with escapes ('...' in YAML) comes out the same
    assert gobetween_go_string(r"HEAD / HTTP/1.0\r\n\r\n") == r"HEAD / HTTP/1.0\r\n\r\n"
    assert gobetween_go_string(r"\x0d\x0a \101 \u00e9 \\ \"") == r"\x0d\x0a \101 \u00e9 \\ \""


def test_go_string_makes_a_lone_backslash_stand_for_itself() -> None:
    written = gobetween_go_string("C:\\path\\ and it\\'s \\")
    assert written == r"C:\\path\\ and it\\'s \\"
    assert go_unquote(written) == b"C:\\path\\ and it\\'s \\"


def test_go_string_is_idempotent() -> None:
    once = gobetween_go_string('a\r\n"b"\\q é')
    assert gobetween_go_string(once) == once


def test_go_string_wants_a_string() -> None:
    with pytest.raises(AnsibleFilterError, match="expects a string, got int"):
        gobetween_go_string(5)
    with pytest.raises(AnsibleFilterError, match="lone surrogate"):
        gobetween_go_string("\ud800")


# --- time.ParseDuration (Go time/format.go): gobetween 0.8.1 manager.go prepareConfig (healthcheck interval
# and timeout: FATAL), utils/time.go ParseDurationOrDefault (idle and connection timeouts: 0 when refused)


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [
        ("0", 0),
        ("2s", 2 * 10**9),
        ("1m30s", 90 * 10**9),
        ("1.5h", 5400 * 10**9),
        (".5s", 5 * 10**8),
        ("1.s", 10**9),
        ("300ms", 3 * 10**8),
        ("10us", 10**4),
        ("10µs", 10**4),
        ("10μs", 10**4),
        ("7ns", 7),
        ("-2s", -2 * 10**9),
        ("+2s", 2 * 10**9),
        ("-0", 0),
    ],
)
def test_parse_duration_reads_what_go_reads(text: str, nanoseconds: int) -> None:
    assert go_parse_duration(text) == nanoseconds


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "invalid duration"),
        ("2", "missing unit"),  # only "0" may go without a unit
        ("10 minutes", "unknown unit ' minutes'"),
        ("2S", "unknown unit 'S'"),
        ("1d", "unknown unit 'd'"),
        ("s", "invalid duration"),  # the next character must be [0-9.]
        (".s", "invalid duration"),  # digits before or after the dot
        ("2s ", "unknown unit 's '"),
        ("3000000h", "overflows"),  # past 1<<63-1 ns
    ],
)
def test_parse_duration_refuses_what_go_refuses(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        go_parse_duration(text)


# --- net.SplitHostPort (Go net/ipsock.go), which net.Listen runs on the server bind (gobetween 0.8.1
# src/server/tcp/server.go Listen: FATAL through manager.Initialize) and on the API bind (src/api/api.go Start)


@pytest.mark.parametrize(
    ("hostport", "parts"),
    [
        ("0.0.0.0:80", ("0.0.0.0", "80")),
        (":80", ("", "80")),
        ("[::]:80", ("::", "80")),
        ("localhost:8888", ("localhost", "8888")),
        ("127.0.0.1:http", ("127.0.0.1", "http")),
    ],
)
def test_split_host_port_reads_what_go_reads(hostport: str, parts: tuple[str, str]) -> None:
    assert go_split_host_port(hostport) == parts


@pytest.mark.parametrize(
    ("hostport", "reason"),
    [
        ("127.0.0.1", "missing port"),
        (":::80", "too many colons"),  # an IPv6 address without brackets
        ("[::]80", "missing port"),
        ("[::", "missing '\\]'"),
        ("[::]", "missing port"),
        ("[::]:80]", "too many colons|unexpected"),
        ("a[b:80", "unexpected '\\['"),
    ],
)
def test_split_host_port_refuses_what_go_refuses(hostport: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        go_split_host_port(hostport)


# --- the TLS names: gobetween 0.8.1 src/utils/tls/tls.go (versions, suites; MapVersion and MapCiphers give 0 for
# a name they lack) and the code points of Go's crypto/tls constants they map to (crypto/tls cipher_suites.go)

GO_CODE_POINTS = {
    "TLS_RSA_WITH_RC4_128_SHA": 0x0005,
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA": 0x000A,
    "TLS_RSA_WITH_AES_128_CBC_SHA": 0x002F,
    "TLS_RSA_WITH_AES_256_CBC_SHA": 0x0035,
    "TLS_RSA_WITH_AES_128_CBC_SHA256": 0x003C,
    "TLS_RSA_WITH_AES_128_GCM_SHA256": 0x009C,
    "TLS_RSA_WITH_AES_256_GCM_SHA384": 0x009D,
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA": 0xC007,
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": 0xC009,
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": 0xC00A,
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA": 0xC011,
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA": 0xC012,
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": 0xC013,
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": 0xC014,
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": 0xC023,
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": 0xC027,
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": 0xC02F,
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": 0xC02B,
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": 0xC030,
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": 0xC02C,
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": 0xCCA8,
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": 0xCCA9,
}


def test_the_names_are_those_gobetween_0_8_1_maps() -> None:
    # tls.go versions: tls1 to tls1.3 (0.8.1 dropped ssl3, added tls1.3), Go's VersionTLS10..13
    assert gobetween.TLS_VERSIONS == {"tls1": 0x0301, "tls1.1": 0x0302, "tls1.2": 0x0303, "tls1.3": 0x0304}
    # tls.go suites: the 22 of TLS 1.0 to 1.2 and the three of TLS 1.3 (0.8.1 added those and ChaCha20)
    assert set(gobetween.TLS12_SUITES) == set(GO_CODE_POINTS)
    assert sorted(gobetween.TLS13_SUITES) == [
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
    ]


def test_openssl_names_are_those_of_the_same_code_points() -> None:
    """Each OpenSSL name the table gives is the suite of gobetween's name, by IANA code point, as far as this
    machine's OpenSSL still has it (OpenSSL 3 builds leave RC4 and 3DES out)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_ciphers("ALL:@SECLEVEL=0")
    local = {cipher["name"]: cipher["id"] & 0xFFFF for cipher in context.get_ciphers()}
    checked = {go: openssl for go, openssl in gobetween.TLS12_SUITES.items() if openssl in local}
    assert {go: local[openssl] for go, openssl in checked.items()} == {go: GO_CODE_POINTS[go] for go in checked}
    assert len(checked) >= 16, checked  # every AES suite at least: the profile's among them


@pytest.mark.parametrize("name", ["DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "EDH-RSA-DES-CBC3-SHA"])
def test_finite_field_dhe_is_in_neither_gobetween_nor_go(name: str) -> None:
    # Mozilla's intermediate profile lists them; Go's crypto/tls implements no DHE key exchange
    assert name not in gobetween.OPENSSL_SUITES
    assert gobetween.gobetween_lb_tls_ciphers(f"ECDHE-RSA-AES128-GCM-SHA256:{name}") == [
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    ]
