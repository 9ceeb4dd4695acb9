"""SpikeNN's published readout configurations (ncg.md §8) as brainsnn protocols.

The §8 tables are pasted below verbatim and parsed into :data:`ROWS`, one :class:`Row` per
(extractor, dataset, config); CIFAR-100 rows are the CIFAR-10 rows with N ×10. :func:`protocol`
turns a row into a protocol mapping and :func:`render` into the commented YAML that ::

    python -m brainsnn.spikenn_configs           # writes protocols/spikenn/<extractor>/<dataset>/
    python -m brainsnn.spikenn_configs --check   # writes nothing; exit 1 if a file is stale

keeps under ``protocols/spikenn/``. Potentials and thresholds are in weight units, times in units
of the sample duration T, as in SpikeNN.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

#: Where the generated protocols live.
PROTOCOL_ROOT = Path(__file__).resolve().parent.parent / "protocols" / "spikenn"
#: Input steps per sample: dt = T/1000 (see the header note on g).
TIME_STEPS = 1000
ANNEALING = 0.98  # a± (and R-STDP anti rates) ×0.98 per epoch in every SpikeNN config
EXTRACTORS = {"csnn": "STDP-CSNN", "softhebb": "SoftHebb-CNN"}  # brainsnn name: SpikeNN name
DATASETS = {"mnist": "MNIST", "fmnist": "F-MNIST", "cifar10": "CIFAR10", "cifar100": "CIFAR100"}
CLASSES = {"mnist": 10, "fmnist": 10, "cifar10": 10, "cifar100": 100}
#: Readout input size D per extractor, for (MNIST-like, CIFAR) images (ncg.md §10).
INPUT_SIZES = {"csnn": (4608, 6272), "softhebb": (13824, 24576)}

# ncg.md §8, rows verbatim. Columns: | config | N | θ | w0 | norm | w range | rule | g | a+/a− |
# CR η_θ/anneal | nt | p_drop |
_TABLES = {
    ("csnn", "mnist"): """
| s2stdp+ncg | 50 | 200 | 0.3 | y | [0,1] | S2+WTA | 0.03 | 0.05/-0.1 | CR2 10/0.5 | 1 | 0 |
| sstdp+ncg | 50 | 200 | 0.5 | n | [0,1] | SSTDP+WTA | 0.08 | 0.1/-0.001 | CR2 1/0.5 | 0 | 0 |
| s2stdp | 10 | 250 | 0.3 | y | [0,1] | S2 | 0.04 | 0.005/-0.05 | - | 0 | 0 |
| sstdp | 10 | 200 | 0.5 | n | [0,1] | SSTDP | 0.09 | 0.01/0 | - | 0 | 0 |
| rstdp-5n | 50 | 250 | 0.8 | n | [0.2,0.8] | R | - | 0.05/-0.001 ; anti -0.05/0.001 | - | 0 | 0 |
| rstdp-20n | 200 | 250 | 0.8 | n | [0.2,0.8] | R | - | 0.05/-0.005 ; anti -0.05/0.005 | - | 0 | 0.5 |
| s2stdp+pcn | 20 | 250 | 0.3 | y | [0,1] | S2+WTA | 0.02 | 0.001/-0.1 | - | 1 | 0 |
| s2stdp+ncg-no-nt | 50 | 250 | 0.3 | y | [0,1] | S2+WTA | 0.02 | 0.01/-0.05 | CR2 1/0.7 | 0 | 0 |
| s2stdp+ncg-no-cr | 50 | 200 | 0.3 | y | [0,1] | S2+WTA | 0.03 | 0.05/-0.1 | - | 1 | 0 |
| s2stdp+ncg-no-ltd | 50 | 200 | 0.3 | y | [0,1] | S2+WTA | 0.03 | 0.05/0 | CR2 10/0.5 | 1 | 0 |
| s2stdp+ncg-no-nt-same | 50 | 200 | 0.3 | y | [0,1] | S2+WTA | 0.03 | 0.05/-0.1 | CR2 10/0.5 | 0 | 0 |
| s2stdp+ncg-4n-no-nt | 40 | 250 | 0.3 | y | [0,1] | S2+WTA | 0.02 | 0.01/-0.05 | CR2 1/0.7 | 0 | 0 |
| sstdp+ncg-no-cr | 50 | 200 | 0.5 | n | [0,1] | SSTDP+WTA | 0.08 | 0.1/-0.001 | - | 0 | 0 |
| s4nn | 10 | 450 | 0.5 | n | [-1000,1000] | S4NN | 0.125 | lr 0.005 | - | 0 | 0 |
| s4nn+ncg | 50 | 350 | 0.5 | n | [-1000,1000] | S4NN+WTA | 0.15 | lr 0.005 | CR2 10/0.7 | 0 | 0 |
""",  # noqa: E501
    ("csnn", "fmnist"): """
