"""p2c.yaml read and written back with ruamel.yaml (`YamlDocument`): unchanged text comes
back byte for byte; deleted entries hand their comments on; saving is atomic."""

from __future__ import annotations

from pathlib import Path

import pytest
from edit_helpers import COMMENTED, comments

from p2c import ConfigError
from p2c.config._document import YamlDocument, delete_entry, write_atomically
from p2c.workspace import CONFIG_FILE, init_workspace


def test_a_round_trip_changes_nothing(tmp_path: Path) -> None:
    init_workspace(tmp_path / "ws")
    fresh = (tmp_path / "ws" / CONFIG_FILE).read_text(encoding="utf-8")
    assert YamlDocument(fresh).dump() == fresh
    assert YamlDocument(COMMENTED).dump() == COMMENTED


@pytest.mark.parametrize("key", ["a", "b", "c"])
def test_a_deleted_entry_hands_its_comments_on(key: str) -> None:
    text = (
        "m:\n  # above a\n  a: 1  # of a\n  # below a\n  b: 2  # of b\n"
        "  c: {x: 1}  # of c\n  # below c\nz: 0\n"
    )
    document = YamlDocument(text)
    assert delete_entry(document.data["m"], key) == []
    after = document.dump()
    assert f"\n  {key}:" not in after
    assert comments(after) == comments(text)


def test_the_only_entry_returns_its_comments() -> None:
    document = YamlDocument("m:\n  a: 1  # of a\nz: 0\n")
    assert delete_entry(document.data["m"], "a") == ["# of a"]


def test_no_yaml_is_refused_with_its_line() -> None:
    with pytest.raises(ConfigError, match="line 2"):
        YamlDocument("a: 1\n  b: [\n")


def test_write_atomically(tmp_path: Path) -> None:
    path = tmp_path / "p2c.yaml"
    path.write_text("old\n", encoding="utf-8")
    path.chmod(0o640)
    write_atomically(path, "new\n")
    assert path.read_text(encoding="utf-8") == "new\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["p2c.yaml"]
