"""Configuration checks: what p2c.yaml says, checked against the model of Dynamics before
any run writes, each mistake named by its line, its key and the fix (exit status 2).

`check_workspace` runs when a workspace is opened (``Workspace.open``), so every command
benefits: projects, mappings leg by leg, filters, organization mappings and connection
settings. `check_organizations` needs the systems (business units, legal entities, CDS
organizations exist): the engine calls it at the start of every run, and
``p2c connections test`` after the sign-in checks.

`record_fix` tells what to do about a record the destination refused, from its reason and
the project's effective mapping of the field it names (the admin center and ``p2c errors``).

`ConfigEditor` edits p2c.yaml (new project, mappings, filters, schedule, notification
recipients, "Save as template") keeping its comments and layout; each edit is a
`ConfigChange` checked with `check_text`, the same checks, before ``save()`` writes it.
"""

from p2c.config._change import ConfigChange, ConfigChanged, check_text
from p2c.config._check import check_workspace
from p2c.config._edit import ConfigEditor, transform_yaml
from p2c.config._filters import MAX_FILTER_DEPTH, READ_ALL
from p2c.config._fixes import record_fix
from p2c.config._organizations import check_organizations
from p2c.config._saved import template_file_name

__all__ = [
    "MAX_FILTER_DEPTH",
    "READ_ALL",
    "ConfigChange",
    "ConfigChanged",
    "ConfigEditor",
    "check_organizations",
    "check_text",
    "check_workspace",
    "record_fix",
    "template_file_name",
    "transform_yaml",
]
