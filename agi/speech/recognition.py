"""Answers by voice recognised with Vosk: the model, its check, and the recogniser.

A Vosk model is loaded once per long-lived process (the FastAGI server, `load_speech`) and
shared by every call it serves; each recognition makes its own small recogniser limited to
the word list (Russian number words, yes and no, and `[unk]` for anything else), which keeps
a small model accurate on telephone audio (8 kHz, 16-bit mono WAV from Asterisk's RECORD
FILE). A model can crash the process that loads it when its files are damaged, so it is
first tried in a short-lived child process: a broken model is reported at start-up, and
calls go on without speech.

`vosk` is imported only here and only when a model is loaded: a per-call AGI script and the
simulator never pay for it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agi.dialog.channel import Recording
from agi.dialog.recogniser import SpeechError
from agi.speech.availability import Speech, speech_off
from agi.speech.spool import prepare_spool
from agi.speech.words import WORD_LIST

MAX_RECORDING_SECONDS = 120
CHECK_SECONDS = 180
MISSING_WORD = re.compile(r"Ignoring word missing in vocabulary: '([^']*)'")


@dataclass(frozen=True)
class ModelCheck:
    """What trying a model in a child process found."""

    word_lists: bool
    """Whether the model takes runtime word lists (small models with a lookahead graph)."""
    missing_words: tuple[str, ...] = ()
    """Words of the word list the model does not know (recognition ignores them)."""


@dataclass
class SpeechModel:
    """A Vosk model loaded in this process, shared by every call's recogniser."""

    path: Path
    model: Any
    check: ModelCheck
    load_seconds: float


def supports_word_lists(path: Path) -> bool:
    """Small Vosk models (a lookahead graph, HCLr.fst + Gr.fst) take a word list at run time;
    big ones (a static HCLG.fst) ignore it and hear their whole vocabulary."""
    graph = path / "graph"
    return (graph / "HCLr.fst").is_file() and (graph / "Gr.fst").is_file()


def check_model(path: Path, words: Sequence[str] = WORD_LIST) -> ModelCheck:
    """Load the model in a child process and recognise a moment of silence with the word
    list; raise SpeechError with the reason when that fails or the child dies (a damaged
    graph can end the process that loads it with a segmentation fault)."""
    script = (
        "import sys; from agi.speech.recognition import _check_here; "
        "_check_here(sys.argv[1], sys.argv[2])"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, str(path), json.dumps(list(words), ensure_ascii=False)],
            capture_output=True,
            text=True,
            timeout=CHECK_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise SpeechError(f"loading the model took longer than {CHECK_SECONDS} s") from None
    if done.returncode != 0:
        how = (
            f"the process loading it died with signal {-done.returncode}"
            if done.returncode < 0
            else _last_error(done.stderr) or f"exit code {done.returncode}"
        )
        raise SpeechError(f"the model cannot be used: {how}")
    missing = tuple(dict.fromkeys(MISSING_WORD.findall(done.stderr)))
    return ModelCheck(word_lists=supports_word_lists(path), missing_words=missing)


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or "Error" in line]
    return (errors or lines or [""])[-1][:300]


def _check_here(path: str, words: str) -> None:
    """The child process of `check_model`."""
    import vosk

    vosk.SetLogLevel(-1)  # warnings on: they name the words the model does not know
    try:
        model = vosk.Model(path)
    except Exception as error:
        print(f"ERROR {error}", file=sys.stderr)
        sys.exit(2)
    recogniser = vosk.KaldiRecognizer(model, 8000, words)
    recogniser.AcceptWaveform(b"\0\0" * 4000)
    json.loads(recogniser.FinalResult())


