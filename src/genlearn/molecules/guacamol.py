"""GuacaMol's goal-directed benchmark: the published baseline scores and our comparison.

The 20 tasks of suite v2 (Brown et al. 2019, "GuacaMol: benchmarking models for de novo
molecular design", J. Chem. Inf. Model. 59, 1096) are scored by
:mod:`genlearn.molecules.objectives` (rebuilt with RDKit; ``benchmarks/guacamol_check.py``
compares them with the ``guacamol`` package's own scoring functions). A task's score is the
mean of the top-1, top-10 and top-100 averages of the distinct molecules found
(:func:`~genlearn.molecules.objectives.guacamol_score`).

:data:`PUBLISHED` is the paper's Table 2 (goal-directed results, ChEMBL 24 as the starting
data): the best molecules of the data set, the SMILES LSTM (hill-climbing on a pretrained
LSTM), the SMILES GA, the Graph GA and the Graph MCTS. The values were transcribed from two
public copies of that table (the CReM README, Polishchuk 2020, for the four model columns; a
transcription of Table 2 with the best-from-dataset column); each column's sum over the 20
tasks is the paper's total (tested).
"""

from __future__ import annotations

import numpy as np

from .objectives import guacamol_score

__all__ = ["GUACAMOL_FACTORIES", "MPO_TASKS", "PUBLISHED", "PUBLISHED_TOTALS", "SMARTS_TASKS",
           "TASKS", "compare_with_published"]

# genlearn's task name -> (name in the paper's Table 2, guacamol.standard_benchmarks factory)
TASKS = {
    "celecoxib_rediscovery": ("Celecoxib rediscovery", None),
    "troglitazone_rediscovery": ("Troglitazone rediscovery", None),
    "thiothixene_rediscovery": ("Thiothixene rediscovery", None),
    "aripiprazole_similarity": ("Aripiprazole similarity", None),
    "albuterol_similarity": ("Albuterol similarity", None),
    "mestranol_similarity": ("Mestranol similarity", None),
    "c11h24": ("C11H24", "isomers_c11h24"),
    "c9h10n2o2pf2cl": ("C9H10N2O2PF2Cl", "isomers_c9h10n2o2pf2cl"),
    "median1": ("Median molecules 1", "median_camphor_menthol"),
    "median2": ("Median molecules 2", "median_tadalafil_sildenafil"),
    "osimertinib_mpo": ("Osimertinib MPO", "hard_osimertinib"),
    "fexofenadine_mpo": ("Fexofenadine MPO", "hard_fexofenadine"),
    "ranolazine_mpo": ("Ranolazine MPO", "ranolazine_mpo"),
    "perindopril_mpo": ("Perindopril MPO", "perindopril_rings"),
    "amlodipine_mpo": ("Amlodipine MPO", "amlodipine_rings"),
    "sitagliptin_mpo": ("Sitagliptin MPO", "sitagliptin_replacement"),
    "zaleplon_mpo": ("Zaleplon MPO", "zaleplon_with_other_formula"),
    "valsartan_smarts": ("Valsartan SMARTS", "valsartan_smarts"),
    "deco_hop": ("Deco Hop", "decoration_hop"),
    "scaffold_hop": ("Scaffold Hop", "scaffold_hop"),
}

# The multi-property tasks genlearn's objectives define (Table 2's "MPO" rows).
MPO_TASKS = ("osimertinib_mpo", "fexofenadine_mpo", "ranolazine_mpo", "perindopril_mpo",
             "amlodipine_mpo", "sitagliptin_mpo", "zaleplon_mpo")
# The substructure tasks (Table 2's last three rows), also defined by genlearn's objectives.
SMARTS_TASKS = ("valsartan_smarts", "deco_hop", "scaffold_hop")
# the tasks whose guacamol factory takes no argument: benchmarks/guacamol_check.py scores them
GUACAMOL_FACTORIES = {t: TASKS[t][1] for t in MPO_TASKS + SMARTS_TASKS}

COLUMNS = ("best_of_dataset", "smiles_lstm", "smiles_ga", "graph_ga", "graph_mcts")

# Table 2 of Brown et al. (2019), in the order of TASKS.
_TABLE = [
    (0.505, 1.000, 0.732, 1.000, 0.355),
    (0.419, 1.000, 0.515, 1.000, 0.311),
    (0.456, 1.000, 0.598, 1.000, 0.311),
    (0.595, 1.000, 0.834, 1.000, 0.380),
    (0.719, 1.000, 0.907, 1.000, 0.749),
    (0.629, 1.000, 0.790, 1.000, 0.402),
    (0.684, 0.993, 0.829, 0.971, 0.410),
    (0.747, 0.879, 0.889, 0.982, 0.631),
    (0.334, 0.438, 0.334, 0.406, 0.225),
    (0.351, 0.422, 0.380, 0.432, 0.170),
    (0.839, 0.907, 0.886, 0.953, 0.784),
    (0.817, 0.959, 0.931, 0.998, 0.695),
    (0.792, 0.855, 0.881, 0.920, 0.616),
    (0.575, 0.808, 0.661, 0.792, 0.385),
    (0.696, 0.894, 0.722, 0.894, 0.533),
    (0.509, 0.545, 0.689, 0.891, 0.458),
    (0.547, 0.669, 0.413, 0.754, 0.488),
    (0.259, 0.978, 0.552, 0.990, 0.040),
    (0.933, 0.996, 0.970, 1.000, 0.590),
    (0.738, 0.998, 0.885, 1.000, 0.478),
]
PUBLISHED = {task: dict(zip(COLUMNS, row, strict=True))
             for task, row in zip(TASKS, _TABLE, strict=True)}
# the "total score" row of the transcriptions (the issue quotes them to two decimals: 12.14,
# 17.34, 14.40, 17.98)
PUBLISHED_TOTALS = {"best_of_dataset": 12.144, "smiles_lstm": 17.341, "smiles_ga": 14.398,
                    "graph_ga": 17.983, "graph_mcts": 9.011}


def compare_with_published(task: str, scores) -> dict:
    """Our GuacaMol score for ``task`` from the objective scores of the distinct molecules
    found, beside the published figures and whether it beats each."""
    if task not in PUBLISHED:
        raise ValueError(f"unknown GuacaMol task {task!r}; choose one of {', '.join(TASKS)}")
    ours = guacamol_score(np.asarray(scores, dtype=np.float64), task)
    pub = PUBLISHED[task]
    return {"task": task, "score": ours, **{f"published_{k}": v for k, v in pub.items()},
            **{f"beats_{k}": bool(ours > v) for k, v in pub.items()}}
