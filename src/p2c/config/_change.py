"""One edit of a workspace file, made and checked but not yet written: the new text, its
unified diff, and what the checks of p2c.yaml say about it (`ConfigChange`)."""

from __future__ import annotations

__all__ = ["ConfigChange", "ConfigChanged", "check_text", "read_text"]

import difflib
import threading
from dataclasses import dataclass
from pathlib import Path

from p2c._errors import ConfigError
from p2c._yamlfile import parse_document
from p2c.config._check import check_workspace
from p2c.config._document import digest_of, write_atomically
from p2c.templates import BUILTIN, TemplateCatalog

# One save at a time in this process (the admin center's threads): the check that the file
# is as it was read, and the replace, go together.
_SAVING = threading.Lock()


class ConfigChanged(ConfigError):
    """The file changed after it was read (another edit, or a person with an editor); the
    edit was made against the old text and is not written."""


def read_text(path: Path) -> str | None:
    """A file's text; None when it does not exist."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def check_text(text: str, path: Path, root: Path, catalog: TemplateCatalog | None = None) -> None:
    """Check a p2c.yaml text exactly as `Workspace.open` checks the file: YAML, the models,
    then `check_workspace` with the workspace's templates (``catalog``, by default the
    built-in ones and ``root/templates``).

    Raises:
        ConfigError: what opening the workspace would say, lines and keys of ``text``.
    """
    from p2c.workspace import TEMPLATES_FOLDER, WorkspaceConfig  # it imports this package

    config, lines = parse_document(text, path, WorkspaceConfig)
    check_workspace(config, lines, root, catalog or BUILTIN.extended(root / TEMPLATES_FOLDER))


@dataclass(frozen=True)
class ConfigChange:
    """An edit of one file of a workspace, not written yet.

    Attributes:
        root: The workspace folder.
        path: The file: p2c.yaml, or a template under ``templates/``.
        summary: What the edit does, in a line (for the audit log and messages).
        before: The text the edit was made from; None when the file is new.
        after: The text with the edit.
        error: Why the checks refuse the edited text; None when they pass. A refused change
            cannot be saved.
    """

    root: Path
    path: Path
    summary: str
    before: str | None
    after: str
    error: ConfigError | None = None

    @property
    def name(self) -> str:
        """The file's path in the workspace: ``p2c.yaml``, ``templates/x.yaml``."""
        try:
            return self.path.relative_to(self.root).as_posix()
        except ValueError:
            return self.path.name

    @property
    def digest(self) -> str | None:
        """The SHA-256 of the text the edit was made from; None for a new file."""
        return None if self.before is None else digest_of(self.before)

    @property
    def proposal(self) -> str:
        """The SHA-256 of the edited text: a save can name the text a person was shown."""
        return digest_of(self.after)

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        """The unified diff of the file, ``--- p2c.yaml`` / ``+++ p2c.yaml``; empty when the
        edit changes nothing."""
        before = (self.before or "").splitlines(keepends=True)
        after = self.after.splitlines(keepends=True)
        old = "/dev/null" if self.before is None else self.name
        return "".join(difflib.unified_diff(before, after, old, self.name))

    def save(self) -> None:
        """Write the file atomically (a temporary file, then `os.replace`).

        Raises:
            ConfigError: the checks refuse the edited text (``error``); nothing is written.
            ConfigChanged: the file is not what the edit was made from (changed since it was
                read, or a new file that exists now); nothing is written.
        """
        if self.error is not None:
            raise self.error
        with _SAVING:
            now = read_text(self.path)
            if self.before is None and now is not None:
                raise ConfigChanged(
                    f"{self.name} exists already; nothing was written.",
                    fix="choose another name, or remove the file first",
                )
            if self.before is not None and (now is None or digest_of(now) != self.digest):
                raise ConfigChanged(
                    f"{self.name} changed since it was read (another edit, or someone "
                    "editing the file); this edit was made against the old text, so nothing "
                    "was written.",
                    fix="read the file again and make the edit again",
                )
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, self.after)
