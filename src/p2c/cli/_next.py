"""What ``p2c quickstart`` suggests trying next: commands that work as printed, from the
folder the user is in (the path of this very p2c when ``p2c`` is not on the PATH, e.g. right
after the README's set-up, which leaves it in ``.venv/bin``)."""

from __future__ import annotations

__all__ = ["how_to_call", "try_next"]

import shlex
import shutil
import sys
from pathlib import Path

from p2c.cli._render import out, print_wrapped


def _shown(path: Path) -> str:
    """A path as the user would type it here: relative when under the current folder."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path.absolute())


def how_to_call() -> tuple[str, str | None]:
    """How to call this very p2c from the current folder, and how to put it on the PATH
    (activate its virtual environment) when ``p2c`` alone would not find it."""
    program = Path(sys.argv[0])
    if program.name == "__main__.py":  # python -m p2c
        command = f"{shlex.quote(_shown(Path(sys.executable)))} -m p2c"
    else:
        found = shutil.which("p2c")
        if found and Path(found).resolve() == program.resolve():
            return "p2c", None
        command = shlex.quote(_shown(program))
    if sys.prefix == sys.base_prefix:
        return command, None
    activate = Path(sys.prefix) / "bin" / "activate"
    return command, f"source {shlex.quote(_shown(activate))}"


def try_next(directory: Path) -> None:
    me, activate = how_to_call()
    folder = shlex.quote(str(directory))
    steps = [
        (f"sandbox export finops CustomersV2 -w {folder}", "customers in F&O"),
        (f"sandbox export finops CDSContactPersons -w {folder}", "contact persons"),
        (f"history -w {folder}", "execution history"),
        (f"run -w {folder}", "again: nothing changes"),
        (f"run customer -w {folder}", "one project, by a word of its name"),
    ]
    out.print("\nTry next:")
    commands = [f"  {me} {command}" for command, _ in steps]
    width = max(len(c) for c in commands) + 2
    one_line = width + max(len(what) for _, what in steps) + 2 <= out.width
    for command, (_, what) in zip(commands, steps, strict=True):
        text = f"{command.ljust(width)}# {what}" if one_line else f"  # {what}\n{command}"
        out.print(text, markup=False)
    edit = f"{shlex.quote(str(directory / 'p2c.yaml'))} (e.g. add SiteId to ContactToCustomer)"
    print_wrapped(f"# then edit {edit} and run again", indent=2)
    if activate:
        print_wrapped(f"(`{activate}` puts p2c on the PATH of this shell.)")
