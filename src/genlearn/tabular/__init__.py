"""Synthetic tables: a mixed-type transformer and TVAE/CTGAN/copula synthesizers.

    syn = genlearn.TabularSynthesizer(model="vae", seed=0).fit(df)
    fake = syn.sample(1000, conditions={"Status": "bad"})

Needs pandas (``pip install genlearn[tables]``).
"""

from .synthesizer import TabularSynthesizer
from .transformer import TableTransformer, read_table

__all__ = ["TableTransformer", "TabularSynthesizer", "read_table"]
