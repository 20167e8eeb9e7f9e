"""Fuzz budgets: a short run in CI, at least 10,000 cases per kind under ``pytest --soak``."""

from __future__ import annotations

from hypothesis import settings

SOAK_CASES = 10_000
"""The issue's long-run floor per input kind; tests/conftest.py's soak profile sets the same default."""


def fuzz(ci_cases: int) -> settings:
    """``ci_cases`` normally; the loaded profile's count when it is larger (the soak profile is loaded by
    ``--soak`` in pytest_configure, before test modules are imported, so this sees it)."""
    return settings(max_examples=max(ci_cases, settings.default.max_examples))
