"""Checks of a training config's inputs that fail in seconds, before synthesis, features or TensorFlow.

    check_training_inputs(cfg)    # ValueError / tts_engines.EngineMissingError naming the cause

`kws-train` and the wake-word benchmark call it first, so that a bad input stops the run before any long
work, and nothing already computed (a synthesized folder, cached features, stage checkpoints) is touched:
- the phrase (data.kind tts): empty or without a letter or digit ("!!!"); whether the engines can say it
  is checked by `tts.generate_dataset` (`tts.check_speakable`) just before it synthesizes;
- the TTS engines: unknown (the config rejects them) or not installed (the message names the package);
- the data folder of the other kinds: missing (the loaders then list it before reading any audio);
- data.negative_dirs / data.noise_dirs / data.real_data: a folder without audio, a file that is not
  readable audio (its header: `audio_io.audio_info`);
- data.real_positives: a folder without audio, a recording that does not decode or is silent;
- the model's low ranks larger than the cell allows (the Keras cell would say so only after synthesis).
"""

from __future__ import annotations

from pathlib import Path

from keyword_spotting.audio_io import audio_info
from keyword_spotting.train_config import Config


def check_training_inputs(cfg: Config) -> None:
    """Raise ValueError (or `EngineMissingError`) naming the first bad input of `cfg` (module docstring)."""
    from keyword_spotting import real_negatives, real_positives, tts
    from keyword_spotting.tts_engines import get_engines

    m, n_in = cfg.model, cfg.features.num_features
    if m.kind == "fastgrnn" and m.u_rank is not None and m.u_rank > m.units:
        raise ValueError(f"model.u_rank must be <= model.units={m.units}, got {m.u_rank}")
    if m.kind == "fastgrnn" and m.w_rank is not None and m.w_rank > min(n_in, m.units):
        raise ValueError(f"model.w_rank must be <= min(features {n_in}, model.units={m.units}), got {m.w_rank}")
    d = cfg.data
    if d.kind == "tts":
        tts.check_phrase(d.phrase)
        get_engines(d.tts_engines or None)
    elif not Path(d.root).is_dir():
        raise ValueError(f"data.root {d.root} is not a directory (data.kind={d.kind})")
    sources = real_negatives.gather(d.negative_dirs, d.noise_dirs, d.real_data)
    for path in [p for p, _ in sources.negatives] + list(sources.noise):
        audio_info(path)  # ValueError naming the file
    if d.real_positives:
        real_positives.positive_files(d.real_positives, d.real_positives_max, d.seed, check=True)
