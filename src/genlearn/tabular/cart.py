"""Sequential CART synthesis (synthpop's default method; Reiter 2005, Nowok et al. 2016).

Each block of the encoded row (a number's normal score, or a one-hot's level) is a field; the
first field is drawn from its training values, and field j from a decision tree fitted to
predict it from fields 0..j-1: a synthetic row goes down the tree and takes the value of a
random training row in the leaf it lands in. Leaves hold at least ``min_leaf`` rows (default
5), so a value is always one of several. The trees are stored as arrays (no pickle);
``apply`` re-implements scikit-learn's descent (float32 features, ``x <= threshold`` goes left).

``smoothing`` > 0 (synthpop's ``smoothing = "density"``, scaled): a number drawn from a leaf
gets Gaussian noise of standard deviation ``smoothing`` x the leaf's Silverman bandwidth,
1.06 sd n^(-1/5) of the leaf's values (in the normal-score space the numbers are encoded in),
so synthetic numbers are no longer copies of training values: a larger distance to the closest
training record for a little TSTR (measured in benchmarks/README.md).

The checkpoint holds, per leaf, the training values of one field (not whole rows); say so to
whoever receives a saved synthesizer.
"""

from __future__ import annotations

import numpy as np
import torch


def apply_tree(arrays: dict, X: np.ndarray) -> np.ndarray:
    """Leaf index of each row of ``X`` (n, d) for a tree given as its node arrays."""
    left, right = arrays["left"], arrays["right"]
    feature, threshold = arrays["feature"], arrays["threshold"]
    X = X.astype(np.float32)
    node = np.zeros(len(X), dtype=np.int64)
    while True:
        inner = left[node] >= 0
        if not inner.any():
            return node
        idx = np.flatnonzero(inner)
        n = node[idx]
        go_left = X[idx, feature[n]] <= threshold[n]
        node[idx] = np.where(go_left, left[n], right[n])


def leaf_bandwidths(arrays: dict) -> np.ndarray:
    """Silverman's bandwidth 1.06 sd n^(-1/5) of each node's values (0 for empty nodes)."""
    values, first, count = arrays["values"], arrays["first"], arrays["count"]
    s1 = np.concatenate([[0.0], np.cumsum(values)])
    s2 = np.concatenate([[0.0], np.cumsum(values * values)])
    n = np.maximum(count, 1)
    mean = (s1[first + count] - s1[first]) / n
    var = np.maximum((s2[first + count] - s2[first]) / n - mean * mean, 0.0)
    return np.where(count > 1, 1.06 * np.sqrt(var) * n ** -0.2, 0.0)


def _fields(M: np.ndarray, blocks) -> np.ndarray:
    """(n, n_blocks): a number's value, or the index of a one-hot's level."""
    return np.column_stack([M[:, s] if act != "softmax" else M[:, s:s + w].argmax(axis=1)
                            for act, s, w in blocks]).astype(np.float64)


class CARTBackend:
    """Sequential decision trees over the fields of the encoded row (``model="cart"``)."""

    name = "cart"

    def fit(self, M, tr, p, gen, history, callback) -> str:
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        self.blocks = tr.blocks()
        self.smoothing = float(p.smoothing)
        if any(act == "tanh" for act, _, _ in self.blocks):
            raise ValueError("the CART synthesizer needs normalization='quantile'")
        F = _fields(M, self.blocks)
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
        self.trees = []
        for j, (act, _, _) in enumerate(self.blocks):
            if j == 0:
                arrays = {"left": np.array([-1]), "right": np.array([-1]),
                          "feature": np.array([0]), "threshold": np.array([0.0])}
                leaf = np.zeros(len(F), dtype=np.int64)
            else:
                cls = DecisionTreeClassifier if act == "softmax" else DecisionTreeRegressor
                tree = cls(min_samples_leaf=p.min_leaf, random_state=seed + j)
                tree.fit(F[:, :j].astype(np.float32), F[:, j])
                t = tree.tree_
                arrays = {"left": t.children_left.astype(np.int64),
                          "right": t.children_right.astype(np.int64),
                          "feature": t.feature.astype(np.int64),
                          "threshold": t.threshold.astype(np.float64)}
                leaf = apply_tree(arrays, F[:, :j])
            order = np.argsort(leaf, kind="stable")
            count = np.bincount(leaf, minlength=len(arrays["left"]))
            arrays.update(values=F[order, j], count=count, first=np.cumsum(count) - count)
            self.trees.append(arrays)
        history.append({"epoch": 1})
        return "completed"

    def sample(self, n, gen, cond) -> np.ndarray:
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=gen)))
        F = np.zeros((n, len(self.blocks)))
        for j, arrays in enumerate(self.trees):
            leaf = apply_tree(arrays, F[:, :j]) if j else np.zeros(n, dtype=np.int64)
            pick = arrays["first"][leaf] + (rng.random(n) * arrays["count"][leaf]).astype(np.int64)
            F[:, j] = arrays["values"][pick]
            if self.smoothing > 0 and self.blocks[j][0] != "softmax":
                bandwidth = leaf_bandwidths(arrays)[leaf]
                F[:, j] += self.smoothing * bandwidth * rng.standard_normal(n)
        width = sum(w for _, _, w in self.blocks)
        out = np.zeros((n, width))
        for j, (act, s, _w) in enumerate(self.blocks):
            if act == "softmax":
                out[np.arange(n), s + F[:, j].astype(np.int64)] = 1.0
            else:
                out[:, s] = F[:, j]
        return out

    def get_state(self):
        tensors = {f"cart{j}.{k}": torch.as_tensor(v) for j, arrays in enumerate(self.trees)
                   for k, v in arrays.items()}
        return {"blocks": [list(b) for b in self.blocks], "n_trees": len(self.trees)}, tensors

    def set_state(self, meta, tensors, tr, p) -> None:
        self.blocks = [tuple(b) for b in meta["blocks"]]
        self.smoothing = float(p.smoothing)
        keys = ("left", "right", "feature", "threshold", "values", "count", "first")
        self.trees = [{k: tensors[f"cart{j}.{k}"].numpy() for k in keys}
                      for j in range(meta["n_trees"])]
