"""Each prompt WAV again in the codings of G.711 telephone lines, beside it: `welcome.ulaw`
(μ-law, PCMU) and `welcome.alaw` (A-law, PCMA), headerless 8 kHz.

Asterisk plays, of the files of one name, the one whose format is the channel's own: on a
G.711 line that is a copy, played as it is, where the WAV would be converted on every 20 ms
frame of every call. The WAV stays the prompt (what is made, imported, checked and heard in
the simulator); a copy is made from its WAV alone, so `copies_of` is what a copy must hold,
`refresh` writes the ones that do not, and `stale` names them. The copies are not shipped:
they are made where Asterisk plays the prompts (`ivr install`, `ivr asterisk up`, and
`ivr prompts build` or `import` in the folder they change).
"""

from __future__ import annotations

import audioop  # Python 3.13+: the audioop-lts package
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

from agi.atomic_file import replace_file

CODINGS: dict[str, Callable[[bytes, int], bytes]] = {
    ".ulaw": audioop.lin2ulaw,
    ".alaw": audioop.lin2alaw,
}
"""Each copy's suffix (Asterisk's format name) and how it is made from 16-bit samples."""
PLAYED = (".wav", *CODINGS)
"""The files of one prompt that Asterisk may play."""
SAMPLE_RATE = 8000


def copies_of(wav: Path) -> dict[Path, bytes]:
    """What the copies of a telephone-format WAV hold, by path; none for another WAV (it
    cannot be played as it is on any line, and `ivr prompts check` reports it)."""
    try:
        with wave.open(str(wav), "rb") as file:
            if (file.getnchannels(), file.getsampwidth(), file.getframerate()) != (
                1,
                2,
                SAMPLE_RATE,
            ):
                return {}
            samples = file.readframes(file.getnframes())
    except (OSError, EOFError, wave.Error):
        return {}
    return {wav.with_suffix(suffix): code(samples, 2) for suffix, code in CODINGS.items()}


def _wavs(folder: Path) -> Iterator[Path]:
    return (p for p in sorted(folder.rglob("*.wav")) if not p.name.startswith("."))


def refresh(folder: Path) -> list[Path]:
    """Write every copy in `folder` (and below) that is missing or does not match its WAV;
    return the copies written."""
    written = []
    for wav in _wavs(folder):
        for path, data in copies_of(wav).items():
            if not path.exists() or path.read_bytes() != data:
                replace_file(path, data, mode=0o644)
                written.append(path)
    return written


def stale(folder: Path) -> list[Path]:
    """The copies that do not match their WAV: Asterisk plays them instead of the prompt as
    it is now. (A missing copy only costs a conversion.)"""
    return [
        path
        for wav in _wavs(folder)
        for path, data in copies_of(wav).items()
        if path.exists() and path.read_bytes() != data
    ]
