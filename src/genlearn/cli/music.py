"""``genlearn music``: train on chorales, generate and continue pieces as MIDI, evaluate.

    genlearn music train --corpus bach --model rnnrbm --out runs/bach
    genlearn music generate runs/bach --bars 16 -o piece.mid      (+ piece.png, piece.wav)
    genlearn music continue runs/bach start.mid --bars 8 -o completed.mid
    genlearn music evaluate runs/bach

``--corpus`` is ``bach`` (the music21 chorales, offline with the music extra), ``jsb`` or
``nottingham`` (the Boulanger-Lewandowski .mat files in ``$GENLEARN_MUSIC_DATA``), a ``.mat``
file, or a MIDI/MusicXML file or folder of your own.
"""

from __future__ import annotations

import json

MODELS = ("rnnrbm", "rnnnade", "lstm", "hmm", "bernoulli", "transformer")


def add_parser(sub) -> None:
    p = sub.add_parser("music", help="music: train on chorales, generate / continue MIDI, "
                       "evaluate")
    msub = p.add_subparsers(dest="music_command", required=True, metavar="ACTION")

    t = msub.add_parser("train", help="learn a model of a corpus of pieces")
    t.add_argument("--corpus", default="bach",
                   help="bach (music21, default), jsb, nottingham, a .mat file, or a MIDI/"
                   "MusicXML file or folder")
    t.add_argument("--model", default="rnnrbm", choices=MODELS)
    t.add_argument("--out", default="runs/music", help="run folder (default runs/music)")
    t.add_argument("--steps-per-quarter", type=int, default=1, choices=(1, 2),
                   help="time steps per quarter note: 1 (as JSB) or 2 (eighth notes)")
    t.add_argument("--epochs", type=int, default=None, help="training epochs (neural models)")
    t.add_argument("--lr", type=float, default=None, help="learning rate (neural models)")
    t.add_argument("--max-time", type=float, default=None,
                   help="stop training after this many seconds (neural models)")
    t.add_argument("--hidden", type=int, default=None,
                   help="RBM / NADE hidden units per time step")
    t.add_argument("--units", type=int, default=None, help="recurrent units (default 150)")
    t.add_argument("--states", type=int, default=None, help="HMM states (default 32)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    t.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="train a neural model in N processes on this machine (starts torchrun; "
                   "gloo on CPUs); rank 0 writes --out")
    t.set_defaults(func=_cmd_train)

    g = msub.add_parser("generate", help="a new piece: MIDI + piano-roll PNG (+ WAV)")
    g.add_argument("run")
    g.add_argument("--bars", type=int, default=16)
    g.add_argument("-o", "--output", default="piece.mid")
    g.add_argument("--seed", type=int, default=None)
    g.add_argument("--temperature", type=float, default=1.0,
                   help="divide each frame's logits (RBM: energy) by this before drawing: 1 is "
                   "the model, below 1 more conservative (recurrent frame models)")
    g.set_defaults(func=_cmd_generate)

    c = msub.add_parser("continue", help="continue the opening in a MIDI/MusicXML file; the "
                        "opening is kept unchanged")
    c.add_argument("run")
    c.add_argument("start", help="the opening: a .mid/.midi or MusicXML file")
    c.add_argument("--bars", type=int, default=8)
    c.add_argument("-o", "--output", default="completed.mid")
    c.add_argument("--clip", action="store_true",
                   help="move pitches outside the 88 keys by octaves into range (default: "
                   "refuse the file)")
    c.add_argument("--seed", type=int, default=None)
    c.add_argument("--temperature", type=float, default=1.0,
                   help="divide each frame's logits (RBM: energy) by this before drawing: 1 is "
                   "the model, below 1 more conservative (recurrent frame models)")
    c.set_defaults(func=_cmd_continue)

    e = msub.add_parser("evaluate", help="held-out NLL per step, frame accuracy and the "
                        "musical statistics of generated pieces")
    e.add_argument("run")
    e.add_argument("--pieces", type=int, default=None,
                   help="compare this many generated pieces (default: one per test piece)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--temperature", type=float, default=1.0,
                   help="divide each frame's logits (RBM: energy) by this before drawing: 1 is "
                   "the model, below 1 more conservative (recurrent frame models)")
    e.add_argument("--json", action="store_true", help="print the figures as JSON")
    e.set_defaults(func=_cmd_evaluate)


def _cmd_train(args) -> int:
    from ..training import launch

    return launch.run(args, _train, "cpu")  # the frame models run on the CPU


def _train(args) -> int:
    from .. import distributed
    from ..music import app

    params = {"epochs": args.epochs, "lr": args.lr, "max_time": args.max_time,
              "hidden": args.hidden,
              "units": args.units, "n_states": args.states}
    params = {k: v for k, v in params.items() if v is not None}
    if args.model in ("rnnrbm", "rnnnade", "lstm", "transformer"):
        params.update(seed=args.seed, verbose=not args.quiet)
    if args.model == "transformer" and "units" in params:
        params["n_embd"] = params.pop("units")
    report = app.train(args.corpus, args.model, args.out,
                       steps_per_quarter=args.steps_per_quarter, split_seed=args.seed,
                       **params)
    if distributed.rank() != 0:  # under torchrun: the same fit; rank 0 writes and reports
        return 0
    print(f"trained {report['model']} on {report['n_train']} pieces of {report['corpus']} in "
          f"{report['train_seconds']:.1f} s", flush=True)
    print(f"test NLL per time step: {report['test_nll_per_step']:.4f} nats "
          f"({report['n_test']} pieces; {report['estimator']})", flush=True)
    print(f"run: {report['out']}", flush=True)
    return 0


def _files(info: dict) -> None:
    print(f"wrote {info['midi']} and {info['png']}" + (f" and {info['wav']}" if info["wav"]
                                                       else ""), flush=True)
    if info["audio_note"]:
        print(info["audio_note"], flush=True)


def _cmd_generate(args) -> int:
    from ..music import app

    info = app.generate(args.run, args.output, bars=args.bars, seed=args.seed,
                        temperature=args.temperature)
    print(f"generated {args.bars} bars ({info['steps']} steps)", flush=True)
    _files(info)
    return 0


def _cmd_continue(args) -> int:
    from ..music import app

    info = app.continue_piece(args.run, args.start, args.output, bars=args.bars,
                              seed=args.seed, clip=args.clip, temperature=args.temperature)
    print(f"kept the {info['opening_steps']}-step opening and added {args.bars} bars "
          f"({info['steps']} steps in all)", flush=True)
    _files(info)
    return 0


def _cmd_evaluate(args) -> int:
    from ..music import app

    res = app.evaluate(args.run, n_pieces=args.pieces, seed=args.seed,
                       temperature=args.temperature)
    if args.json:
        print(json.dumps(res, indent=1), flush=True)
        return 0
    print(f"{res['corpus']}: {res['n_test']} test pieces, {res['test_steps']} steps "
          f"({res['estimator']})")
    print(f"NLL per time step           {res['nll_per_step']:.4f} nats")
    print(f"continuation (second halves) {res['continuation_nll_per_step']:.4f} nats per step")
    print(f"frame accuracy               {res['frame_accuracy']:.3f}")
    print(f"pitch-class distance         {res['pc_distance']:.3f} (held-out halves: "
          f"{res['pc_distance_halves']:.3f})")
    print(f"in-key share                 {res['in_key_generated']:.3f} generated, "
          f"{res['in_key_held_out']:.3f} held-out")
    print(f"duration / interval distance {res['duration_distance']:.3f} / "
          f"{res['interval_distance']:.3f} (halves {res['duration_distance_halves']:.3f} / "
          f"{res['interval_distance_halves']:.3f})")
    print(f"polyphony                    {res['polyphony_generated']:.2f} generated, "
          f"{res['polyphony_held_out']:.2f} held-out")
    print(f"copied {res['window_steps']}-step passages  {res['copied_share_generated']:.1%} "
          f"generated, {res['copied_share_held_out']:.1%} held-out", flush=True)
    return 0
