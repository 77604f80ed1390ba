"""Prompt audio in the telephone's format: made by text-to-speech, converted from any
recording, and measured.

Asterisk plays prompts as 8 kHz, mono, 16-bit linear PCM WAV (its `wav` format, played
without transcoding surprises). Every file goes through the same steps (`to_telephone`):
ffmpeg decodes and resamples it (pydub's own resampler, audioop.ratecv, does not filter above
the new Nyquist frequency and aliases hiss into the band; and pydub's
`from_file(parameters=...)` puts the options where ffmpeg ignores them), then pydub trims the
silence at both ends, brings the speech level to one target, limits the peaks below full
scale, and adds a short lead-in and tail. `agi.audio.library` keeps the files.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import shutil
import subprocess
import tempfile
import wave
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from pydub import AudioSegment
from pydub.silence import detect_leading_silence

SAMPLE_RATE = 8000
CHANNELS = 1
SAMPLE_WIDTH = 2
TELEPHONE_FORMAT = "8000 Hz mono 16-bit PCM"
PIPELINE_VERSION = 1
"""Raise when `to_telephone` changes what it makes: every synthesized prompt is made again."""

PEAK_CEILING_DBFS = -1.0
SPEECH_MARGIN_DB = 15.9
"""Windows more than this below the speech level are pauses (ITU-T P.56's margin)."""
SILENCE_BELOW_SPEECH_DB = 35.0
"""Trimming takes quieter ends than this, relative to the speech level, for silence."""
FRAME_MS = 20
DEFAULT_VOICES = {"espeak-ng": "ru", "festival": "msu_ru_nsh_clunits"}
VOICE_NAME = re.compile(r"^[A-Za-z0-9_+-]+$")


class AudioError(Exception):
    """Audio that cannot be made or read, said so that staff can act on it."""


# --- how to make it --------------------------------------------------------------------


@dataclass(frozen=True)
class Voice:
    """The text-to-speech engine and voice that synthesize prompts."""

    engine: Literal["espeak-ng", "festival"] = "espeak-ng"
    name: str = "ru"
    speed: int = 150
    """Words per minute for espeak-ng; festival stretches its own pace by 150 / speed."""

    def __post_init__(self) -> None:
        if self.engine not in DEFAULT_VOICES:
            raise AudioError(f"unknown text-to-speech engine '{self.engine}'")
        if not VOICE_NAME.match(self.name):
            raise AudioError(f"'{self.name}' is not a voice name")


@dataclass(frozen=True)
class AudioStyle:
    """How every prompt file is shaped, whatever made it."""

    loudness_dbfs: float = -20.0
    lead_in_ms: int = 150
    tail_ms: int = 150

    def fingerprint(self, voice: Voice | None) -> str:
        """Changes whenever the audio these settings make would change."""
        made_of = {
            "pipeline": PIPELINE_VERSION,
            "format": [SAMPLE_RATE, CHANNELS, SAMPLE_WIDTH],
            "peak_ceiling_dbfs": PEAK_CEILING_DBFS,
            **asdict(self),
            **({"voice": asdict(voice)} if voice else {}),
        }
        encoded = json.dumps(made_of, sort_keys=True).encode()
        return hashlib.sha256(encoded).hexdigest()[:16]


# --- making audio -----------------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise AudioError(
            f"'{name}' is not installed; on Debian: apt-get install {_PACKAGES.get(name, name)}"
        )
    return found


_PACKAGES = {"text2wave": "festival festvox-ru", "ffmpeg": "ffmpeg", "espeak-ng": "espeak-ng"}


def synthesize(text: str, voice: Voice) -> bytes:
    """The engine's audio of `text`, as WAV bytes at the engine's own rate."""
    if voice.engine == "espeak-ng":
        command = [_tool("espeak-ng"), "-v", voice.name, "-s", str(voice.speed), "--stdin"]
        return _run([*command, "--stdout"], text.encode("utf-8"), voice.engine)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "speech.wav"
        stretch = round(150 / voice.speed, 3)
        command = [
            _tool("text2wave"),
            "-eval",
            f"(begin (voice_{voice.name}) (Parameter.set 'Duration_Stretch {stretch}))",
            "-o",
            str(out),
        ]
        _run(command, text.encode("utf-8"), voice.engine)
        if not out.exists() or out.stat().st_size <= 44:
            raise AudioError(f"festival made no audio with voice '{voice.name}'")
        return out.read_bytes()


