"""espeak-ng against festival (`msu_ru_nsh_clunits`) on the shipped prompts: what each costs
to synthesize, how long and how fast it speaks, its pitch, and what it cannot say.

    .venv/bin/python benchmarks/tts_voices.py [--limit N]

Each prompt's text (as it is synthesized: a number in digits said digit by digit) goes
through the same steps as `ivr prompts build`, so the seconds are those of the telephone
files. The pitch is the median of the fundamental frequency of the voiced 40 ms frames
(autocorrelation, 60-400 Hz): it tells a male voice from a female one, not the quality.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from pydub import AudioSegment

from agi.audio.library import syllables
from agi.audio.number_words import spoken_text
from agi.audio.sound import AudioError, AudioStyle, Voice, decode, synthesize, to_telephone
from agi.dialog.prompts import load_catalog

ROOT = Path(__file__).resolve().parent.parent
VOICES = [Voice("espeak-ng", "ru"), Voice("festival", "msu_ru_nsh_clunits")]


def pitch(segment: AudioSegment) -> float | None:
    """The median F0 of the voiced frames, in Hz."""
    samples = segment.get_array_of_samples()
    rate = segment.frame_rate
    frame = int(0.04 * rate)
    low, high = rate // 400, rate // 60
    found = []
    loudest = max(1, max(abs(s) for s in samples))
    for start in range(0, len(samples) - frame, frame):
        window = samples[start : start + frame]
        if max(abs(s) for s in window) < loudest * 0.2:
            continue
        energy = sum(s * s for s in window)
        best, lag_of_best = 0.0, 0
        for lag in range(low, min(high, frame - 1)):
            value = sum(window[i] * window[i + lag] for i in range(frame - lag))
            if value > best:
                best, lag_of_best = value, lag
        if lag_of_best and best > 0.5 * energy:
            found.append(rate / lag_of_best)
    return statistics.median(found) if found else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=0, help="only the first N prompts")
    args = parser.parse_args()
    texts = load_catalog(ROOT / "prompts" / "ru.yaml").texts
    chosen = list(texts.items())[: args.limit or None]
    style = AudioStyle()
    print(f"{len(chosen)} prompts, {sum(syllables(t) for _, t in chosen)} syllables")
    for voice in VOICES:
        seconds, spent, pitches, failed = 0.0, 0.0, [], []
        for key, text in chosen:
            started = time.perf_counter()
            try:
                audio = to_telephone(decode(synthesize(spoken_text(text), voice)), style)
            except AudioError as error:
                failed.append(f"{key}: {error}")
                continue
            spent += time.perf_counter() - started
            seconds += len(audio) / 1000
            if key in ("welcome", "enter_contract", "readings_accepted"):
                found = pitch(audio)
                if found:
                    pitches.append(found)
        rate = sum(syllables(t) for _, t in chosen) / seconds if seconds else 0
        print(
            f"{voice.engine:9} {voice.name:20} synthesis {spent:6.1f} s "
            f"({1000 * spent / max(1, len(chosen) - len(failed)):.0f} ms a prompt), "
            f"audio {seconds:6.1f} s, {rate:.1f} syllables/s, "
            f"pitch {statistics.median(pitches) if pitches else 0:.0f} Hz, "
            f"failed {len(failed)}"
        )
        for line in failed[:5]:
            print(f"    {line}")


if __name__ == "__main__":
    main()
