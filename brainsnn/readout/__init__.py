"""The readout kind: the NCG readout and every SpikeNN rule, as compiled Brian2 networks.

``kind.py`` registers it; ``experiment.py`` runs it (``training.py``: the epoch loop,
``backend.py``: one chunk on a device, ``network.py``/``layout.py``: the Brian2 objects,
``data.py``: the splits); ``reference.py`` is the exact NumPy oracle, which only tests,
benchmarks and ``crosscheck.py`` import.
"""
