"""How good a synthetic table is: fidelity, usefulness for a classifier, detectability, privacy.

All scores follow SDMetrics' conventions where one exists (1 is best):

- column shapes: ``1 - KS statistic`` for numbers and dates (two-sample Kolmogorov-Smirnov on
  the non-missing values), ``1 - total variation distance`` for categories and booleans
  (missing counted as its own level); the table's score is the mean over columns.
- pair trends: ``1 - |r_real - r_synth| / 2`` for two numbers (Pearson r, SDMetrics'
  CorrelationSimilarity) and ``1 - |V_real - V_synth|`` for any pair with a category (Cramer's V,
  numbers cut into 10 quantile bins of the real column); rows missing either value are dropped.
- TSTR (train synthetic, test real): a fixed ``HistGradientBoostingClassifier(random_state=0)``
  trained on the synthetic rows and scored on held-out real rows (ROC AUC, accuracy, macro F1),
  beside the same classifier trained on the real training rows (TRTR).
- detection (C2ST): accuracy of the same classifier telling real rows from synthetic ones on a
  held-out half (0.5 = indistinguishable).
- privacy: each synthetic row's distance to its closest real training row (DCR; Gower distance:
  range-scaled absolute difference for numbers, 0/1 for categories and for missing vs present)
  beside the same for real hold-out rows, and the share of synthetic rows that copy a training
  row exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp
from scipy.stats.contingency import association

from ..tabular.columns import detect_kind
from ..tabular.transformer import row_hashes

NUMERIC = ("continuous", "integer", "datetime")
DISCRETE = ("categorical", "boolean")


def column_kinds(real: pd.DataFrame, kinds: dict | None = None) -> dict[str, str]:
    """Column name -> type, detected on ``real`` unless given in ``kinds``."""
    kinds = dict(kinds or {})
    return {c: kinds.get(c) or detect_kind(real[c]) for c in real.columns}


def check_same_columns(real: pd.DataFrame, synth: pd.DataFrame, name: str = "synthetic"):
    """``synth`` with ``real``'s columns in ``real``'s order; an error names any difference."""
    missing = [str(c) for c in real.columns if c not in synth.columns]
    extra = [str(c) for c in synth.columns if c not in real.columns]
    if missing or extra:
        raise ValueError(f"the {name} table does not have the real table's columns: missing "
                         f"{missing}, unexpected {extra}")
    return synth[list(real.columns)]


def _numbers(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        s = (s - pd.Timestamp("1970-01-01", tz=s.dt.tz)) / pd.Timedelta(seconds=1)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _labels(s: pd.Series) -> np.ndarray:
    return s.astype(object).where(s.notna(), "<missing>").astype(str).to_numpy()


def ks_complement(real: pd.Series, synth: pd.Series) -> float:
    a, b = _numbers(real), _numbers(synth)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) == 0 or len(b) == 0:
        return float(len(a) == len(b))
    return 1.0 - float(ks_2samp(a, b).statistic)


def tv_complement(real: pd.Series, synth: pd.Series) -> float:
    p = pd.Series(_labels(real)).value_counts(normalize=True)
    q = pd.Series(_labels(synth)).value_counts(normalize=True)
    p, q = p.align(q, fill_value=0.0)
    return 1.0 - 0.5 * float(np.abs(p - q).sum())


def column_shapes(real, synth, kinds: dict | None = None) -> dict:
    """Per-column shape scores and their mean (``score``); constant columns are skipped."""
    synth = check_same_columns(real, synth)
    kinds = column_kinds(real, kinds)
    per = {}
    for c, kind in kinds.items():
        if kind in NUMERIC:
            per[c] = ks_complement(real[c], synth[c])
        elif kind in DISCRETE:
            per[c] = tv_complement(real[c], synth[c])
    return {"score": float(np.mean(list(per.values()))) if per else float("nan"),
            "columns": per}


def _binned(s: pd.Series, edges: np.ndarray) -> np.ndarray:
    x = _numbers(s)
    out = np.searchsorted(edges, x, side="right").astype(object)
    out[np.isnan(x)] = None
    return out


def _association(a: np.ndarray, b: np.ndarray) -> float:
    """Cramer's V of two label arrays (0 when either has a single level)."""
    ok = pd.notna(a) & pd.notna(b)
    a, b = a[ok].astype(str), b[ok].astype(str)
    if len(a) == 0:
        return 0.0
    table = pd.crosstab(a, b).to_numpy()
    if min(table.shape) < 2:
        return 0.0
    return float(association(table, method="cramer"))


