"""Values with Brian2 units in protocol and model files."""

from __future__ import annotations

import pytest

from brainsnn.core.units import base_unit, check_quantity


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [("10 ms", "second", 0.01), (5, "1", 5.0), ("0.3", "1", 0.3), ("20 ms", "ms", 0.02),
     ("1 mV", "volt", 1e-3)],
)  # fmt: skip
def test_values_are_converted_to_base_units(value, unit, expected):
    assert check_quantity(value, unit) == pytest.approx(expected)


@pytest.mark.parametrize(("value", "unit"), [("10 mV", "second"), ("5 ms", "1"), ("abc", "1")])
def test_wrong_dimensions_or_text_are_rejected(value, unit):
    with pytest.raises(ValueError, match=str(value)):
        check_quantity(value, unit)


@pytest.mark.parametrize(
    ("unit", "base"), [("ms", "second"), ("mV", "volt"), ("1", "1"), ("nS", "siemens")]
)
def test_equations_declare_base_units(unit, base):
    assert base_unit(unit) == base
