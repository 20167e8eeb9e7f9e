"""PostgreSQL fixtures: one private server per test session (simulators/postgres.py), a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.postgres import PostgresServer

__all__ = ["pg_dsn", "pg_server"]


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    with PostgresServer(Path(tmp_path_factory.mktemp("postgres"))) as server:
        yield server


@pytest.fixture
def pg_dsn(pg_server: PostgresServer) -> str:
    """The DSN of a database of its own for this test."""
    return pg_server.create_database()