| s2stdp+ncg | 50 | 300 | 0.3 | y | [0,1] | S2+WTA | 0.005 | 0.1/-0.05 | CR2 5/0.7 | 1 | 0 |
| sstdp+ncg | 50 | 150 | 0.5 | n | [0,1] | SSTDP+WTA | 0.05 | 0.05/0 | CR2 1/0.7 | 0 | 0 |
| s2stdp | 10 | 300 | 0.3 | y | [0,1] | S2 | 0.01 | 0.01/-0.05 | - | 0 | 0 |
| sstdp | 10 | 200 | 0.5 | n | [0,1] | SSTDP | 0.04 | 0.05/-0.005 | - | 0 | 0 |
| rstdp-5n | 50 | 300 | 0.8 | n | [0.2,0.8] | R | - | 0.01/-0.001 ; anti -0.01/0.001 | - | 0 | 0 |
| rstdp-20n | 200 | 300 | 0.8 | n | [0.2,0.8] | R | - | 0.05/-0.01 ; anti -0.025/0.005 | - | 0 | 0.5 |
| s2stdp+pcn | 20 | 300 | 0.3 | y | [0,1] | S2+WTA | 0.005 | 0.05/-0.001 | - | 1 | 0 |
| s2stdp+ncg-no-cr-no-nt | 50 | 300 | 0.3 | y | [0,1] | S2+WTA | 0.005 | 0.1/-0.05 | - | 0 | 0 |
| s2stdp+ncg-cr-1-thr-no-nt | 50 | 300 | 0.3 | y | [0,1] | S2+WTA | 0.01 | 0.1/-0.01 | CR1 0.1/0.1 | 0 | 0 |
| s2stdp+ncg-no-nt | 50 | 400 | 0.3 | y | [0,1] | S2+WTA | 0.01 | 0.01/-0.1 | CR2 1/0.5 | 0 | 0 |
| s2stdp+ncg-cr-1-thr | 50 | 300 | 0.3 | y | [0,1] | S2+WTA | 0.01 | 0.1/-0.001 | CR1 0.01/0.5 | 1 | 0 |
| s2stdp+ncg-cr-drop | 50 | 300 | 0.3 | y | [0,1] | S2+WTA | 0.005 | 0.1/-0.001 | - | 1 | 0.1 |
| s2stdp+ncg-no-cr | 50 | 300 | 0.3 | y | [0,1] | S2+WTA | 0.005 | 0.1/-0.05 | - | 1 | 0 |
| s2stdp+ncg-no-ltd | 50 | 300 | 0.3 | y | [0,1] | S2+WTA | 0.005 | 0.1/0 | CR2 5/0.7 | 1 | 0 |
| s2stdp+ncg-no-nt-same | 50 | 300 | 0.3 | y | [0,1] | S2+WTA | 0.005 | 0.1/-0.05 | CR2 5/0.7 | 0 | 0 |
| s2stdp+ncg-4n-no-nt | 40 | 400 | 0.3 | y | [0,1] | S2+WTA | 0.01 | 0.01/-0.1 | CR2 1/0.5 | 0 | 0 |
| sstdp+ncg-cr-1-thr | 50 | 250 | 0.5 | n | [0,1] | SSTDP+WTA | 0.06 | 0.05/-0.005 | CR1 5/0.3 | 0 | 0 |
| sstdp+ncg-cr-drop | 50 | 150 | 0.5 | n | [0,1] | SSTDP+WTA | 0.05 | 0.1/-0.001 | - | 0 | 0.2 |
| sstdp+ncg-no-cr | 50 | 150 | 0.5 | n | [0,1] | SSTDP+WTA | 0.05 | 0.05/0 | - | 0 | 0 |
| s4nn | 10 | 200 | 0.5 | n | [-1000,1000] | S4NN | 0.08 | lr 0.001 | - | 0 | 0 |
| s4nn+ncg | 50 | 400 | 0.5 | n | [-1000,1000] | S4NN+WTA | 0.07 | lr 0.005 | CR2 10/0.3 | 0 | 0 |
""",  # noqa: E501
    ("softhebb", "mnist"): """