def pair_association(real, synth, kinds: dict) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Columns and their pairwise association matrices (Pearson r for two numbers, Cramer's V
    otherwise) in the real and the synthetic table."""
    cols = [c for c, k in kinds.items() if k in NUMERIC + DISCRETE]
    edges = {}
    for c in cols:
        if kinds[c] in NUMERIC:
            x = _numbers(real[c])
            edges[c] = np.unique(np.nanquantile(x, np.linspace(0.1, 0.9, 9)))
    R, S = np.eye(len(cols)), np.eye(len(cols))
    for i, a in enumerate(cols):
        for j in range(i + 1, len(cols)):
            b = cols[j]
            for out, df in ((R, real), (S, synth)):
                if kinds[a] in NUMERIC and kinds[b] in NUMERIC:
                    x, y = _numbers(df[a]), _numbers(df[b])
                    ok = ~(np.isnan(x) | np.isnan(y))
                    with np.errstate(invalid="ignore", divide="ignore"):
                        r = np.corrcoef(x[ok], y[ok])[0, 1] if ok.sum() > 1 else 0.0
                    v = 0.0 if not np.isfinite(r) else float(r)
                else:
                    la = _binned(df[a], edges[a]) if a in edges else _labels_or_none(df[a])
                    lb = _binned(df[b], edges[b]) if b in edges else _labels_or_none(df[b])
                    v = _association(la, lb)
                out[i, j] = out[j, i] = v
    return cols, R, S


def _labels_or_none(s: pd.Series) -> np.ndarray:
    out = s.astype(object).to_numpy().copy()
    out[s.isna().to_numpy()] = None
    return out


def pair_trends(real, synth, kinds: dict | None = None) -> dict:
    """Pair scores (see the module docstring), their mean, and the association matrices."""
    synth = check_same_columns(real, synth)
    kinds = column_kinds(real, kinds)
    cols, R, S = pair_association(real, synth, kinds)
    pairs = {}
    for i, a in enumerate(cols):
        for j in range(i + 1, len(cols)):
            both_num = kinds[a] in NUMERIC and kinds[cols[j]] in NUMERIC
            d = abs(R[i, j] - S[i, j])
            pairs[f"{a} | {cols[j]}"] = 1.0 - (d / 2 if both_num else d)
    return {"score": float(np.mean(list(pairs.values()))) if pairs else float("nan"),
            "pairs": pairs, "columns": cols, "real": R.tolist(), "synthetic": S.tolist()}


# -- classifiers -------------------------------------------------------------------------------
def _encode(frames: list[pd.DataFrame], kinds: dict) -> tuple[list[np.ndarray], list[bool]]:
    """Numeric feature matrices for the gradient-boosted classifier; categories as codes."""
    cols = [c for c, k in kinds.items() if k in NUMERIC + DISCRETE]
    mats, is_cat = [np.zeros((len(f), len(cols))) for f in frames], []
    for j, c in enumerate(cols):
        if kinds[c] in NUMERIC:
            for m, f in zip(mats, frames, strict=True):
                m[:, j] = _numbers(f[c])
            is_cat.append(False)
        else:
            levels = sorted(set().union(*[set(_labels(f[c])) for f in frames]))
            lookup = {v: i for i, v in enumerate(levels)}
            for m, f in zip(mats, frames, strict=True):
                m[:, j] = [lookup[v] for v in _labels(f[c])]
            # more levels than the booster's 255 bins: treat the codes as numbers
            is_cat.append(len(levels) <= 250)
    return mats, is_cat


def fixed_classifier(is_cat: list[bool], seed: int = 0):
    """The one classifier every table figure uses (defaults, fixed seed)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(categorical_features=np.asarray(is_cat, dtype=bool)
                                          if any(is_cat) else None, random_state=seed)


