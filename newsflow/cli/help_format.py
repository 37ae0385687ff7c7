"""Help pages that read like prose: Typer's rich help shows each option's Python type
(``<bool>``, ``<int range>``) and keeps the hard line breaks of every docstring paragraph
after the first. Typer (0.2x) vendors its own click, so this module only duck-types the
command objects. ``tidy`` walks the command tree once before it runs: flags get no type,
values a plain one (``INT``, ``NUMBER``, ``TEXT``, ``PATH``), and paragraphs
are re-flowed to the terminal width."""

from __future__ import annotations

from typing import Any

# Typer's type label (``<int range>``) or click's type name -> what the help column shows
PLAIN_TYPES = {
    "bool": "",
    "boolean": "",
    "int": "INT",
    "int range": "INT",
    "integer": "INT",
    "integer range": "INT",
    "float": "NUMBER",
    "float range": "NUMBER",
    "str": "TEXT",
    "text": "TEXT",
    "path": "PATH",
    "file": "FILE",
}


def reflow(text: str | None) -> str | None:
    """Join the lines of each paragraph; keep paragraphs that are laid out on purpose (click's
    ``\\b`` marker, indented code, lists)."""
    if not text:
        return text
    paragraphs = text.strip().split("\n\n")  # Typer hands over the cleaned docstring
    out = []
    for paragraph in paragraphs:
        lines = paragraph.splitlines()
        laid_out = paragraph.startswith("\b") or any(
            line.startswith((" ", "\t", "- ", "* ", "$ ")) for line in lines
        )
        out.append(paragraph if laid_out else " ".join(line.strip() for line in lines))
    return "\n\n".join(out)


def _type_label(param: Any, ctx: Any) -> str:
    display_type = getattr(param, "display_type", None)  # Typer's parameters
    if callable(display_type):
        return str(display_type(ctx)).strip("<>")
    return str(getattr(getattr(param, "type", None), "name", "value"))


def _metavar(param: Any, ctx: Any) -> str:
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    label = _type_label(param, ctx)
    return PLAIN_TYPES.get(label, label.upper())


def _no_type(ctx: Any = None) -> None:
    return None


def tidy(command: Any) -> Any:
    """Set plain metavars and re-flow the help of ``command`` and every subcommand."""
    ctx = command.context_class(command, info_name=command.name)
    help_option = command.get_help_option(ctx)  # cached by click: the one --help renders
    for param in [*command.params, *([help_option] if help_option else [])]:
        if param.param_type_name == "argument":
            # An argument's name is its label; Typer's type column beside it is the noise.
            if callable(getattr(param, "display_type_rich", None)):
                setattr(param, "display_type_rich", _no_type)  # noqa: B010
        elif param.metavar is None:
            param.metavar = _metavar(param, ctx)
    command.help = reflow(command.help)
    # Typer's group class is a click.Command with a ``commands`` mapping, not a click.Group.
    for sub in (getattr(command, "commands", None) or {}).values():
        tidy(sub)
    return command
