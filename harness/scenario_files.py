"""The scenario files this project ships and reads: where ``corpora/`` is, and how one file is read.

Apart from :mod:`harness.fuzz.corpus` (directories, seeds, the atheris corpus) so that the
catalogue (whose seed programs are files under ``corpora/programs/``) and ``bench`` can read
scenario files without importing the fuzzing command line.
"""

from __future__ import annotations

from pathlib import Path

import harness
from harness import codec
from harness.generate.decode import decode
from harness.model import Scenario
from harness.untrusted import MAX_SCENARIO_FILE, UntrustedInputError, one_line, read_file

PROJECT_CORPORA = Path(harness.__file__).resolve().parents[1] / "corpora"
PACKAGE_CORPORA = Path(harness.__file__).resolve().parent / "corpora"  # the wheel's copy (setup.py puts it there)


def corpora_directory() -> Path:
    """``corpora/`` of this checkout (next to the package), else the copy an installed package carries,
    else ``corpora/`` of the working directory."""
    if PROJECT_CORPORA.is_dir() and PROJECT_CORPORA.parent.joinpath("pyproject.toml").is_file():
        return PROJECT_CORPORA
    return PACKAGE_CORPORA if PACKAGE_CORPORA.is_dir() else Path("corpora")


class NoScenario(codec.CodecError):
    """Bytes that decode to no scenario: libFuzzer keeps such inputs in an atheris corpus too."""


def read_scenario(path: Path, *, follow_symlinks: bool = True) -> Scenario:
    """A ``.json`` scenario, or any other file as atheris bytes; CodecError names the file.

    The file is read by :func:`harness.untrusted.read_file`: a regular file of at most
    MAX_SCENARIO_FILE bytes.
    """
    where = one_line(str(path))
    try:
        data = read_file(path, MAX_SCENARIO_FILE, follow_symlinks=follow_symlinks)
    except UntrustedInputError as exc:
        raise codec.CodecError(str(exc)) from None
    if path.suffix == ".json":
        return codec.loads(data, where)
    scenario = decode(data)
    if scenario is None:
        raise NoScenario(f"{where}: {len(data)} bytes that do not decode to a scenario (atheris input)")
    return scenario
