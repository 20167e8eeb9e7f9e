"""``python -m simulators.central`` (simulators/central/cli.py)."""

from simulators.central.cli import main

raise SystemExit(main())
