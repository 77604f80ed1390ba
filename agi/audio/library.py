"""The prompt files: one telephone-format WAV per prompt id in `prompts/ru/`, and the number
words in `prompts/ru/digits/`, kept complete and consistent.

`prompts/ru/digits/` holds the number words of Asterisk's Russian SAY NUMBER
(`agi.audio.number_words`), named as Asterisk names them: the Russian sounds package lacks some of
them (сто…девятьсот, тысячи, тысяч, миллиона, миллионов, одна, две), and the simulator's
recording uses them where that package is not installed.

Beside each WAV are its copies in the G.711 codings (`agi.audio.line_codings`), which Asterisk
plays on a G.711 line without converting: `build` and `import_recordings` remake them, `check`
reports one that no longer matches its WAV.

`manifest.json` beside the files records what each was made from: the text, the engine and
voice or the imported file, a fingerprint of the processing settings and a hash of the
audio. `build` remakes only what changed and never replaces a recording it did not make;
`import_recordings` brings in a voice artist's files; `check` finds what is missing, wrong,
stale or left over.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import re
import wave
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from pydub import AudioSegment

from agi.atomic_file import replace_file
from agi.audio import line_codings
from agi.audio.number_words import DIGIT_RUN, WORDS, spoken_text
from agi.audio.sound import (
    TELEPHONE_FORMAT,
    AudioError,
    AudioStyle,
    Voice,
    decode,
    examine,
    synthesize,
    to_telephone,
    wav_bytes,
)
from agi.dialog.flow import ActionNode, Flow
from agi.dialog.flow_loader import said_prompts, says_prompts_of
from agi.dialog.prompts import PromptCatalog
from agi.located_yaml import YamlSyntaxError, read_yaml_file
from agi.problems import did_you_mean

MANIFEST_NAME = "manifest.json"
NUMBER_WORDS = "digits"
"""The folder of the number words, named as Asterisk names them (`digits/thousands`)."""
LOUDNESS_TOLERANCE_DB = 1.5
SILENT_BELOW_DBFS = -50.0
IMPORTABLE = frozenset({".wav", ".mp3", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".aac"})
VOWELS = re.compile(r"[аеёиоуыэюяaeiouy]", re.IGNORECASE)


def audio_targets(catalog: PromptCatalog) -> dict[str, str]:
    """Every audio file the IVR may play, by key (a prompt id, or `digits/<name>` for a number
    word), with the words it must say."""
    targets = dict(catalog.texts)
    for name, word in WORDS.items():
        targets[name] = word
    return targets


def audio_path(folder: Path, key: str) -> Path:
    return folder / f"{key}.wav"


def prompts_in_use(flow: Flow) -> dict[str, str]:
    """The prompt ids a call through `flow` may play, each with the first node that says it:
    the same ones the flow loader requires in the catalog."""
    used: dict[str, str] = {}
    for name, node in flow.nodes.items():
        for _, prompt in said_prompts(node):
            used.setdefault(prompt, name)
        spec = flow.actions.get(node.action) if isinstance(node, ActionNode) else None
        if spec is not None and says_prompts_of(flow, spec):
            for prompt in sorted(spec.prompts):
                used.setdefault(prompt, name)
    return used


# --- the manifest -----------------------------------------------------------------------


@dataclass
class Entry:
    """What one audio file was made from."""

    source: Literal["tts", "recorded"]
    text: str
    settings: str
    sha256: str
    seconds: float
    engine: str | None = None
    voice: str | None = None
    original: str | None = None
    """The voice artist's file name, for a recording."""


