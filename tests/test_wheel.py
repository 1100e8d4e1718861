"""The built wheel is enough on its own: schemas, built-in policies and sample data ship inside it.

Builds the wheel from a copy of the sources with the test environment's setuptools (no network), installs
it into a fresh virtualenv that borrows only the dependencies from this one, and runs the CLI from a
directory outside the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "core", "bot", "schemas", "policies")
SCRUBBED_ENV = (
    "OPSPILOT_CONFIG",
    "DATABASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "OPA_URL",
    "PYTHONPATH",
    "PYTHONHOME",
    "VIRTUAL_ENV",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "PROMETHEUS_URL",
)


def run(args: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def checked(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"{result.args} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """(the fresh venv's bin folder, a working folder outside the checkout, the environment to run in)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    source.mkdir()
    for name in SOURCES:
        origin = CHECKOUT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_bundled"))
        else:
            shutil.copy2(origin, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    checked(run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", root / "dist", source], cwd=root))
    [wheel] = (root / "dist").glob("opspilot-*.whl")

    venv = root / "venv"
    checked(run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=root))
    python = venv / "bin" / "python"
    purelib = checked(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=root))
    # The dependencies come from this environment's site-packages; a path line in a .pth does not run
    # the .pth files inside it, so this environment's editable install of OpsPilot stays out.
    ours = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (Path(purelib.stdout.strip()) / "zz_test_dependencies.pth").write_text("\n".join(ours) + "\n")
    checked(run([*pip, "--python", python, "install", "--no-deps", "--no-index", wheel], cwd=root))

    workdir = root / "elsewhere"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return venv / "bin", workdir, env


def test_the_package_comes_from_the_wheel_with_its_data(installed) -> None:
    bin_dir, workdir, env = installed
    probe = checked(
        run(
            [
                bin_dir / "python",
                "-c",
                (
                    "import json, core, core.paths as p; print(json.dumps([core.__file__, str(p.SCHEMAS_DIR), str(p.POLICIES_DIR), "
                    "str(p.SAMPLE_DATA_DIR)]))"
                ),
            ],
            cwd=workdir,
            env=env,
        )
    )
    package, schemas, policies, sample = (Path(p) for p in json.loads(probe.stdout))
    for path in (package, schemas, policies, sample):
        assert not path.is_relative_to(CHECKOUT), f"{path} should come from the installed wheel"
    assert schemas == package.parent / "_bundled" / "schemas" and (schemas / "task-spec.schema.json").is_file()
    assert policies == package.parent / "_bundled" / "policies" and (policies / "production_safety.rego").is_file()
    assert (policies / "tests" / "production_safety_test.rego").is_file() and (sample / "fleet.yaml").is_file()


def test_installed_cli_plans_from_another_directory(installed) -> None:
    bin_dir, workdir, env = installed
    result = checked(run([bin_dir / "opspilot", "plan", "fix drift on prod web servers", "--json"], cwd=workdir, env=env))
    document = json.loads(result.stdout)
    plan = document["plan"]
    assert document["task_spec"]["context"]["environment"] == "production"
    assert plan["environment"] == "production" and plan["payload"]["affected_assets"]
    checks = {c["name"]: c["passed"] for c in plan["validation"]["checks"]}
    assert checks["schema"] and checks["policy: production_safety"] and checks["safety"]


def test_installed_cli_runs_the_built_in_policy_tests(installed) -> None:
    bin_dir, workdir, env = installed
    result = checked(run([bin_dir / "opspilot", "policy", "test"], cwd=workdir, env=env))
    lines = result.stdout.splitlines()
    assert "PASS  data.opspilot.production_safety_test.test_first_phase_must_be_a_canary" in lines
    assert lines[-1].startswith(f"{len(lines) - 1} passed, 0 failed (built-in policies)")
