"""The README's first line is all a bare machine needs before the two commands.

Run on the lab's own base image of Debian 12 (lbfarm/base:bookworm: systemd, Python and curl from
minbase, neither make nor git, as minimal installs and cloud images come): the line as the README
writes it, then what a newcomer types next, git clone and make. make versions builds the image
first when it is missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IMAGE = "lbfarm/base:bookworm"


def first_line() -> str:
    """The README's line that installs what the two commands need."""
    readme = (REPO / "README.md").read_text()
    block = re.search(r"## Two commands.*?```sh\n(.*?)```", readme, re.DOTALL)
    assert block, "README: no shell block under 'Two commands'"
    line = block.group(1).splitlines()[0]
    assert "make" in line.split("#")[0], line
    assert "git" in line.split("#")[0], line
    return line.split("#")[0].strip()


def in_image(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "run", "--rm", "-v", f"{REPO}:/src:ro", IMAGE, "bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def image() -> str:
    if shutil.which("docker") is None:
        pytest.fail("docker is missing: make deps installs it")
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode != 0:
        pytest.fail(f"{IMAGE} is missing: make image RELEASE=bookworm builds it (make versions does)")
    return IMAGE


def test_the_bare_image_has_neither_make_nor_git(image: str) -> None:
    done = in_image("command -v make; command -v git; exit 0")
    assert done.stdout.strip() == "", f"{image} is not bare: {done.stdout}"


def test_the_first_line_then_git_clone_and_make_work(image: str) -> None:
    script = f"""set -e
{first_line()} > /tmp/first-line.log 2>&1 || {{ tail -n 20 /tmp/first-line.log; exit 1; }}
git clone -q /src /tmp/lbfarm
make -C /tmp/lbfarm help
"""
    done = in_image(script)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "make lab" in done.stdout, done.stdout
    assert "make test" in done.stdout, done.stdout
