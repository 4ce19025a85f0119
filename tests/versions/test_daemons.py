"""The daemons people run check the configurations lbfarm renders, release by release.

HAProxy 2.2 (Debian 11, below Ubuntu 22.04's 2.4), 2.6 (Debian 12) and 3.0 (Debian 13); nginx 1.18
(Debian 11, as Ubuntu 22.04), 1.22 and 1.26; keepalived 2.1, 2.2 and 2.3; netplan generate and
Prometheus' promtool (2.42, 2.53) of Debian 12 and 13. Each release's packages go into a tree of
their own (mmdebstrap, from Debian's archive; cached in ~/.cache/lbfarm/versions), whose daemons
check, in a chroot, what tests/versions/render.yml renders from each inventory with the roles' own
templates: the local lab, the VirtualBox lab, a pair and four backends in every state (Prometheus'
files for HAProxy, nginx and IPVS where the inventory names a monitoring host). HAProxy's
configuration is rendered for each release from what that release's `haproxy -v` says, as the role
renders it from the host's HAProxy.

Needs root (chroot) and mmdebstrap (make deps installs it); make test runs it (make versions).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("LBFARM_VERSIONS_CACHE", Path.home() / ".cache/lbfarm/versions"))
# Raise it when the packages below change: a cached tree of another recipe is built again.
RECIPE = "1"
# release: (the packages checked, the versions they must be: the matrix this file promises)
RELEASES = {
    "bullseye": (["haproxy", "nginx", "keepalived"], {"haproxy": "2.2", "nginx": "1.18", "keepalived": "2.1"}),
    "bookworm": (
        ["haproxy", "nginx", "keepalived", "netplan.io", "prometheus"],
        {"haproxy": "2.6", "nginx": "1.22", "keepalived": "2.2", "netplan": "0.106", "promtool": "2.42"},
    ),
    "trixie": (
        ["haproxy", "nginx", "keepalived", "netplan.io", "prometheus"],
        {"haproxy": "3.0", "nginx": "1.26", "keepalived": "2.3", "netplan": "1.1", "promtool": "2.53"},
    ),
}
INVENTORIES = {
    "local": ["inventory/local"],
    "vbox": ["inventory/vbox"],
    "pair": ["inventory/local", "inventory/local-ha"],
    "four": ["tests/versions/inventory.yml"],
}
# in each tree, where the rendered files are copied for its daemons to read
INSIDE = Path("srv/lbfarm-versions")
IDLE_CLOSE = "option idle-close-on-response"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the daemons check in a chroot, which needs root")


def run(*argv: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done


def in_tree(root: Path, *argv: str | Path) -> subprocess.CompletedProcess[str]:
    """A command of the release's own, in its tree; what it says (stdout and stderr) is returned."""
    return run("chroot", root, *argv, check=False)


def mirror() -> str:
    """The Debian mirror this machine's apt uses, as the lab's images take it."""
    for source in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        if source.is_file():
            found = re.search(r"https?://\S+/debian/?(?=\s|$)", source.read_text(), re.MULTILINE)
            if found:
                return found.group(0)
    return "http://deb.debian.org/debian"


