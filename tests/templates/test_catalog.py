"""Where templates come from: the built-in ones and a workspace's own folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2c import ConfigError, NotFoundError
from p2c.templates import BUILTIN

OWN = """\
name: Own contacts
generation: direct
tasks:
  - name: Contacts
    source: {system: sales, entity: contacts}
    destination:
      system: finops
      entity: CDSContactPersons
      key: [dataAreaId, ContactPersonPartyNumber, AssociatedPartyNumber]
    map: {ContactPersonPartyNumber: msdynce_contactnumber}
"""


def test_a_folder_adds_its_templates_to_the_built_in_ones(tmp_path: Path) -> None:
    (tmp_path / "own.yaml").write_text(OWN, encoding="utf-8")
    catalog = BUILTIN.extended(tmp_path)
    assert catalog.get("Own contacts").tasks[0].name == "Contacts"
    assert set(BUILTIN.all()) < set(catalog.all())
    assert "Own contacts" in catalog.names("direct")
    assert "Own contacts" not in BUILTIN.all()


def test_a_missing_folder_has_no_templates(tmp_path: Path) -> None:
    assert BUILTIN.extended(tmp_path / "none").all() == BUILTIN.all()


def test_a_template_may_not_take_a_built_in_name(tmp_path: Path) -> None:
    name = next(iter(BUILTIN.all()))
    (tmp_path / "copy.yaml").write_text(OWN.replace("Own contacts", name), encoding="utf-8")
    with pytest.raises(ConfigError, match="exists already"):
        BUILTIN.extended(tmp_path).all()


def test_a_bad_template_file_names_its_line_and_key(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(OWN.replace("generation: direct", "generation: 3"))
    with pytest.raises(ConfigError, match=r"bad.yaml line 2, key generation"):
        BUILTIN.extended(tmp_path).all()


def test_an_unknown_template_names_the_nearest_one() -> None:
    with pytest.raises(NotFoundError) as caught:
        BUILTIN.get("Contacts (Sales to Fin and Ops) - Drect")
    assert "did you mean 'Contacts (Sales to Fin and Ops) - Direct'?" in (caught.value.fix or "")
