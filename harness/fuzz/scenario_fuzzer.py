#!/usr/bin/env python3
"""libFuzzer/atheris target for scm-harness: bytes -> scenario -> kernel vs oracle.

Laid out the way OSS-Fuzz and ClusterFuzzLite build Python fuzzers (an executable
``*_fuzzer.py`` for ``compile_python_fuzzer``); it also runs as a plain libFuzzer binary::

    ./scenario_fuzzer.py corpus/ corpora/atheris -dict=scm.dict -max_total_time=60
    ./scenario_fuzzer.py -runs=10000 -jobs=2 -workers=2 corpus/
    ./scenario_fuzzer.py -fork=2 -ignore_crashes=1 corpus/

Every libFuzzer flag passes through.  ``-fork``/``-jobs`` re-execute ``argv[0]``, which is why
this file is executable with a shebang and ``argv[0]`` is made absolute below (atheris issue
#50).  ``scm-harness fuzz --engine atheris`` runs it as its workers; standalone, a deviation
from the oracle is a crash (the input is saved as ``crash-<sha1>``).  ``SCM_HARNESS_FAULT``
injects a test-only fault (:mod:`harness.execute.faults`).
"""

import os
import sys
from pathlib import Path

# Standalone from a checkout: make `harness` importable without installing the project.
_ROOT = Path(__file__).resolve().parents[2]
if (_ROOT / "harness" / "__init__.py").exists() and str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from harness.execute.lifetime import hold_lifeline_from_environment  # noqa: E402 - after the path set-up

# In a campaign: this process and its libFuzzer -fork/-jobs children die with the supervisor.
hold_lifeline_from_environment()

import atheris  # noqa: E402 - after the path set-up

# Python coverage of the grammar (input structure) and the oracle (modelled behaviour); the
# kernel's behaviour comes in through the outcome-signature counters of harness.fuzz.target.
# atheris instruments every module of a named module's top-level package imported in the block
# (include=["harness.generate"] is all of harness), so what the two import but is neither is
# imported before it: the model's validation, the byte reader under the grammar (the same lines
# for every input), the constants, observations and expectations: no feedback about the input,
# and (measured) decode of corpora/atheris at 618 us per input instead of 387 (218 uninstrumented).
# harness.addresses (the oracle and the executor use its address rules and confinement) is neither
# either: instrumented, it cost the oracle ~100 us of ~600 per input of a 60 s campaign's corpus.
import harness.addresses  # noqa: E402 - before the instrumented imports
import harness.expectation  # noqa: E402
import harness.generate.choices  # noqa: E402
import harness.model  # noqa: E402
import harness.native.cmsg  # noqa: E402
import harness.native.constants  # noqa: E402
import harness.observation  # noqa: E402

with atheris.instrument_imports(include=["harness.generate", "harness.oracle"]):
    import harness.generate.decode
    import harness.oracle.linux  # noqa: F401

from harness.fuzz.target import Feedback, Target  # noqa: E402

TARGET: Target | None = None


def TestOneInput(data: bytes) -> None:
    assert TARGET is not None
    TARGET.one_input(data)


def main() -> None:
    global TARGET
    TARGET = Target.from_environment(Feedback.atheris())
    argv = [os.path.abspath(sys.argv[0]), *sys.argv[1:]]
    atheris.Setup(argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