@dataclass
class Manifest:
    folder: Path
    entries: dict[str, Entry] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.folder / MANIFEST_NAME

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST_NAME
        if not path.exists():
            return cls(folder)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries = {key: Entry(**value) for key, value in data["files"].items()}
        except (ValueError, KeyError, TypeError) as error:
            raise AudioError(
                f"{path} is damaged ({error}); restore it from the repository, or delete it "
                "and run `ivr prompts build --force`"
            ) from None
        return cls(folder, entries)

    def save(self) -> None:
        data = {
            "about": "What each prompt file was made from; written by `ivr prompts build` "
            "and `ivr prompts import`, read by `ivr prompts check`. Do not edit.",
            "format": TELEPHONE_FORMAT,
            "files": {
                key: {k: v for k, v in asdict(entry).items() if v is not None}
                for key, entry in sorted(self.entries.items())
            },
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
        replace_file(self.path, text)


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_audio(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, data)


# --- ivr prompts build ------------------------------------------------------------------


@dataclass
class BuildReport:
    made: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    """Files build would have remade but left alone, and why."""


def build(
    folder: Path,
    catalog: PromptCatalog,
    voice: Voice,
    style: AudioStyle,
    *,
    only: Iterable[str] = (),
    force: bool = False,
    progress: Callable[[str, float], None] = lambda key, seconds: None,
) -> BuildReport:
    """Synthesize the audio of every prompt and number word whose file is missing or was made
    from another text or other settings. Recordings (imported, or placed by hand) are kept
    unless `force`; `only` limits the work to some keys."""
    targets = audio_targets(catalog)
    chosen = set(only)
    unknown = chosen - set(targets)
    if unknown:
        raise AudioError(
            "; ".join(
                f"there is no prompt '{key}'{did_you_mean(key, targets)}" for key in sorted(unknown)
            )
        )
    manifest = Manifest.load(folder)
    fingerprint = style.fingerprint(voice)
    report = BuildReport()
    try:
        for key, text in targets.items():
            if chosen and key not in chosen:
                continue
            path = audio_path(folder, key)
            entry = manifest.entries.get(key)
            plan, why = ("make", "") if force else _plan(path, entry, text, fingerprint)
            if plan == "keep":
                report.kept.append((key, why))
                continue
            if plan == "unchanged":
                report.unchanged.append(key)
                continue
            audio = to_telephone(decode(synthesize(spoken_text(text), voice)), style)
            data = wav_bytes(audio)
            _write_audio(path, data)
            manifest.entries[key] = Entry(
                source="tts",
                text=text,
                settings=fingerprint,
                sha256=hashlib.sha256(data).hexdigest(),
                seconds=round(len(audio) / 1000, 2),
                engine=voice.engine,
                voice=voice.name,
            )
            report.made.append(key)
            progress(key, len(audio) / 1000)
    finally:
        for key in [k for k in manifest.entries if k not in targets]:
            if not audio_path(folder, key).exists():
                del manifest.entries[key]  # a prompt deleted with its file
        manifest.save()
        line_codings.refresh(folder)
    return report


def _plan(path: Path, entry: Entry | None, text: str, fingerprint: str) -> tuple[str, str]:
    """What build does with one file: `make` it, leave it `unchanged`, or `keep` it although
    it may be out of date (a recording, or a file placed or changed by hand), and why."""
    if not path.exists():
        return "make", ""
    if entry is None:
        return "keep", "placed by hand, not made by `ivr prompts build`"
    if file_hash(path) != entry.sha256:
        return "keep", "changed by hand after it was made"
    if entry.source == "recorded":
        if entry.text == text:
            return "unchanged", ""
        return "keep", f"a recording ({entry.original}) of the old text «{entry.text}»"
    if (entry.text, entry.settings) == (text, fingerprint):
        return "unchanged", ""
    return "make", ""


# --- ivr prompts import -----------------------------------------------------------------


@dataclass(frozen=True)
class Imported:
    key: str
    source: Path
    seconds: float
    was: str
    """The source's format, e.g. `44100 Hz stereo`."""


class RecordingsRejected(AudioError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def recordings_in(paths: Iterable[Path]) -> list[Path]:
    """The audio files given, and those inside the folders given (their `digits/` too)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMPORTABLE
            )
        else:
            found.append(path)
    return found


def key_of(path: Path, targets: dict[str, str]) -> str | None:
    """The prompt a recording is for, by its file name: `welcome.mp3` is `welcome`, and
    `digits/thousands.wav` is the number word `digits/thousands`."""
    if path.parent.name == NUMBER_WORDS and f"{NUMBER_WORDS}/{path.stem}" in targets:
        return f"{NUMBER_WORDS}/{path.stem}"
    return path.stem if path.stem in targets else None


def import_recordings(
    folder: Path, catalog: PromptCatalog, paths: Iterable[Path], style: AudioStyle
) -> list[Imported]:
    """Convert a voice artist's files into telephone format and put them in place, marked as
    recorded in the manifest. All or nothing: if any file is unknown or unreadable, nothing
    is imported and every problem is listed."""
    targets = audio_targets(catalog)
    files = recordings_in(paths)
    problems: list[str] = []
    ready: list[tuple[str, Path, AudioSegment, str]] = []
    seen: dict[str, Path] = {}
    if not files:
        problems.append("no audio files found (.wav, .mp3, .ogg, .flac)")
    for path in files:
        if not path.exists():
            problems.append(f"{path}: there is no such file")
            continue
        key = key_of(path, targets)
        if key is None:
            problems.append(
                f"{path}: no prompt is called '{path.stem}'"
                f"{did_you_mean(path.stem, catalog.texts)}; name the file after the prompt id, "
                "e.g. welcome.mp3"
            )
            continue
        if key in seen:
            problems.append(f"{path}: '{key}' is also recorded in {seen[key]}; keep one of them")
            continue
        seen[key] = path
        try:
            was = _describe_source(path)
            audio = to_telephone(decode(path), style)
        except AudioError as error:
            problems.append(f"{path}: {error}")
            continue
        length = _length_problem(len(audio) / 1000, targets[key])
        if length:
            problems.append(f"{path}: {length}")
            continue
        ready.append((key, path, audio, was))
    if problems:
        raise RecordingsRejected(problems)
    manifest = Manifest.load(folder)
    fingerprint = style.fingerprint(None)
    imported = []
    for key, path, audio, was in ready:
        data = wav_bytes(audio)
        _write_audio(audio_path(folder, key), data)
        manifest.entries[key] = Entry(
            source="recorded",
            text=targets[key],
            settings=fingerprint,
            sha256=hashlib.sha256(data).hexdigest(),
            seconds=round(len(audio) / 1000, 2),
            original=path.name,
        )
        imported.append(Imported(key, path, len(audio) / 1000, was))
    manifest.save()
    line_codings.refresh(folder)
    return imported


def _describe_source(path: Path) -> str:
    """`44100 Hz stereo` for a WAV; the file type for others (ffmpeg reads them)."""
    try:
        with wave.open(str(path), "rb") as file:
            channels = {1: "mono", 2: "stereo"}.get(file.getnchannels(), "multichannel")
            return f"{file.getframerate()} Hz {channels} {8 * file.getsampwidth()}-bit WAV"
    except (wave.Error, EOFError, OSError):
        return path.suffix.lstrip(".").upper() or "audio"


# --- ivr prompts check ------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    level: Literal["error", "warning"]
    rule: str
    """A short, stable name of the rule (tests and support refer to it)."""
    file: Path
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}, line {self.line}" if self.line else str(self.file)
        return f"{where}: {self.level}: {self.message}"


def syllables(text: str) -> int:
    """Russian syllables are its vowels; a digit written in a text is said as a word or two."""
    return max(1, len(VOWELS.findall(text)) + 2 * sum(c.isdigit() for c in text))


def duration_bounds(text: str) -> tuple[float, float]:
    """The shortest and longest a file saying `text` may be, lead-in and tail included:
    faster than 15 or slower than 1.5 syllables a second is no longer speech."""
    count = syllables(text)
    return 0.2 + count / 15, 2.0 + count / 1.5


def _length_problem(seconds: float, text: str) -> str | None:
    shortest, longest = duration_bounds(text)
    if seconds > longest:
        return (
            f"lasts {seconds:.1f} s, too long for «{text}» (at most {longest:.1f} s): "
            "is there a long silence or something else on it?"
        )
    if seconds < shortest:
        return (
            f"lasts {seconds:.1f} s, too short for «{text}» (at least {shortest:.1f} s): "
            "is it cut off?"
        )
    return None


@dataclass(frozen=True)
class AudioCheck:
    findings: list[Finding]
    prompts: int
    number_words: int

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]


def check(
    folder: Path,
    catalog: PromptCatalog,
    flow: Flow | None,
    style: AudioStyle,
    *,
    number_voice: str = "prompts",
) -> AudioCheck:
    """Every prompt the flow may say and every number word has audio in telephone format,
    not silent, not clipped, of a plausible length, at the target loudness, and made from
    the catalog's current text; a call says them all in one voice; files nobody plays are
    listed."""
    targets = audio_targets(catalog)
    used = prompts_in_use(flow) if flow else dict.fromkeys(catalog.texts, "")
    lines = _catalog_lines(catalog)
    try:
        manifest = Manifest.load(folder)
    except AudioError as error:
        return AudioCheck([Finding("error", "manifest", folder / MANIFEST_NAME, str(error))], 0, 0)
    findings: list[Finding] = []
    for key, text in targets.items():
        findings += _check_one(
            key, text, folder, manifest.entries.get(key), used, catalog, lines, style
        )
    findings += _orphans(folder, targets)
    findings += _stale_copies(folder)
    findings += _digits_in_texts(catalog, lines)
    said = [key for key in targets if key in used or key not in catalog.texts]
    findings += _mixed_voices(folder, manifest, said, number_voice)
    prompts = sum(1 for key in targets if key in catalog.texts)
    return AudioCheck(findings, prompts, len(targets) - prompts)


def _check_one(
    key: str,
    text: str,
    folder: Path,
    entry: Entry | None,
    used: dict[str, str],
    catalog: PromptCatalog,
    lines: dict[str, int],
    style: AudioStyle,
) -> Iterator[Finding]:
    path = audio_path(folder, key)
    is_prompt = key in catalog.texts
    if not path.exists():
        if is_prompt and key not in used:
            yield Finding(
                "warning",
                "missing-audio",
                catalog.path,
                f"prompt '{key}' has no audio ({path}), but the flow does not say it yet; "
                "run `ivr prompts build` before it does",
                lines.get(key),
            )
        elif is_prompt:
            node = used[key]
            yield Finding(
                "error",
                "missing-audio",
                catalog.path,
                f"prompt '{key}'{f' (said by node {node!r})' if node else ''} has no audio: "
                f"{path} does not exist; run `ivr prompts build`, or import a recording",
                lines.get(key),
            )
        else:
            yield Finding(
                "error",
                "missing-audio",
                path,
                f"the number word «{text}» has no audio, so numbers would be said with a gap; "
                "run `ivr prompts build`",
            )
        return
    redo = (
        f"run `ivr prompts build --force {key}`, or import the recording again"
        if entry is None or entry.source == "recorded"
        else f"run `ivr prompts build --force {key}`"
    )
    try:
        facts = examine(path)
    except AudioError as error:
        yield Finding("error", "unreadable", path, f"{error}; {redo}")
        return
    if not facts.in_format:
        yield Finding(
            "error",
            "wrong-format",
            path,
            f"is {facts.format}; the telephone needs {TELEPHONE_FORMAT}: import it with "
            f"`ivr prompts import {path}`, which converts it",
        )
    if facts.level < SILENT_BELOW_DBFS:
        yield Finding("error", "silent", path, f"is silent; {redo}")
        return
    if facts.clipped_at is not None:
        yield Finding(
            "error",
            "clipped",
            path,
            f"is clipped (distorted) at {facts.clipped_at:.2f} s; {redo}",
        )
    length = _length_problem(facts.seconds, text)
    if length:
        yield Finding("error", "length", path, f"{length}; {redo}")
    off = facts.level - style.loudness_dbfs
    if abs(off) > LOUDNESS_TOLERANCE_DB:
        yield Finding(
            "error",
            "loudness",
            path,
            f"speech at {facts.level:.1f} dBFS is {abs(off):.1f} dB "
            f"{'louder' if off > 0 else 'quieter'} than the other prompts "
            f"({style.loudness_dbfs:.0f} dBFS ± {LOUDNESS_TOLERANCE_DB}); {redo}",
        )
    yield from _check_origin(key, text, path, entry, catalog, lines)


def _check_origin(
    key: str,
    text: str,
    path: Path,
    entry: Entry | None,
    catalog: PromptCatalog,
    lines: dict[str, int],
) -> Iterator[Finding]:
    if entry is None:
        yield Finding(
            "warning",
            "unrecorded-origin",
            path,
            f"was placed by hand: nothing says it says «{text}»; import it with "
            f"`ivr prompts import {path}`, or run `ivr prompts build --force {key}`",
        )
        return
    if entry.text != text:
        where = catalog.path if key in catalog.texts else path
        if entry.source == "recorded":
            todo = (
                "record it again and import it (README: re-recording a prompt), or run "
                f"`ivr prompts build --force {key}` to synthesize it"
            )
        else:
            todo = "run `ivr prompts build`"
        yield Finding(
            "error",
            "stale",
            where,
            f"{'prompt ' + repr(key) if key in catalog.texts else path.name} changed after "
            f"its audio was made: {path} says «{entry.text}», the catalog now says "
            f"«{text}»; {todo}",
            lines.get(key),
        )
    if file_hash(path) != entry.sha256:
        yield Finding(
            "warning",
            "changed-by-hand",
            path,
            "was changed by hand after it was made or imported: nothing says it says "
            f"«{text}»; import it with `ivr prompts import {path}`",
        )


def _orphans(folder: Path, targets: dict[str, str]) -> Iterator[Finding]:
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name in (MANIFEST_NAME,) or path.name.startswith("."):
            continue
        key = path.relative_to(folder).with_suffix("").as_posix()
        if path.suffix == ".wav" and key in targets:
            continue
        if path.suffix in line_codings.CODINGS and path.with_suffix(".wav").exists():
            continue  # a copy of a WAV: _stale_copies
        if key in targets:
            message = (
                f"Asterisk may play this {path.suffix} file instead of {key}.wav; import it "
                f"with `ivr prompts import {path}`, or delete it"
            )
        else:
            message = (
                f"no prompt '{key}' in the catalog, so nothing plays this file"
                f"{did_you_mean(path.stem, targets)}; delete it, or add the prompt to the catalog"
            )
        yield Finding("warning", "orphan", path, message)


def _stale_copies(folder: Path) -> Iterator[Finding]:
    if not folder.is_dir():
        return
    for path in line_codings.stale(folder):
        yield Finding(
            "error",
            "stale-copy",
            path,
            f"does not match {path.with_suffix('.wav').name}, and Asterisk plays it instead "
            f"on a {path.suffix[1:]} line; run `ivr prompts build` to make it again",
        )


def voice_of(entry: Entry | None) -> str:
    """Who speaks a file: `espeak-ng ru`, `festival msu_ru_nsh_clunits`, `recorded`, or
    `unknown` for a file placed by hand."""
    if entry is None:
        return "unknown"
    if entry.source == "recorded":
        return "recorded"
    return f"{entry.engine} {entry.voice}"


def voices(manifest: Manifest, keys: Iterable[str]) -> dict[str, list[str]]:
    """The files a call may play, by who speaks them."""
    by_voice: dict[str, list[str]] = {}
    for key in keys:
        by_voice.setdefault(voice_of(manifest.entries.get(key)), []).append(key)
    return by_voice


def _mixed_voices(
    folder: Path, manifest: Manifest, keys: list[str], number_voice: str
) -> Iterator[Finding]:
    """A call should not change voice in mid-sentence: every prompt and number word it may
    say from one source (one synthesized voice, or one voice artist's recordings). A warning,
    not an error: a prompt re-recorded before the rest of the set is a step on the way."""
    by_voice = voices(manifest, keys)
    by_voice.pop("unknown", None)  # reported as placed by hand, file by file
    if len(by_voice) > 1:
        main = max(by_voice, key=lambda voice: len(by_voice[voice]))
        others = "; ".join(
            f"{voice}: {', '.join(files[:4])}{' …' if len(files) > 4 else ''}"
            for voice, files in sorted(by_voice.items())
            if voice != main
        )
        yield Finding(
            "warning",
            "mixed-voices",
            folder,
            f"a call would change voice: {len(by_voice[main])} files are {main}, but {others}; "
            "record or synthesize the whole set in one voice (`ivr prompts sheet` lists it; "
            "`ivr prompts build --force` remakes it all)",
        )
    if number_voice == "asterisk":
        yield Finding(
            "warning",
            "mixed-voices",
            folder,
            "number_voice is 'asterisk': numbers would be said by the Russian sounds package's "
            f"recordings and the prompts by {', '.join(sorted(by_voice)) or 'the project'}; "
            "set number_voice: prompts (the default) to say numbers in the prompts' voice",
        )


def _digits_in_texts(catalog: PromptCatalog, lines: dict[str, int]) -> Iterator[Finding]:
    """A number written in digits in a prompt's text is said digit by digit; say so, in
    case a number was meant (which must then be written in words, in its case)."""
    for key, text in catalog.texts.items():
        runs = DIGIT_RUN.findall(text)
        if not runs:
            continue
        yield Finding(
            "warning",
            "digits-in-text",
            catalog.path,
            f"prompt '{key}' writes {', '.join(runs)} in digits, so it is said digit by digit "
            f"(«{spoken_text(runs[0])}»); if a number is meant, write it in words in its "
            "case («восемнадцатого», «две тысячи»)",
            lines.get(key),
        )


def _catalog_lines(catalog: PromptCatalog) -> dict[str, int]:
    try:
        document = read_yaml_file(catalog.path)
    except (OSError, YamlSyntaxError):
        return {}
    return {key: document.line_of((key,)) for key in catalog.texts}


# --- ivr prompts sheet ------------------------------------------------------------------


@dataclass(frozen=True)
class SheetRow:
    """One file a voice artist records: its name, the catalog's text, and the words to say
    (a number in a text is said digit by digit)."""

    file: str
    text: str
    say: str
    where: str
    """The node that says it first, `numbers` for a number word, or empty if none does."""


def recording_sheet(catalog: PromptCatalog, flow: Flow | None) -> list[SheetRow]:
    """Every file a call may play, prompts first in catalog order, then the number words."""
    used = prompts_in_use(flow) if flow else {}
    rows = []
    for key, text in audio_targets(catalog).items():
        where = used.get(key, "") if key in catalog.texts else "numbers"
        rows.append(SheetRow(f"{key}.wav", text, spoken_text(text), where))
    return rows


def sheet_csv(rows: Iterable[SheetRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["file", "text", "say", "said by"])
    for row in rows:
        writer.writerow([row.file, row.text, row.say, row.where])
    return out.getvalue()


def sheet_html(rows: Iterable[SheetRow], voice: str) -> str:
    """The recording sheet as a printable page (UTF-8, so that Cyrillic prints as such)."""
    body = "\n".join(
        f"<tr><td>{number}</td><td><code>{html.escape(row.file)}</code></td>"
        f"<td>{html.escape(row.say)}</td><td>{html.escape(row.where)}</td></tr>"
        for number, row in enumerate(rows, 1)
    )
    return f"""<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>Лист записи подсказок</title>
<style>
body {{ font-family: "DejaVu Sans", sans-serif; font-size: 11pt; margin: 1.5cm; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border: 1px solid #999; padding: 4px 6px; vertical-align: top; text-align: left; }}
tr {{ page-break-inside: avoid; }} code {{ font-size: 9pt; }}
</style></head><body>
<h1>Лист записи подсказок</h1>
<p>Каждый файл — одна запись одним голосом: все подсказки и все слова чисел. Сейчас звучит:
{html.escape(voice)}. Запишите текст из столбца «Сказать» дословно и назовите файл, как в
столбце «Файл»; затем <code>ivr prompts import ПАПКА</code>.</p>
<table><thead><tr><th>№</th><th>Файл</th><th>Сказать</th><th>Где звучит</th></tr></thead>
<tbody>
{body}
</tbody></table></body></html>
"""
