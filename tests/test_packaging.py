"""A non-editable install from the wheel finds the shipped rules inside the package, from any
directory: the rules/ folder of the checkout is not what makes keysweep work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from keysweep.scanner.rules import load_rules
from tests.conftest import PROJECT

pytestmark = pytest.mark.slow


def sh(*args, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("wheel")
    dist = work / "dist"
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
       "-w", dist, PROJECT)
    [wheel] = dist.glob("keysweep-*.whl")
    venv = work / "venv"
    sh(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    sh(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel)
    site = Path(sh(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    # Dependencies come from the project's venv; the package itself only from the wheel.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = sysconfig.get_paths()["purelib"]
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    outside = work / "elsewhere"
    outside.mkdir()
    return {"wheel": wheel, "venv": venv, "python": python, "site": site, "env": env, "cwd": outside}


def test_wheel_contains_the_rules(installed):
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    shipped = sorted(p.name for p in (PROJECT / "rules").glob("*.toml"))
    assert sorted(Path(n).name for n in names if n.startswith("keysweep/rules/") and n.endswith(".toml")) == shipped


def test_wheel_ships_no_fake_servers(installed):
    """The fake provider and forge servers are test code: they stay in tests/, out of the wheel."""
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    assert not [n for n in names if n.startswith("tests/") or Path(n).stem in ("fakes", "fakeforge", "fakeapi")]


def test_installed_keysweep_loads_rules_from_site_packages(installed):
    where = sh(installed["python"], "-c",
               "import keysweep, json; from keysweep.scanner.rules import default_rules_dir, load_rules; "
               "print(json.dumps([keysweep.__file__, str(default_rules_dir()), sorted({r.origin for r in load_rules()})]))",
               cwd=installed["cwd"], env=installed["env"]).stdout
    package_file, rules_dir, origins = json.loads(where)
    site = str(installed["site"])
    assert package_file.startswith(site), package_file
    assert rules_dir == str(installed["site"] / "keysweep" / "rules")
    assert origins and all(origin.startswith(site) for origin in origins), origins


def test_installed_console_script_lists_the_shipped_rules(installed):
    script = installed["venv"] / "bin" / "keysweep"
    listed = sh(script, "rules", "list", "--format", "json", cwd=installed["cwd"], env=installed["env"]).stdout
    assert sorted(rule["id"] for rule in json.loads(listed)) == sorted(rule.id for rule in load_rules())
    check = sh(script, "rules", "check", cwd=installed["cwd"], env=installed["env"]).stdout
    assert "rules OK" in check


def test_installed_console_script_scans(installed, keys):
    target = installed["cwd"] / "app.env"
    key = keys.anthropic()
    target.write_text(f"ANTHROPIC_API_KEY={key}\n")
    result = subprocess.run([str(installed["venv"] / "bin" / "keysweep"), "scan", "dir", str(target), "--no-store",
                             "--format", "json"], capture_output=True, text=True, cwd=installed["cwd"],
                            env=installed["env"], timeout=120)
    assert result.returncode == 1, result.stderr
    [finding] = json.loads(result.stdout)
    assert finding["rule_id"] == "anthropic.api-key"
    assert key not in result.stdout


def test_installed_init_writes_the_starter_files(installed, tmp_path):
    """The starter templates ship inside the package: `keysweep init` works from the wheel alone."""
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    assert {"keysweep/starter/keysweep.toml", "keysweep/starter/keysweep-owners.toml",
            "keysweep/starter/keysweep-policy.toml", "keysweep/starter/keysweepignore"} <= set(names)
    sh(installed["venv"] / "bin" / "keysweep", "init", tmp_path, cwd=installed["cwd"], env=installed["env"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [".keysweepignore", "keysweep-owners.toml",
                                                          "keysweep-policy.toml", "keysweep.toml"]
