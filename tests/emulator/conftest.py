"""Fixtures of the emulator tests: a via-CDS workspace with Sales data, the emulator serving
it over HTTPS on loopback, and an authenticated client.

The workspace is made once and copied for each test that writes; read-only tests share one
emulator per module.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from emulator_helpers import DOCUMENT, Api

from p2c.emulator import EmulatorSettings, RunningEmulator, serve
from p2c.workspace import Workspace, init_workspace


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template") / "ws"
    init_workspace(root, via_cds=True)
    sales = Workspace.open(root).sales()
    sales.load(DOCUMENT)
    sales.close()
    return root


@pytest.fixture
def workspace(template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "ws"))


@pytest.fixture
def running(workspace: Path) -> Iterator[RunningEmulator]:
    with serve(workspace, EmulatorSettings()) as emulator:
        yield emulator


@pytest.fixture
def api(running: RunningEmulator) -> Iterator[Api]:
    client = Api(running)
    yield client
    client.close()


@pytest.fixture(scope="module")
def reader(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A client of an emulator shared by a module's read-only tests."""
    root = Path(shutil.copytree(template, tmp_path_factory.mktemp("shared") / "ws"))
    with serve(root) as emulator:
        client = Api(emulator)
        yield client
        client.close()
