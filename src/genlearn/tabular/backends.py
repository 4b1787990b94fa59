"""The models behind ``TabularSynthesizer``, one strategy class each, on the encoded table.

Each backend learns from the ``(n, width)`` matrix a ``TableTransformer`` makes and draws
encoded rows whose one-hot blocks are exact one-hots, so ``inverse_transform`` decodes them.

- ``vae``: TVAE (Xu et al., 2019): ELBO with a Gaussian likelihood on numbers (learned
  per-column sigma) and a categorical one on blocks; sampling decodes z ~ N(0, I), adds sigma
  noise to the numbers and draws each block from its softmax.
- ``gan``: CTGAN (Xu et al., 2019): a residual generator with Gumbel-softmax blocks, a
  ``pac``-row WGAN-GP critic, and the conditional vector with training-by-sampling: each step
  picks a discrete column at random, one of its levels with probability proportional to
  log(1 + count), and real rows of that level, so rare levels are trained as often as the log
  of their count says rather than their count.
- ``copula``: a Gaussian copula (the SDV baseline): each number as its normal score, each
  category as a normal score drawn inside its frequency interval; one correlation matrix.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import ndtr, ndtri

from ..training import run_epochs
from .nets import TabularCritic, TabularGenerator, TabularVAENet, log_frequency, one_hot_draw


def _state_copy(modules) -> list[dict]:
    return [{k: v.detach().clone() for k, v in m.state_dict().items()} for m in modules]


def _load_copy(modules, states) -> None:
    for m, s in zip(modules, states, strict=True):
        m.load_state_dict(s)


def _prefixed(prefix: str, module) -> dict:
    return {f"{prefix}.{k}": v for k, v in module.state_dict().items()}


def _strip(tensors: dict, prefix: str) -> dict:
    return {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


class VAEBackend:
    name = "vae"
    lr = 1e-3
    weight_decay = 1e-5

    def build(self, tr, p) -> None:
        self.net = TabularVAENet(tr.width, tr.blocks(), tuple(p.hidden), p.latent_dim)

    def fit(self, M: np.ndarray, tr, p, gen: torch.Generator, history: list, callback) -> str:
        self.build(tr, p)
        X = torch.as_tensor(M, dtype=torch.float32)
        opt = torch.optim.Adam(self.net.parameters(), lr=p.lr or self.lr,
                               weight_decay=self.weight_decay)

        def step(idx, epoch):
            self.net.train()
            loss, metrics = self.net.loss(X[idx], gen)
            opt.zero_grad()
            loss.backward()
            opt.step()
            self.net.clamp_()
            return metrics

        return run_epochs(start_epoch=0, epochs=p.epochs, n_rows=len(X),
                          batch_size=min(p.batch_size, len(X)), generator=gen, step=step,
                          history=history, snapshot=lambda: _state_copy([self.net]),
                          restore=lambda s: _load_copy([self.net], s), callback=callback,
                          verbose=p.verbose, desc="tabular vae")

    def sample(self, n: int, gen: torch.Generator, cond: dict) -> np.ndarray:
        self.net.eval()
        return self.net.sample(n, gen).double().numpy()

    def get_state(self) -> tuple[dict, dict]:
        return {}, _prefixed("vae", self.net)

    def set_state(self, meta, tensors, tr, p) -> None:
        self.build(tr, p)
        self.net.load_state_dict(_strip(tensors, "vae"))


class GANBackend:
    name = "gan"
    lr = 2e-4
    pac = 10
    gp_weight = 10.0
    critic_hidden = (256, 256)

    def _discrete(self, tr) -> list[tuple[str, int, int]]:
        """(column, start, width) of the categorical and boolean columns: the condition."""
        spans = tr.spans()
        return [(c.name, *spans[c.name]) for c in tr.columns_
                if c.kind in ("categorical", "boolean")]

    def build(self, tr, p) -> None:
        self.discrete = self._discrete(tr)
        self.cond_dim = sum(w for _, _, w in self.discrete)
        self.generator = TabularGenerator(p.latent_dim, self.cond_dim, tuple(p.hidden),
                                          tr.width, tr.blocks())
        self.critic = TabularCritic(tr.width + self.cond_dim, self.critic_hidden, self.pac)

    def _cond_offsets(self) -> list[int]:
        return list(np.cumsum([0] + [w for _, _, w in self.discrete]))

    def fit(self, M, tr, p, gen, history, callback) -> str:
        self.build(tr, p)
        X = torch.as_tensor(M, dtype=torch.float32)
        n = len(X)
        offsets = self._cond_offsets()
        # per discrete column: level of every row, rows of every level, sampling weights
        levels = [X[:, s:s + w].argmax(dim=1) for _, s, w in self.discrete]
        self.freq = [torch.bincount(lv, minlength=w).tolist()
                     for lv, (_, _, w) in zip(levels, self.discrete, strict=True)]
        # rows sorted by level, with each level's first position and count, per column
        order = [torch.argsort(lv, stable=True) for lv in levels]
        counts = [torch.tensor(f) for f in self.freq]
        firsts = [torch.cumsum(c, 0) - c for c in counts]
        weights = [log_frequency(torch.tensor(f)) for f in self.freq]
        betas = (0.5, 0.9)
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=p.lr or self.lr, betas=betas,
                                 weight_decay=1e-6)
        opt_d = torch.optim.Adam(self.critic.parameters(), lr=p.lr or self.lr, betas=betas)
        batch = max(self.pac, min(p.batch_size, n) // self.pac * self.pac)

        def draw(b):
            """A batch of conditions and real rows that match them (training-by-sampling)."""
            if not self.discrete:
                return torch.zeros((b, 0)), torch.randint(0, n, (b,), generator=gen), None, None
            col = torch.randint(0, len(self.discrete), (b,), generator=gen)
            lvl = torch.zeros(b, dtype=torch.long)
            real = torch.zeros(b, dtype=torch.long)
            u = torch.rand(b, generator=gen, dtype=torch.float64)
            for c in range(len(self.discrete)):
                sel = torch.nonzero(col == c)[:, 0]
                if len(sel):
                    lv = torch.multinomial(weights[c], len(sel), replacement=True, generator=gen)
                    pick = firsts[c][lv] + (u[sel] * counts[c][lv]).long()
                    lvl[sel], real[sel] = lv, order[c][pick]
            cond = torch.zeros((b, self.cond_dim))
            cond[torch.arange(b), torch.tensor(offsets[:-1])[col] + lvl] = 1.0
            return cond, real, col, lvl

        def step(idx, epoch):
            self.generator.train(), self.critic.train()
            cond, real_idx, col, lvl = draw(batch)
            z = torch.randn((batch, p.latent_dim), generator=gen)
            fake, _ = self.generator(z, cond, gen)
            perm = torch.randperm(batch, generator=gen)  # real rows in another order (CTGAN)
            real = torch.cat([X[real_idx[perm]], cond[perm]], dim=1)
            fake_c = torch.cat([fake, cond], dim=1).detach()
            d_loss = self.critic(fake_c).mean() - self.critic(real).mean()
            gp = self.critic.gradient_penalty(real, fake_c, gen)
            opt_d.zero_grad()
            (d_loss + self.gp_weight * gp).backward()
            opt_d.step()

            cond, _, col, lvl = draw(batch)
            z = torch.randn((batch, p.latent_dim), generator=gen)
            fake, raw = self.generator(z, cond, gen)
            g_loss = -self.critic(torch.cat([fake, cond], dim=1)).mean()
            ce = torch.zeros(())
            for c, (_, s, w) in enumerate(self.discrete):
                sel = col == c
                if sel.any():
                    ce = ce + F.cross_entropy(raw[sel, s:s + w], lvl[sel],
                                              reduction="sum") / batch
            opt_g.zero_grad()
            (g_loss + ce).backward()
            opt_g.step()
            return {"critic": float(d_loss.detach()), "generator": float(g_loss.detach()),
                    "condition": float(ce.detach())}

        modules = [self.generator, self.critic]
        return run_epochs(start_epoch=0, epochs=p.epochs, n_rows=n, batch_size=batch,
                          generator=gen, step=step, history=history, drop_last=True,
                          snapshot=lambda: _state_copy(modules),
                          restore=lambda s: _load_copy(modules, s), callback=callback,
                          verbose=p.verbose, desc="tabular gan")

    @torch.no_grad()
    def sample(self, n, gen, cond: dict) -> np.ndarray:
        self.generator.eval()
        offsets = self._cond_offsets()
        c = torch.zeros((n, self.cond_dim))
        names = [d[0] for d in self.discrete]
        if cond:
            for name, level in cond.items():
                if name in names:
                    j = names.index(name)
                    c[:, offsets[j] + level] = 1.0
        elif self.discrete:
            # unconditional: a random discrete column and a level at its training frequency
            col = torch.randint(0, len(self.discrete), (n,), generator=gen)
            for j in range(len(self.discrete)):
                sel = torch.nonzero(col == j)[:, 0]
                if len(sel):
                    f = torch.tensor(self.freq[j], dtype=torch.float64)
                    lvl = torch.multinomial(f / f.sum(), len(sel), replacement=True,
                                            generator=gen)
                    c[sel, offsets[j] + lvl] = 1.0
        z = torch.randn((n, self.generator.body[0].fc.in_features - self.cond_dim),
                        generator=gen)
        fake, _ = self.generator(z, c, gen)
        return one_hot_draw(fake, self.generator.blocks, gen, argmax=True).double().numpy()

    def get_state(self):
        return {"freq": self.freq}, {**_prefixed("generator", self.generator),
                                     **_prefixed("critic", self.critic)}

    def set_state(self, meta, tensors, tr, p) -> None:
        self.build(tr, p)
        self.freq = meta["freq"]
        self.generator.load_state_dict(_strip(tensors, "generator"))
        self.critic.load_state_dict(_strip(tensors, "critic"))


class CopulaBackend:
    """Gaussian copula over one normal score per block (needs quantile-normalised numbers)."""

    name = "copula"

    def fit(self, M, tr, p, gen, history, callback) -> str:
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=gen)))
        self.blocks = tr.blocks()
        if any(act == "tanh" for act, _, _ in self.blocks):
            raise ValueError("the copula needs normalization='quantile'")
        self.probs, cols = [], []
        for act, s, w in self.blocks:
            if act == "softmax":
                k = M[:, s:s + w].argmax(axis=1)
                prob = np.bincount(k, minlength=w) / len(k)
                lo = np.concatenate([[0.0], np.cumsum(prob)[:-1]])
                u = lo[k] + rng.random(len(k)) * prob[k]  # uniform inside the level's interval
                cols.append(ndtri(np.clip(u, 1e-7, 1 - 1e-7)))
                self.probs.append(prob.tolist())
            else:
                cols.append(M[:, s])
                self.probs.append(None)
        Z = np.column_stack(cols)                                           # (n, n_blocks)
        if len(Z) < 2:  # one row: no correlation to learn
            corr = np.eye(Z.shape[1])
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                corr = np.atleast_2d(np.corrcoef(Z, rowvar=False))
        corr = np.nan_to_num(corr)
        np.fill_diagonal(corr, 1.0)
        vals, vecs = np.linalg.eigh(corr)  # nearest positive-definite matrix by eigenvalue floor
        corr = (vecs * np.maximum(vals, 1e-6)) @ vecs.T
        d = np.sqrt(np.diag(corr))
        self.corr = corr / np.outer(d, d)
        history.append({"epoch": 1})
        return "completed"

    def sample(self, n, gen, cond) -> np.ndarray:
        L = np.linalg.cholesky(self.corr + 1e-10 * np.eye(len(self.corr)))
        eps = torch.randn((n, len(self.corr)), generator=gen, dtype=torch.float64).numpy()
        Z = eps @ L.T
        width = sum(w for _, _, w in self.blocks)
        out = np.zeros((n, width))
        for j, (act, s, _w) in enumerate(self.blocks):
            if act == "softmax":
                edges = np.cumsum(self.probs[j])[:-1]
                k = np.searchsorted(edges, ndtr(Z[:, j]), side="right")
                out[np.arange(n), s + k] = 1.0
            else:
                out[:, s] = Z[:, j]
        return out

    def get_state(self):
        return ({"probs": self.probs, "blocks": [list(b) for b in self.blocks]},
                {"copula.corr": torch.as_tensor(self.corr)})

    def set_state(self, meta, tensors, tr, p) -> None:
        self.probs = meta["probs"]
        self.blocks = [tuple(b) for b in meta["blocks"]]
        self.corr = tensors["copula.corr"].numpy()


from .cart import CARTBackend  # noqa: E402  (after the classes it sits beside)

BACKENDS = {cls.name: cls for cls in (VAEBackend, GANBackend, CopulaBackend, CARTBackend)}
