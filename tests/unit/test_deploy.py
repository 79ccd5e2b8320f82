"""deploy/: the CronJob parses and says what the README says; the image is slim, non-root,
and installs through deploy/install.sh (the command this test runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _cronjob() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "deploy/kubernetes/cronjob.yaml").read_text())
    return loaded


def test_the_cronjob_runs_one_at_a_time_and_fails_on_a_nonzero_exit() -> None:
    job = _cronjob()
    assert job["kind"] == "CronJob"
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    assert job["spec"]["schedule"]
    template = job["spec"]["jobTemplate"]["spec"]
    assert template["backoffLimit"] == 0
    pod = template["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_the_cronjob_takes_secrets_from_a_secret_and_the_manifest_from_a_configmap() -> None:
    pod = _cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    for name in ("PROVISIONER_STATE", "AEP_CLIENT_ID", "AEP_CLIENT_SECRET", "AEP_ORG_ID"):
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "provisioner", name
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["manifest"]["configMap"]["name"] == "provisioner-manifest"
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert container["args"][:2] == ["apply", f"{mounts['manifest']}/manifest.yaml"]
    assert any(a.startswith("--wait-lock") for a in container["args"])
    report = next(a.split("=", 1)[1] for a in container["args"] if a.startswith("--report="))
    assert report.startswith(mounts["scratch"] + "/"), "the report goes to a writable volume"
    assert "emptyDir" in volumes["scratch"]


def test_the_readme_names_what_the_cronjob_holds() -> None:
    readme = (ROOT / "README.md").read_text()
    job = _cronjob()
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    secret_keys = [
        e["valueFrom"]["secretKeyRef"]["key"]
        for e in pod["containers"][0]["env"]
        if "valueFrom" in e
    ]
    for word in [
        "deploy/kubernetes/cronjob.yaml",
        "concurrencyPolicy: Forbid",
        "backoffLimit: 0",
        next(v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v),
        pod["containers"][0]["envFrom"][0]["secretRef"]["name"],
        *secret_keys,
    ]:
        assert f"`{word}`" in readme or word in readme, word


def test_the_image_is_slim_non_root_and_installs_with_the_tested_script() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    bases = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert all(base.endswith("-slim") for base in bases)
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users
    assert users[-1] not in ("root", "0")
    assert any("install.sh" in line and line.startswith("RUN ") for line in lines)


def test_the_install_script_is_valid_shell_that_pins_and_checks() -> None:
    script = ROOT / "deploy/install.sh"
    subprocess.run(["sh", "-n", str(script)], check=True)
    text = script.read_text()
    assert "--no-deps" in text, "only the lock file's pins are installed"
    assert "pip check" in text


@pytest.mark.timeout(600)
def test_the_install_step_gives_a_working_provisioner(tmp_path: Path) -> None:
    """What the Dockerfile runs: deploy/install.sh with the pins and the project's wheel."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels),
         str(ROOT)],
        check=True,
    )  # fmt: skip
    (wheel,) = wheels.glob("provisioner-*.whl")
    requirements = ROOT / "requirements.lock"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    subprocess.run(
        ["sh", str(ROOT / "deploy/install.sh"), str(requirements), str(wheel)],
        check=True,
        env=env,
        cwd=tmp_path,
        capture_output=True,
    )
    done = subprocess.run(
        [str(venv / "bin/provisioner"), "--version"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("provisioner ")
    subprocess.run([str(venv / "bin/python"), "-c", "import psycopg"], check=True, env=env)