def load_model(path: Path, *, check: bool = True) -> SpeechModel:
    """Load a Vosk model into this process (after `check_model`, unless `check` is False)."""
    if not path.is_dir():
        raise SpeechError(f"there is no model folder {path}")
    try:
        import vosk
    except ImportError:
        raise SpeechError(
            "the vosk package is not installed: pip install 'meter-readings-ivr[speech]'"
        ) from None
    found = check_model(path) if check else ModelCheck(word_lists=supports_word_lists(path))
    vosk.SetLogLevel(-2)  # per recognition, only errors: start-up reported the missing words
    started = time.perf_counter()
    try:
        model = vosk.Model(str(path))
    except Exception as error:
        raise SpeechError(f"the model cannot be used: {error}") from None
    return SpeechModel(path, model, found, time.perf_counter() - started)


@dataclass(frozen=True)
class Audio:
    """The samples of a WAV file, as a recogniser takes them."""

    rate: int
    frames: bytes

    @property
    def seconds(self) -> float:
        return len(self.frames) / 2 / self.rate


def read_wav(path: Path) -> Audio:
    """A mono 16-bit PCM WAV file (any sample rate: the recogniser resamples); SpeechError
    saying how to convert anything else."""
    try:
        with wave.open(str(path), "rb") as stream:
            shape = (stream.getnchannels(), stream.getsampwidth(), stream.getcomptype())
            rate = stream.getframerate()
            if shape != (1, 2, "NONE"):
                raise SpeechError(
                    f"{path.name} is not 16-bit mono PCM (channels, bytes per sample: "
                    f"{shape[0]}, {shape[1]}); convert it: sox IN.wav -r 8000 -c 1 -b 16 OUT.wav"
                )
            if stream.getnframes() > rate * MAX_RECORDING_SECONDS:
                raise SpeechError(f"{path.name} is longer than {MAX_RECORDING_SECONDS} s")
            return Audio(rate, stream.readframes(stream.getnframes()))
    except FileNotFoundError:
        raise SpeechError(f"there is no recording {path}") from None
    except (wave.Error, EOFError) as error:
        raise SpeechError(f"{path.name} is not a WAV file: {error}") from None


@dataclass
class VoskRecogniser:
    """Recognises recordings with a shared `SpeechModel`, limited to `words` (None: the
    model's whole vocabulary). Safe to use from many calls' threads at once."""

    model: SpeechModel
    words: Sequence[str] | None = WORD_LIST
    _grammar: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._grammar = json.dumps(list(self.words), ensure_ascii=False) if self.words else None

    def transcribe(self, recording: Recording) -> str:
        if recording.audio is None:
            return ""
        return self.recognise(read_wav(recording.audio))

    def recognise(self, audio: Audio) -> str:
        import vosk

        try:
            if self._grammar is None:
                recogniser = vosk.KaldiRecognizer(self.model.model, audio.rate)
            else:
                recogniser = vosk.KaldiRecognizer(self.model.model, audio.rate, self._grammar)
            chunk = audio.rate  # half a second of 16-bit samples
            for start in range(0, len(audio.frames), chunk):
                recogniser.AcceptWaveform(audio.frames[start : start + chunk])
            result = json.loads(recogniser.FinalResult())
        except Exception as error:
            raise SpeechError(f"the recogniser failed: {error}") from None
        return " ".join(str(result.get("text", "")).split())


# --- what one installation has ----------------------------------------------------------


def load_speech(model_path: Path | None, spool_dir: Path) -> Speech:
    """The configured model, loaded and checked, with the spool folder ready; or why not.
    Never raises: a missing or broken model leaves the line working with keys alone."""
    if model_path is None:
        return speech_off("no speech model is configured (speech_model)")
    try:
        problems = prepare_spool(spool_dir)
        model = load_model(model_path)
    except (SpeechError, OSError) as error:
        return speech_off(f"{model_path}: {error}")
    notes = [f"speech model {model_path} loaded in {model.load_seconds:.1f} s"]
    if not model.check.word_lists:
        notes.append("it takes no word list (a big model): it may hear any word, not only numbers")
    missing = model.check.missing_words
    if missing:
        more = f" and {len(missing) - 12} more" if len(missing) > 12 else ""
        notes.append(f"it does not know the words {', '.join(missing[:12])}{more}")
    notes += problems
    return Speech(VoskRecogniser(model), "; ".join(notes))
