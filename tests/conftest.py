"""Shared fixtures: the probed platform (once per worker) and Hypothesis profiles."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from harness.generate.profiles import register_profiles
from harness.host import probe
from harness.platform import Platform

register_profiles()
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def platform() -> Platform:
    return probe()
