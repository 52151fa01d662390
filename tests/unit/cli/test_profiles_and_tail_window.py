"""Client profiles (config.toml under XDG_CONFIG_HOME) and the tail's printed-records window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest

from logsluice.cli.profiles import Profile, config_path, load_profile
from logsluice.cli.tail import PrintedRecords

T0 = datetime(2026, 11, 6, tzinfo=UTC)


def _write_config(home: Path, text: str) -> None:
    path = home / "logsluice" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(text)


def test_the_config_file_honours_xdg_config_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config_path() == tmp_path / "logsluice" / "config.toml"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config_path() == tmp_path / "home" / ".config" / "logsluice" / "config.toml"


def test_profiles_are_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert load_profile(None) == Profile(name="default")  # no file: no defaults
    _write_config(
        tmp_path,
        '[default]\nproject = "shop"\n\n[prod]\nserver = "http://127.0.0.1:9"\nproject = "web"\n',
    )
    assert load_profile(None) == Profile(name="default", project="shop")
    assert load_profile("prod") == Profile(name="prod", server="http://127.0.0.1:9", project="web")
    with pytest.raises(click.UsageError, match=r"profile .staging. is not in .*default, prod"):
        load_profile("staging")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[default]\nprojekt = "shop"\n', "unknown key"),
        ("[default]\nproject = 3\n", "must be non-empty text"),
        ('default = "shop"\n', "must be a table"),
        ("[default\n", "cannot read"),
    ],
)
def test_a_bad_config_file_is_a_usage_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    _write_config(tmp_path, text)
    with pytest.raises(click.UsageError, match=message) as raised:
        load_profile(None)
    assert "config.toml" in str(raised.value)


def _record(seconds: int, message: str) -> tuple[datetime, dict[str, object]]:
    moment = T0 + timedelta(seconds=seconds)
    return moment, {"timestamp": moment.isoformat(), "message": message}


def test_overlapping_windows_print_each_record_once() -> None:
    printed = PrintedRecords()
    first = [_record(1, "a"), _record(2, "b")]
    assert [row["message"] for row in printed.new_ones(first)] == ["a", "b"]
    # the next window overlaps: b again, a late record (1.5 s) and a new one
    second = [_record(1, "late"), _record(2, "b"), _record(3, "c")]
    assert [row["message"] for row in printed.new_ones(second)] == ["late", "c"]


def test_identical_records_are_counted_not_merged() -> None:
    printed = PrintedRecords()
    assert len(printed.new_ones([_record(1, "same")])) == 1
    assert len(printed.new_ones([_record(1, "same"), _record(1, "same")])) == 1
    assert printed.new_ones([_record(1, "same"), _record(1, "same")]) == []


def test_records_before_the_window_are_forgotten() -> None:
    printed = PrintedRecords()
    printed.new_ones([_record(1, "a"), _record(10, "b")])
    printed.forget_before(T0 + timedelta(seconds=5))
    assert len(printed.counts) == 1
    assert printed.new_ones([_record(10, "b")]) == []
