"""Optional parts of the test environment: skip locally, fail in CI when one is missing."""

from __future__ import annotations

import os

import pytest

# CI (`.ci/run`) installs every optional part (browser, language model, fuzzer) and sets this, so
# there a missing part fails the test instead of skipping it.
REQUIRE_ALL = os.environ.get("ADWISE_REQUIRE_ALL") == "1"


def needs(available: bool, what: str) -> None:
    """Skip when an optional part is missing on a developer machine; fail when CI lacks it."""
    if available:
        return
    if REQUIRE_ALL:
        pytest.fail(f"{what} is required here (ADWISE_REQUIRE_ALL=1) but missing", pytrace=False)
    pytest.skip(what)
