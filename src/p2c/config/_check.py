"""The checks of a validated p2c.yaml, in one call (`check_workspace`)."""

from __future__ import annotations

__all__ = ["check_workspace"]

from pathlib import Path
from typing import TYPE_CHECKING

from p2c._yamlfile import YamlLines
from p2c.config._connections import check_connections
from p2c.config._organizations import check_mappings
from p2c.config._problems import refuse
from p2c.config._projects import check_projects
from p2c.templates import BUILTIN, TemplateCatalog

if TYPE_CHECKING:
    from p2c.workspace import WorkspaceConfig


def check_workspace(
    config: WorkspaceConfig, lines: YamlLines, root: Path, catalog: TemplateCatalog = BUILTIN
) -> WorkspaceConfig:
    """Check a validated p2c.yaml against the model of Dynamics; the projects' templates
    come from ``catalog``.

    Returns:
        The configuration with constants in their fields' form (``SiteId: {default: 1}``
        gives SiteId the text ``"1"``, as F&O would take it).

    Raises:
        ConfigError: every problem found, each with its line, key and fix.
    """
    projects, problems = check_projects(config, lines, catalog)
    problems += check_mappings(config, lines)
    problems += check_connections(config, root)
    refuse(problems, lines)
    return config.model_copy(update={"projects": projects})
