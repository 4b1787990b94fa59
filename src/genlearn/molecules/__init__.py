"""Molecules: SMILES/SELFIES token sequences for genlearn's sequence models, and their chemistry.

    import genlearn.molecules as glm
    smiles = glm.read_smiles("train.csv", subset_n=10_000, seed=0)
    data = glm.prepare(smiles, "selfies", max_length=100)    # skipped molecules are counted
    gen = glm.MoleculeGenerator(model="ngram", representation="selfies").fit(data)
    gen.sample(1000, seed=0)                                  # canonical SMILES or None

RDKit and selfies come with the chem extra (``pip install genlearn[chem]``); importing this
package does not need them, the first call that does raises a one-line error naming the extra.
"""

from ._chem import MissingExtraError
from .data import PreparedMolecules, canonical, prepare, read_smiles, subset
from .tokens import (
    REPRESENTATIONS,
    SelfiesRepr,
    ShortSelfiesRepr,
    SmilesRepr,
    Vocabulary,
    get_repr,
    span_cost,
    tokenize_smiles,
)

__all__ = [
    "REPRESENTATIONS",
    "MissingExtraError",
    "PreparedMolecules",
    "SelfiesRepr",
    "ShortSelfiesRepr",
    "SmilesRepr",
    "Vocabulary",
    "canonical",
    "get_repr",
    "prepare",
    "read_smiles",
    "span_cost",
    "subset",
    "tokenize_smiles",
]