def build(release: str) -> Path:
    root = CACHE / release
    stamp = CACHE / f"{release}.recipe"
    packages = RELEASES[release][0]
    wanted = f"{RECIPE} {','.join(packages)}"
    if root.is_dir() and stamp.is_file() and stamp.read_text().strip() == wanted:
        return root
    shutil.rmtree(root, ignore_errors=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    run("mmdebstrap", "--quiet", "--variant=apt", f"--include={','.join(packages)}", release, root, mirror())
    stamp.write_text(wanted + "\n")
    return root


@pytest.fixture(scope="session")
def trees() -> dict[str, Path]:
    """Each release's tree, built when missing (about two minutes for the three, side by side)."""
    if shutil.which("mmdebstrap") is None:
        pytest.fail("mmdebstrap is missing: make deps installs it")
    with ThreadPoolExecutor(len(RELEASES)) as pool:
        roots = dict(zip(RELEASES, pool.map(build, RELEASES), strict=True))
    for root in roots.values():
        shutil.rmtree(root / INSIDE, ignore_errors=True)  # the files of an earlier run
    return roots


def said_version(root: Path, argv: list[str]) -> str:
    done = in_tree(root, *argv)
    return (done.stdout + done.stderr).strip().splitlines()[0]


@pytest.fixture(scope="session")
def haproxy_said(trees: dict[str, Path]) -> dict[str, str]:
    """What `haproxy -v` says in each release, as the role reads it on a host (tasks/version.yml)."""
    return {release: said_version(root, ["haproxy", "-v"]) for release, root in trees.items()}


@pytest.fixture(scope="session")
def nginx_said(trees: dict[str, Path]) -> dict[str, str]:
    """What `nginx -v` says in each release (nginx_lb's tasks/version.yml)."""
    return {release: said_version(root, ["nginx", "-v"]) for release, root in trees.items()}


def interface() -> str:
    """A NIC of this machine other than loopback: keepalived's check refuses a VRRP instance on a NIC
    that does not exist, and the trees share this machine's network."""
    nics = sorted(nic.name for nic in Path("/sys/class/net").iterdir() if nic.name != "lo")
    return "eth0" if "eth0" in nics else nics[0]


@pytest.fixture(scope="session")
def rendered(
    tmp_path_factory: pytest.TempPathFactory, haproxy_said: dict[str, str], nginx_said: dict[str, str]
) -> Path:
    """render.yml's files for every inventory: rendered/INVENTORY/HOST/FILE."""
    out = tmp_path_factory.mktemp("rendered")
    extra = {
        "render_haproxy_versions": haproxy_said,
        "render_nginx_versions": nginx_said,
        "render_interface": interface(),
        # passwords the inventories take from a vault or a file of the lab: any value renders
        "haproxy_lb_stats_password": "not-a-real-one",
        "vault_haproxy_lb_stats_password": "not-a-real-one",
    }

    def render(name: str) -> subprocess.CompletedProcess[str]:
        inventories = [arg for path in INVENTORIES[name] for arg in ("-i", str(REPO / path))]
        return run(
            REPO / ".venv/bin/ansible-playbook",
            *inventories,
            REPO / "tests/versions/render.yml",
            "-e",
            json.dumps({**extra, "render_dir": str(out / name)}),
        )

    with ThreadPoolExecutor(len(INVENTORIES)) as pool:
        list(pool.map(render, INVENTORIES))
    return out


def files(rendered: Path, name: str) -> list[Path]:
    found = sorted(rendered.glob(f"*/*/{name}"))
    assert found, f"render.yml wrote no {name}"
    return found


def copy_in(root: Path, path: Path, rendered: Path) -> str:
    """The rendered file at the same place inside the tree; its path there."""
    inside = INSIDE / path.relative_to(rendered)
    (root / inside).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, root / inside)
    return f"/{inside}"


def where(path: Path, rendered: Path) -> str:
    return str(path.relative_to(rendered))


# where the roles put the farm's certificate on the host (haproxy_lb, nginx_lb vars/main.yml)
CERTIFICATE_FILES = {
    "farm.pem": "etc/haproxy/certs/farm.pem",
    "farm.crt": "etc/nginx/lbfarm/farm.crt",
    "farm.key": "etc/nginx/lbfarm/farm.key",
}


def install_certificate(root: Path, config: Path) -> None:
    """The certificate rendered beside this configuration, where the daemon loads it from."""
    for name, inside in CERTIFICATE_FILES.items():
        (root / inside).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(config.parent / "tls" / name, root / inside)


def test_each_release_has_the_versions_this_matrix_promises(trees: dict[str, Path]) -> None:
    commands = {
        "haproxy": ["haproxy", "-v"],
        "nginx": ["nginx", "-v"],
        "keepalived": ["keepalived", "-v"],
        "netplan": ["dpkg-query", "-W", "-f=${Version}", "netplan.io"],
        "promtool": ["promtool", "--version"],
    }
    for release, (_, versions) in RELEASES.items():
        for daemon, version in versions.items():
            said = said_version(trees[release], commands[daemon])
            assert re.search(rf"(^|[ v/]){re.escape(version)}[.-]", said), f"{release} {daemon}: {said}"


@pytest.mark.parametrize("release", RELEASES)
def test_haproxy_accepts_the_configuration_rendered_from_its_own_version(
    release: str, trees: dict[str, Path], rendered: Path
) -> None:
    for path in files(rendered, f"haproxy-{release}.cfg"):
        assert "ssl crt /etc/haproxy/certs/farm.pem alpn h2,http/1.1" in path.read_text(), "HTTPS is on by default"
        install_certificate(trees[release], path)
        done = in_tree(trees[release], "haproxy", "-c", "-f", copy_in(trees[release], path, rendered))
        assert done.returncode == 0, f"{release}'s HAProxy on {where(path, rendered)}:\n{done.stdout}{done.stderr}"


def test_idle_close_on_response_only_where_haproxy_knows_it(trees: dict[str, Path], rendered: Path) -> None:
    """2.6 and later close idle connections only after an answer through a reload; 2.2 refuses the
    directive, so the role leaves it out there, and both sides of that choice are seen here."""
    for path in files(rendered, "haproxy-bullseye.cfg"):
        assert IDLE_CLOSE not in path.read_text(), where(path, rendered)
    for release in ["bookworm", "trixie"]:
        for path in files(rendered, f"haproxy-{release}.cfg"):
            assert IDLE_CLOSE in path.read_text(), where(path, rendered)
    for path in files(rendered, "haproxy-bookworm.cfg"):
        install_certificate(trees["bullseye"], path)
        done = in_tree(trees["bullseye"], "haproxy", "-c", "-f", copy_in(trees["bullseye"], path, rendered))
        assert done.returncode != 0, f"HAProxy 2.2 took {where(path, rendered)}"
        assert "unknown option 'idle-close-on-response'" in done.stdout + done.stderr