def _run(command: list[str], stdin: bytes, what: str) -> bytes:
    done = subprocess.run(command, input=stdin, capture_output=True, timeout=120)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise AudioError(f"{what} failed: {message[-1] if message else done.returncode}")
    return done.stdout


def decode(source: Path | bytes) -> AudioSegment:
    """Any audio ffmpeg reads (WAV at any rate, MP3, OGG, FLAC...), as 8 kHz mono 16-bit."""
    command = [AudioSegment.converter, "-nostdin", "-v", "error", "-i"]
    command.append(str(source) if isinstance(source, Path) else "pipe:0")
    command += ["-ac", str(CHANNELS), "-ar", str(SAMPLE_RATE), "-c:a", "pcm_s16le"]
    command += ["-f", "wav", "pipe:1"]
    if shutil.which(command[0]) is None:
        _tool("ffmpeg")
    done = subprocess.run(
        command,
        input=None if isinstance(source, Path) else source,
        capture_output=True,
        timeout=120,
    )
    name = source.name if isinstance(source, Path) else "the synthesized audio"
    if done.returncode != 0 or len(done.stdout) <= 44:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise AudioError(f"{name} is not audio ffmpeg can read: {reason[-1] if reason else ''}")
    return AudioSegment.from_wav(io.BytesIO(done.stdout))


def _frame_powers(segment: AudioSegment) -> list[float]:
    """The power of every 20 ms window, the windows overlapping by half."""
    hop = FRAME_MS // 2
    starts = range(0, max(1, len(segment) - FRAME_MS + 1), hop)
    return [float(segment[start : start + FRAME_MS].rms) ** 2 for start in starts]


def _dbfs(amplitude: float, segment: AudioSegment) -> float:
    if amplitude <= 0:
        return -math.inf
    return 20 * math.log10(amplitude / segment.max_possible_amplitude)


def speech_level(segment: AudioSegment) -> float:
    """The loudness of the speech in dBFS, pauses left out, in the manner of ITU-T P.56's
    active speech level: the RMS of the windows no more than 15.9 dB below that RMS itself.
    A prompt with long pauses is not judged quieter than one without, and quiet windows near
    the threshold weigh little, so trimming or padding barely moves the figure."""
    powers = _frame_powers(segment)
    level = sum(powers) / len(powers)
    if level == 0:
        return -math.inf
    for _ in range(20):
        threshold = level * 10 ** (-SPEECH_MARGIN_DB / 10)
        active = [power for power in powers if power >= threshold]
        updated = sum(active) / len(active)
        if abs(updated - level) <= updated * 1e-4:
            break
        level = updated
    return _dbfs(math.sqrt(level), segment)


def trim_silence(segment: AudioSegment) -> AudioSegment:
    """Without the silence (or hum) before the first word and after the last."""
    level = speech_level(segment)
    if level == -math.inf:
        return segment
    threshold = max(level - SILENCE_BELOW_SPEECH_DB, -70.0)
    start = detect_leading_silence(segment, silence_threshold=threshold, chunk_size=5)
    end = detect_leading_silence(segment.reverse(), silence_threshold=threshold, chunk_size=5)
    margin = 20
    return segment[max(0, start - margin) : max(start + 1, len(segment) - end + margin)]


