"""Configuration checks: what p2c.yaml says, checked against the model of Dynamics before
any run writes, each mistake named by its line, its key and the fix (exit status 2).

`check_workspace` runs when a workspace is opened (``Workspace.open``), so every command
benefits: projects, mappings leg by leg, filters, organization mappings and connection
settings. `check_organizations` needs the systems (business units, legal entities, CDS
organizations exist): the engine calls it at the start of every run, and
``p2c connections test`` after the sign-in checks.
"""

from p2c.config._check import check_workspace
from p2c.config._filters import MAX_FILTER_DEPTH, READ_ALL
from p2c.config._organizations import check_organizations

__all__ = ["MAX_FILTER_DEPTH", "READ_ALL", "check_organizations", "check_workspace"]
