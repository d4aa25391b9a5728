"""Helpers of the editing tests: a p2c.yaml written by a person, with comments on every
level (above keys, after values, between value-map rows, at the end), and what a text's
comments are."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from p2c.workspace import CONFIG_FILE, init_workspace

ACCOUNTS = "Accounts (Sales to Fin and Ops) - Direct"
CONTACTS = "Contacts (Sales to Fin and Ops) - Direct"
CUSTOMERS = "Contacts to Customer (Sales to Fin and Ops) - Direct"

COMMENTED = f"""\
# Our p2c workspace: Contoso's Sales to F&O.
# Owner: the integration team.
version: 1
generation: direct  # the Data Integrator's direct templates
connection_sets:
  # The sandbox, for trying mappings before production.
  sandbox:
    sales:
      type: sandbox
      path: sandbox/sales.db  # relative to the workspace
      set_wise: true
    finops:
      type: sandbox
      path: sandbox/finops.db
      set_wise: true
    organizations:
    # One company for now.
    - business_unit: Contoso Sales
      legal_entity: usmf  # US manufacturing
      cds_organization: ORG001
state:
  url: sqlite:///state.db
  retention_days: 45  # the Data Integrator keeps 45 days
  settle_seconds: 5.0
projects:
# Accounts first: contacts point at their company.
- name: {ACCOUNTS}
  template: {ACCOUNTS}
  connection_set: sandbox
  tasks: {{}}  # as the template maps them
- name: {CONTACTS}
  template: {CONTACTS}  # contact persons
  connection_set: sandbox
  tasks:
    Contacts:
      # Country names as our Sales users type them.
      map:
        PrimaryAddressCountryRegionISOCode:
          from: address1_country
          value_map:
            "": USA  # empty means the US
            # the Nordics
            Sweden: SWE
            Norway: NOR
            # end of the Nordics
          else: USA
        Notes: description  # as Sales has it
        # no departments in F&O
      remove: [EmploymentDepartment]  # not used
      # end of Contacts
  schedule: {{every: 1h}}  # hourly
- name: {CUSTOMERS}
  template: {CUSTOMERS}
  connection_set: sandbox
  # Customers need a site and a warehouse.
  tasks:
    ContactToCustomer:
      map:
        SiteId: {{default: "1"}}  # main site
        WarehouseId: {{default: "13"}}
  notify:
    email: [ops@example.com]  # the on-call mailbox
# The end of p2c.yaml.
"""


def commented_workspace(root: Path) -> Path:
    """A workspace of the direct generation whose p2c.yaml is `COMMENTED`."""
    init_workspace(root)
    (root / CONFIG_FILE).write_text(COMMENTED, encoding="utf-8")
    return root


_COMMENT = re.compile(r"(?:^|\s)(#.*)$")


def comments(text: str) -> Counter[str]:
    """Every comment of a YAML text (outside quotes: none of this file's quotes hold #)."""
    found: Counter[str] = Counter()
    for line in text.splitlines():
        match = _COMMENT.search(line)
        if match:
            found[match.group(1).strip()] += 1
    return found
