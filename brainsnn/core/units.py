"""Parse values with Brian2 units ("25 ms", "0.3", 5) and check their dimensions.

A unit string is data, never code: it is read by a small grammar (a number, then an optional
product of Brian2 unit names with integer powers, e.g. ``10 ms``, ``0.5 mV/ms``,
``2 metre**-1``), and the names are looked up in Brian2's unit tables.
"""

from __future__ import annotations

import math
import re

import brian2.units.allunits as allunits
import brian2.units.stdunits as stdunits
from brian2.units.fundamentalunits import Quantity, Unit, get_dimensions, get_unit

_UNITS = {
    name: value
    for module in (allunits, stdunits)
    for name, value in vars(module).items()
    if isinstance(value, Unit)
}
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_FACTOR = r"[A-Za-z_]\w*(?:\s*\*\*\s*[+-]?\d{1,2})?"
_UNIT = rf"{_FACTOR}(?:\s*[*/]\s*{_FACTOR})*"
_VALUE = re.compile(rf"(?P<number>{_NUMBER})(?:\s*\*?\s*(?P<unit>{_UNIT}))?")
_TOKEN = re.compile(r"([*/])?\s*([A-Za-z_]\w*)(?:\s*\*\*\s*([+-]?\d{1,2}))?")
_MAX_LENGTH = 100


def _error(value: object) -> ValueError:
    return ValueError(f"'{value}' is not a number with a Brian2 unit (e.g. '10 ms')")


def _unit_product(text: str, value: object) -> Quantity | float:
    """The product of ``name[**power]`` factors joined by ``*`` or ``/``."""
    result: Quantity | float = 1.0
    for operator, name, power in _TOKEN.findall(text):
        unit = _UNITS.get(name)
        if unit is None:
            raise _error(value)
        factor = unit ** int(power) if power else unit
        result = result / factor if operator == "/" else result * factor
    return result


def parse_quantity(value: float | int | str) -> Quantity | float:
    """A number or a 'number unit' string as a Brian2 quantity; ValueError if malformed or not
    finite. Nothing in the text is evaluated."""
    if isinstance(value, bool):
        raise _error(value)
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"'{value}' is not a finite number")
        return number
    if not isinstance(value, str) or len(value) > _MAX_LENGTH:
        raise _error(value)
    match = _VALUE.fullmatch(value.strip())
    if match is None:
        raise _error(value)
    number = float(match["number"])
    if not math.isfinite(number):
        raise ValueError(f"'{value}' is not a finite number")
    unit = match["unit"]
    return number if not unit else number * _unit_product(unit, value)


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
    result = float(quantity)
    if not math.isfinite(result):
        raise ValueError(f"'{value}' is not finite")
    return result


def check_duration(value: float | int | str) -> float:
    """A positive, finite time in seconds; ValueError otherwise."""
    seconds = check_quantity(value, "second")
    if seconds <= 0:
        raise ValueError(f"'{value}' is not a positive duration")
    return seconds