@pytest.mark.parametrize("release", RELEASES)
def test_nginx_accepts_every_rendered_configuration(release: str, trees: dict[str, Path], rendered: Path) -> None:
    for path in files(rendered, f"nginx-{release}.conf"):
        assert "ssl_certificate /etc/nginx/lbfarm/farm.crt;" in path.read_text(), "HTTPS is on by default"
        install_certificate(trees[release], path)
        done = in_tree(trees[release], "nginx", "-t", "-c", copy_in(trees[release], path, rendered))
        assert done.returncode == 0, f"{release}'s nginx on {where(path, rendered)}:\n{done.stderr}"
        assert "test is successful" in done.stderr


@pytest.mark.parametrize("release", RELEASES)
def test_keepalived_accepts_the_pair_configuration_and_its_scripts(
    release: str, trees: dict[str, Path], rendered: Path
) -> None:
    root = trees[release]
    for path in files(rendered, "keepalived.conf"):
        # the scripts it runs, where the role puts them: keepalived checks that they exist, belong
        # to root and are executable, and disables a track script that is not (a pair that never moves)
        for script in (path.parent / "root").rglob("*"):
            if script.is_file():
                target = root / script.relative_to(path.parent / "root")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(script, target)
                os.chown(target, 0, 0)
        done = in_tree(root, "keepalived", "--config-test", "--use-file", copy_in(root, path, rendered))
        said = done.stdout + done.stderr
        assert done.returncode == 0, f"{release}'s keepalived on {where(path, rendered)}:\n{said}"
        assert "Disabling" not in said, said
        assert "WARNING" not in said, said


@pytest.mark.parametrize("release", ["bookworm", "trixie"])
def test_netplan_generates_the_lab_nic(release: str, trees: dict[str, Path], rendered: Path) -> None:
    root = trees[release]
    for path in files(rendered, "60-lbfarm-lab.yaml"):
        # a root of its own per file, as the role's check does beside /etc/netplan
        base = INSIDE / "netplan" / path.relative_to(rendered).parent
        shutil.rmtree(root / base, ignore_errors=True)
        (root / base / "etc/netplan").mkdir(parents=True)
        shutil.copy2(path, root / base / "etc/netplan" / path.name)
        done = in_tree(root, "netplan", "generate", "--root-dir", f"/{base}")
        assert done.returncode == 0, f"{release}'s netplan on {where(path, rendered)}:\n{done.stderr}"
        network = (root / base / "run/systemd/network/10-netplan-lab.network").read_text()
        address = re.search(r'addresses: \["([^"]+)"\]', path.read_text())
        assert address, path.read_text()
        assert f"Address={address.group(1)}" in network, network


# where roles/monitoring puts the files prometheus.yml names (vars/main.yml)
PROMETHEUS_FILES = {
    "lbfarm.rules.yml": "etc/prometheus/lbfarm.rules.yml",
    "password": "etc/prometheus/lbfarm-balancer.password",
}


@pytest.mark.parametrize("release", ["bookworm", "trixie"])
def test_promtool_accepts_the_rules_and_prometheus_yml_for_each_balancer(
    release: str, trees: dict[str, Path], rendered: Path
) -> None:
    root = trees[release]
    for rules in files(rendered, "lbfarm.rules.yml"):
        done = in_tree(root, "promtool", "check", "rules", copy_in(root, rules, rendered))
        assert done.returncode == 0, f"{release}'s promtool on {where(rules, rendered)}:\n{done.stdout}{done.stderr}"
        count = len(re.findall(r"^ +- (record|alert): ", rules.read_text(), re.MULTILINE))
        assert f"SUCCESS: {count} rules found" in done.stdout, done.stdout
        (root / PROMETHEUS_FILES["lbfarm.rules.yml"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(rules, root / PROMETHEUS_FILES["lbfarm.rules.yml"])
        (root / PROMETHEUS_FILES["password"]).write_text("not-a-real-one\n")
        configs = sorted(rules.parent.glob("prometheus-*.yml"))
        assert [c.name for c in configs] == ["prometheus-haproxy.yml", "prometheus-ipvs.yml", "prometheus-nginx.yml"]
        for config in configs:
            done = in_tree(root, "promtool", "check", "config", copy_in(root, config, rendered))
            said = done.stdout + done.stderr
            assert done.returncode == 0, f"{release}'s promtool on {where(config, rendered)}:\n{said}"
            assert "SUCCESS" in said, said
            assert "FAILED" not in said, said
        # IPVS's real servers are named after their backends, on the node exporter's series
        ipvs = (rules.parent / "prometheus-ipvs.yml").read_text()
        assert "target_label: server" in ipvs, ipvs
        assert "node_ipvs_backend_" in ipvs, ipvs
