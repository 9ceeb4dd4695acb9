"""Parse values with Brian2 units ("25 ms", "0.3", 5) and check their dimensions."""

from __future__ import annotations

import brian2.units.allunits as allunits
import brian2.units.stdunits as stdunits
from brian2.units.fundamentalunits import Quantity, Unit, get_dimensions, get_unit

_UNITS = {
    name: value
    for module in (allunits, stdunits)
    for name, value in vars(module).items()
    if isinstance(value, Unit)
}


def parse_quantity(value: float | int | str) -> Quantity | float:
    """Evaluate a number or a 'number unit' string with Brian2 units; ValueError if malformed."""
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    try:
        result = eval(
            text.replace(" ", "*", 1) if " " in text else text, {"__builtins__": {}}, _UNITS
        )
    except Exception:
        result = None
    if isinstance(result, bool) or not isinstance(result, int | float | Quantity):
        raise ValueError(f"'{value}' is not a number with a Brian2 unit (e.g. '10 ms')")
    return result


def base_unit(unit: str) -> str:
    """The Brian2 base unit of ``unit`` for equations ('ms' -> 'second', '1' -> '1')."""
    if unit == "1":
        return "1"
    return get_unit(get_dimensions(parse_quantity(f"1 {unit}"))).name


def check_quantity(value: float | int | str, unit: str) -> float:
    """Value in base units after checking it has the dimensions of ``unit`` ('1' = none)."""
    quantity = parse_quantity(value)
    expected = get_dimensions(1 if unit == "1" else parse_quantity(f"1 {unit}"))
    found = get_dimensions(quantity)
    if found != expected:
        wanted = "a dimensionless number" if unit == "1" else f"a value in {unit}"
        raise ValueError(f"expected {wanted}, got '{value}' (dimensions {found})")
    return float(quantity)