def limit_peaks(segment: AudioSegment, ceiling_dbfs: float = PEAK_CEILING_DBFS) -> AudioSegment:
    """Turn the loudest moments down so that no sample passes `ceiling_dbfs`: the gain falls
    over a few milliseconds before a peak and recovers slowly after it (a look-ahead limiter),
    so speech keeps its level without clipping."""
    ceiling = segment.max_possible_amplitude * 10 ** (ceiling_dbfs / 20)
    if segment.max <= ceiling:
        return segment
    block = SAMPLE_RATE // 1000
    samples = segment.get_array_of_samples()
    count = math.ceil(len(samples) / block)
    need = []
    for index in range(count):
        peak = max(abs(s) for s in samples[index * block : (index + 1) * block])
        need.append(min(1.0, ceiling / peak) if peak else 1.0)
    attack, release = 10 ** (1.5 / 20), 10 ** (0.1 / 20)  # per millisecond: fall, recover
    gains = [1.0] * count
    gain = 1.0
    for index in range(count):
        gain = min(need[index], 1.0, gain * release)
        gains[index] = gain
    for index in range(count - 2, -1, -1):
        gains[index] = min(gains[index], gains[index + 1] * attack)
    limited = samples[:]
    for index, gain in enumerate(gains):
        if gain < 1.0:
            for position in range(index * block, min((index + 1) * block, len(samples))):
                limited[position] = int(samples[position] * gain)
    return segment._spawn(limited.tobytes())


def normalise(segment: AudioSegment, loudness_dbfs: float) -> AudioSegment:
    """Bring the speech level to `loudness_dbfs`, limiting the peaks that would clip."""
    for _ in range(4):
        level = speech_level(segment)
        if level == -math.inf:
            raise AudioError("the audio is silent")
        if abs(level - loudness_dbfs) < 0.05 and segment.max_dBFS <= PEAK_CEILING_DBFS + 0.01:
            break
        segment = limit_peaks(segment.apply_gain(loudness_dbfs - level))
    return segment


def to_telephone(segment: AudioSegment, style: AudioStyle) -> AudioSegment:
    """One prompt as Asterisk should play it: 8 kHz mono 16-bit, trimmed, at the target
    loudness, with a short lead-in and tail."""
    segment = segment.set_channels(CHANNELS).set_sample_width(SAMPLE_WIDTH)
    segment = segment.set_frame_rate(SAMPLE_RATE)
    segment = normalise(trim_silence(segment), style.loudness_dbfs)
    silence = AudioSegment.silent(duration=style.lead_in_ms, frame_rate=SAMPLE_RATE)
    tail = AudioSegment.silent(duration=style.tail_ms, frame_rate=SAMPLE_RATE)
    return (silence + segment + tail).set_sample_width(SAMPLE_WIDTH).set_channels(CHANNELS)


def wav_bytes(segment: AudioSegment) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(CHANNELS)
        file.setsampwidth(SAMPLE_WIDTH)
        file.setframerate(SAMPLE_RATE)
        file.writeframes(segment.raw_data)
    return out.getvalue()


# --- measuring --------------------------------------------------------------------------


@dataclass(frozen=True)
class FileFacts:
    """What a check needs to know about one audio file."""

    format: str
    in_format: bool
    seconds: float
    level: float
    peak: float
    clipped_at: float | None


def examine(path: Path) -> FileFacts:
    try:
        with wave.open(str(path), "rb") as file:
            rate, channels = file.getframerate(), file.getnchannels()
            width, compression = file.getsampwidth(), file.getcomptype()
        segment = AudioSegment.from_wav(str(path))
    except (wave.Error, EOFError, OSError, ValueError) as error:
        raise AudioError(f"is not a readable WAV file ({error})") from None
    described = f"{rate} Hz {'mono' if channels == 1 else f'{channels} channels'} {8 * width}-bit"
    if compression != "NONE":
        described += f" {compression}"
    in_format = (rate, channels, width, compression) == (
        SAMPLE_RATE,
        CHANNELS,
        SAMPLE_WIDTH,
        "NONE",
    )
    return FileFacts(
        format=described,
        in_format=in_format,
        seconds=len(segment) / 1000,
        level=speech_level(segment),
        peak=segment.max_dBFS,
        clipped_at=clipped_at(segment),
    )


def clipped_at(segment: AudioSegment, run: int = 3) -> float | None:
    """Where the audio first sits at full scale for `run` samples in a row (the wave was cut
    off: distortion), in seconds; None when it never does."""
    top = segment.max_possible_amplitude
    if segment.max < top - 1:
        return None
    samples = segment.get_array_of_samples()
    length = 0
    for index, sample in enumerate(samples):
        length = length + 1 if abs(sample) >= top - 1 else 0
        if length >= run:
            return index / segment.frame_rate / segment.channels
    return None
