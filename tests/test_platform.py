"""The Platform is data: the oracle's input, rebuilt from any report's run_info (harness/platform.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from harness.host import probe
from harness.platform import Platform


@pytest.mark.kernel
def test_a_probed_platform_round_trips_through_json() -> None:
    platform = probe()
    assert Platform.from_json(json.loads(json.dumps(platform.as_json()))) == platform


def test_the_platform_and_the_oracle_import_nothing_that_looks_at_the_host() -> None:
    code = (
        "import sys, harness.platform, harness.oracle; "
        "print(sorted(m for m in ('ctypes', 'socket', 'harness.host', 'harness.native.libc') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
