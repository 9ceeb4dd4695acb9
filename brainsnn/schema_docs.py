"""Generate the Markdown reference of every protocol key from the pydantic schema.

The reference is embedded in ``protocols/README.md`` between :data:`BEGIN` and :data:`END`;
``tests/test_docs.py`` checks that it is current. Regenerate it with::

    python -m brainsnn.schema_docs --write protocols/README.md
"""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

import annotated_types
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from brainsnn.kinds import DEFAULT_KIND, all_kinds

BEGIN = "<!-- BEGIN GENERATED -->"
END = "<!-- END GENERATED -->"
#: Descriptions of keys whose schema field has none (move them into protocol.py when possible).
FALLBACK_DESCRIPTIONS = {
    "name": "name of the experiment; fills {name} in output.directory",
    "description": "free text, kept in the run directory's protocol.yaml",
    "network.weights.mean": "mean of the initial weight distribution",
    "network.weights.std": "standard deviation of the initial weight distribution",
    "training.max_epochs": "maximum number of training epochs",
}
_BOUNDS = (
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Ge, "ge", "≥"),
    (annotated_types.Lt, "lt", "<"),
    (annotated_types.Le, "le", "≤"),
)


def _is_section(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _optional_section(annotation: Any) -> type[BaseModel] | None:
    """The section of an opt-in field typed ``Section | None``, else None."""
    if typing.get_origin(annotation) in (types.UnionType, typing.Union):
        sections = [arg for arg in typing.get_args(annotation) if _is_section(arg)]
        return sections[0] if len(sections) == 1 else None
    return None


def _type_name(annotation: Any) -> str:
    """A readable name for a field's type annotation."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is type(None):
        return "null"
    if origin is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in args)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(arg) for arg in args)
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"mapping {_type_name(args[0])} → {_type_name(args[1])}"
    return getattr(annotation, "__name__", str(annotation))


def _constraints(info: FieldInfo) -> str:
    parts = [
        f"{symbol} {getattr(item, attr)}"
        for item in info.metadata
        for kind, attr, symbol in _BOUNDS
        if isinstance(item, kind)
    ]
    return f" ({', '.join(parts)})" if parts else ""


def _default(info: FieldInfo) -> str:
    """The default as YAML, or 'required'."""
    if info.is_required():
        return "required"
    value = info.default_factory() if info.default_factory is not None else info.default
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False)
    return f"`{text.strip().removesuffix('...').strip()}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _section(
    prefix: str, model: type[BaseModel], title: str, required: bool, suffix: str = ""
) -> list[str]:
    """The heading and key table of one section, followed by its nested sections."""
    doc = _cell(model.__doc__ or "")
    lines = [f"### {title}{suffix}", ""]
    if doc or required:
        lines += [doc + (" Required section." if required else ""), ""]
    lines += ["| key | type | default | description |", "|---|---|---|---|"]
    nested = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        if _is_section(info.annotation):
            nested.append((key, info.annotation, info.is_required(), ""))
            continue
        opt_in = _optional_section(info.annotation)
        if opt_in is not None:
            nested.append((key, opt_in, False, " (when set)"))
        items = typing.get_args(info.annotation)
        if typing.get_origin(info.annotation) is list and items and _is_section(items[0]):
            nested.append((f"{key}.N", items[0], False, " (each list item N = 0, 1, ...)"))
        description = info.description or FALLBACK_DESCRIPTIONS.get(key, "")
        lines.append(
            f"| `{key}` | {_cell(_type_name(info.annotation))}{_constraints(info)} | "
            f"{_cell(_default(info))} | {_cell(description)} |"
        )
    lines.append("")
    for key, section, section_required, when in nested:
        lines += _section(f"{key}.", section, f"`{key}`{when}", section_required, suffix)
    return lines


def protocol_reference_markdown() -> str:
    """Markdown reference of every protocol key (dotted path, type, default, description).

    The top-level keys come first, then one table per section in schema order, nested sections
    (such as ``network.weights``) after their parent. Keys are written as the dotted paths that
    ``--set key.path=value`` takes.
    """
    lines: list[str] = []
    for kind in all_kinds():
        default = kind.name == DEFAULT_KIND
        lines += [f"## {kind.title} (`kind: {kind.name}`{', the default' if default else ''})", ""]
        lines += _section("", kind.schema, "Top level", False, "" if default else f" ({kind.name})")
    return "\n".join(lines).rstrip() + "\n"


def replace_generated(text: str, reference: str) -> str:
    """``text`` with the part between :data:`BEGIN` and :data:`END` replaced by ``reference``."""
    head, found_begin, rest = text.partition(BEGIN)
    _, found_end, tail = rest.partition(END)
    if not (found_begin and found_end):
        raise ValueError(f"the markers {BEGIN} and {END} are missing")
    return f"{head}{BEGIN}\n{reference}{END}{tail}"


def main(argv: list[str]) -> None:
    """Print the reference, or with ``--write FILE`` update FILE's generated block in place."""
    reference = protocol_reference_markdown()
    if len(argv) == 2 and argv[0] == "--write":
        path = Path(argv[1])
        path.write_text(replace_generated(path.read_text(), reference))
    else:
        sys.stdout.write(reference)


if __name__ == "__main__":
    main(sys.argv[1:])
