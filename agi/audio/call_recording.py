"""A simulated call as the caller would hear it, in one WAV file: `ivr simulate --record`.

Prompts are the project's own files (`prompts/ru/<id>.wav`), so staff hear a change before it
goes live. Numbers are said the way Asterisk says them (`agi.audio.number_words`): each word from
Asterisk's Russian sounds when that package is installed, as on the line, otherwise from the
project's own number words in `prompts/ru/digits/`. Key presses are heard as their DTMF tones,
and a caller who waits is heard as silence for as long as the IVR waits.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from pydub import AudioSegment
from pydub.generators import Sine

from agi.audio.library import audio_path
from agi.audio.number_words import (
    ASTERISK_SOUNDS,
    RUSSIAN_SOUNDS,
    digit_sound_names,
    spoken_sound_names,
)
from agi.audio.sound import CHANNELS, SAMPLE_RATE, SAMPLE_WIDTH, AudioError, decode, wav_bytes
from agi.dialog.utterance import Digits, Number, Prompt, Utterance

ASTERISK_RUSSIAN_SOUNDS = ASTERISK_SOUNDS / RUSSIAN_SOUNDS
SOUND_FORMATS = (".wav", ".gsm")
DTMF = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477),
    "4": (770, 1209), "5": (770, 1336), "6": (770, 1477),
    "7": (852, 1209), "8": (852, 1336), "9": (852, 1477),
    "*": (941, 1209), "0": (941, 1336), "#": (941, 1477),
}  # fmt: skip
TONE_MS = 100
BETWEEN_KEYS_MS = 150
WAIT = "."


class CallRecording:
    """Listens to a `KeypadChannel` and keeps what the caller hears; `save` writes it."""

    def __init__(
        self,
        prompts_dir: Path,
        *,
        sounds_dir: Path | None = ASTERISK_RUSSIAN_SOUNDS,
        warn: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.prompts_dir = prompts_dir
        self.sounds_dir = sounds_dir
        self._warn = warn
        self._parts: list[AudioSegment] = []
        self._cache: dict[Path, AudioSegment] = {}
        self._warned: set[str] = set()

    def said(self, utterances: Sequence[Utterance]) -> None:
        for utterance in utterances:
            match utterance:
                case Prompt():
                    self._play(audio_path(self.prompts_dir, utterance.id), utterance.id)
                case Number():
                    for name in spoken_sound_names(utterance.value):
                        self._play(self._sound(name), name)
                case Digits():
                    for name in digit_sound_names(utterance.digits):
                        self._play(self._sound(name), name)

    def pressed(self, key: str, waited: float) -> None:
        """The caller pressed `key`, or (`.`) waited `waited` seconds for the timeout."""
        if key == WAIT:
            self._parts.append(_silence(int(waited * 1000)))
            return
        low, high = DTMF[key]
        tone = Sine(low, sample_rate=SAMPLE_RATE).to_audio_segment(TONE_MS, volume=-9)
        tone = tone.overlay(Sine(high, sample_rate=SAMPLE_RATE).to_audio_segment(TONE_MS, -7))
        self._parts += [_silence(BETWEEN_KEYS_MS), _telephone(tone)]

    @property
    def seconds(self) -> float:
        return sum(len(part) for part in self._parts) / 1000

    def save(self, path: Path) -> float:
        """Write the call as one 8 kHz mono 16-bit WAV; return its length in seconds."""
        call = _silence(0)._spawn(b"".join(part.raw_data for part in self._parts))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(wav_bytes(call))
        return len(call) / 1000

    def _sound(self, name: str) -> Path:
        """Asterisk's own recording of a number word when installed (and ffmpeg, which reads
        its GSM files), else the project's."""
        if self.sounds_dir is not None and shutil.which(AudioSegment.converter):
            for suffix in SOUND_FORMATS:
                candidate = self.sounds_dir / f"{name}{suffix}"
                if candidate.exists():
                    return candidate
        return audio_path(self.prompts_dir, name)

    def _play(self, path: Path, what: str) -> None:
        if path not in self._cache:
            if not path.exists():
                if what not in self._warned:
                    self._warned.add(what)
                    self._warn(
                        f"recording: '{what}' has no audio ({path}); as on the line, it is "
                        "skipped: run `ivr prompts build`"
                    )
                return
            try:
                self._cache[path] = _telephone(_read(path))
            except AudioError as error:
                self._warn(f"recording: '{what}': {error}; skipped")
                return
        self._parts.append(self._cache[path])


def _read(path: Path) -> AudioSegment:
    """A sound file: a telephone WAV as it is; anything else (Asterisk's GSM files, other
    rates) through ffmpeg."""
    if path.suffix == ".wav":
        try:
            segment = AudioSegment.from_wav(str(path))
        except (OSError, ValueError, EOFError):
            return decode(path)
        if segment.frame_rate == SAMPLE_RATE:
            return segment
    return decode(path)


def _telephone(segment: AudioSegment) -> AudioSegment:
    return segment.set_frame_rate(SAMPLE_RATE).set_channels(CHANNELS).set_sample_width(SAMPLE_WIDTH)


def _silence(milliseconds: int) -> AudioSegment:
    return AudioSegment.silent(duration=milliseconds, frame_rate=SAMPLE_RATE)
