"""The deployment files: the Dockerfile builds where Docker runs and is linted everywhere."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import REPO


def _docker_engine() -> bool:
    docker = shutil.which("docker")
    return bool(docker) and subprocess.run([docker, "info"], capture_output=True).returncode == 0


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), str(REPO / "Dockerfile")], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, "")


def test_the_container_listens_beyond_loopback_by_rewriting_the_shipped_host_line() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    pattern = re.search(r"sed -i 's/\^(.*?)/(.*?)/'", dockerfile)
    assert pattern is not None
    assert re.search("^" + pattern.group(1) + "$", (REPO / "config.yaml").read_text(), re.M)


@pytest.mark.skipif(not _docker_engine(), reason="no Docker engine on this machine (hadolint still lints)")
def test_the_image_builds() -> None:  # pragma: no cover - needs a Docker engine
    result = subprocess.run(["docker", "build", "-q", "-t", "xa-helpdesk:test", str(REPO)],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
