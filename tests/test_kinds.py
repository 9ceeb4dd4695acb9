"""The kind registry: every kind is complete, and what it names exists."""

from __future__ import annotations

from brainsnn.figures.registry import FIGURES
from brainsnn.kinds import KIND_MODULES, all_kinds, get_kind


def test_every_registered_kind_is_complete_and_named_by_its_schema():
    for kind in all_kinds():
        assert kind.name in KIND_MODULES and get_kind(kind.name) is kind
        assert kind.schema.model_fields["kind"].annotation.__args__ == (kind.name,)
        assert "sweep" in kind.schema.model_fields  # every kind can be grid-searched
        assert set(kind.figures) <= set(FIGURES), f"{kind.name} names an unknown figure"
        assert (kind.fold_overrides is None) == bool(kind.no_kfold_reason)
        for spec in kind.variables.values():
            assert spec.long_name and spec.dims is not None


def test_an_unknown_kind_is_a_one_line_error(tmp_path):
    import pytest

    from brainsnn.core.errors import ConfigError
    from brainsnn.protocol import load_protocol

    path = tmp_path / "p.yaml"
    path.write_text("kind: supervised\nname: x\n")
    with pytest.raises(ConfigError, match="unknown protocol kind 'supervised'; choose readout"):
        load_protocol(path)


def test_validate_lets_brian2_check_the_code_and_reads_the_data_on_request(tmp_path):
    from pathlib import Path

    from click.testing import CliRunner

    from brainsnn.cli import main

    digits = Path(__file__).resolve().parent.parent / "protocols" / "ncg_digits.yaml"
    result = CliRunner().invoke(main, ["validate", str(digits), "--data"])
    assert result.exit_code == 0 and result.output.strip().endswith("data read"), result.output
    missing = CliRunner().invoke(
        main, ["validate", str(digits), "--data", "--set", "data.source=idx",
               "--set", f"data.path={tmp_path}"],
    )  # fmt: skip
    assert missing.exit_code == 2 and "train split not found" in missing.output
    assert len(missing.output.strip().splitlines()) == 1
