"""Load YAML files into validated pydantic models, with errors that name the file, key and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from brainsnn.core.errors import ConfigError

KeyPath = tuple[str | int, ...]
#: Deepest nesting of mappings and lists a protocol or model file may have.
MAX_DEPTH = 64
#: Most values a file may expand to through anchors and aliases.
MAX_NODES = 100_000


def _line_index(node: yaml.Node, path: KeyPath = ()) -> dict[KeyPath, int]:
    """Map every key path of a composed YAML node tree to its 1-based line number."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, key_node.value)
            lines.update(_line_index(value_node, child))
            lines[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            lines.update(_line_index(item, (*path, position)))
    return lines


def is_file(path: Path) -> bool:
    """Whether ``path`` is a file (False, not an error, for a name the system cannot look up,
    such as one too long)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def read_yaml(path: str | Path) -> tuple[dict[str, Any], dict[KeyPath, int]]:
    """Read a YAML mapping and the line number of each key path; ConfigError if unreadable."""
    path = Path(path)
    if not is_file(path):
        raise ConfigError(f"{path}: file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read as a UTF-8 text (YAML) file: {exc}") from None
    return parse_yaml(text, path)


def _check_shape(text: str, path: str | Path) -> None:
    """Refuse YAML nested deeper than MAX_DEPTH (PyYAML composes recursively) before parsing."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1
                raise ConfigError(f"{path}:{line}: nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Nodes in the tree once aliases are expanded (an alias counts its whole target)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    children: list = []
    if isinstance(node, yaml.MappingNode):
        children = [child for pair in node.value for child in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = node.value
    size = 1 + sum(_expanded_size(child, sizes) for child in children)
    sizes[id(node)] = min(size, MAX_NODES + 1)
    return sizes[id(node)]


def parse_yaml(text: str, path: str | Path) -> tuple[dict[str, Any], dict[KeyPath, int]]:
    """Parse YAML text read from ``path`` into a mapping and the line of each key path.

    Only plain data is read (safe loading); YAML nested deeper than MAX_DEPTH levels or
    expanding (through anchors and aliases) to more than MAX_NODES nodes is refused.
    """
    try:
        _check_shape(text, path)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is not None and _expanded_size(node, {}) > MAX_NODES:
            raise ConfigError(
                f"{path}: expands to more than {MAX_NODES} values (anchors and aliases)"
            )
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and start is not None and mark is not None and start.line != mark.line:
            problem += f" ({context} that starts at line {start.line + 1})"
        raise ConfigError(f"{path}{where}: malformed YAML: {problem}") from None
    if not isinstance(data, dict):
        found = "an empty file" if data is None else type(data).__name__
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, got {found}")
    return data, _line_index(node) if node is not None else {}


def describe_error(error: dict[str, Any]) -> str:
    """One readable phrase for one pydantic error entry."""
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    message = error["msg"]
    return message.removeprefix("Value error, ")


def format_validation_error(
    source: str | Path, exc: ValidationError, lines: dict[KeyPath, int]
) -> str:
    """Turn a pydantic ValidationError into 'file:line: key.path: problem' (+N more)."""
    errors = exc.errors()
    first = errors[0]
    loc = tuple(part for part in first["loc"] if not str(part).startswith("function-"))
    known = loc
    while known and known not in lines:
        known = known[:-1]
    line = lines.get(known)
    where = f"{source}:{line}" if line else f"{source}"
    key = ".".join(str(part) for part in loc) or "(top level)"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{where}: {key}: {describe_error(first)}{more}"


def load_model[ModelT: BaseModel](
    path: str | Path,
    schema: type[ModelT],
    data: dict[str, Any] | None = None,
    lines: dict[KeyPath, int] | None = None,
) -> ModelT:
    """Validate a YAML file (or already-read data with its line index) against a schema."""
    if data is None:
        data, lines = read_yaml(path)
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc, lines or {})) from None
