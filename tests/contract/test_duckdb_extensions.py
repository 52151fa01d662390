"""DuckDB's extensions come from the installed packages, loaded by the names DuckDB expects.

No connection of logsluice may install or autoload an extension (that would download it); a
missing package is a MissingDriverError that names the extra to install.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from logsluice.adapters.duckdb import DuckDBLogStore
from logsluice.adapters.duckdb.extensions import (
    DUCKLAKE,
    HTTPFS,
    POSTGRES,
    SQLITE,
    Extension,
    ExtensionDirectory,
    extension_file,
)
from logsluice.domain.errors import MissingDriverError


def test_the_installed_extensions_load_under_their_duckdb_names() -> None:
    directory = ExtensionDirectory([DUCKLAKE, HTTPFS, POSTGRES, SQLITE])
    try:
        with duckdb.connect(config=directory.config()) as connection:
            directory.load_all(connection)
            loaded = {
                str(name)
                for (name,) in connection.execute(
                    "SELECT extension_name FROM duckdb_extensions() WHERE loaded"
                ).fetchall()
            }
            settings = connection.execute(
                "SELECT current_setting('autoinstall_known_extensions'), "
                "current_setting('autoload_known_extensions')"
            ).fetchone()
    finally:
        directory.remove()
    assert {"ducklake", "httpfs", "postgres_scanner", "sqlite_scanner"} <= loaded
    assert settings == (False, False)
    assert not directory.path.exists()


def test_a_missing_extension_package_names_the_extra_to_install() -> None:
    missing = Extension("duckdb_extension_not_installed", "nothing", "nothing")
    with pytest.raises(MissingDriverError, match=r"pip install 'logsluice\[lake\]'"):
        extension_file(missing)
    with pytest.raises(MissingDriverError):
        ExtensionDirectory([DUCKLAKE, missing])


def test_the_file_store_never_autoloads_an_extension(tmp_path: Path) -> None:
    store = DuckDBLogStore(tmp_path / "logs.duckdb")
    try:
        with store._cursor() as cursor:
            assert cursor.execute(
                "SELECT current_setting('autoload_known_extensions')"
            ).fetchone() == (False,)
            with pytest.raises(duckdb.Error):
                # httpfs is not built in: without autoload it is unknown, and nothing downloads
                cursor.execute("SELECT * FROM read_csv('http://127.0.0.1:9/none.csv')")
    finally:
        store.close()
