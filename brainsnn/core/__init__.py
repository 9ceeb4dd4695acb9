"""The core every protocol kind stands on: errors, units, YAML, model files, run directories,
provenance, checkpoints, result datasets, progress bars, build roots and data splits.

The core never imports a kind (``brainsnn.readout``, ``brainsnn.unsupervised``,
``brainsnn.gradient``) nor a device runner; ``tests/test_architecture.py`` enforces it.
"""
