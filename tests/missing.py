"""Data or packages a test needs and does not find: a skip on a developer's machine, a failure in CI
(CI=true, as .ci/run and CI services set it), where `make test` has installed them all and a broken
`make data` must not pass as a row of skips."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(reason: str, module_level: bool = False):
    """Skip the test (or, module_level, the whole module), or fail it under CI."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set: missing data fails the run instead of skipping)", pytrace=False)
    pytest.skip(reason, allow_module_level=module_level)


def needs(fn, *args):
    """fn(*args); mpa_dist.data.offline.MissingData from it is `missing`."""
    from mpa_dist.data.offline import MissingData

    try:
        return fn(*args)
    except MissingData as e:
        missing(str(e))


def module(name: str, module_level: bool = False) -> ModuleType:
    """pytest.importorskip(name), failing under CI."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        missing(f"could not import {name!r}: {e}", module_level)