| s2stdp+ncg | 50 | 1100 | 0.3 | y | [0,1] | S2+WTA | 0.01 | 0.1/-0.01 | CR2 10/0.3 | 1 | 0 |
| sstdp+ncg | 50 | 1000 | 0.5 | n | [0,1] | SSTDP+WTA | 0.001 | 0.1/-0.01 | CR2 40/0.001 | 0 | 0 |
| s2stdp | 10 | 1100 | 0.3 | y | [0,1] | S2 | 0.02 | 0.01/-0.1 | - | 0 | 0 |
| sstdp | 10 | 750 | 0.5 | n | [0,1] | SSTDP | 0.02 | 0.05/0 | - | 0 | 0 |
| rstdp-5n | 50 | 650 | 0.8 | n | [0.2,0.8] | R | - | 0.1/-0.001 ; anti -0.1/0.005 | - | 0 | 0.15 |
| rstdp-20n | 200 | 600 | 0.8 | n | [0.2,0.8] | R | - | 0.1/-0.001 ; anti -0.05/0.001 | - | 0 | 0.5 |
| s2stdp+pcn | 20 | 1250 | 0.3 | y | [0,1] | S2+WTA | 0.01 | 0.1/-0.1 | - | 1 | 0 |
| s2stdp+ncg-no-nt | 50 | 1050 | 0.3 | y | [0,1] | S2+WTA | 0.01 | 0.1/-0.01 | CR2 20/0.1 | 0 | 0 |
| s2stdp+ncg-no-ltd | 50 | 1100 | 0.3 | y | [0,1] | S2+WTA | 0.01 | 0.1/0 | CR2 10/0.3 | 1 | 0 |
| s2stdp+ncg-no-nt-same | 50 | 1100 | 0.3 | y | [0,1] | S2+WTA | 0.01 | 0.1/-0.01 | CR2 10/0.3 | 0 | 0 |
| s2stdp+ncg-4n-no-nt | 40 | 1050 | 0.3 | y | [0,1] | S2+WTA | 0.01 | 0.1/-0.01 | CR2 20/0.1 | 0 | 0 |
| s4nn | 10 | 1500 | 0.5 | n | [-1000,1000] | S4NN | 0.125 | lr 0.01 | - | 0 | 0 |
| s4nn+ncg | 50 | 500 | 0.5 | n | [-1000,1000] | S4NN+WTA | 0.08 | lr 0.005 | CR2 20/0.9 | 0 | 0 |
""",  # noqa: E501
    ("softhebb", "fmnist"): """
