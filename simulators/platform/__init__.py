"""The platform's apply rules (apply.py) over a storage port (port.py), with two adapters: SQLite for the
single-process central simulator (sqlite_store.py) and PostgreSQL for horizontally scaled workers (pg_store.py)."""
