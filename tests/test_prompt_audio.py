"""Prompt audio as the telephone needs it: synthesized with espeak-ng, imported from a voice
artist, checked, and a simulated call recorded. Every file is measured for real: its format,
its length for its text, its loudness, its peaks."""

from __future__ import annotations

import array
import csv
import json
import math
import os
import shutil
import subprocess
import wave
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydub import AudioSegment
from pydub.generators import Sine, Square
from pydub.silence import detect_nonsilent

from agi import installation
from agi.audio import library as prompt_library
from agi.audio import line_codings
from agi.audio import sound as prompt_audio
from agi.audio.call_recording import ASTERISK_RUSSIAN_SOUNDS, CallRecording
from agi.audio.library import audio_path, build, check, import_recordings
from agi.audio.number_words import WORDS, sound_names, spoken_text
from agi.audio.sound import AudioStyle, Voice, speech_level
from agi.cli import main
from agi.dialog.flow_loader import load_flow
from agi.dialog.prompts import load_catalog
from agi.dialog.utterance import Digits, Number, Prompt
from agi.readings.call_actions import ACTIONS
from agi.telephony import private_asterisk
from tests.conftest import ROOT

MISSING_TOOLS = [tool for tool in ("espeak-ng", "ffmpeg") if not shutil.which(tool)]
REQUIRED = os.environ.get("IVR_REQUIRE_AUDIO_TOOLS", "") not in ("", "0")
needs_tools = pytest.mark.skipif(
    bool(MISSING_TOOLS) and not REQUIRED,
    reason=f"needs {', '.join(MISSING_TOOLS)} (apt-get install espeak-ng ffmpeg)",
)

TEXTS = {
    "welcome": "Здравствуйте! Вы позвонили в контакт-центр энергосбытовой компании.",
    "goodbye": "До свидания.",
    "you_entered": "Вы ввели",
}
FLOW = """\
version: 1
start: greeting
defaults:
  on_failure: bye
nodes:
  greeting:
    type: play
    say: [welcome, you_entered]
    next: bye
  bye:
    type: hangup
    say: goodbye
"""
STYLE = AudioStyle()
SHIPPED = ROOT / "prompts" / "ru"
LINE_FILES = (".wav", ".ulaw", ".alaw")
"""The files of one prompt: its WAV and the copies a G.711 line plays as they are."""


def write_catalog(path: Path, texts: dict[str, str]) -> Path:
    path.write_text("".join(f'{key}: "{text}"\n' for key, text in texts.items()), "utf-8")
    return path


def speech_file(path: Path, text: str, *ffmpeg_options: str) -> Path:
    """`text` spoken by espeak-ng, converted by ffmpeg into `path` (format by its suffix)."""
    spoken = subprocess.run(
        ["espeak-ng", "-v", "ru", "--stdout", text], capture_output=True, check=True
    ).stdout
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", "pipe:0", *ffmpeg_options, str(path)],
        input=spoken,
        check=True,
    )
    return path


def wav_format(path: Path) -> tuple[int, int, int, str]:
    with wave.open(str(path), "rb") as file:
        return file.getframerate(), file.getnchannels(), file.getsampwidth(), file.getcomptype()


def vowels(text: str) -> int:
    return sum(text.lower().count(v) for v in "аеёиоуыэюя")