| s2stdp+ncg | 50 | 1100 | 0.3 | y | [0,1] | S2+WTA | 0.01 | 0.1/-0.01 | CR2 10/0.9 | 1 | 0 |
| sstdp+ncg | 50 | 1200 | 0.5 | n | [0,1] | SSTDP+WTA | 0.001 | 0.1/-0.01 | CR2 30/0.01 | 0 | 0 |
| s2stdp | 10 | 1100 | 0.3 | y | [0,1] | S2 | 0.01 | 0.05/-0.01 | - | 0 | 0 |
| sstdp | 10 | 900 | 0.5 | n | [0,1] | SSTDP | 0.02 | 0.1/-0.005 | - | 0 | 0 |
| rstdp-5n | 50 | 550 | 0.8 | n | [0.2,0.8] | R | - | 0.1/-0.001 ; anti -0.05/0.001 | - | 0 | 0 |
| rstdp-20n | 200 | 600 | 0.8 | n | [0.2,0.8] | R | - | 0.1/-0.001 ; anti -0.05/0.001 | - | 0 | 0.5 |
| s2stdp+pcn | 20 | 1100 | 0.3 | y | [0,1] | S2+WTA | 0.01 | 0.05/-0.001 | - | 1 | 0 |
| s2stdp+ncg-no-cr-no-nt | 50 | 1100 | 0.3 | y | [0,1] | S2+WTA | 0.01 | 0.1/-0.01 | - | 0 | 0 |
| s2stdp+ncg-cr-1-thr-no-nt | 50 | 1050 | 0.3 | y | [0,1] | S2+WTA | 0.005 | 0.1/-0.01 | CR1 30/0.001 | 0 | 0 |
| s2stdp+ncg-no-nt | 50 | 1150 | 0.3 | y | [0,1] | S2+WTA | 0.01 | 0.1/-0.05 | CR2 20/0.3 | 0 | 0 |
| s2stdp+ncg-cr-1-thr | 50 | 1150 | 0.3 | y | [0,1] | S2+WTA | 0.005 | 0.1/-0.01 | CR1 30/0.005 | 1 | 0 |
| s2stdp+ncg-cr-drop | 50 | 1150 | 0.3 | y | [0,1] | S2+WTA | 0.01 | 0.1/-0.05 | - | 1 | 0.2 |
| s2stdp+ncg-no-cr | 50 | 1100 | 0.3 | y | [0,1] | S2+WTA | 0.01 | 0.1/-0.01 | - | 1 | 0 |
| s2stdp+ncg-no-ltd | 50 | 1100 | 0.3 | y | [0,1] | S2+WTA | 0.01 | 0.1/0 | CR2 10/0.9 | 1 | 0 |
| s2stdp+ncg-no-nt-same | 50 | 1100 | 0.3 | y | [0,1] | S2+WTA | 0.01 | 0.1/-0.01 | CR2 10/0.9 | 0 | 0 |
| s2stdp+ncg-4n-no-nt | 40 | 1150 | 0.3 | y | [0,1] | S2+WTA | 0.01 | 0.1/-0.05 | CR2 20/0.3 | 0 | 0 |
| sstdp+ncg-cr-1-thr (*) | 50 | 1200 | 0.5 | n | [0,1] | SSTDP+WTA | 0.001 | 0.1/-0.001 | CR2 40/0.01 | 0 | 0 |
| sstdp+ncg-cr-drop | 50 | 1000 | 0.5 | n | [0,1] | SSTDP+WTA | 0.005 | 0.1/-0.01 | - | 0 | 0.1 |
| sstdp+ncg-no-cr | 50 | 1200 | 0.5 | n | [0,1] | SSTDP+WTA | 0.001 | 0.1/-0.01 | - | 0 | 0 |
| s4nn | 10 | 600 | 0.5 | n | [-1000,1000] | S4NN | 0.1 | lr 0.005 | - | 0 | 0 |
| s4nn+ncg | 50 | 400 | 0.5 | n | [-1000,1000] | S4NN+WTA | 0.09 | lr 0.005 | CR2 30/0.5 | 0 | 0 |
""",  # noqa: E501
}

# ncg.md §8 "CIFAR-10 / CIFAR-100, main configs", rows verbatim. Columns: | extractor | config |
# N (C10/C100) | θ | w0 | rule | g | a+/a− | CR | nt | p_drop |
_CIFAR_TABLE = """
| CSNN | s2stdp+ncg | 50/500 | 400 | 0.3 (norm) | S2+WTA | 0.005 | 0.1/-0.05 | CR2 5/0.5 | 1 | 0 |
| CSNN | sstdp+ncg | 50/500 | 350 | 0.5 | SSTDP+WTA | 0.005 | 0.1/-0.01 | CR2 1/0.5 | 0 | 0 |
| CSNN | s2stdp | 10/100 | 400 | 0.3 (norm) | S2 | 0.001 | 0.001/-0.05 | - | 0 | 0 |
| CSNN | sstdp | 10/100 | 350 | 0.5 | SSTDP | 0.0005 | 0.05/-0.001 | - | 0 | 0 |
| CSNN | rstdp-5n | 50/500 | 300 | 0.8 | R | - | 0.05/-0.001; anti -0.05/0.001 | - | 0 | 0.15 |
| CSNN | rstdp-20n | 200/2000 | 350 | 0.8 | R | - | 0.1/-0.0075; anti -0.1/0.0075 | - | 0 | 0.5 |
| SoftHebb | s2stdp+ncg | 50/500 | 1600 | 0.3 (norm) | S2+WTA | 0.005 | 0.1/-0.01 | CR2 20/0.1 | 1 | 0 |
| SoftHebb | sstdp+ncg | 50/500 | 1200 | 0.5 | SSTDP+WTA | 0.005 | 0.1/-0.01 | CR2 10/0.005 | 0 | 0 |
| SoftHebb | s2stdp | 10/100 | 1300 | 0.3 (norm) | S2 | 0.01 | 0.01/-0.01 | - | 0 | 0 |
| SoftHebb | sstdp | 10/100 | 1050 | 0.5 | SSTDP | 0.001 | 0.05/-0.001 | - | 0 | 0 |
| SoftHebb | rstdp-5n | 50/500 | 1150 | 0.8 | R | - | 0.01/-0.0001; anti -0.01/0.0001 | - | 0 | 0.3 |
| SoftHebb | rstdp-20n | 200/2000 | 1000 | 0.8 | R | - | 0.1/-0.005; anti -0.1/0.005 | - | 0 | 0.5 |
"""  # noqa: E501

# ncg.md §9.1, Table 1: 10-fold mean ± std test accuracy (%). | Dataset | Method | M | STDP-CSNN |
# SoftHebb-CNN |
_TABLE1 = """
| Fashion-MNIST | SSTDP | 1 | 85.26 ± 0.17 | 89.36 ± 0.24 |
| Fashion-MNIST | SSTDP+NCG | 5 | 87.59 ± 0.11 | 91.06 ± 0.10 |
| Fashion-MNIST | S2-STDP | 1 | 85.89 ± 0.27 | 90.61 ± 0.19 |
| Fashion-MNIST | S2-STDP+NCG | 5 | **88.72 ± 0.23** | **91.86 ± 0.14** |
| CIFAR-10 | SSTDP | 1 | 60.87 ± 0.53 | 76.57 ± 0.58 |
| CIFAR-10 | SSTDP+NCG | 5 | 64.05 ± 0.48 | 78.53 ± 0.32 |
| CIFAR-10 | S2-STDP | 1 | 61.08 ± 0.17 | 76.90 ± 0.27 |
| CIFAR-10 | S2-STDP+NCG | 5 | **66.41 ± 0.17** | **79.55 ± 0.23** |
| CIFAR-100 | SSTDP | 1 | 28.49 ± 0.49 | 48.73 ± 0.39 |
| CIFAR-100 | SSTDP+NCG | 5 | 31.19 ± 0.27 | 49.81 ± 0.23 |
| CIFAR-100 | S2-STDP | 1 | 29.39 ± 0.19 | 49.17 ± 0.29 |
| CIFAR-100 | S2-STDP+NCG | 5 | **35.90 ± 0.42** | **53.49 ± 0.18** |
"""

#: Ablation labels of the paper (ncg.md §6.7).
ABLATION_LABELS = {
    "s2stdp": "M-1",
    "s2stdp+ncg-no-cr-no-nt": "M-5",
    "s2stdp+ncg-cr-1-thr-no-nt": "M-5+CR-1",
    "s2stdp+ncg-no-nt": "M-5+CR-2",
    "s2stdp+ncg-cr-1-thr": "M-5+CR-1+L",
    "s2stdp+ncg": "M-5+CR-2+L (full method)",
    "s2stdp+ncg-cr-drop": "M-5+Drop+L",
}

_NOTES = {
    ("softhebb", "fmnist", "rstdp-20n"): "SpikeNN's file also sets gridsearch_stop_acc: 0.8, a "
    "leftover grid-search abort (ncg.md §7, §8); brainsnn has no such abort: ignored.",
}
_RULE_NAMES = {"S2": "S2-STDP", "SSTDP": "SSTDP", "R": "R-STDP", "S4NN": "S4NN"}
_RULE_MODELS = {  # SSTDP = S2-STDP with one-sided desired ranges (ncg.md §5.2)
    "S2": ["rules/s2stdp"],
    "SSTDP": ["rules/s2stdp", "rules/time_ranges"],
    "R": ["rules/rstdp"],
    "S4NN": ["rules/s4nn"],
}
_BASE_MODELS = ["inputs/ttfs", "neurons/if_single_spike", "synapses/delta", "decision/first_spike"]


@dataclass(frozen=True)
class Row:
    """One SpikeNN configuration (ncg.md §8); thresholds and weights in weight units, g in T."""

    extractor: str  # csnn | softhebb
    dataset: str  # mnist | fmnist | cifar10 | cifar100
    config: str  # SpikeNN's config file name without .json
    n: int  # output neurons, N = C·M
    theta0: float
    w0: float  # mean of the initial weights (std 0.01)
    w_norm: bool
    w_min: float
    w_max: float
    rule: str  # S2 | SSTDP | R | S4NN
    wta: bool  # intra-class WTA (SpikeNN's class_inhib)
    gap: float | None  # g (None for R-STDP)
    a_plus: float | None  # S2-STDP, SSTDP, R-STDP rates
    a_minus: float | None
    anti: tuple[float, float] | None  # R-STDP punishment rates (anti_a+, anti_a−)
    lr: float | None  # S4NN learning rate
    cr: str | None  # CR1 | CR2 | None
    thr_lr: float | None
    thr_anneal: float | None
    nt: int  # neurons per group labelled non-target
    p_drop: float  # output dropout
    spec: str  # where the row comes from, with the row as the spec prints it
    notes: tuple[str, ...] = ()
    starred: bool = False  # the (*) row: SpikeNN's file runs CR-2 although CR-1 was meant

    @property
    def m(self) -> int:
        """Neurons per class, N / C."""
        return self.n // CLASSES[self.dataset]

    @property
    def path(self) -> Path:
        """Path of the protocol file, relative to :data:`PROTOCOL_ROOT`."""
        return Path(self.extractor, self.dataset, f"{self.config}.yaml")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _row(extractor: str, dataset: str, cells: list[str], spec: str) -> Row:
    """A Row from the 12 cells of an MNIST/F-MNIST table row."""
    config, n, theta, w0, norm, w_range, rule, g, rates, cr, nt, p_drop = cells
    notes = [_NOTES[key]] if (key := (extractor, dataset, config)) in _NOTES else []
    starred = config.endswith(" (*)")  # ncg.md §8 (*): meant as CR-1, runs CR-2 as shipped
    if starred:
        config, cr = config.removesuffix(" (*)"), cr.replace("CR2", "CR1")
    w_min, w_max = (float(x) for x in w_range.strip("[]").split(","))
    rates = rates.replace(" ", "")
    a_plus = a_minus = anti = lr = None
    if rates.startswith("lr"):
        lr = float(rates[2:])
    else:
        main, _, anti_rates = rates.partition(";anti")
        a_plus, a_minus = (float(x) for x in main.split("/"))
        if anti_rates:
            anti_plus, anti_minus = (float(x) for x in anti_rates.split("/"))
            anti = (anti_plus, anti_minus)
    cr_kind, _, cr_values = cr.partition(" ")
    thr_lr, thr_anneal = (float(x) for x in cr_values.split("/")) if cr_values else (None, None)
    return Row(
        extractor=extractor,
        dataset=dataset,
        config=config,
        n=int(n),
        theta0=float(theta),
        w0=float(w0),
        w_norm={"y": True, "n": False}[norm],
        w_min=w_min,
        w_max=w_max,
        rule=rule.removesuffix("+WTA"),
        wta=rule.endswith("+WTA"),
        gap=None if g == "-" else float(g),
        a_plus=a_plus,
        a_minus=a_minus,
        anti=anti,
        lr=lr,
        cr=None if cr == "-" else cr_kind,
        thr_lr=thr_lr,
        thr_anneal=thr_anneal,
        nt=int(nt),
        p_drop=float(p_drop),
        spec=spec,
        notes=tuple(notes),
        starred=starred,
    )


def _parse() -> list[Row]:
    rows = []
    for (extractor, dataset), table in _TABLES.items():
        title = f"{EXTRACTORS[extractor]} / {DATASETS[dataset]}"
        for line in table.strip().splitlines():
            rows.append(_row(extractor, dataset, _cells(line), f"ncg.md §8, {title}: {line}"))
    cifar100 = []
    for line in _CIFAR_TABLE.strip().splitlines():
        extractor, config, n, theta, w0, rule, g, rates, cr, nt, p_drop = _cells(line)
        extractor = {"CSNN": "csnn", "SoftHebb": "softhebb"}[extractor]
        n10, n100 = (int(x) for x in n.split("/"))
        assert n100 == 10 * n10, line  # "CIFAR-100 uses the same values with N ×10"
        # the CIFAR table has no norm / w range columns: "0.3 (norm)" marks w_norm, and the
        # range follows from the rule (ncg.md §4: [0.2,0.8] for R-STDP, else [0,1])
        norm = "y" if "(norm)" in w0 else "n"
        w_range = "[0.2,0.8]" if rule == "R" else "[0,1]"
        cells = [config, str(n10), theta, w0.split()[0], norm, w_range, rule, g, rates, cr, nt]
        row = _row(extractor, "cifar10", [*cells, p_drop], f"ncg.md §8, CIFAR-10: {line}")
        rows.append(row)
        spec = f"ncg.md §8, CIFAR-100 (the CIFAR-10 row with N ×10): {line}"
        cifar100.append(replace(row, dataset="cifar100", n=n100, spec=spec))
    return rows + cifar100


def _table1() -> dict[tuple[str, str, str], str]:
    """(extractor, dataset, config) → the paper's Table 1 accuracy, '88.72 ± 0.23'."""
    datasets = {"Fashion-MNIST": "fmnist", "CIFAR-10": "cifar10", "CIFAR-100": "cifar100"}
    targets = {}
    for line in _TABLE1.strip().splitlines():
        dataset, method, _, csnn, softhebb = _cells(line.replace("**", ""))
        config = method.lower().replace("s2-stdp", "s2stdp")
        targets[("csnn", datasets[dataset], config)] = csnn
        targets[("softhebb", datasets[dataset], config)] = softhebb
    return targets


