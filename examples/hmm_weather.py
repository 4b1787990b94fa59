"""HMM on the weather toy: hidden weather, observed activities; learn it back from samples.

What it teaches: what the hidden states of an HMM are, how to sample from one, how Baum-Welch
EM recovers the parameters from observations alone (up to relabelling the states), and what
Viterbi decoding and posterior state probabilities say. The model is the classic one: the
weather (Rainy, Sunny) follows a Markov chain; each day a friend walks, shops or cleans, with
probabilities that depend on the weather. What to look at: the printed true vs learned
parameters, the decoding accuracy, and `hmm_weather.png` (the first 100 days: true weather,
p(Rainy | all observations), and the Viterbi path).

    python examples/hmm_weather.py [--days 200] [--sequences 50] [--restarts 5] [--out DIR]
"""

import argparse
from pathlib import Path

import numpy as np

import genlearn as gl
from genlearn import viz

STATES, ACTIVITIES = ("Rainy", "Sunny"), ("walk", "shop", "clean")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=200)
    ap.add_argument("--sequences", type=int, default=50)
    ap.add_argument("--restarts", type=int, default=5, help="EM restarts (n_init)")
    ap.add_argument("--out", default="examples/out")
    args = ap.parse_args(argv)
    out = Path(args.out)

    # the generating model, set by hand (n_iter=0: "fit" only checks and stores it)
    true = gl.HMM(n_states=2, n_iter=0, initialize=(), verbose=False, device="cpu")
    true.startprob_ = np.array([0.6, 0.4])
    true.transmat_ = np.array([[0.7, 0.3], [0.4, 0.6]])
    true.emissionprob_ = np.array([[0.1, 0.4, 0.5], [0.6, 0.3, 0.1]])
    true.fit([np.arange(3)])
    seqs, states = true.sample(args.sequences, args.days, seed=0, return_states=True)

    # learn it back from the activities alone
    model = gl.HMM(n_states=2, n_iter=1000, tol=1e-3, n_init=args.restarts, seed=0, verbose=False,
                   device="cpu").fit(seqs)
    order = np.argsort(-model.emissionprob_[:, 2])  # the state that cleans most is "Rainy"
    np.set_printoptions(precision=2, suppress=True)
    print("true transitions\n", true.transmat_, "\nlearned\n",
          model.transmat_[np.ix_(order, order)])
    print("true emissions (walk, shop, clean)\n", true.emissionprob_, "\nlearned\n",
          model.emissionprob_[order])
    days = sum(map(len, seqs))
    print(f"log-likelihood per day: learned {model.total_log_prob(seqs) / days:.4f}, "
          f"true {true.total_log_prob(seqs) / days:.4f} (exact, forward algorithm)")
    relabel = np.argsort(order)
    _, paths = model.decode(seqs)
    acc = np.mean(np.concatenate([relabel[p] for p in paths]) == np.concatenate(states))
    print(f"Viterbi decoding recovers the hidden weather on {acc:.1%} of days")

    plt = viz._pyplot()
    days = min(100, args.days)
    post = model.predict_proba([seqs[0]])[0][:days, order[0]]
    fig, ax = plt.subplots(figsize=(10, 3))
    ax.step(range(days), 1 - states[0][:days], where="mid", label="true: Rainy", lw=2,
            color="0.6")
    ax.plot(post, label="p(Rainy | activities)", color="C0")
    ax.step(range(days), 1 - relabel[paths[0][:days]], where="mid", ls="--", color="C3",
            label="Viterbi: Rainy")
    ax.set_xlabel("day")
    ax.set_yticks([0, 1], ["Sunny", "Rainy"])
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title("hidden weather, its posterior and its Viterbi decoding")
    viz._save_figure(fig, out / "hmm_weather.png")
    model.save(out / "hmm_weather")
    print(f"wrote {out}/hmm_weather.png and the checkpoint {out}/hmm_weather")


if __name__ == "__main__":
    main()