def folder_state(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalog of three prompts and their audio (and the number words), built once."""
    if MISSING_TOOLS and not REQUIRED:
        pytest.skip(f"needs {', '.join(MISSING_TOOLS)}")
    base = tmp_path_factory.mktemp("built")
    catalog = load_catalog(write_catalog(base / "ru.yaml", TEXTS))
    report = build(base / "ru", catalog, Voice(), STYLE)
    assert len(report.made) == len(TEXTS) + len(WORDS)
    return base


@pytest.fixture
def audio(built: Path, tmp_path: Path) -> Path:
    """A copy of the built audio and its catalog to change: returns the copy's folder."""
    shutil.copytree(built, tmp_path / "copy")
    return tmp_path / "copy"


def catalog_of(base: Path):
    return load_catalog(base / "ru.yaml")


# --- what build makes -------------------------------------------------------------------


@needs_tools
@pytest.mark.parametrize(
    "key", ["welcome", "goodbye", "you_entered", "digits/thousands", "digits/1f", "digits/600"]
)
def test_synthesized_audio_is_telephone_audio(built, key):
    path = audio_path(built / "ru", key)
    text = {**TEXTS, **WORDS}[key]
    assert wav_format(path) == (8000, 1, 2, "NONE")
    segment = AudioSegment.from_wav(str(path))
    # a short lead-in of silence, then speech at once: the engine's own silence is trimmed
    assert segment[:140].max == 0
    (first, _), *_ = detect_nonsilent(segment, min_silence_len=50, silence_thresh=-50)
    assert 150 <= first <= 250
    # as long as speech of its text: 2.5 to 9 syllables a second, besides lead-in and tail
    speaking = (len(segment) - STYLE.lead_in_ms - STYLE.tail_ms) / 1000
    assert vowels(text) / 9 <= speaking <= vowels(text) / 2.5 + 0.4
    # at the target loudness, measured two ways, and never near full scale
    assert abs(speech_level(segment) - STYLE.loudness_dbfs) <= 1.5
    voiced = sum((segment[a:b] for a, b in detect_nonsilent(segment, 30, -45)), segment[:0])
    assert abs(voiced.dBFS - STYLE.loudness_dbfs) <= 4
    assert segment.max_dBFS <= -1.0 + 0.01
    assert prompt_audio.clipped_at(segment) is None


def g711_decoded(path: Path) -> list[int]:
    """A headerless G.711 file as 16-bit samples, decoded by sox (not by the code under test)."""
    coding = {".ulaw": "u-law", ".alaw": "a-law"}[path.suffix]
    raw = subprocess.run(
        ["sox", "-t", "raw", "-r", "8000", "-c", "1", "-e", coding, str(path),
         "-t", "raw", "-e", "signed-integer", "-b", "16", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return list(array.array("h", raw))


@needs_tools
@pytest.mark.skipif(not shutil.which("sox"), reason="needs sox")
@pytest.mark.parametrize("suffix", [".ulaw", ".alaw"])
@pytest.mark.parametrize("key", ["welcome", "digits/thousands"])
def test_beside_each_wav_is_the_same_audio_in_each_line_coding(built, key, suffix):
    wav = audio_path(built / "ru", key)
    with wave.open(str(wav), "rb") as file:
        samples = list(array.array("h", file.readframes(file.getnframes())))
    decoded = g711_decoded(wav.with_suffix(suffix))
    assert len(decoded) == len(samples)
    # G.711 keeps about 13 bits: each sample within 1/16 of itself (plus the step at zero)
    assert all(abs(a - b) <= abs(b) / 16 + 16 for a, b in zip(decoded, samples, strict=True))


@needs_tools
def test_the_manifest_says_what_each_file_was_made_from(built):
    files = json.loads((built / "ru" / "manifest.json").read_text("utf-8"))["files"]
    entry = files["goodbye"]
    assert entry["source"] == "tts"
    assert entry["text"] == "До свидания."
    assert (entry["engine"], entry["voice"]) == ("espeak-ng", "ru")
    assert entry["settings"] == STYLE.fingerprint(Voice())
    assert entry["sha256"] == prompt_library.file_hash(built / "ru" / "goodbye.wav")
    assert set(files) == set(TEXTS) | set(WORDS)


@needs_tools
def test_a_second_build_makes_nothing(audio):
    report = build(audio / "ru", catalog_of(audio), Voice(), STYLE)
    assert report.made == [] and report.kept == []
    assert len(report.unchanged) == len(TEXTS) + len(WORDS)


@needs_tools
def test_a_changed_or_new_text_is_made_again_and_nothing_else(audio):
    before = folder_state(audio / "ru")
    texts = {**TEXTS, "goodbye": "До свидания, всего доброго.", "thanks": "Спасибо."}
    report = build(
        audio / "ru", load_catalog(write_catalog(audio / "ru.yaml", texts)), Voice(), STYLE
    )
    assert sorted(report.made) == ["goodbye", "thanks"]
    after = folder_state(audio / "ru")
    changed = {name for name in after if before.get(name) != after[name]}
    assert changed == {
        *(f"{key}{suffix}" for key in ("goodbye", "thanks") for suffix in LINE_FILES),
        "manifest.json",
    }


def _speaking(segment: AudioSegment) -> int:
    return len(segment) - STYLE.lead_in_ms - STYLE.tail_ms


@needs_tools
@pytest.mark.parametrize(
    ("voice", "style", "changed"),
    [
        (Voice(speed=100), STYLE, lambda old, new: _speaking(new) > 1.2 * _speaking(old)),
        (
            Voice(),
            AudioStyle(loudness_dbfs=-24.0),
            lambda old, new: abs(speech_level(new) + 24) <= 0.5 and len(new) == len(old),
        ),
    ],
    ids=["slower voice", "quieter target"],
)
def test_other_settings_make_the_audio_again(audio, voice, style, changed):
    path = audio / "ru" / "welcome.wav"
    old = AudioSegment.from_wav(str(path))
    report = build(audio / "ru", catalog_of(audio), voice, style, only=["welcome"])
    assert report.made == ["welcome"]
    assert changed(old, AudioSegment.from_wav(str(path)))


@needs_tools
def test_build_never_replaces_a_recording_unless_forced(audio, tmp_path):
    recording = speech_file(tmp_path / "goodbye.mp3", "До свидания.", "-ar", "44100", "-ac", "2")
    import_recordings(audio / "ru", catalog_of(audio), [recording], STYLE)
    recorded = (audio / "ru" / "goodbye.wav").read_bytes()
    texts = {**TEXTS, "goodbye": "До свидания, всего доброго."}
    catalog = load_catalog(write_catalog(audio / "ru.yaml", texts))

    report = build(audio / "ru", catalog, Voice(), STYLE)
    assert report.made == []
    assert report.kept == [("goodbye", "a recording (goodbye.mp3) of the old text «До свидания.»")]
    assert (audio / "ru" / "goodbye.wav").read_bytes() == recorded
    stale, mixed = check(audio / "ru", catalog, None, STYLE).findings
    assert (stale.level, stale.rule) == ("error", "stale")
    assert (mixed.level, mixed.rule) == ("warning", "mixed-voices")  # one recording, the rest not
    assert "says «До свидания.»" in stale.message and "record it again" in stale.message

    report = build(audio / "ru", catalog, Voice(), STYLE, only=["goodbye"], force=True)
    assert report.made == ["goodbye"]
    assert prompt_library.Manifest.load(audio / "ru").entries["goodbye"].source == "tts"
    assert check(audio / "ru", catalog, None, STYLE).findings == []


@needs_tools
def test_build_keeps_a_file_placed_by_hand(audio):
    by_hand = audio_path(audio / "ru", "welcome")
    by_hand.write_bytes(audio_path(audio / "ru", "goodbye").read_bytes())
    texts = {**TEXTS, "welcome": "Добрый день!"}
    report = build(
        audio / "ru", load_catalog(write_catalog(audio / "ru.yaml", texts)), Voice(), STYLE
    )
    assert report.kept == [("welcome", "changed by hand after it was made")]


def test_a_build_of_an_unknown_prompt_says_which(tmp_path):
    catalog = load_catalog(write_catalog(tmp_path / "ru.yaml", TEXTS))
    with pytest.raises(
        prompt_audio.AudioError, match=r"no prompt 'goodby' \(did you mean 'goodbye'"
    ):
        build(tmp_path / "ru", catalog, Voice(), STYLE, only=["goodby"])


# --- import -----------------------------------------------------------------------------

SOURCES = [
    ("goodbye.mp3", ["-ar", "44100", "-ac", "2", "-b:a", "128k"], "MP3"),
    ("goodbye.wav", ["-ar", "44100", "-ac", "2"], "44100 Hz stereo 16-bit WAV"),
    ("goodbye.ogg", ["-ar", "48000", "-ac", "2", "-c:a", "libvorbis"], "OGG"),
    ("goodbye.flac", ["-ar", "16000", "-af", "volume=-18dB"], "FLAC"),
    ("goodbye.WAV", ["-ar", "11025", "-c:a", "pcm_u8"], "11025 Hz mono 8-bit WAV"),
]


@needs_tools
@pytest.mark.parametrize(("name", "options", "was"), SOURCES, ids=[s[0] for s in SOURCES])
def test_an_imported_recording_comes_out_in_telephone_format(audio, tmp_path, name, options, was):
    source = speech_file(tmp_path / name, "До свидания.", *options)
    (item,) = import_recordings(audio / "ru", catalog_of(audio), [source], STYLE)
    assert (item.key, item.was) == ("goodbye", was)
    path = audio / "ru" / "goodbye.wav"
    assert wav_format(path) == (8000, 1, 2, "NONE")
    segment = AudioSegment.from_wav(str(path))
    assert abs(speech_level(segment) - STYLE.loudness_dbfs) <= 1.5
    assert segment[:140].max == 0 and segment.max_dBFS <= -1.0 + 0.01
    entry = prompt_library.Manifest.load(audio / "ru").entries["goodbye"]
    assert (entry.source, entry.original, entry.text) == ("recorded", name, "До свидания.")
    findings = check(audio / "ru", catalog_of(audio), None, STYLE).findings
    assert [(f.level, f.rule) for f in findings] == [("warning", "mixed-voices")]
    assert line_codings.copies_of(path) == {
        path.with_suffix(suffix): path.with_suffix(suffix).read_bytes()
        for suffix in (".ulaw", ".alaw")
    }


@needs_tools
def test_a_folder_is_imported_by_file_names_number_words_included(audio, tmp_path):
    (tmp_path / "studio" / "digits").mkdir(parents=True)
    speech_file(tmp_path / "studio" / "goodbye.flac", "До свидания.")
    speech_file(tmp_path / "studio" / "digits" / "thousands.mp3", "тысяч")
    (tmp_path / "studio" / "notes.txt").write_text("take 3 is the best")
    imported = import_recordings(audio / "ru", catalog_of(audio), [tmp_path / "studio"], STYLE)
    assert sorted(item.key for item in imported) == ["digits/thousands", "goodbye"]


def _silent(path: Path) -> Path:
    AudioSegment.silent(2000, frame_rate=44100).export(path, format="wav")
    return path


def _long(path: Path) -> Path:
    return speech_file(path, "До свидания. " * 40)


def _not_audio(path: Path) -> Path:
    path.write_text("not a recording")
    return path


@needs_tools
@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("goodby.mp3", lambda p: speech_file(p, "До свидания."), "did you mean 'goodbye'"),
        ("goodbye.wav", _silent, "the audio is silent"),
        ("goodbye.ogg", _long, "too long for «До свидания.»"),
        ("goodbye.mp3", _not_audio, "is not audio ffmpeg can read"),
    ],
    ids=["unknown name", "silent", "far too long", "not audio"],
)
def test_a_bad_recording_is_refused_and_nothing_is_imported(audio, tmp_path, name, make, message):
    good = speech_file(tmp_path / "welcome.mp3", TEXTS["welcome"])
    bad = make(tmp_path / name)
    before = folder_state(audio / "ru")
    with pytest.raises(prompt_library.RecordingsRejected) as rejected:
        import_recordings(audio / "ru", catalog_of(audio), [good, bad], STYLE)
    (problem,) = rejected.value.problems
    assert problem.startswith(f"{bad}: ") and message in problem
    assert folder_state(audio / "ru") == before


# --- check ------------------------------------------------------------------------------


def _replace(key: str, make: Callable[[], AudioSegment]) -> Callable[[Path], None]:
    def mutate(base: Path) -> None:
        make().export(audio_path(base / "ru", key), format="wav")

    return mutate


def _edit_text(base: Path) -> None:
    write_catalog(base / "ru.yaml", {**TEXTS, "goodbye": "До встречи."})


def _quieter(base: Path) -> None:
    path = audio_path(base / "ru", "welcome")
    AudioSegment.from_wav(str(path)).apply_gain(-8).export(path, format="wav")


def _resampled(base: Path) -> None:
    path = audio_path(base / "ru", "welcome")
    segment = AudioSegment.from_wav(str(path)).set_frame_rate(44100).set_channels(2)
    segment.export(path, format="wav")


CHECKS = [
    (
        "a prompt's file is missing",
        lambda base: audio_path(base / "ru", "goodbye").unlink(),
        (
            "error",
            "missing-audio",
            "line 2: error: prompt 'goodbye' (said by node 'bye') has no audio",
        ),
    ),
    (
        "a number word is missing",
        lambda base: audio_path(base / "ru", "digits/million-a").unlink(),
        ("error", "missing-audio", "million-a.wav: error: the number word «миллиона» has no audio"),
    ),
    (
        "the text changed after the audio was made",
        _edit_text,
        ("error", "stale", "line 2: error: prompt 'goodbye' changed after its audio was made"),
    ),
    (
        "a number in digits in a prompt's text",
        lambda base: write_catalog(base / "ru.yaml", {**TEXTS, "goodbye": "Пишите: ПС 102057522"}),
        (
            "warning",
            "digits-in-text",
            "line 2: warning: prompt 'goodbye' writes 102057522 in digits, so it is said digit "
            "by digit («один ноль два ноль пять семь пять два два»)",
        ),
    ),
    (
        "a file nothing plays",
        lambda base: shutil.copy(audio_path(base / "ru", "goodbye"), base / "ru" / "goodby.wav"),
        ("warning", "orphan", "no prompt 'goodby' in the catalog"),
    ),
    (
        "another format beside the WAV",
        lambda base: (base / "ru" / "goodbye.gsm").write_bytes(b"\0" * 330),
        ("warning", "orphan", "Asterisk may play this .gsm file instead of goodbye.wav"),
    ),
    (
        "a line coding's copy that no longer says what its WAV says",
        lambda base: shutil.copy(
            audio_path(base / "ru", "goodbye").with_suffix(".ulaw"),
            audio_path(base / "ru", "welcome").with_suffix(".ulaw"),
        ),
        (
            "error",
            "stale-copy",
            "welcome.ulaw: error: does not match welcome.wav, and Asterisk plays it instead "
            "on a ulaw line",
        ),
    ),
    (
        "44.1 kHz stereo",
        _resampled,
        ("error", "wrong-format", "is 44100 Hz 2 channels 16-bit; the telephone needs 8000 Hz"),
    ),
    (
        "silence",
        _replace("welcome", lambda: AudioSegment.silent(3000, frame_rate=8000)),
        ("error", "silent", "welcome.wav: error: is silent"),
    ),
    (
        "clipping",
        _replace("welcome", lambda: Square(440, sample_rate=8000).to_audio_segment(3000, 0)),
        ("error", "clipped", "is clipped (distorted) at 0.00 s"),
    ),
    (
        "far too long for its text",
        _replace("goodbye", lambda: Sine(300, sample_rate=8000).to_audio_segment(9000, -20)),
        ("error", "length", "lasts 9.0 s, too long for «До свидания.» (at most 5.3 s)"),
    ),
    (
        "cut off",
        _replace("welcome", lambda: Sine(300, sample_rate=8000).to_audio_segment(400, -20)),
        ("error", "length", "too short for «Здравствуйте!"),
    ),
    (
        "quieter than the rest",
        _quieter,
        ("error", "loudness", "is 8.0 dB quieter than the other prompts (-20 dBFS ± 1.5)"),
    ),
    (
        "changed by hand",
        _quieter,
        ("warning", "changed-by-hand", "was changed by hand after it was made or imported"),
    ),
    (
        "not a WAV file",
        lambda base: audio_path(base / "ru", "welcome").write_text("RIFF? no"),
        ("error", "unreadable", "is not a readable WAV file"),
    ),
]


@needs_tools
@pytest.mark.parametrize(
    ("mutate", "expected"), [c[1:] for c in CHECKS], ids=[c[0] for c in CHECKS]
)
def test_check_finds(audio, mutate, expected):
    catalog_path = audio / "ru.yaml"
    flow = load_flow(_write(audio / "flow.yaml", FLOW), catalog_of(audio), ACTIONS)
    assert check(audio / "ru", catalog_of(audio), flow, STYLE).findings == []
    mutate(audio)
    result = check(audio / "ru", load_catalog(catalog_path), flow, STYLE)
    level, rule, text = expected
    found = [f for f in result.findings if (f.level, f.rule) == (level, rule)]
    assert found, result.findings
    assert any(text in str(f) for f in found), [str(f) for f in found]


@needs_tools
def test_a_prompt_the_flow_does_not_say_may_lack_audio(audio):
    flow_text = FLOW.replace("say: [welcome, you_entered]", "say: welcome")
    flow = load_flow(_write(audio / "flow.yaml", flow_text), catalog_of(audio), ACTIONS)
    for suffix in LINE_FILES:
        audio_path(audio / "ru", "you_entered").with_suffix(suffix).unlink()
    (finding,) = check(audio / "ru", catalog_of(audio), flow, STYLE).findings
    assert (finding.level, finding.rule) == ("warning", "missing-audio")
    assert "the flow does not say it yet" in finding.message


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- measuring --------------------------------------------------------------------------

TONE = Sine(400, sample_rate=8000).to_audio_segment(1000, volume=-20)
PAUSE = AudioSegment.silent(1000, frame_rate=8000)


@pytest.mark.parametrize(
    "segment",
    [TONE, PAUSE + TONE + PAUSE + PAUSE, TONE + PAUSE + TONE + TONE.apply_gain(-40)],
    ids=["tone", "tone between pauses", "tones with a pause and a murmur"],
)
def test_the_speech_level_leaves_pauses_out(segment):
    assert speech_level(segment) == pytest.approx(TONE.dBFS, abs=0.3)


def test_silence_has_no_level():
    assert speech_level(PAUSE) == -math.inf


def test_trimming_leaves_the_sound_and_a_little_margin():
    trimmed = prompt_audio.trim_silence(PAUSE + TONE + PAUSE)
    assert 1000 <= len(trimmed) <= 1060


def test_peaks_are_limited_without_touching_the_rest():
    quiet = Sine(400, sample_rate=8000).to_audio_segment(500, volume=-20)
    loud = Sine(400, sample_rate=8000).to_audio_segment(100, volume=0)
    limited = prompt_audio.limit_peaks(quiet + loud + quiet, ceiling_dbfs=-3)
    assert limited.max_dBFS <= -3.0
    assert limited[:400].rms == (quiet + loud + quiet)[:400].rms
    assert prompt_audio.clipped_at(limited) is None


def test_normalising_reaches_the_target_without_clipping():
    speechlike = TONE.apply_gain(-15) + Square(300, sample_rate=8000).to_audio_segment(50, -3)
    normalised = prompt_audio.normalise(speechlike, -20.0)
    assert speech_level(normalised) == pytest.approx(-20.0, abs=0.2)
    assert normalised.max_dBFS <= -1.0 + 0.01


# --- recording a simulated call ---------------------------------------------------------


def _length(path: Path) -> int:
    return len(AudioSegment.from_wav(str(path)))


@needs_tools
def test_a_recording_says_numbers_with_the_project_number_words(built, tmp_path):
    recording = CallRecording(built / "ru", sounds_dir=None)
    recording.said([Prompt("you_entered", "Вы ввели"), Number(45055), Digits("102")])
    recording.pressed("1", 6.0)
    recording.pressed(".", 6.0)
    words = [*sound_names(45055), "digits/1", "digits/0", "digits/2"]
    expected = _length(audio_path(built / "ru", "you_entered"))
    expected += sum(_length(audio_path(built / "ru", word)) for word in words)
    expected += 250 + 6000  # a key's tone and the gap before it; the wait
    seconds = recording.save(tmp_path / "call.wav")
    assert seconds * 1000 == pytest.approx(expected, abs=2)
    assert wav_format(tmp_path / "call.wav") == (8000, 1, 2, "NONE")


@pytest.mark.skipif(
    not (ASTERISK_RUSSIAN_SOUNDS / "digits" / "40.gsm").exists() or not shutil.which("ffmpeg"),
    reason="needs Asterisk's Russian sounds (asterisk-core-sounds-ru-gsm) and ffmpeg",
)
def test_a_recording_uses_asterisks_russian_sounds_where_they_exist(tmp_path):
    warnings: list[str] = []
    recording = CallRecording(SHIPPED, warn=warnings.append)
    recording.said([Number(40_000)])
    gsm = prompt_audio.decode(ASTERISK_RUSSIAN_SOUNDS / "digits" / "40.gsm")
    # «сорок» is the package's recording, «тысяч» (which the package lacks) the project's
    expected = len(gsm) + _length(audio_path(SHIPPED, "digits/thousands"))
    assert recording.save(tmp_path / "call.wav") * 1000 == pytest.approx(expected, abs=2)
    assert warnings == []


@pytest.fixture
def ivr(monkeypatch, tmp_path):
    """`ivr ...` in-process with the shipped flow, a demo database, and a copy of the shipped
    catalog and audio to change."""
    shutil.copytree(SHIPPED, tmp_path / "ru")
    shutil.copy(ROOT / "prompts" / "ru.yaml", tmp_path / "ru.yaml")
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("IVR_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("IVR_PROMPTS_AUDIO_DIR", str(tmp_path / "ru"))
    monkeypatch.setenv("IVR_PROMPTS_PATH", str(tmp_path / "ru.yaml"))
    for name in ("IVR_CONFIG", "IVR_FLOW_PATH", "IVR_ACCEPT_DAYS", "IVR_TTS_ENGINE"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return run


def _edit_catalog(path: Path, key: str, text: str) -> int:
    """Give prompt `key` a new text; return its line."""
    lines = path.read_text("utf-8").splitlines()
    (index,) = [i for i, line in enumerate(lines) if line.startswith(f"{key}:")]
    lines[index] = f'{key}: "{text}"'
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return index + 1


def test_ivr_prompts_check_reports_a_stale_entry_and_a_missing_file(ivr, tmp_path):
    assert ivr("prompts", "check").exit_code == 0
    line = _edit_catalog(tmp_path / "ru.yaml", "goodbye", "До встречи.")
    (tmp_path / "ru" / "readings_accepted.wav").unlink()
    for command in (["prompts", "check"], ["check"]):
        result = ivr(*command)
        assert result.exit_code == 1
        assert (
            f"{tmp_path / 'ru.yaml'}, line {line}: error: prompt 'goodbye' changed after its "
            f"audio was made: {tmp_path / 'ru' / 'goodbye.wav'} says «До свидания.», the "
            "catalog now says «До встречи.»; run `ivr prompts build`"
        ) in result.stderr
        assert (
            "error: prompt 'readings_accepted' (said by node 'accepted') has no audio: "
            f"{tmp_path / 'ru' / 'readings_accepted.wav'} does not exist"
        ) in result.stderr
        assert "2 problems with the audio in" in result.stderr


@needs_tools
def test_staff_rerecord_a_prompt_as_the_readme_shows(ivr, tmp_path):
    """README: re-recording one prompt, and checking it."""
    _edit_catalog(tmp_path / "ru.yaml", "goodbye", "До свидания, всего доброго.")
    built_out = ivr("prompts", "build")
    assert built_out.exit_code == 0, built_out.output
    assert "made goodbye (" in built_out.stdout

    studio = speech_file(tmp_path / "goodbye.mp3", "До свидания, всего доброго.", "-ac", "2")
    imported = ivr("prompts", "import", str(studio))
    assert imported.exit_code == 0, imported.output
    assert f"imported {studio} as goodbye (MP3 -> 8000 Hz mono, " in imported.stdout

    recorded = (tmp_path / "ru" / "goodbye.wav").read_bytes()
    again = ivr("prompts", "build")
    assert ": 0 made, " in again.stdout and ", 0 kept" in again.stdout
    assert (tmp_path / "ru" / "goodbye.wav").read_bytes() == recorded
    checked = ivr("check")
    assert checked.exit_code == 0, checked.output
    assert "OK, audio for" in checked.stdout

    misnamed = ivr("prompts", "import", str(studio.rename(tmp_path / "good_bye.mp3")))
    assert misnamed.exit_code == 1
    assert "no prompt is called 'good_bye' (did you mean 'goodbye'?)" in misnamed.stderr
    assert "nothing was imported" in misnamed.stderr


@needs_tools
def test_simulate_records_the_call_as_the_caller_hears_it(ivr, tmp_path):
    assert ivr("db", "upgrade").exit_code == 0 and ivr("db", "seed").exit_code == 0
    record = tmp_path / "call.wav"
    keys = "*2 102057522# 11638# 1"
    result = ivr("simulate", "--keys", keys, "--date", "2026-11-20", "--record", str(record))
    assert result.exit_code == 0, result.output
    assert "Вы ввели одиннадцать тысяч шестьсот тридцать восемь" in result.stdout
    assert f"-- the call as the caller hears it: {record} (" in result.stderr
    assert wav_format(record) == (8000, 1, 2, "NONE")
    said = [
        "welcome", "tone_mode", "main_menu", "enter_contract", "enter_reading", "zone_single",
        "end_with_hash", "you_entered", "confirm_or_reenter", "readings_accepted",
    ]  # fmt: skip
    prompts = sum(_length(audio_path(SHIPPED, key)) for key in said)
    keys_pressed = len("".join(keys.split())) * 250
    number = 5 * 400  # five words, each at least 0.4 s
    assert prompts + keys_pressed + number <= _length(record) <= prompts + keys_pressed + 8000


# --- the shipped audio ------------------------------------------------------------------


def test_the_shipped_audio_passes_every_check():
    catalog = load_catalog(ROOT / "prompts" / "ru.yaml")
    flow = load_flow(ROOT / "ivr_flows.yaml", catalog, ACTIONS)
    result = check(SHIPPED, catalog, flow, STYLE)
    assert [str(f) for f in result.findings] == []
    assert result.prompts == len(catalog.texts) and result.number_words == len(WORDS)


@pytest.mark.parametrize(
    "path", sorted(SHIPPED.rglob("*.wav")), ids=lambda p: str(p.relative_to(SHIPPED))
)
def test_every_shipped_file_is_telephone_audio(path):
    assert wav_format(path) == (8000, 1, 2, "NONE")
    segment = AudioSegment.from_wav(str(path))
    assert abs(speech_level(segment) - STYLE.loudness_dbfs) <= 1.5
    assert segment.max_dBFS <= -1.0 + 0.01


def test_the_shipped_audio_stays_small():
    """The copies in the line codings are made where Asterisk plays them, not shipped."""
    shipped = [p for p in SHIPPED.rglob("*") if p.suffix not in line_codings.CODINGS]
    assert sum(path.stat().st_size for path in shipped) < 5 * 1024 * 1024
    tracked = subprocess.run(
        ["git", "ls-files", "prompts/ru"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    assert [name for name in tracked if Path(name).suffix in line_codings.CODINGS] == []


def test_an_installation_makes_its_copies_from_the_wav_in_place(tmp_path):
    """Staff re-recorded welcome.wav in an installed folder; installing again keeps it, and
    its copies say what it says, not what the shipped welcome.wav says."""
    layout = installation.Layout(tmp_path)
    layout.audio.mkdir(parents=True)
    shutil.copy(SHIPPED / "goodbye.wav", layout.audio / "welcome.wav")
    entries = {entry.path: entry for entry in installation._audio(layout)}
    assert entries[layout.audio / "welcome.wav"].keep
    for suffix in line_codings.CODINGS:
        welcome = entries[layout.audio / f"welcome{suffix}"]
        assert not welcome.keep
        assert welcome.content == entries[layout.audio / f"goodbye{suffix}"].content


@pytest.mark.skipif(
    not shutil.which("text2wave")
    or not Path("/usr/share/festival/voices/russian/msu_ru_nsh_clunits").exists()
    or not shutil.which("ffmpeg"),
    reason="needs festival and festvox-ru (apt-get install festival festvox-ru)",
)
def test_festival_speaks_the_prompts_too():
    voice = Voice(engine="festival", name="msu_ru_nsh_clunits")
    segment = prompt_audio.to_telephone(
        prompt_audio.decode(prompt_audio.synthesize(TEXTS["welcome"], voice)), STYLE
    )
    assert (segment.frame_rate, segment.channels, segment.sample_width) == (8000, 1, 2)
    assert vowels(TEXTS["welcome"]) / 9 <= len(segment) / 1000 <= vowels(TEXTS["welcome"]) / 2
    assert abs(speech_level(segment) - STYLE.loudness_dbfs) <= 1.5


def test_a_number_in_a_prompt_text_is_synthesized_digit_by_digit():
    assert spoken_text("Отправьте ПС 102057522 11638. Нажмите 2.") == (
        "Отправьте ПС один ноль два ноль пять семь пять два два один один шесть три восемь. "
        "Нажмите 2."
    )


@needs_tools
def test_a_prompt_with_a_number_is_built_from_its_digit_words(tmp_path):
    texts = {"example": "ПС 102057522", "words": "ПС один ноль два ноль пять семь пять два два"}
    catalog = load_catalog(write_catalog(tmp_path / "ru.yaml", texts))
    build(tmp_path / "ru", catalog, Voice(), STYLE, only=list(texts))
    same = [audio_path(tmp_path / "ru", key).read_bytes() for key in texts]
    assert same[0] == same[1]


def _russian_sounds_fixture(tmp_path):
    system = tmp_path / "ru_RU_f_IvrvoiceRU"
    (system / "digits").mkdir(parents=True)
    for name in ("digits/5.gsm", "digits/thousand.gsm", "vm-goodbye.gsm"):
        (system / name).write_bytes(b"gsm")
    ours = tmp_path / "prompts" / "digits"
    ours.mkdir(parents=True)
    for name in ("5", "thousand", "thousands", "600"):
        for suffix in LINE_FILES:
            (ours / f"{name}{suffix}").write_bytes(suffix.encode())
    return system, ours


def test_the_private_line_says_every_number_word_in_the_prompts_voice(tmp_path):
    system, ours = _russian_sounds_fixture(tmp_path)
    sounds = tmp_path / "line" / "ru"
    private_asterisk._russian_sounds(sounds, system, ours)
    assert sorted(p.name for p in (sounds / "digits").iterdir()) == sorted(
        f"{name}{suffix}" for name in ("5", "600", "thousand", "thousands") for suffix in LINE_FILES
    )
    assert (sounds / "digits" / "5.wav").resolve() == ours / "5.wav"
    assert (sounds / "digits" / "5.alaw").resolve() == ours / "5.alaw"
    assert (sounds / "vm-goodbye.gsm").resolve() == system / "vm-goodbye.gsm"


def test_with_asterisks_number_voice_the_line_adds_only_the_words_the_package_lacks(tmp_path):
    system, ours = _russian_sounds_fixture(tmp_path)
    sounds = tmp_path / "line" / "ru"
    private_asterisk._russian_sounds(sounds, system, ours, ours_first=False)
    assert sorted(p.name for p in (sounds / "digits").iterdir()) == sorted(
        ["5.gsm", "thousand.gsm"]
        + [f"{name}{suffix}" for name in ("600", "thousands") for suffix in LINE_FILES]
    )
    assert (sounds / "digits" / "thousands.wav").resolve() == ours / "thousands.wav"
    private_asterisk._russian_sounds(sounds, system, None)  # without them: the package as is
    assert sounds.is_symlink() and sounds.resolve() == system


# --- one voice ---------------------------------------------------------------------------


def test_a_shipped_call_says_everything_in_one_voice():
    catalog = load_catalog(ROOT / "prompts" / "ru.yaml")
    flow = load_flow(ROOT / "ivr_flows.yaml", catalog, ACTIONS)
    keys = [*prompt_library.prompts_in_use(flow), *WORDS]
    spoken = prompt_library.voices(prompt_library.Manifest.load(SHIPPED), keys)
    assert list(spoken) == ["espeak-ng ru"], {voice: files[:5] for voice, files in spoken.items()}
    result = check(SHIPPED, catalog, flow, STYLE)
    assert [f for f in result.findings if f.rule == "mixed-voices"] == []


@needs_tools
def test_one_recording_among_synthesized_files_is_a_call_that_mixes_voices(audio, tmp_path):
    recording = speech_file(tmp_path / "goodbye.mp3", "До свидания.", "-ar", "44100")
    import_recordings(audio / "ru", catalog_of(audio), [recording], STYLE)
    flow = load_flow(_write(audio / "flow.yaml", FLOW), catalog_of(audio), ACTIONS)
    (finding,) = [
        f
        for f in check(audio / "ru", catalog_of(audio), flow, STYLE).findings
        if f.rule == "mixed-voices"
    ]
    assert finding.level == "warning"
    assert "a call would change voice" in finding.message
    assert "recorded: goodbye" in finding.message


@needs_tools
def test_asterisks_number_words_beside_the_prompts_are_a_mix(audio):
    flow = load_flow(_write(audio / "flow.yaml", FLOW), catalog_of(audio), ACTIONS)
    result = check(audio / "ru", catalog_of(audio), flow, STYLE, number_voice="asterisk")
    (finding,) = [f for f in result.findings if f.rule == "mixed-voices"]
    assert "numbers would be said by the Russian sounds package's recordings" in finding.message


def test_ivr_prompts_sheet_lists_every_file_to_record(ivr, tmp_path):
    result = ivr("prompts", "sheet", "--out", str(tmp_path / "sheet"))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "sheet" / "recording-sheet.csv").open(encoding="utf-8")))
    catalog = load_catalog(ROOT / "prompts" / "ru.yaml")
    assert len(rows) == len(catalog.texts) + len(WORDS)
    by_file = {row["file"]: row for row in rows}
    assert by_file["from_day_18.wav"]["say"] == "с восемнадцатого"
    assert by_file["digits/thousands-i.wav"] == {
        "file": "digits/thousands-i.wav",
        "text": "тысячи",
        "say": "тысячи",
        "said by": "numbers",
    }
    assert by_file["welcome.wav"]["said by"] == "greeting"
    page = (tmp_path / "sheet" / "recording-sheet.html").read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in page
    assert page.count("<tr><td>") == len(rows)
    assert f"now spoken by espeak-ng ru ({len(rows)})" in result.output
