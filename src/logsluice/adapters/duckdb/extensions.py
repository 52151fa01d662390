"""DuckDB extensions from the installed ``duckdb-extension-*`` packages, never downloaded.

The ``lake`` extra installs DuckDB's extensions as PyPI packages (``duckdb_extension_ducklake``
ships ``extensions/v1.5.5/ducklake.duckdb_extension``, and so on). DuckDB looks an extension up by
name in ``<extension_directory>/<version>/<platform>/<name>.duckdb_extension``, and one extension
may load another by name (DuckLake loads ``postgres_scanner`` to open a PostgreSQL catalog), so the
files are linked into a private directory of that layout under the names DuckDB expects. Every
connection runs with automatic install and load off: a missing extension is a start-up error that
names the extra, never a download.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from logsluice.domain.errors import MissingDriverError

DUCKDB_VERSION = "v1.5.5"
"""The DuckDB release the extension packages are built for (pinned in ``pyproject.toml``)."""

NO_DOWNLOADS: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
"""Connection settings that keep DuckDB from fetching or loading extensions on its own."""


@dataclass(frozen=True)
class Extension:
    """One extension: the package that ships it, its file's stem and the name DuckDB loads."""

    package: str
    file_stem: str
    name: str


DUCKLAKE = Extension("duckdb_extension_ducklake", "ducklake", "ducklake")
HTTPFS = Extension("duckdb_extension_httpfs", "httpfs", "httpfs")
POSTGRES = Extension("duckdb_extension_postgres", "postgres", "postgres_scanner")
SQLITE = Extension("duckdb_extension_sqlite", "sqlite", "sqlite_scanner")


def extension_file(extension: Extension) -> Path:
    """Return the installed file of ``extension``. Raises MissingDriverError naming the extra."""
    spec = importlib.util.find_spec(extension.package)
    origin = spec.origin if spec is not None else None
    candidate = (
        Path(origin).parent
        / "extensions"
        / DUCKDB_VERSION
        / f"{extension.file_stem}.duckdb_extension"
        if origin
        else None
    )
    if candidate is None or not candidate.is_file():
        distribution = extension.package.replace("_", "-")
        raise MissingDriverError(
            f"the DuckLake log store needs DuckDB's {extension.name} extension for DuckDB "
            f"{DUCKDB_VERSION.lstrip('v')} ({distribution}): pip install 'logsluice[lake]'",
            extension=extension.name,
            extra="lake",
        )
    return candidate


class ExtensionDirectory:
    """A private ``extension_directory`` holding links to the installed extension files.

    Made in a fresh temporary directory (so processes never race over it) and removed by
    :meth:`remove`. Raises MissingDriverError when a package is not installed.
    """

    def __init__(self, extensions: Iterable[Extension]) -> None:
        self.extensions = tuple(extensions)
        files = [(extension, extension_file(extension)) for extension in self.extensions]
        self.path = Path(tempfile.mkdtemp(prefix="logsluice-duckdb-extensions-"))
        target = self.path / DUCKDB_VERSION / _platform()
        target.mkdir(parents=True)
        for extension, file in files:
            (target / f"{extension.name}.duckdb_extension").symlink_to(file)

    def config(self) -> dict[str, str | bool | int | float | list[str]]:
        """Return connection settings that load extensions only from this directory."""
        return {**NO_DOWNLOADS, "extension_directory": str(self.path)}

    def load_all(self, connection: duckdb.DuckDBPyConnection) -> None:
        """Load every extension of the directory into ``connection``."""
        for extension in self.extensions:
            connection.execute(f"LOAD {extension.name}")

    def remove(self) -> None:
        """Delete the directory (loaded extensions stay loaded)."""
        shutil.rmtree(self.path, ignore_errors=True)


def _platform() -> str:
    """Return DuckDB's platform name (``linux_amd64``…), the directory level under the version."""
    with duckdb.connect(config=NO_DOWNLOADS) as connection:
        row = connection.execute("PRAGMA platform").fetchone()
    return str(row[0]) if row else ""
