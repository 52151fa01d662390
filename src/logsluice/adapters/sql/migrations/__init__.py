"""Alembic migrations of the control-plane database, shipped in the package, run by migrate()."""