ROWS: list[Row] = _parse()
TABLE1: dict[tuple[str, str, str], str] = _table1()


def models(row: Row) -> list[str]:
    """The model files of a row, in protocol order (regulation after the neuron model)."""
    names = [*_BASE_MODELS]
    # R-STDP updates the global winner only, so it needs no intra-class WTA; but
    # regulation/dropout requires competition/ncg (it can exclude dropped neurons from it)
    if row.rule != "R" or row.p_drop:
        names.append("competition/ncg")
    names += _RULE_MODELS[row.rule]
    if row.cr:
        names.append(f"regulation/{row.cr.lower()}")
    if row.p_drop:
        names.append("regulation/dropout")
    return names


def parameters(row: Row) -> dict[str, float | int]:
    """network.parameters of a row."""
    values: dict[str, float | int] = {"theta0": row.theta0}
    if row.rule in ("S2", "SSTDP"):
        values |= {"gap": row.gap, "a_plus": row.a_plus, "a_minus": row.a_minus}
        values |= {"w_min": row.w_min, "w_max": row.w_max, "w_norm": int(row.w_norm)}
        values |= {"annealing": ANNEALING}
    elif row.rule == "R":
        values |= {"a_plus": row.a_plus, "a_minus": row.a_minus}
        values |= {"anti_a_plus": row.anti[0], "anti_a_minus": row.anti[1]}
        values |= {"w_min": row.w_min, "w_max": row.w_max, "annealing": ANNEALING}
        values |= {"adaptive_lr": 1}
    else:
        values |= {"gap": row.gap, "lr": row.lr, "w_min": row.w_min, "w_max": row.w_max}
    if row.cr:
        values |= {"thr_lr": row.thr_lr, "thr_anneal": row.thr_anneal}
    if row.p_drop:
        # SpikeNN: a dropped neuron cannot fire but can still win its group (ncg.md §12.15)
        values |= {"p_drop": row.p_drop, "dropped_can_win": 1}
    return values


