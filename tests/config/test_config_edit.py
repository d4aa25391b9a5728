"""Editing p2c.yaml (`ConfigEditor`): each edit keeps every comment and the layout, is
checked exactly as p2c.yaml is checked when a workspace opens, and is written atomically
only when it passes and the file is still the text it was made from."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from edit_helpers import ACCOUNTS, CONTACTS, CUSTOMERS, commented_workspace, comments
from ruamel.yaml import YAML

from p2c import ConfigError, NotFoundError
from p2c.config import ConfigChange, ConfigChanged, ConfigEditor
from p2c.service import Notify, Schedule
from p2c.templates import Default, ValueMap
from p2c.workspace import CONFIG_FILE, Workspace, init_workspace

Edit = Callable[[ConfigEditor], ConfigChange]

EDITS: dict[str, Edit] = {
    "a new mapping": lambda e: e.set_mapping(CONTACTS, "Contacts", "Notes", "jobtitle"),
    "a value map row": lambda e: e.set_mapping(
        CONTACTS,
        "Contacts",
        "PrimaryAddressCountryRegionISOCode",
        {
            "from": "address1_country",
            "value_map": {"": "USA", "Sweden": "SWE", "Norway": "NOR", "Denmark": "DNK"},
            "else": "USA",
        },
    ),
    "a value map row less": lambda e: e.set_mapping(
        CONTACTS,
        "Contacts",
        "PrimaryAddressCountryRegionISOCode",
        {"from": "address1_country", "value_map": {"": "USA", "Sweden": "SWE"}, "else": "USA"},
    ),
    "a mapping change undone": lambda e: e.reset_mapping(
        CONTACTS, "Contacts", "PrimaryAddressCountryRegionISOCode"
    ),
    "a removed field given back": lambda e: e.reset_mapping(
        CONTACTS, "Contacts", "EmploymentDepartment"
    ),
    "the last change of a task undone": lambda e: e.reset_mapping(
        CUSTOMERS, "ContactToCustomer", "WarehouseId"
    ),
    "a field removed": lambda e: e.remove_mapping(CUSTOMERS, "ContactToCustomer", "SiteId"),
    "a filter": lambda e: e.set_filter(
        ACCOUNTS, "Accounts - Customers", "address1_country ne 'Norway'"
    ),
    "a schedule": lambda e: e.set_schedule(
        CONTACTS, Schedule(cron="0 6 * * 1-5", timezone="Europe/Oslo", paused=True)
    ),
    "no schedule": lambda e: e.set_schedule(CONTACTS, None),
    "recipients": lambda e: e.set_notify(
        CUSTOMERS, Notify(email=["ops@example.com", "sales@example.com"], on=["error"])
    ),
    "no recipients": lambda e: e.set_notify(CUSTOMERS, None),
    "a new project": lambda e: e.add_project(
        "Contacts (Contoso Sales)", CONTACTS, "sandbox", "Contoso Sales", alias="cs"
    ),
}


@pytest.fixture
def commented(tmp_path: Path) -> Path:
    return commented_workspace(tmp_path / "ws")


@pytest.mark.parametrize("name", list(EDITS))
def test_every_edit_keeps_every_comment(commented: Path, name: str) -> None:
    before = (commented / CONFIG_FILE).read_text(encoding="utf-8")
    change = EDITS[name](ConfigEditor.open(commented))
    assert change.error is None, change.error
    assert change.changed
    change.save()
    after = (commented / CONFIG_FILE).read_text(encoding="utf-8")
    assert after == change.after
    assert comments(after) == comments(before), change.diff()
    Workspace.open(commented)  # and the saved file opens


def test_edits_show_in_the_opened_workspace(commented: Path) -> None:
    for name in ("a value map row", "a field removed", "a filter", "a schedule", "recipients"):
        EDITS[name](ConfigEditor.open(commented)).save()
    ws = Workspace.open(commented)
    contacts = ws.project(CONTACTS).effective_template(ws.templates).tasks[0].legs[0]
    country = contacts.map["PrimaryAddressCountryRegionISOCode"]
    assert isinstance(country, ValueMap)
    assert country.value_map == {"": "USA", "Sweden": "SWE", "Norway": "NOR", "Denmark": "DNK"}
    assert country.has_else and country.otherwise == "USA"
    customers = ws.project(CUSTOMERS).effective_template(ws.templates).tasks[0].legs[0]
    assert "SiteId" not in customers.map
    assert ws.project(CUSTOMERS).notify == Notify(
        email=["ops@example.com", "sales@example.com"], on=["error"]
    )
    accounts = ws.project(ACCOUNTS).effective_template(ws.templates).tasks[0].legs[0]
    assert accounts.source.filter == "address1_country ne 'Norway'"
    schedule = ws.project(CONTACTS).schedule
    assert schedule == Schedule(cron="0 6 * * 1-5", timezone="Europe/Oslo", paused=True)


def test_a_value_map_row_changes_one_line(commented: Path) -> None:
    change = EDITS["a value map row"](ConfigEditor.open(commented))
    changed = [line for line in change.diff().splitlines()[2:] if line[:1] in "+-"]
    assert changed == ["+            Denmark: DNK"]


def test_undoing_every_change_gives_the_template_back(tmp_path: Path) -> None:
    init_workspace(tmp_path / "ws")
    root = tmp_path / "ws"
    fresh = (root / CONFIG_FILE).read_text(encoding="utf-8")
    site = Default.model_validate({"default": "1"})
    ConfigEditor.open(root).set_mapping(CUSTOMERS, "ContactToCustomer", "SiteId", site).save()
    ConfigEditor.open(root).remove_mapping(
        CUSTOMERS, "ContactToCustomer", "PersonMiddleName"
    ).save()
    ConfigEditor.open(root).set_filter(CUSTOMERS, "ContactToCustomer", "all").save()
    text = (root / CONFIG_FILE).read_text(encoding="utf-8")
    assert 'SiteId: {default: "1"}' in text and "remove: [PersonMiddleName]" in text
    assert "filter: all" in text
    ConfigEditor.open(root).reset_mapping(CUSTOMERS, "ContactToCustomer", "SiteId").save()
    ConfigEditor.open(root).reset_mapping(CUSTOMERS, "ContactToCustomer", "PersonMiddleName").save()
    ConfigEditor.open(root).set_filter(CUSTOMERS, "ContactToCustomer", None).save()
    assert (root / CONFIG_FILE).read_text(encoding="utf-8") == fresh


def test_text_that_yaml_reads_as_another_kind_is_quoted(tmp_path: Path) -> None:
    init_workspace(tmp_path / "ws")
    root = tmp_path / "ws"
    table = {"true": "No", "false": "Yes", "": "Yes", "1": "on"}
    value = {"from": "donotemail", "value_map": table}
    change = ConfigEditor.open(root).set_mapping(
        CONTACTS, "Contacts", "IsReceivingDirectMail", value
    )
    assert '{"true": "No", "false": "Yes", "": "Yes", "1": "on"}' in change.after
    assert change.error is not None  # "on" is no NoYes: refused, and read as the text "on"
    assert "'on' does not fit IsReceivingDirectMail" in change.error.message


def test_a_refused_edit_says_what_opening_the_file_would_say(commented: Path) -> None:
    before = (commented / CONFIG_FILE).read_text(encoding="utf-8")
    change = ConfigEditor.open(commented).set_mapping(
        CUSTOMERS, "ContactToCustomer", "SiteID", {"default": "1"}
    )
    assert change.error is not None
    # The same message as the file with the edit gets when a workspace opens.
    copy = commented.parent / "copy"
    shutil.copytree(commented, copy)
    (copy / CONFIG_FILE).write_text(change.after, encoding="utf-8")
    with pytest.raises(ConfigError) as opened:
        Workspace.open(copy)
    assert str(change.error) == str(opened.value)
    assert "key projects.2.tasks.ContactToCustomer.map.SiteID" in change.error.message
    assert "did you mean 'SiteId'?" in (change.error.fix or "")
    with pytest.raises(ConfigError) as saving:
        change.save()
    assert saving.value is change.error
    assert (commented / CONFIG_FILE).read_text(encoding="utf-8") == before


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda e: e.set_filter(CONTACTS, "Contacts", "lastname eq"), "filter"),
        (lambda e: e.set_filter(CONTACTS, "Contacts", ""), "the filter is empty"),
        (lambda e: e.set_mapping(CONTACTS, "Contact", "Notes", "x"), "did you mean 'Contacts'"),
        (lambda e: e.set_mapping(CONTACTS, "Contacts", "Notes", {"fn": "upper"}), "needs from"),
        (lambda e: e.add_project(CONTACTS, CONTACTS), "is defined twice"),
        (lambda e: e.add_project("X", "Contacts - Direct"), "no template 'Contacts - Direct'"),
        (lambda e: e.add_project("X", CONTACTS, "production"), "no connection set 'production'"),
        (lambda e: e.remove_mapping(CONTACTS, "Contacts", "ContactPersonPartyNumber"), "key"),
    ],
)
def test_refused_edits(commented: Path, edit: Edit, says: str) -> None:
    change = edit(ConfigEditor.open(commented))
    assert change.error is not None
    assert says in str(change.error)


def test_a_file_changed_since_it_was_read_is_not_overwritten(commented: Path) -> None:
    editor = ConfigEditor.open(commented)
    change = editor.set_mapping(CONTACTS, "Contacts", "Notes", "jobtitle")
    # Someone else saves first.
    ConfigEditor.open(commented).set_schedule(CONTACTS, Schedule(every="5m")).save()
    theirs = (commented / CONFIG_FILE).read_text(encoding="utf-8")
    with pytest.raises(ConfigChanged) as caught:
        change.save()
    assert "changed since it was read" in caught.value.message
    assert (commented / CONFIG_FILE).read_text(encoding="utf-8") == theirs
    with pytest.raises(ConfigChanged):
        ConfigEditor.open(commented, expect=change.digest)
    now = ConfigEditor.open(commented)
    assert ConfigEditor.open(commented, expect=now.digest).text == theirs


def test_saving_is_atomic_and_keeps_the_mode(commented: Path) -> None:
    path = commented / CONFIG_FILE
    path.chmod(0o600)
    ConfigEditor.open(commented).set_mapping(CONTACTS, "Contacts", "Notes", "jobtitle").save()
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in commented.iterdir() if p.name.startswith(".")) == []


def test_a_project_that_does_not_exist(commented: Path) -> None:
    with pytest.raises(NotFoundError, match="no project 'Nope'"):
        ConfigEditor.open(commented).set_filter("Nope", "Contacts", "all")


def test_via_cds_legs(tmp_path: Path) -> None:
    init_workspace(tmp_path / "ws", via_cds=True)
    root = tmp_path / "ws"
    project = "Contacts (Sales to Fin and Ops)"
    first, last = "Source > CDS", "CDS > Destination"
    # The first leg's map goes under legs:, the last leg's under the task itself.
    change = ConfigEditor.open(root).set_mapping(project, "Contacts", "JobTitle", "lastname", first)
    change.save()
    change = ConfigEditor.open(root).set_mapping(
        project, "Contacts", "Notes", {"default": "x"}, last
    )
    change.save()
    change = ConfigEditor.open(root).set_filter(project, "Contacts", "all", last)
    change.save()
    text = (root / CONFIG_FILE).read_text(encoding="utf-8")
    assert (
        "      legs:\n        Source > CDS:\n          map:\n            JobTitle: lastname" in text
    )
    assert (
        "        CDS > Destination:\n          filter: all\n"
        "      map:\n        Notes: {default: x}\n" in text
    )
    ws = Workspace.open(root)
    legs = ws.project(project).effective_template(ws.templates).tasks[0].legs
    assert legs[0].map["JobTitle"].source == "lastname"
    assert legs[1].map["Notes"] == Default.model_validate({"default": "x"})
    assert legs[1].source.filter is None
    # Undone, the legs: entry goes too.
    ConfigEditor.open(root).reset_mapping(project, "Contacts", "JobTitle", first).save()
    ConfigEditor.open(root).set_filter(project, "Contacts", None, last).save()
    assert "legs:" not in (root / CONFIG_FILE).read_text(encoding="utf-8")


def test_a_file_indented_otherwise_keeps_its_indentation(tmp_path: Path) -> None:
    init_workspace(tmp_path / "ws")
    root = tmp_path / "ws"
    yaml = YAML()
    yaml.indent(mapping=4, sequence=4, offset=2)  # `  - name:`, keys four deep
    data = yaml.load((root / CONFIG_FILE).read_text(encoding="utf-8"))
    with (root / CONFIG_FILE).open("w", encoding="utf-8") as file:
        yaml.dump(data, file)
    assert "\n  - name: " in (root / CONFIG_FILE).read_text(encoding="utf-8")
    change = ConfigEditor.open(root).set_mapping(CONTACTS, "Contacts", "Notes", "jobtitle")
    assert change.error is None
    changed = [line for line in change.diff().splitlines()[2:] if line[:1] in "+-"]
    assert changed == [
        "-    tasks: {}",
        "+    tasks:",
        "+        Contacts:",
        "+            map:",
        "+                Notes: jobtitle",
    ]
