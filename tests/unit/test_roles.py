"""Every device role the config allows has a role class, and roles stay out of the sync path and paho."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

from edge_agent.config import DeviceSection
from edge_agent.roles.base import Role
from edge_agent.roles.registry import ROLES, role_class

PACKAGE = Path(__file__).resolve().parents[2] / "edge_agent"


def test_each_configurable_role_has_a_registered_role_class_of_that_name() -> None:
    allowed = set(get_args(DeviceSection.model_fields["role"].annotation))
    assert allowed == set(ROLES)
    for name in ROLES:
        cls = role_class(name)
        assert issubclass(cls, Role) and cls.name == name


def _imports(package: str) -> set[str]:
    found: set[str] = set()
    for path in (PACKAGE / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
    return found


def test_roles_and_the_domain_import_nothing_from_sync_or_paho() -> None:
    for package in ("roles", "domain"):
        bad = {m for m in _imports(package) if m.startswith(("edge_agent.sync", "paho"))}
        assert not bad, f"{package} imports {sorted(bad)}"


def test_the_contract_imports_only_the_domain_and_itself() -> None:
    bad = {
        m
        for m in _imports("contract")
        if m.startswith("edge_agent") and not m.startswith(("edge_agent.contract", "edge_agent.domain"))
    }
    assert not bad, f"contract imports {sorted(bad)}"


def test_no_module_is_longer_than_500_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 500
    }
    assert not long, long