def _description(row: Row) -> str:
    if row.wta:
        labels = f"{row.nt} non-target per group" if row.nt else "no non-target label"
        parts = [_RULE_NAMES[row.rule], f"NCG (M={row.m}, {labels})"]
    else:
        parts = [f"{_RULE_NAMES[row.rule]} (M={row.m})"]
    if row.cr:
        parts.append(f"{row.cr[:2]}-{row.cr[2]} ({row.thr_lr:g}/{row.thr_anneal:g})")
    if row.p_drop:
        parts.append(f"output dropout {row.p_drop:g}")
    features = f"{EXTRACTORS[row.extractor]} features of {DATASETS[row.dataset]}"
    return f"SpikeNN {row.config}: {' + '.join(parts)}, on {features}"


def protocol(row: Row) -> dict[str, Any]:
    """The protocol mapping of a row (validate it with brainsnn.protocol.load_protocol)."""
    folder = f"{row.extractor}/{row.dataset}"
    data_dir = f"~/data/spikenn/{folder}"
    extractor = EXTRACTORS[row.extractor]
    hint = (
        f"extract {extractor} features of {DATASETS[row.dataset]} with SpikeNN's extractor "
        f"(ft-extract/{extractor} in github.com/ggoupy/SpikeNN), trained on the full training "
        f"set; copy its trainset.npy / testset.npy to {data_dir}/train.npy / test.npy, or convert "
        f"dense spike times with 'brainsnn data convert X.npy y.npy {data_dir}/train.npy' "
        "(and the same for test.npy)"
    )
    return {
        "name": row.config,
        "description": _description(row),
        "data": {
            "source": "spikingdataset",
            "train_file": f"{data_dir}/train.npy",
            "test_file": f"{data_dir}/test.npy",
            "hint": hint,
            "validation_fraction": 0.1,
        },
        "encoding": {"method": "ttfs", "time_steps": TIME_STEPS},
        "network": {
            "neurons_per_class": row.m,
            "nontarget_per_class": row.nt,
            "models": models(row),
            "parameters": parameters(row),
            "weights": {"mean": row.w0, "std": 0.01},
        },
        "training": {"max_epochs": 100, "patience": 10},
        "output": {"directory": f"results/spikenn/{folder}/{{name}}/{{timestamp}}"},
    }


