"""The wheel: runtime dependencies only, corpora, schemas and the peer map inside; works outside a clone.

The wheel is built offline from a copy of the tree (``pip wheel --no-build-isolation``: setuptools comes
with the test extra) and installed with ``--no-deps`` into a plain virtual environment of its own; the
fuzzing engine it needs at run time (Hypothesis) is lent from this environment by a path entry.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from harness.cli import main
from harness.schemas import NAMES, schema_text
from harness.version import harness_commit

ROOT = Path(__file__).resolve().parents[1]
NOT_SOURCE = (".git", ".venv", "reports", "build", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis")


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    shutil.copytree(ROOT, work / "src", ignore=shutil.ignore_patterns(*NOT_SOURCE))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    built = run(
        [*pip, "wheel", "--no-build-isolation", "--no-deps", "--no-index", "-w", str(work), str(work / "src")], work
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (path,) = work.glob("scm_harness-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel: Path) -> Path:
    """A plain venv holding the wheel (no dependencies); its python."""
    venv = wheel.parent / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", str(python)]
    done = run([*pip, "install", "--no-index", "--no-deps", str(wheel)], wheel.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], venv).stdout.strip())
    (site / "lend-engines.pth").write_text(sysconfig.get_path("purelib") + "\n")  # hypothesis, atheris
    return python


def test_the_wheel_carries_the_corpora_and_schemas_and_needs_no_test_tools(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata,) = (name for name in names if name.endswith(".dist-info/METADATA"))
        requires = [line for line in archive.read(metadata).decode().splitlines() if line.startswith("Requires-Dist:")]
    shipped = (path.relative_to(ROOT) for path in (ROOT / "corpora").rglob("*") if path.is_file())
    corpora = {f"harness/{path}" for path in shipped}
    assert len(corpora) > 250 and corpora <= names, sorted(corpora - names)[:5]
    assert {f"harness/schemas/{name}.schema.json" for name in NAMES} <= names
    assert "harness/native/floor.c" in names  # scm-harness bench compiles it
    assert "harness/catalogue/peers.json" in names  # scm-harness list --peers
    assert {"harness/fuzz/c/runtime.c", "harness/fuzz/c/runtime.h"} <= names  # every repro.c carries them
    runtime = [line for line in requires if "extra ==" not in line]
    assert any("hypothesis" in line for line in runtime)
    assert not [line for line in runtime if re.search(r"pytest|xdist|xmlschema|jsonschema", line)]
    assert any(line.startswith("Requires-Dist: pytest-xdist") and 'extra == "test"' in line for line in requires)


def test_an_installed_harness_has_its_seeds_outside_a_clone(installed: Path, tmp_path: Path) -> None:
    check = run([str(installed), "-m", "harness", "corpus", "--check"], tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    version = run([str(installed), "-m", "harness", "--version"], tmp_path)
    assert version.stdout == f"scm-harness {__import__('harness').__version__}\n"  # no clone: no commit
    schema = run([str(installed), "-m", "harness", "schema", "report"], tmp_path)
    assert schema.stdout == schema_text("report")
    peers = run([str(installed), "-m", "harness", "list", "--peers", "ltp"], tmp_path)
    assert peers.returncode == 0 and "cve-2025-38236" in peers.stdout, peers.stderr
    fuzz = [str(installed), "-m", "harness", "fuzz", "--runs", "3", "--seed", "1"]
    seeded = run([*fuzz, "--out", str(tmp_path / "seeded")], tmp_path)
    assert seeded.returncode == 0 and "no seeds" not in seeded.stderr, seeded.stderr


def test_fuzz_without_seeds_says_so_in_one_line(installed: Path, tmp_path: Path) -> None:
    package = Path(run([str(installed), "-c", "import harness; print(harness.__file__)"], tmp_path).stdout.strip())
    shutil.rmtree(package.parent / "corpora")
    done = run([str(installed), "-m", "harness", "fuzz", "--runs", "2", "--out", str(tmp_path / "bare")], tmp_path)
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if "no seeds" in line]
    assert said == ["scm-harness fuzz: no seeds found in corpora: the campaign starts from nothing"]


def test_from_a_clone_version_and_run_info_name_the_commit(tmp_path: Path) -> None:
    commit = harness_commit()
    assert re.fullmatch(r"[0-9a-f]{7,40}(-dirty)?", commit), commit
    version = run([sys.executable, "-m", "harness", "--version"], ROOT)
    assert version.stdout.rstrip() == f"scm-harness {__import__('harness').__version__} (commit {commit})"
    main(["run", "--ids", "BND-01", "--backend", "raw", "--out", str(tmp_path / "run")])
    report = (tmp_path / "run" / "report.json").read_text()
    assert f'"commit": "{commit}"' in report
