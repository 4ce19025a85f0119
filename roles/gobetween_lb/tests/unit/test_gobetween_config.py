"""gobetween's configuration: the role's template for the lab, and the check that guards it.

The check's cases follow gobetween 0.8.1 (the release lbfarm installs); each names the file and function
of gobetween's source (under src/) that exits, panics or misreads on that value.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jinja2
import modules
import pytest
import yaml
from ansible.errors import AnsibleFilterError

from filter_plugins import farm

gobetween_module = modules.load("roles/gobetween_lb/filter_plugins/gobetween_lb.py")
STATIC_ENTRY = gobetween_module.STATIC_ENTRY
go_unquote = gobetween_module.go_unquote
gobetween_config_errors = gobetween_module.gobetween_config_errors
gobetween_go_string = gobetween_module.gobetween_go_string
gobetween_toml_string = gobetween_module.gobetween_toml_string
gobetween_lb_tls_ciphers = gobetween_module.gobetween_lb_tls_ciphers

ROLE = Path(__file__).parents[2]
ROLE_VARS = yaml.safe_load((ROLE / "vars/main.yml").read_text())
# the farm's certificate as roles/balancer publishes it (balancer_tls): roles/tls's profile, no real key
PROFILE = yaml.safe_load((ROLE.parent / "tls/vars/main.yml").read_text())["_tls_profile"]
TLS = {"pem": "", "key": "", **PROFILE}
# Mozilla's intermediate TLS 1.2 ciphers in gobetween's names (the three DHE ones left out: Go has none)
GO_CIPHERS = [
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
]
LAB = {
    "m1": {"lab_address": "172.30.56.2", "backend_weight": 2},
    "m2": {"lab_address": "172.30.56.3", "backend_weight": 1},
}


def render(template: str = "gobetween.toml.j2", **overrides) -> str:
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    variables = {
        **defaults,
        "ansible_managed": "Ansible managed",
        "gobetween_lb_api_password": "not-a-real-password",
        "_gobetween_lb_static_list": gobetween_module.gobetween_lb_static_list(farm.farm_backends(list(LAB), LAB)),
        "_gobetween_lb_bin": ROLE_VARS["_gobetween_lb_bin"],
        "_gobetween_lb_crt": ROLE_VARS["_gobetween_lb_crt"],
        "_gobetween_lb_key": ROLE_VARS["_gobetween_lb_key"],
        # vars/main.yml: balancer_tls while gobetween_lb_https is on, else none
        "_gobetween_lb_tls": TLS if overrides.get("gobetween_lb_https", defaults["gobetween_lb_https"]) else None,
        **overrides,
    }
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, keep_trailing_newline=True)
    env.filters["to_json"] = json.dumps  # what Ansible's to_json does with a string
    env.filters["gobetween_go_string"] = gobetween_go_string
    env.filters["gobetween_toml_string"] = gobetween_toml_string
    env.filters["gobetween_lb_tls_ciphers"] = gobetween_lb_tls_ciphers
    return env.from_string((ROLE / "templates" / template).read_text()).render(variables)


# A server that gobetween accepts; each case below breaks one value of it.
SERVER = '[servers.farm]\nbind = ":80"\n[servers.farm.discovery]\nkind = "static"\nstatic_list = ["a:80"]\n'
PROBE = '[servers.farm.healthcheck]\nkind = "probe"\ninterval = "2s"\nprobe_protocol = "tcp"\n'


def errors_of(text: str) -> str:
    return "\n".join(gobetween_config_errors(text))


def test_old_default_probe_send_is_refused_as_gobetween_refuses_it() -> None:
    # src/manager/manager.go prepareConfig (0.8.0 and 0.8.1): strconv.Unquote("\"" + ProbeSend + "\"") fails on
    # the real CR LF that `probe_send = {{ "HEAD / HTTP/1.0\r\n\r\n" | to_json }}` gave: "[FATAL] (manager):
    # probe_send has invalid syntax invalid syntax"
    old = SERVER + PROBE + 'probe_send = "HEAD / HTTP/1.0\\r\\n\\r\\n"\nprobe_recv = "HTTP/1.1 200"\n'
    assert tomllib.loads(old)["servers"]["farm"]["healthcheck"]["probe_send"] == "HEAD / HTTP/1.0\r\n\r\n"
    message = errors_of(old)
    assert "probe_send='HEAD / HTTP/1.0\\r\\n\\r\\n' is refused by gobetween's strconv.Unquote" in message
    assert "a real line feed at character 17: write it as the two characters \\n" in message
    assert "gobetween_lb_probe_send" in message


def test_lab_template_writes_the_probe_the_way_gobetween_reads_it() -> None:
    probe = tomllib.loads(render())["servers"]["farm"]["healthcheck"]
    assert probe["probe_send"] == r"HEAD / HTTP/1.0\r\n\r\n"  # backslash r backslash n, after TOML
    assert go_unquote(probe["probe_send"]) == b"HEAD / HTTP/1.0\r\n\r\n"  # what goes on the wire
    assert go_unquote(probe["probe_recv"]) == b"HTTP/1.1 200"


@pytest.mark.parametrize("written", ["HEAD / HTTP/1.0\r\n\r\n", r"HEAD / HTTP/1.0\r\n\r\n"])
def test_probe_written_either_way_renders_the_same(written: str) -> None:
    text = render(gobetween_lb_probe_send=written)
    assert gobetween_config_errors(text) == []
    assert tomllib.loads(text)["servers"]["farm"]["healthcheck"]["probe_send"] == r"HEAD / HTTP/1.0\r\n\r\n"


@pytest.mark.parametrize("awkward", ['GET /?q="x" HTTP/1.0\r\n\r\n', "C:\\dir\n", "caf\u00e9 \U0001f600\x00"])
def test_any_probe_text_renders_to_a_configuration_gobetween_accepts(awkward: str) -> None:
    text = render(gobetween_lb_probe_send=awkward, gobetween_lb_probe_recv=awkward)
    assert gobetween_config_errors(text) == []
    probe = tomllib.loads(text)["servers"]["farm"]["healthcheck"]
    assert go_unquote(probe["probe_send"]) == go_unquote(probe["probe_recv"]) == awkward.encode()


def test_lab_template_is_toml_with_only_documented_keys() -> None:
    text = render()
    config = tomllib.loads(text)
    assert gobetween_config_errors(text) == []
    farm_server = config["servers"]["farm"]
    assert farm_server["bind"] == "0.0.0.0:80"
    assert farm_server["protocol"] == "tcp"
    assert farm_server["balance"] == "weight"
    assert farm_server["discovery"] == {
        "kind": "static",
        "static_list": ["172.30.56.2:80 weight=2 priority=1", "172.30.56.3:80 weight=1 priority=1"],
    }
    assert config["api"] == {
        "enabled": True,
        "bind": "127.0.0.1:8888",
        "basic_auth": {"login": "admin", "password": "not-a-real-password"},
        # gobetween_lb_https is on by default: the API over TLS only (api/api.go Start: RunTLS)
        "tls": {"cert_path": "/etc/gobetween/farm.crt", "key_path": "/etc/gobetween/farm.key"},
    }
    assert config["metrics"] == {"enabled": False, "bind": "127.0.0.1:9284"}
    assert set(config["servers"]) == {"farm", "farm_tls"}


def test_ipv6_bind_address_is_written_in_brackets() -> None:
    # net.SplitHostPort (server/tcp/server.go Listen) refuses ":::80" with "too many colons"
    text = render(gobetween_lb_bind_address="::")
    assert tomllib.loads(text)["servers"]["farm"]["bind"] == "[::]:80"
    assert gobetween_config_errors(text) == []


@pytest.mark.parametrize("healthcheck", ["ping", "none"])
def test_other_health_checks_render_clean(healthcheck: str) -> None:
    text = render(gobetween_lb_healthcheck=healthcheck, gobetween_lb_api=False, gobetween_lb_metrics=True)
    assert gobetween_config_errors(text) == []
    assert ("healthcheck" in tomllib.loads(text)["servers"]["farm"]) == (healthcheck != "none")


def test_every_rendered_entry_matches_gobetweens_grammar() -> None:
    for entry in tomllib.loads(render())["servers"]["farm"]["discovery"]["static_list"]:
        assert STATIC_ENTRY.fullmatch(entry)


def test_unit_restarts_gobetween_without_giving_up() -> None:
    # gobetween 0.8.x can panic at start-up (src/metrics/metrics.go ReportHandleBackendLiveChange before Start)
    unit = render("gobetween.service.j2")
    assert "Restart=always" in unit
    assert "RestartSec=1s" in unit
    unit_section = unit.split("[Service]")[0]
    assert "StartLimitIntervalSec=0" in unit_section  # systemd reads it in [Unit] only


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        # manager.go prepareConfig: strconv.Unquote on probe_send / probe_recv (starts_with)
        (SERVER + PROBE + 'probe_send = "say \\"hi\\""\nprobe_recv = "x"\n',
         "probe_send='say \"hi\"' is refused by gobetween's strconv.Unquote"),
        (SERVER + PROBE + 'probe_send = "x"\nprobe_recv = "HTTP\\\\q"\n', "probe_recv='HTTP\\\\q' is refused"),
        # manager.go prepareConfig: probe_protocol has no default
        (SERVER + '[servers.farm.healthcheck]\nkind = "probe"\ninterval = "2s"\nprobe_send = "x"\nprobe_recv = "y"\n',
         "probe_protocol=None is not tcp, udp or tls (gobetween exits)"),
        # manager.go prepareConfig: probe_send and probe_recv both required
        (SERVER + PROBE, "probe_send is required"),
        # manager.go prepareConfig: probe_recv_len is redundant with starts_with, required with regexp
        (SERVER + PROBE + 'probe_send = "x"\nprobe_recv = "y"\nprobe_recv_len = 4\n', "probe_recv_len=4 is refused"),
        (SERVER + PROBE + 'probe_send = "x"\nprobe_recv = "y"\nprobe_strategy = "regexp"\n',
         "probe_recv_len is required"),
        (SERVER + PROBE + 'probe_send = "x"\nprobe_recv = "y"\nprobe_strategy = "prefix"\n',
         "probe_strategy='prefix' is not starts_with or regexp"),
        # manager.go prepareConfig: interval parsed by time.ParseDuration and above 0 unless kind none
        (SERVER + '[servers.farm.healthcheck]\nkind = "ping"\n', "interval='0' must be above 0 with kind='ping'"),
        (SERVER + '[servers.farm.healthcheck]\nkind = "ping"\ninterval = "2 s"\n',
         "interval='2 s' is not a Go duration"),
        (SERVER + '[servers.farm.healthcheck]\nkind = "ping"\ninterval = "-2s"\n', "interval='-2s' must be above 0"),
        # manager.go prepareConfig: "timeout parsing error"
        (SERVER + '[servers.farm.healthcheck]\nkind = "ping"\ninterval = "2s"\ntimeout = "1sec"\n',
         "timeout='1sec' is not a Go duration"),
        # manager.go prepareConfig: kind ping, probe, exec or none
        (SERVER + '[servers.farm.healthcheck]\nkind = "http"\ninterval = "2s"\n', "kind='http' is not ping, probe"),
        # manager.go prepareConfig: fails/passes <= 0 become 1
        (SERVER + '[servers.farm.healthcheck]\nkind = "ping"\ninterval = "2s"\nfails = 0\n',
         "fails=0 must be 1 or more (gobetween would read it as 1)"),
        # manager.go prepareConfig (0.8.1): initial_status healthy or unhealthy
        (SERVER + '[servers.farm.healthcheck]\nkind = "ping"\ninterval = "2s"\ninitial_status = "up"\n',
         "initial_status='up' is not healthy or unhealthy"),
        # manager.go prepareConfig: bind and discovery required; balance, protocol, failpolicy from fixed lists
        ('[servers.farm]\n[servers.farm.discovery]\nkind = "static"\nstatic_list = ["a:80"]\n',
         "servers.farm: bind is required"),
        ('[servers.farm]\nbind = ":80"\n', "servers.farm.discovery: the section is required"),
        (SERVER.replace('bind = ":80"', 'bind = ":80"\nbalance = "random"'), "balance='random' is not one of"),
        (SERVER.replace('bind = ":80"', 'bind = ":80"\nprotocol = "http"'), "protocol='http' is not one of"),
        (SERVER + 'failpolicy = "retry"\n', "failpolicy='retry' is not keeplast or setempty"),
        # server/tcp/server.go Listen: net.Listen -> net.SplitHostPort
        (SERVER.replace('":80"', '"0.0.0.0"'), "bind='0.0.0.0' is not host:port (gobetween exits: missing port"),
        (SERVER.replace('":80"', '":::80"'), "bind=':::80' is not host:port (gobetween exits: too many colons"),
        (SERVER.replace('":80"', '"0.0.0.0:99999"'),
         "bind='0.0.0.0:99999': the port must be a number from 1 to 65535 (gobetween exits: invalid port)"),
        # api/api.go Start: app.Run(bind) -> log.Fatal; metrics/metrics.go Start only logs it
        ('[api]\nenabled = true\nbind = "localhost"\n' + SERVER, "[api]: bind='localhost' is not host:port"),
        ('[metrics]\nenabled = true\nbind = "9284"\n' + SERVER, "(gobetween would not serve it: missing port"),
        # logging/log.go Configure: logrus.ParseLevel, else "Unknown loglevel" FATAL
        ('[logging]\nlevel = "verbose"\n' + SERVER, "[logging]: level='verbose' is not a logrus level"),
        # cmd/from-file.go: burntsushi/toml Decode into config.Config refuses another type (FATAL)
        (SERVER.replace('bind = ":80"', 'bind = ":80"\nmax_connections = "10"'),
         "max_connections='10' must be an integer"),
        ('[api]\nenabled = "yes"\n' + SERVER, "enabled='yes' must be true or false"),
        (SERVER + '[servers.farm.healthcheck]\nkind = "ping"\ninterval = "2s"\nfails = "2"\n',
         "fails='2' must be an integer"),
        # server/tcp/server.go HandleClientConnect: a negative cap refuses every client
        (SERVER.replace('bind = ":80"', 'bind = ":80"\nmax_connections = -1'), "max_connections=-1 is negative"),
        # utils/time.go ParseDurationOrDefault: an idle timeout Go cannot parse is silently 0
        (SERVER.replace('bind = ":80"', 'bind = ":80"\nclient_idle_timeout = "10 minutes"'),
         "client_idle_timeout='10 minutes' is not a Go duration like 500ms, 2s, 1m30s or 0 (gobetween would read"),
        # utils/parsers/backend.go ParseBackend: entries outside the grammar are skipped, weights past int64 read as 1
        (SERVER.replace('["a:80"]', '["a:80 priority=1 weight=2"]'), "entry 'a:80 priority=1 weight=2' is not"),
        (SERVER.replace('["a:80"]', '["a:80 weight=2 max_connections=5"]'), "entry 'a:80 weight=2 max_connections=5'"),
        (SERVER.replace('["a:80"]', '["a:80 weight=99999999999999999999"]'),
         "is past int64 (gobetween would read it as 1)"),
        (SERVER.replace('["a:80"]', "[]"), "static_list must list at least one backend"),
        # gin auth.go processAccounts (gobetween's api/api.go): an empty user panics
        ('[api]\nenabled = true\nbind = ":8888"\n[api.basic_auth]\nlogin = ""\npassword = "p"\n' + SERVER,
         "[api.basic_auth]: login must not be empty (gin's BasicAuth panics"),
        # lbfarm's own rule: no API without a password
        ('[api]\nenabled = true\nbind = ":8888"\n[api.basic_auth]\nlogin = "admin"\npassword = ""\n' + SERVER,
         "[api.basic_auth]: password must not be empty"),
        # burntsushi/toml ignores unknown keys: a typo would silently do nothing
        (SERVER.replace('bind = ":80"', 'bind = ":80"\nbalanse = "weight"'), "servers.farm: unknown key 'balanse'"),
        ('[servers.farm\nbind = "x"', "not valid TOML"),
        ("[logging]\nlevel = 'info'\n", "[servers]: no server is defined (gobetween exits"),
        # lbfarm's own rule: port 0 would listen on a port nobody knows
        (SERVER.replace('":80"', '":0"'), "bind=':0': the port must be a number from 1 to 65535"),
    ],
)  # fmt: skip
def test_check_names_what_gobetween_would_reject_or_misread(broken: str, message: str) -> None:
    assert message in errors_of(broken), errors_of(broken)


@pytest.mark.parametrize(
    "sound",
    [
        SERVER,
        SERVER + PROBE + 'probe_send = "HEAD / HTTP/1.0\\\\r\\\\n\\\\r\\\\n"\nprobe_recv = "HTTP/1.1 200"\n',
        SERVER + PROBE + "probe_send = 'HEAD / HTTP/1.0\\r\\n\\r\\n'\nprobe_recv = 'HTTP/1.1 200'\n",  # TOML literal
        SERVER + '[servers.farm.healthcheck]\nkind = "ping"\ninterval = "1m30s"\ntimeout = "1.5s"\n',
        SERVER.replace('["a:80"]', '["  a:80 weight=2 priority=1  "]'),  # ParseBackend trims spaces first
        SERVER.replace('":80"', '"[::]:80"'),
        '[logging]\nlevel = "WARNING"\n' + SERVER,  # logrus lower-cases the level
    ],
)
def test_check_passes_what_gobetween_accepts(sound: str) -> None:
    assert gobetween_config_errors(sound) == []


def test_documentation_says_which_rules_are_covered() -> None:
    documentation = yaml.safe_load(gobetween_module.DOCUMENTATION)
    assert documentation["name"] == "gobetween_config_errors"
    assert any(item.startswith("Not covered:") for item in documentation["description"])


def test_check_wants_text() -> None:
    with pytest.raises(AnsibleFilterError, match="expects the configuration text"):
        gobetween_config_errors(None)


# ---- strings and the variables that set them -------------------------------------------------------------

VARIABLES = yaml.safe_load((ROLE / "vars/main.yml").read_text())["_gobetween_lb_toml_variables"]
# keys the template writes from no variable
FIXED = {"logging.output", "servers.farm.protocol", "servers.farm.discovery.kind"}
FIXED |= {"servers.farm.healthcheck.probe_protocol", "servers.farm.healthcheck.probe_strategy"}
FIXED |= {key.replace("servers.farm.", "servers.farm_tls.") for key in FIXED if key.startswith("servers.farm.")}
FIXED |= {"api.tls.cert_path", "api.tls.key_path"}  # the role's own paths (vars/main.yml)
FIXED |= {f"servers.farm_tls.tls.{key}" for key in ("cert_path", "key_path", "min_version", "max_version")}
FIXED |= {"servers.farm_tls.tls.session_tickets"}


def leaf_keys(table: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in table.items():
        path = f"{prefix}{key}"
        keys |= leaf_keys(value, path + ".") if isinstance(value, dict) else {path}
    return keys


@pytest.mark.parametrize("password", ["pass\U0001f600word", "dépôt", 'a"b\\c', "tab\there", "del\x7f", "\u2028"])
def test_any_unicode_in_a_string_is_written_as_toml_and_read_back_as_it_was(password: str) -> None:
    text = render(gobetween_lb_api_password=password)
    assert tomllib.loads(text)["api"]["basic_auth"]["password"] == password
    assert gobetween_config_errors(text, VARIABLES) == []


def test_an_emoji_was_a_surrogate_pair_with_to_json_which_toml_refuses() -> None:
    written = json.dumps("pass\U0001f600word")
    assert written == '"pass\\ud83d\\ude00word"'
    with pytest.raises(tomllib.TOMLDecodeError):
        tomllib.loads(f"password = {written}")


def test_every_key_the_template_writes_has_its_variable_named() -> None:
    written = leaf_keys(tomllib.loads(render(gobetween_lb_healthcheck="probe")))
    assert written - FIXED == set(VARIABLES), "the template and _gobetween_lb_toml_variables differ"


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"gobetween_lb_balance": "random"}, "(set by gobetween_lb_balance)"),
        ({"gobetween_lb_client_idle_timeout": "10 minutes"}, "(set by gobetween_lb_client_idle_timeout)"),
        ({"gobetween_lb_healthcheck_interval": "0"}, "(set by gobetween_lb_healthcheck_interval)"),
        ({"gobetween_lb_api_password": ""}, "(set by gobetween_lb_api_password)"),
        ({"gobetween_lb_port": 70000}, "(set by gobetween_lb_bind_address and gobetween_lb_port)"),
        ({"gobetween_lb_log_level": "loud"}, "(set by gobetween_lb_log_level)"),
    ],
)
def test_a_refusal_names_the_variable_that_set_the_value(overrides: dict, named: str) -> None:
    errors = gobetween_config_errors(render(**overrides), VARIABLES)
    assert errors, overrides
    assert all(named in error for error in errors), errors


def test_text_that_is_not_toml_names_the_variable_of_its_line() -> None:
    text = render().replace('password = "not-a-real-password"', 'password = "\\ud83d\\ude00"')
    assert gobetween_config_errors(text, VARIABLES) == [
        gobetween_config_errors(text)[0] + " (set by gobetween_lb_api_password)"
    ]
    assert "not valid TOML" in gobetween_config_errors(text)[0]


def test_a_string_no_toml_can_hold_is_refused_naming_the_variable() -> None:
    with pytest.raises(AnsibleFilterError, match=r"gobetween_lb_api_user='a\\ud800b': character 2 is a lone surrogate"):
        gobetween_toml_string("a\ud800b", "gobetween_lb_api_user")
    with pytest.raises(AnsibleFilterError, match="gobetween_lb_balance=5 must be text"):
        gobetween_toml_string(5, "gobetween_lb_balance")


# ---- HTTPS: the farm_tls server, the API over TLS, and the check's TLS rules ----------------------------


def test_https_server_ends_tls_for_the_same_backends_balance_and_health_check() -> None:
    text = render()
    assert gobetween_config_errors(text, VARIABLES) == []
    servers = tomllib.loads(text)["servers"]
    plain, tls = servers["farm"], servers["farm_tls"]
    assert (plain["protocol"], plain["bind"]) == ("tcp", "0.0.0.0:80")
    assert (tls["protocol"], tls["bind"]) == ("tls", "0.0.0.0:443")
    assert tls["tls"] == {
        "cert_path": "/etc/gobetween/farm.crt",
        "key_path": "/etc/gobetween/farm.key",
        "min_version": "tls1.2",
        "max_version": "tls1.3",
        "ciphers": GO_CIPHERS,
        "session_tickets": False,
    }
    # everything but the protocol, the port and the tls section is the plain server's
    assert {k: v for k, v in tls.items() if k not in ("protocol", "bind", "tls")} == {
        k: v for k, v in plain.items() if k not in ("protocol", "bind")
    }


def test_https_turned_off_writes_no_tls_server_and_no_api_tls() -> None:
    text = render(gobetween_lb_https=False)
    config = tomllib.loads(text)
    assert list(config["servers"]) == ["farm"]
    assert "tls" not in config["api"]
    assert "tls" not in text.replace("tls1", "")  # not a word of TLS left
    assert gobetween_config_errors(text, VARIABLES) == []


def test_api_turned_off_has_no_tls_section_either() -> None:
    config = tomllib.loads(render(gobetween_lb_api=False))
    assert config["api"] == {"enabled": False, "bind": "127.0.0.1:8888"}
    assert "farm_tls" in config["servers"]


@pytest.mark.parametrize(
    ("overrides", "bind"),
    [
        ({"gobetween_lb_https_port": 8443}, "0.0.0.0:8443"),
        ({"gobetween_lb_bind_address": "::"}, "[::]:443"),
        ({"gobetween_lb_bind_address": "172.30.56.4"}, "172.30.56.4:443"),
    ],
)
def test_https_server_listens_on_the_farm_s_address_and_its_own_port(overrides: dict, bind: str) -> None:
    text = render(**overrides)
    assert tomllib.loads(text)["servers"]["farm_tls"]["bind"] == bind
    assert gobetween_config_errors(text, VARIABLES) == []


def test_https_on_the_plain_port_is_refused_naming_both_variables() -> None:
    # manager.go Initialize: the second server's net.Listen fails ("address already in use"), log.Fatal
    errors = gobetween_config_errors(render(gobetween_lb_https_port=80), VARIABLES)
    assert errors == [
        "servers.farm_tls: bind='0.0.0.0:80' is on the port of servers.farm's bind='0.0.0.0:80' (gobetween exits: "
        "net.Listen: address already in use) (set by gobetween_lb_bind_address and gobetween_lb_https_port) "
        "(servers.farm's bind set by gobetween_lb_bind_address and gobetween_lb_port)"
    ]


def test_https_on_the_api_port_is_refused() -> None:
    errors = gobetween_config_errors(render(gobetween_lb_https_port=8888), VARIABLES)
    assert len(errors) == 1
    assert errors[0].startswith("[api]: bind='127.0.0.1:8888' is on the port of servers.farm_tls's bind='0.0.0.0:8888'")
    # the API starts last (main.go: manager.Initialize, metrics, api.Start): it is the one that cannot listen
    assert errors[0].endswith(
        "(set by gobetween_lb_api_bind) (servers.farm_tls's bind set by gobetween_lb_bind_address and "
        "gobetween_lb_https_port)"
    )


# a TLS server that gobetween 0.8.1 accepts; each case below breaks one value of it
TLS_SERVER = SERVER.replace('":80"', '":443"\nprotocol = "tls"') + (
    '[servers.farm.tls]\ncert_path = "/c.crt"\nkey_path = "/c.key"\nmin_version = "tls1.2"\nmax_version = "tls1.3"\n'
    'ciphers = ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]\nsession_tickets = false\n'
)
API_TLS = '[api]\nenabled = true\nbind = "127.0.0.1:8888"\n[api.tls]\ncert_path = "/c.crt"\nkey_path = "/c.key"\n'


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        # manager.go prepareConfig, switch server.Protocol, case "tls"
        (SERVER.replace('":80"', '":443"\nprotocol = "tls"'),
         "servers.farm: protocol='tls' needs a tls section (gobetween exits: \"Need tls section for tls protocol\")"),
        # manager.go prepareConfig: "if server.Tls != nil" then acme_hosts or both key_path and cert_path
        (TLS_SERVER.replace('cert_path = "/c.crt"\n', ""),
         "servers.farm.tls: cert_path is required: a tls section needs both cert_path and key_path, or acme_hosts "
         "(gobetween exits: \"tls requires specify either acme hosts or both key and cert paths\")"),
        (TLS_SERVER.replace('key_path = "/c.key"', 'key_path = ""'), "servers.farm.tls: key_path is required"),
        # utils/tls/tls.go MapVersion: versions[name], 0 for a name it lacks (Go's default bound)
        (TLS_SERVER.replace('"tls1.2"', '"TLS1.2"'),
         "min_version='TLS1.2' is not one of tls1, tls1.1, tls1.2, tls1.3 (its names are lower case) "
         "(gobetween would read it as no lowest version at all: Go's default)"),
        (TLS_SERVER.replace('"tls1.2"', '"ssl3"'), "min_version='ssl3' is not one of tls1, tls1.1, tls1.2, tls1.3 "
         "(0.8.1 dropped ssl3)"),
        (TLS_SERVER.replace('"tls1.3"', '"1.3"'), "max_version='1.3' is not one of tls1, tls1.1, tls1.2, tls1.3 "
         "(gobetween would read it as no highest version at all"),
        # MakeTlsConfig sets both bounds: Go's crypto/tls then supports no version ("client offered only unsupported")
        (TLS_SERVER.replace('"tls1.3"', '"tls1.1"').replace('"tls1.2"', '"tls1.3"'),
         "min_version='tls1.3' is above max_version='tls1.1' (Go's crypto/tls would refuse every client)"),
        # lbfarm's own rule: Mozilla's intermediate profile, TLS 1.2 at least
        (TLS_SERVER.replace('"tls1.2"', '"tls1"'), "min_version='tls1' lets TLS 1.0 or 1.1 in: use tls1.2 or tls1.3 "
         "(lbfarm's own rule"),
        # utils/tls/tls.go MapCiphers: suites[name], a name it lacks skipped ("if c == 0 { continue }")
        (TLS_SERVER.replace('"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"', '"ECDHE-RSA-AES128-GCM-SHA256"'),
         "servers.farm.tls: ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' is no cipher suite gobetween knows: OpenSSL's name "
         "for TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (gobetween would skip it"),
        (TLS_SERVER.replace('"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"', '"TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"'),
         "'TLS_DHE_RSA_WITH_AES_128_GCM_SHA256' is no cipher suite gobetween knows (gobetween would skip it"),
        # Go's crypto/tls Config.CipherSuites: TLS 1.3 suites are not configurable (gobetween maps them all the same)
        (TLS_SERVER.replace('"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"', '"TLS_AES_128_GCM_SHA256"'),
         "'TLS_AES_128_GCM_SHA256' is a TLS 1.3 suite, which Go's crypto/tls never takes from the list"),
        # config.go tlsCommon (0.8.1): prefer_server_ciphers is gone, burntsushi/toml ignores it
        (TLS_SERVER + "prefer_server_ciphers = true\n", "servers.farm.tls: unknown key 'prefer_server_ciphers'"),
        # cmd/from-file.go: burntsushi/toml Decode into config.Tls refuses another type (FATAL)
        (TLS_SERVER.replace("session_tickets = false", 'session_tickets = "no"'),
         "session_tickets='no' must be true or false"),
        (TLS_SERVER.replace('["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]', '"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"'),
         "ciphers='TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256' must be a list of strings"),
        # server/server.go New: udp goes to server/udp, which never reads Tls
        (TLS_SERVER.replace('protocol = "tls"', 'protocol = "udp"\nclient_idle_timeout = "10s"'),
         "servers.farm: the tls section does nothing with protocol='udp' (gobetween would ignore it)"),
        # api/api.go Start: app.RunTLS(bind, CertPath, KeyPath), log.Fatal when it cannot open them
        (API_TLS.replace('key_path = "/c.key"\n', "") + SERVER,
         "[api.tls]: key_path is required (gobetween exits: gin's RunTLS cannot open an empty path)"),
        # config.go ApiTlsConfig: the certificate only
        (API_TLS + 'min_version = "tls1.2"\n' + SERVER, "[api.tls]: unknown key 'min_version'"),
        # manager.go Initialize (servers), api/api.go Start: two listeners on one TCP port, the second exits
        (TLS_SERVER + SERVER.replace("farm", "plain").replace('":80"', '"0.0.0.0:443"'),
         "servers.plain: bind='0.0.0.0:443' is on the port of servers.farm's bind=':443' (gobetween exits"),
        (API_TLS.replace("127.0.0.1:8888", "127.0.0.1:443") + TLS_SERVER,
         "[api]: bind='127.0.0.1:443' is on the port of servers.farm's bind=':443' (gobetween exits: net.Listen"),
        # metrics/metrics.go Start only logs its ListenAndServe error
        ('[metrics]\nenabled = true\nbind = ":443"\n' + TLS_SERVER,
         "[metrics]: bind=':443' is on the port of servers.farm's bind=':443' (gobetween exits, or serves no metrics"),
    ],
)  # fmt: skip
def test_check_names_what_gobetween_would_reject_or_misread_in_tls(broken: str, message: str) -> None:
    assert message in errors_of(broken), errors_of(broken)


@pytest.mark.parametrize(
    "sound",
    [
        TLS_SERVER,
        API_TLS + TLS_SERVER,
        # utils/tls/tls.go MapCiphers: an empty list is nil, Go's defaults; MapVersion: "" is 0, Go's default bound
        TLS_SERVER.replace('["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]', "[]").replace('"tls1.3"', '""'),
        TLS_SERVER.replace('"tls1.2"', '"tls1.3"'),  # TLS 1.3 only
        # manager.go prepareConfig: acme_hosts instead of the paths (lbfarm writes no acme; not covered further)
        TLS_SERVER.replace('cert_path = "/c.crt"\nkey_path = "/c.key"\n', 'acme_hosts = ["farm.example"]\n'),
        # server/tcp/server.go wrap: a tls section ends TLS with protocol tcp as well
        TLS_SERVER.replace('protocol = "tls"', 'protocol = "tcp"'),
        # [api.tls] of a disabled API is never read
        API_TLS.replace("enabled = true", "enabled = false").replace('key_path = "/c.key"\n', "") + SERVER,
        # one port on two addresses, and a udp server on a TCP server's port
        SERVER.replace('":80"', '"127.0.0.1:80"') + SERVER.replace("farm", "other").replace('":80"', '"127.0.0.2:80"'),
        SERVER + SERVER.replace("farm", "dns").replace('":80"', '":80"\nprotocol = "udp"\nclient_idle_timeout = "10s"'),
    ],
)
def test_check_passes_the_tls_gobetween_accepts(sound: str) -> None:
    assert gobetween_config_errors(sound) == []


# ---- gobetween_lb_tls_ciphers: the farm's profile in gobetween's names ---------------------------------


def test_the_farm_s_profile_maps_to_its_ecdhe_ciphers_without_dhe() -> None:
    assert PROFILE["ciphers"].count(":") == 8  # Mozilla's nine: six ECDHE, three DHE
    assert gobetween_lb_tls_ciphers(PROFILE["ciphers"]) == GO_CIPHERS
    assert gobetween_lb_tls_ciphers(PROFILE["ciphers"].split(":")) == GO_CIPHERS


def test_gobetween_s_own_names_pass_and_repeats_go() -> None:
    names = ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA"]
    assert gobetween_lb_tls_ciphers(names) == [
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    ]


@pytest.mark.parametrize(
    ("ciphers", "message"),
    [
        ("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-ARIA128-GCM-SHA256",
         "balancer_tls.ciphers='ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-ARIA128-GCM-SHA256': "
         "'ECDHE-RSA-ARIA128-GCM-SHA256' is no TLS 1.2 cipher suite gobetween knows"),
        ("DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384", "no cipher gobetween knows is left"),
        ("", "no cipher gobetween knows is left"),
        (5, "balancer_tls.ciphers=5 must be cipher names"),
    ],
)  # fmt: skip
def test_a_cipher_gobetween_cannot_take_is_refused_naming_the_variable(ciphers, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=re.escape(message)):
        gobetween_lb_tls_ciphers(ciphers)
