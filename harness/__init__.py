"""scm-harness: conformance and fuzzing harness for AF_UNIX socket pairs.

Data flow (each arrow carries a frozen value; only ``execute`` touches the kernel)::

    Scenario --execute(backend)--> Observation
       '--expect(platform)--> Expectation --check--> CaseResult --> report.json
"""

__version__ = "0.1.0"
