"""Pictures and sound of a piece: a piano-roll PNG, and a WAV where FluidSynth is installed.

Audio needs the ``fluidsynth`` program and a General MIDI soundfont from the operating
system -- on Debian/Ubuntu ``sudo apt install fluidsynth fluid-soundfont-gm`` -- found on PATH
and at ``GENLEARN_SOUNDFONT`` or the usual soundfont folders. Nothing is downloaded at run time;
without them :func:`write_wav` says how to install them and writes nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from .data import LOWEST_PITCH

SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
              "/usr/share/soundfonts/FluidR3_GM.sf2", "/usr/share/soundfonts/default.sf2")
INSTALL_AUDIO = "sudo apt install fluidsynth fluid-soundfont-gm"


def save_piano_roll(roll, path, *, steps_per_quarter: int = 1, opening: int = 0,
                    title: str | None = None) -> Path:
    """Draw a roll as time x pitch, cropped to the pitches used; the first ``opening`` steps
    (a given opening that a continuation kept) are shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io import atomic_path

    roll = np.asarray(roll)
    used = np.flatnonzero(roll.any(0))
    lo, hi = (used.min(), used.max() + 1) if used.size else (0, roll.shape[1])
    fig, ax = plt.subplots(figsize=(min(24, 2 + roll.shape[0] / 8), 4))
    ax.imshow(roll[:, lo:hi].T, origin="lower", aspect="auto", cmap="Greys",
              interpolation="nearest", extent=(0, roll.shape[0], LOWEST_PITCH + lo - 0.5,
                                               LOWEST_PITCH + hi - 0.5))
    if opening:
        ax.axvspan(0, opening, color="tab:blue", alpha=0.12, label="given opening")
        ax.legend(loc="upper right")
    ax.set_xlabel(f"time step (1/{steps_per_quarter} quarter note)")
    ax.set_ylabel("MIDI pitch")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return path


def find_soundfont() -> str | None:
    env = os.environ.get("GENLEARN_SOUNDFONT")
    for cand in ([env] if env else []) + list(SOUNDFONTS):
        if Path(cand).is_file():
            return cand
    return None


def audio_available() -> str | None:
    """None when audio can be rendered, else a line saying what to install."""
    if shutil.which("fluidsynth") is None or find_soundfont() is None:
        return f"no WAV written: audio needs FluidSynth and a GM soundfont ({INSTALL_AUDIO})"
    return None


def write_wav(midi_path, wav_path, *, sample_rate: int = 44100) -> Path | None:
    """Render a MIDI file to WAV with FluidSynth; None (nothing written) when not installed."""
    if audio_available() is not None:
        return None
    from ..io import atomic_path

    wav_path = Path(wav_path)
    with atomic_path(wav_path) as tmp:
        subprocess.run(["fluidsynth", "-ni", "-F", str(tmp), "-r", str(sample_rate),
                        find_soundfont(), str(midi_path)], check=True, capture_output=True)
    return wav_path