def _header(row: Row) -> list[str]:
    cifar = row.dataset.startswith("cifar")
    spikenn = f"config/{EXTRACTORS[row.extractor]}/{DATASETS[row.dataset]}/{row.config}.json"
    paragraphs = [
        "Generated by `python -m brainsnn.spikenn_configs` from ncg.md §8: do not edit; change "
        "brainsnn/spikenn_configs.py and regenerate.",
        f"SpikeNN (Goupy et al., NeurIPS 2024) readout config {spikenn}, "
        f"on {INPUT_SIZES[row.extractor][cifar]} input features per sample (ncg.md §10).",
        f"Spec row: {row.spec}",
    ]
    if row.config in ABLATION_LABELS:
        paragraphs.append(f"Ablation label (ncg.md §6.7): {ABLATION_LABELS[row.config]}.")
    target = TABLE1.get((row.extractor, row.dataset, row.config))
    if target:
        paragraphs.append(f"Table 1 target (ncg.md §9.1, 10-fold mean ± std): {target} %.")
    if row.gap is not None:
        paragraphs.append(
            f"Time grid: dt = T/{TIME_STEPS}, and this row's g is {row.gap:g} T (g is as small "
            "as 0.0005 T in these configs). dt ≪ g is recommended (ncg.md §11): raise "
            "encoding.time_steps, or measure the loss against the exact oracle with "
            "benchmarks/ncg_agreement.py."
        )
    if row.starred:
        shipped = ", ".join(models(replace(row, cr="CR2")))
        paragraphs.append(
            "ncg.md §8 (*): SpikeNN's file lacks use_two_thr: false, so as shipped it runs CR-2 "
            f"(thr_lr {row.thr_lr:g}, thr_anneal {row.thr_anneal:g}); this protocol runs the "
            f"intended CR-1 with those values. To run it as shipped: --set "
            f"'network.models=[{shipped}]'."
        )
    paragraphs += row.notes
    lines = []
    for paragraph in paragraphs:
        lines += textwrap.wrap(paragraph, 98, break_on_hyphens=False, break_long_words=False)
    return [f"# {line}" for line in lines]