def _fit(clf, X, y, threads: int = 1):
    """Fit with ``threads`` OpenMP threads: the booster's default of one per core is many
    times slower on a shared machine (measured: 33 s of CPU for these tests against 5 s)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="openmp"):
        return clf.fit(X, y)


def _target_labels(df: pd.DataFrame, target: str, name: str) -> np.ndarray:
    if target not in df.columns:
        raise ValueError(f"target column {target!r} is not in the {name} table")
    y = df[target]
    if y.isna().any():
        raise ValueError(f"target column {target!r} has {int(y.isna().sum())} missing value(s) "
                         f"in the {name} table; drop those rows first")
    y = _labels(y)
    if len(np.unique(y)) < 2:
        raise ValueError(f"target column {target!r} has a single class ({y[0]!r}) in the "
                         f"{name} table; a classifier needs at least two")
    return y


def _scores(clf, X, y, classes) -> dict:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    proba = np.zeros((len(X), len(classes)))
    proba[:, np.searchsorted(classes, clf.classes_)] = clf.predict_proba(X)
    pred = classes[np.argmax(proba, axis=1)]
    present = np.isin(classes, y)
    if present.sum() < 2:
        auc = float("nan")
    elif len(classes) == 2:
        auc = float(roc_auc_score(y == classes[1], proba[:, 1]))
    else:
        p = proba[:, present] / np.clip(proba[:, present].sum(1, keepdims=True), 1e-12, None)
        auc = float(roc_auc_score(y, p, multi_class="ovr", labels=classes[present]))
    return {"roc_auc": auc, "accuracy": float(accuracy_score(y, pred)),
            "f1_macro": float(f1_score(y, pred, average="macro", labels=np.unique(y)))}


def tstr(train_real, synth, test_real, target: str, kinds: dict | None = None,
         seed: int = 0) -> dict:
    """ROC AUC, accuracy and macro F1 on ``test_real`` of the fixed classifier trained on the
    synthetic rows (``synthetic``) and on the real training rows (``real``)."""
    synth = check_same_columns(train_real, synth)
    test_real = check_same_columns(train_real, test_real, "test")
    kinds = column_kinds(train_real, kinds)
    kinds.pop(target, None)
    y_real = _target_labels(train_real, target, "real training")
    y_syn = _target_labels(synth, target, "synthetic")
    y_test = _target_labels(test_real, target, "test")
    classes = np.unique(np.concatenate([y_real, y_syn, y_test]))
    (Xr, Xs, Xt), is_cat = _encode([train_real, synth, test_real], kinds)
    out = {}
    for name, X, y in (("real", Xr, y_real), ("synthetic", Xs, y_syn)):
        clf = _fit(fixed_classifier(is_cat, seed), X, y)
        out[name] = _scores(clf, Xt, y_test, classes)
    return out


def detection(real, synth, kinds: dict | None = None, seed: int = 0,
              max_rows: int = 5000) -> dict:
    """C2ST: accuracy (and ROC AUC) of the fixed classifier telling real from synthetic rows,
    trained on half of an equal-sized mix and tested on the other half."""
    from sklearn.metrics import roc_auc_score

    synth = check_same_columns(real, synth)
    kinds = column_kinds(real, kinds)
    rng = np.random.default_rng(seed)
    m = min(len(real), len(synth), max_rows)
    real = real.iloc[rng.permutation(len(real))[:m]]
    synth = synth.iloc[rng.permutation(len(synth))[:m]]
    (Xr, Xs), is_cat = _encode([real, synth], kinds)
    X = np.concatenate([Xr, Xs])
    y = np.r_[np.zeros(m), np.ones(m)]
    idx = rng.permutation(2 * m)
    tr, te = idx[: m], idx[m:]
    clf = _fit(fixed_classifier(is_cat, seed), X[tr], y[tr])
    p = clf.predict_proba(X[te])[:, 1]
    return {"accuracy": float(np.mean((p > 0.5) == y[te])),
            "roc_auc": float(roc_auc_score(y[te], p)), "n_per_side": int(m)}


def _gower_parts(frames, kinds):
    cols = [c for c, k in kinds.items() if k in NUMERIC + DISCRETE]
    num, cat = [], []
    ref = frames[0]
    for c in cols:
        if kinds[c] in NUMERIC:
            x = _numbers(ref[c])
            span = np.nanmax(x) - np.nanmin(x) if np.isfinite(x).any() else 1.0
            num.append([_numbers(f[c]) / (span or 1.0) for f in frames])
        else:
            levels = {v: i for i, v in enumerate(sorted(set().union(
                *[set(_labels(f[c])) for f in frames])))}
            cat.append([np.array([levels[v] for v in _labels(f[c])]) for f in frames])
    stack = [(np.column_stack([n[i] for n in num]) if num else np.zeros((len(f), 0)),
              np.column_stack([k[i] for k in cat]) if cat else np.zeros((len(f), 0)))
             for i, f in enumerate(frames)]
    return stack, len(cols)


def closest_distances(query, reference, kinds: dict, chunk: int = 256) -> np.ndarray:
    """Gower distance from each ``query`` row to its closest ``reference`` row."""
    ((rn, rc), (qn, qc)), d = _gower_parts([reference, query], kinds)
    out = np.empty(len(qn))
    for s in range(0, len(qn), chunk):
        a_n, a_c = qn[s:s + chunk, None, :], qc[s:s + chunk, None, :]     # (c, 1, k)
        diff = np.abs(a_n - rn[None])                                    # (c, R, k_num)
        na_a, na_r = np.isnan(a_n), np.isnan(rn[None])
        diff = np.where(na_a & na_r, 0.0, np.where(na_a | na_r, 1.0, diff))
        dist = diff.sum(-1) + (a_c != rc[None]).sum(-1)                  # (c, R)
        out[s:s + chunk] = dist.min(axis=1) / max(d, 1)
    return out


def privacy(train_real, synth, holdout_real, kinds: dict | None = None, max_rows: int = 2000,
            seed: int = 0) -> dict:
    """DCR of synthetic rows and of real hold-out rows to the training rows (medians and 5th
    percentiles), and the share of synthetic rows that are exact copies of a training row."""
    synth = check_same_columns(train_real, synth)
    holdout_real = check_same_columns(train_real, holdout_real, "hold-out")
    kinds = column_kinds(train_real, kinds)
    copies = float(np.isin(row_hashes(synth), row_hashes(train_real)).mean())
    rng = np.random.default_rng(seed)
    s = synth.iloc[rng.permutation(len(synth))[:max_rows]]
    h = holdout_real.iloc[rng.permutation(len(holdout_real))[:max_rows]]
    ds = closest_distances(s, train_real, kinds)
    dh = closest_distances(h, train_real, kinds)
    return {"exact_copies": copies,
            "dcr_synthetic_median": float(np.median(ds)),
            "dcr_holdout_median": float(np.median(dh)),
            "dcr_synthetic_p05": float(np.quantile(ds, 0.05)),
            "dcr_holdout_p05": float(np.quantile(dh, 0.05))}


def evaluate(train_real, synth, test_real=None, target: str | None = None,
             kinds: dict | None = None, seed: int = 0) -> dict:
    """Every table metric in one dict (TSTR, detection and privacy need ``test_real``)."""
    out = {"column_shapes": column_shapes(train_real, synth, kinds),
           "pair_trends": pair_trends(train_real, synth, kinds)}
    out["detection"] = detection(train_real, synth, kinds, seed)
    if test_real is not None:
        out["privacy"] = privacy(train_real, synth, test_real, kinds, seed=seed)
        if target is not None:
            out["tstr"] = tstr(train_real, synth, test_real, target, kinds, seed)
    return out
