"""p2c.yaml errors point at the line and the key a person has to fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from p2c import ConfigError, NotFoundError
from p2c.workspace import CONFIG_FILE, Workspace, init_workspace


@pytest.fixture
def root(tmp_path: Path) -> Path:
    init_workspace(tmp_path / "ws")
    return tmp_path / "ws"


def lines(root: Path) -> list[str]:
    return (root / CONFIG_FILE).read_text(encoding="utf-8").splitlines()


def save(root: Path, text: list[str]) -> None:
    (root / CONFIG_FILE).write_text("\n".join(text) + "\n", encoding="utf-8")


def test_a_new_workspace_opens(root: Path) -> None:
    ws = Workspace.open(root)
    assert ws.root == root.resolve()
    assert len(ws.config.projects) == 3


def test_yaml_syntax_error_names_the_line(root: Path) -> None:
    text = lines(root)
    text.append("oops: this: is not yaml")
    save(root, text)
    with pytest.raises(ConfigError) as caught:
        Workspace.open(root)
    message = str(caught.value)
    assert f"line {len(text)} column " in message
    assert CONFIG_FILE in message


def test_unknown_key_under_a_project_names_line_and_key_path(root: Path) -> None:
    text = lines(root)
    first = next(i for i, line in enumerate(text) if line.startswith("- name:"))
    text.insert(first + 1, "  colour: red")
    save(root, text)
    with pytest.raises(ConfigError) as caught:
        Workspace.open(root)
    message = str(caught.value)
    assert f"line {first + 2}," in message  # 1-based: the inserted line
    assert "projects.0.colour" in message


def test_wrong_connection_type_is_named(root: Path) -> None:
    text = lines(root)
    at = next(i for i, line in enumerate(text) if line.strip() == "type: sandbox")
    text[at] = text[at].replace("sandbox", "carrier-pigeon")
    save(root, text)
    with pytest.raises(ConfigError) as caught:
        Workspace.open(root)
    message = str(caught.value)
    assert "'carrier-pigeon'" in message
    assert "connection_sets.sandbox.sales" in message
    match = re.search(r"line (\d+)", message)
    assert match is not None
    # The line of the connection (`sales:`) or of its `type:`.
    assert int(match.group(1)) in (at, at + 1)


def test_missing_workspace(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as caught:
        Workspace.open(tmp_path)
    assert CONFIG_FILE in str(caught.value)
    assert "p2c init" in (caught.value.fix or "")