def render(row: Row) -> str:
    """The YAML text of a row's protocol file: the header comment, then the protocol."""
    body = yaml.safe_dump(protocol(row), sort_keys=False, allow_unicode=True, width=90)
    return "\n".join(_header(row)) + "\n" + body


def expected_files() -> dict[Path, str]:
    """Relative path → text of every protocol file the generator writes."""
    files = {row.path: render(row) for row in ROWS}
    assert len(files) == len(ROWS), "two rows map to the same file"
    return files


def stale_files(root: Path = PROTOCOL_ROOT) -> list[str]:
    """Files under ``root`` that are missing, differ from the generator's, or are not generated."""
    expected = expected_files()
    present = {path.relative_to(root) for path in root.rglob("*.yaml")} if root.is_dir() else set()
    problems = [f"{path}: not generated" for path in sorted(present - set(expected))]
    for path, text in sorted(expected.items()):
        if path not in present:
            problems.append(f"{path}: missing")
        elif (root / path).read_text(encoding="utf-8") != text:
            problems.append(f"{path}: differs")
    return problems


def write_files(root: Path = PROTOCOL_ROOT) -> int:
    """Write every protocol file under ``root``; return how many were written or changed."""
    changed = 0
    for path, text in expected_files().items():
        target = root / path
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            changed += 1
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m brainsnn.spikenn_configs", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    parser.add_argument("--root", type=Path, default=PROTOCOL_ROOT, help="output directory")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale_files(args.root)
        for problem in problems:
            print(f"{args.root / problem}", file=sys.stderr)
        if problems:
            print("regenerate with: python -m brainsnn.spikenn_configs", file=sys.stderr)
        return 1 if problems else 0
    changed = write_files(args.root)
    print(f"{len(ROWS)} protocols under {args.root} ({changed} written)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
