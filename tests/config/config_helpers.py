"""Helpers of the configuration checks' tests: change p2c.yaml as a person would (as text),
and see what opening or running the workspace says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from p2c import ConfigError
from p2c.engine import StateStore
from p2c.sandbox import CDSHub, FinOpsSandbox, sample_document
from p2c.workspace import CONFIG_FILE, Workspace

ACCOUNTS = "Accounts (Sales to Fin and Ops) - Direct"
CONTACTS = "Contacts (Sales to Fin and Ops) - Direct"
CUSTOMERS = "Contacts to Customer (Sales to Fin and Ops) - Direct"


@dataclass
class Config:
    """A workspace's p2c.yaml, changed line by line."""

    root: Path

    @property
    def path(self) -> Path:
        return self.root / CONFIG_FILE

    def lines(self) -> list[str]:
        return self.path.read_text(encoding="utf-8").splitlines()

    def save(self, lines: list[str]) -> None:
        self.path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def replace(self, old: str, new: str) -> None:
        text = self.path.read_text(encoding="utf-8")
        assert old in text, old
        self.path.write_text(text.replace(old, new, 1), encoding="utf-8")

    def tasks(self, project: str, block: str) -> None:
        """Give a project ``tasks:`` (YAML under it, indented as if at column 0)."""
        lines = self.lines()
        start = lines.index(f"- name: {project}")
        at = lines.index("  tasks: {}", start)
        lines[at : at + 1] = [
            "  tasks:",
            *("    " + line for line in block.strip("\n").split("\n")),
        ]
        self.save(lines)

    def line_of(self, needle: str) -> int:
        """The 1-based number of the (last) line that contains ``needle``."""
        found = [n for n, line in enumerate(self.lines(), 1) if needle in line]
        assert found, needle
        return found[-1]

    def refused(self) -> str:
        """The message and fix of the ConfigError that opening the workspace raises."""
        with pytest.raises(ConfigError) as caught:
            Workspace.open(self.root)
        return str(caught.value)

    def opened(self) -> Workspace:
        return Workspace.open(self.root)


def names_line(message: str, config: Config, needle: str, key: str) -> None:
    """The message names the line holding ``needle`` and the key path ``key``."""
    line = config.line_of(needle)
    assert f"line {line}, key {key}" in message, (line, key, message)


def load_samples(root: Path, contacts: int = 12) -> None:
    sales = Workspace.open(root).sales()
    try:
        sales.load(sample_document(contacts))
    finally:
        sales.close()


def nothing_written(root: Path) -> None:
    """F&O (and the CDS hub) hold no synchronized record, and the state database no run."""
    finops = FinOpsSandbox(root / "sandbox" / "finops.db")
    try:
        assert finops.count("CustomersV2") == 0
        assert finops.count("CDSContactPersons") == 0
    finally:
        finops.close()
    if (root / "sandbox" / "cds.db").exists():
        cds = CDSHub(root / "sandbox" / "cds.db")
        try:
            assert cds.count("Contact") == cds.count("Account") == 0
        finally:
            cds.close()
    state = StateStore(f"sqlite:///{root / 'state.db'}")
    try:
        assert state.runs(10) == []
    finally:
        state.close()


@dataclass(frozen=True)
class Done:
    code: int
    stdout: str
    stderr: str


def p2c(*args: object) -> Done:
    """``python -m p2c ARGS`` in a process of its own, as a user runs it."""
    environment = {k: v for k, v in os.environ.items() if k not in ("P2C_WORKSPACE", "P2C_DEBUG")}
    environment["PYTHONIOENCODING"] = "utf-8"
    environment["COLUMNS"] = "200"
    done = subprocess.run(
        [sys.executable, "-m", "p2c", *map(str, args)],
        capture_output=True,
        encoding="utf-8",
        env=environment,
        timeout=300,
        check=False,
    )
    return Done(done.returncode, done.stdout, done.stderr)


def one_line(text: str) -> str:
    """Terminal output with its wrapping undone."""
    return re.sub(r"\s+", " ", text)
