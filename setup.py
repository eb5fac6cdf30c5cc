"""Build hook: the wheel carries corpora/ (seeds, regressions, atheris byte seeds) as ``harness/corpora``.

corpora/ stays at the top of the repository (a clone uses it in place: harness.fuzz.cli._corpora);
an installed scm-harness finds the copy inside its package.  All metadata is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CORPORA = Path(__file__).resolve().parent / "corpora"


class BuildWithCorpora(build_py):
    def run(self) -> None:
        super().run()
        if not self.editable_mode:  # an editable install reads corpora/ of the clone
            shutil.copytree(CORPORA, Path(self.build_lib) / "harness" / "corpora", dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithCorpora})
