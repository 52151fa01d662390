"""Integration tests: the app in-process on real SQLite and DuckDB files in tmp_path."""
