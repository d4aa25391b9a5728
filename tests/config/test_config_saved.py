"""Save as template (`ConfigEditor.save_as_template`): the project's effective template
written as ``templates/NAME.yaml``, read back the same, usable for a new project."""

from __future__ import annotations

from pathlib import Path

import pytest
from edit_helpers import CONTACTS, commented_workspace

from p2c import ConfigError
from p2c.config import ConfigChanged, ConfigEditor, template_file_name
from p2c.workspace import CONFIG_FILE, Workspace, init_workspace


@pytest.fixture
def commented(tmp_path: Path) -> Path:
    return commented_workspace(tmp_path / "ws")


def test_a_saved_template_is_the_project_with_its_changes(commented: Path) -> None:
    config = (commented / CONFIG_FILE).read_text(encoding="utf-8")
    change = ConfigEditor.open(commented).save_as_template(CONTACTS, "Contoso contacts")
    assert change.error is None, change.error
    assert change.name == "templates/contoso-contacts.yaml"
    assert change.diff().startswith("--- /dev/null\n+++ templates/contoso-contacts.yaml\n")
    change.save()
    assert (commented / CONFIG_FILE).read_text(encoding="utf-8") == config  # p2c.yaml as it was
    ws = Workspace.open(commented)
    saved = ws.templates.get("Contoso contacts")
    effective = ws.project(CONTACTS).effective_template(ws.templates)
    assert saved.tasks == effective.tasks
    assert saved.requires == effective.requires and saved.generation == "direct"
    assert "EmploymentDepartment" not in saved.tasks[0].legs[0].map  # the project removed it
    # A new project made from it needs no changes to do the same.
    ConfigEditor.open(commented).add_project("Contoso", "Contoso contacts").save()
    ws = Workspace.open(commented)
    assert ws.project("Contoso").effective_template(ws.templates).tasks == effective.tasks


def test_a_taken_name_is_refused(commented: Path) -> None:
    with pytest.raises(ConfigError, match="exists already"):
        ConfigEditor.open(commented).save_as_template(CONTACTS, CONTACTS)
    change = ConfigEditor.open(commented).save_as_template(CONTACTS, "Mine")
    other = ConfigEditor.open(commented).save_as_template(CONTACTS, "mine")  # the same file
    change.save()
    with pytest.raises(ConfigChanged, match="exists already"):
        other.save()
    with pytest.raises(ConfigError, match="exists already"):
        ConfigEditor.open(commented).save_as_template(CONTACTS, "Mine")


def test_a_via_cds_project_keeps_its_legs(tmp_path: Path) -> None:
    init_workspace(tmp_path / "ws", via_cds=True)
    root = tmp_path / "ws"
    project = "Contacts (Sales to Fin and Ops)"
    ConfigEditor.open(root).set_mapping(
        project, "Contacts", "JobTitle", "lastname", "Source > CDS"
    ).save()
    ConfigEditor.open(root).save_as_template(project, "Two legs").save()
    ws = Workspace.open(root)
    legs = ws.templates.get("Two legs").tasks[0].legs
    assert [leg.name for leg in legs] == ["Source > CDS", "CDS > Destination"]
    assert legs[0].map["JobTitle"].source == "lastname"


def test_file_names() -> None:
    assert template_file_name("Contacts (Contoso) - Direct") == "contacts-contoso-direct.yaml"
    assert template_file_name("!!!") == "template.yaml"
