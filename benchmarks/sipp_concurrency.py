"""The real stack at increasing concurrency: SIPp places N overlapping calls into a private
Asterisk, whose dialplan hands them to the FastAGI server, and every call must store its
own reading.

    sudo .venv/bin/python benchmarks/sipp_concurrency.py
        [--levels 1 5 10 20 40 80 160 240 320 400 480 640] [--spread 2]
        [--lines reference shipped] [--keep-going]
        [--max-calls 1000] [--database-url URL] [--keep-logs DIR] [--agi-debug]

Needs root (SIPp sends RTP from raw sockets), Asterisk and SIPp (scripts/install-telephony).
Everything runs in a temporary folder on free ports of 127.0.0.1: a private Asterisk
(agi.telephony.private_asterisk, its own --root), `python -m agi serve` against a temporary SQLite
database (or --database-url, never the configured database), and one SIPp run per level
with `-m N -l N -r N -rp <spread>`, so the N calls start within `--spread` seconds and
overlap. Every call of the run has a caller number and a contract of its own, seeded before
the first level (a single-zone meter, each with its own previous reading), and types the
seed call's keys with them: `*2 <contract># <reading># 1` (agi.telephony.sipp.scenario,
the values from SIPp's injection file). So one caller's mistyped answer counts against that
caller's and that contract's guessing limits only.

Each level runs on a fresh line, its own `ivr serve` and private Asterisk; with `--lines`
on each of several set-ups in turn (`shipped`; `reference`: silence sent while no prompt
plays and the WAVs converted on every frame; `silence` and `wav`: one of the two), and
prints each one's CPU per call beside the first's: Asterisk's (from /proc), the server's
and SIPp's.

A level passes when SIPp counts N successful calls and none failed, and every contract of
the level holds exactly one submission this period, from its own caller, with its reading
(Repository.history): the rows stored are counted against the calls placed.
A failed level also says what the key collections of each call without its row heard
(Read's `User entered`, and with `--agi-debug` GET DATA's reply, by the collection's
first prompt) and where it went; and every
level how long the line took from one key collection to the call's next, beside the 400 ms
between keys typed ahead (SIPp's `play_dtmf`): res_agi drops a key that comes while no
command waits for it, so a line slower than that loses the `2` of `*2`.
The run stops once every line has failed a level (not with `--keep-going`) and says what
failed: SIPp's errors, Asterisk's warnings, the server's log. Asterisk and the server are
stopped on the way out, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agi.audio import line_codings
from agi.readings import billing
from agi.readings.callers import phone_number
from agi.settings import Settings
from agi.storage.repository import Repository
from agi.telephony import private_asterisk
from agi.telephony.sipp import CallScript, injection_file, scenario, sipp_binary

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import support  # noqa: E402
from tests.real_line import asterisk_options, fastagi_server, private_asterisks  # noqa: E402

FIRST_CALLER = 79130000000
FIRST_CONTRACT = 400000000
FIRST_PREVIOUS = 20000
RISE = 158
"""Each call's reading over its meter's previous one: the seed call's 11638 over 11480, well
within what the meter's average consumption (150) allows."""
FALLBACK = "app_verbose.c: IVR FastAGI server unavailable - running the AGI script"
TYPED_AHEAD_MS = 400
"""How far apart SIPp's `play_dtmf` sends the keys of one group (a 200 ms tone, 200 ms
between): a key typed ahead is lost when the line takes longer to start the next key
collection, for res_agi drops the keys that come while no command waits for them."""
GET_DATA_REPLY = re.compile(r"AGI Tx >> 200 result=(-1|[0-9*#]?)\s*(\(timeout\))?$")
LOG_LINE = re.compile(r"^\[(\S+ \S+)\] \w+\[\d+\]\[(C-\w+)\] \S+: (.*)$", re.MULTILINE)
BENIGN = ("No SIP authenticator registered", "does not exist in any format")
"""Asterisk warnings of every call here: no SIP auth on the test line, and no recordings in
prompts/ru (the IVR skips a prompt without audio)."""


@dataclass(frozen=True)
class Line:
    """A way of setting up the private Asterisk, to compare with the shipped one in a run."""

    name: str
    description: str
    options: tuple[tuple[str, str], ...] = ()
    """asterisk.conf [options] set otherwise than config/asterisk has them."""
    line_codings: bool = True
    """The prompts' copies in the G.711 codings beside them (False: Asterisk converts)."""

    def lay_out(self, folder: Path, url: str) -> LaidOut:
        config = folder / "config"
        shutil.copytree(ROOT / "config" / "asterisk", config)
        conf = config / "asterisk.conf"
        text = conf.read_text(encoding="utf-8")
        for key, value in self.options:
            setting = f"{key} = {value}"
            text, found = re.subn(rf"(?m)^{key}\s*=.*$", setting, text)
            text += "" if found else f"{setting}\n"
        conf.write_text(text, encoding="utf-8")
        prompts = ROOT / "prompts" / "ru"
        if not self.line_codings:
            copies = [f"*{suffix}" for suffix in line_codings.CODINGS]
            prompts = Path(
                shutil.copytree(prompts, folder / "prompts", ignore=shutil.ignore_patterns(*copies))
            )
        environment = support.checkout_environment(folder, url)
        environment["IVR_PROMPTS_AUDIO_DIR"] = str(prompts)
        return LaidOut(self, folder, config, prompts, environment)


@dataclass(frozen=True)
class LaidOut:
    line: Line
    folder: Path
    config_dir: Path
    prompts: Path
    environment: dict[str, str]

    @property
    def name(self) -> str:
        return self.line.name


LINES = {
    line.name: line
    for line in (
        Line("shipped", "config/asterisk, and prompts/ru with its copies in the line codings"),
        Line(
            "silence",
            "shipped, but Asterisk sends silence while no prompt plays (transmit_silence = yes)",
            options=(("transmit_silence", "yes"),),
        ),
        Line(
            "wav",
            "shipped, but without the copies: Asterisk converts the WAVs on every frame",
            line_codings=False,
        ),
        Line(
            "reference",
            "both: silence sent while no prompt plays, and the WAVs converted",
            options=(("transmit_silence", "yes"),),
            line_codings=False,
        ),
    )
}


def tool_versions() -> str:
    asterisk = subprocess.run(
        [private_asterisk.asterisk_binary(), "-V"], capture_output=True, text=True
    ).stdout.strip()
    sipp = subprocess.run([sipp_binary(), "-v"], capture_output=True, text=True).stdout
    found = re.search(r"SIPp v[\w.-]+", sipp)
    return f"{asterisk}, {found.group(0) if found else 'SIPp'}"


@dataclass(frozen=True)
class Caller:
    """One call of the run: who calls, the contract typed and the reading it gives."""

    phone: str
    contract: str
    reading: int

    @property
    def script(self) -> CallScript:
        return CallScript(f"*2 {self.contract}# {self.reading}# 1", caller=self.phone)

    @property
    def fields(self) -> tuple[str, str, str]:
        """The values that differ between calls, in the injection file's order."""
        return self.phone, self.contract, str(self.reading)


def callers(first: int, count: int) -> list[Caller]:
    return [
        Caller(str(FIRST_CALLER + n), str(FIRST_CONTRACT + n), FIRST_PREVIOUS + n + RISE)
        for n in range(first, first + count)
    ]


def seed(repository: Repository, run: list[Caller]) -> None:
    """A contract for every call, with one single-zone meter and its previous reading, as
    billing would send them (the contracts CSV)."""
    rows = ["resource,contract,meter,digits,zone,previous,average,phone"] + [
        f"electricity,{c.contract},L-{c.contract},6,single,{c.reading - RISE},150," for c in run
    ]
    records = billing.read_contracts(io.StringIO("\n".join(rows) + "\n"))
    for start in range(0, len(records), 100):  # one session grows slower with every meter
        repository.import_meters(records[start : start + 100])


@dataclass
class Rows:
    """What the database holds for a level's calls."""

    stored: int
    """Calls with exactly one submission, from their caller, of their reading."""
    missing: int
    doubled: int
    wrong: int
    """Calls whose one submission has another value or another caller."""


def rows_of(repository: Repository, period: str, level: list[Caller]) -> Rows:
    rows = Rows(0, 0, 0, 0)
    for call in level:
        (contract,) = repository.find_contracts(call.contract, period)
        found = repository.history(contract.meters[0].id, period)
        if not found:
            rows.missing += 1
        elif len(found) > 1:
            rows.doubled += 1
        elif tuple(r.value for r in found[0].readings) != (call.reading,) or found[
            0
        ].caller != phone_number(call.phone):
            rows.wrong += 1
        else:
            rows.stored += 1
    return rows


@dataclass
class Level:
    calls: int
    seconds: float
    successful: int
    failed: int
    sipp_status: int
    rows: Rows
    fallbacks: int
    server_failures: int
    asterisk_problems: Counter[str]
    server_problems: Counter[str]
    sipp_errors: Counter[str]
    outcomes: Counter[str]
    """The server's `ended=... accepted=...` per call."""
    key_endings: Counter[str]
    """How the server's key collections ended (timeout: keys that never came)."""
    cpu: dict[str, float]
    """CPU seconds per process during the level."""
    heard: Counter[str] = field(default_factory=Counter)
    """What the key collections of each call without its row heard, in Asterisk's log."""
    turnarounds: list[float] = field(default_factory=list)
    """Seconds from the end of each key collection to the start of the call's next one."""
    every_collection: bool = False
    """Asterisk logged GET DATA's collections too (`--agi-debug`), not only Read's."""

    @property
    def passed(self) -> bool:
        return (
            self.sipp_status == 0
            and self.successful == self.calls
            and self.failed == 0
            and self.rows.stored == self.calls
        )


def read_stats(path: Path) -> tuple[int, int]:
    """(successful, failed) calls from SIPp's -trace_stat file (last line, cumulated)."""
    if not path.exists():
        return 0, 0
    with path.open(newline="", errors="replace") as stream:
        rows = list(csv.DictReader(stream, delimiter=";"))
    if not rows:
        return 0, 0
    last = rows[-1]
    return int(last.get("SuccessfulCall(C)", 0) or 0), int(last.get("FailedCall(C)", 0) or 0)


def log_tail(path: Path, start: int) -> str:
    if not path.exists():
        return ""
    with path.open(encoding="utf-8", errors="replace") as stream:
        stream.seek(start)
        return stream.read()


def size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def asterisk_problems(text: str) -> Counter[str]:
    """WARNING/ERROR lines of Asterisk's log, counted by message (ids and numbers elided)."""
    problems: Counter[str] = Counter()
    for line in text.splitlines():
        match = re.search(r"\b(WARNING|ERROR)\[\d+\](?:\[[^\]]*\])?:? (.*)", line)
        if match:
            message = re.sub(r"\d+", "#", match.group(2))
            problems[f"{match.group(1)} {message[:160]}"] += 1
    return problems


def server_problems(text: str) -> Counter[str]:
    """The server's warnings and errors, and the last line of each traceback, counted."""
    problems: Counter[str] = Counter()
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if " WARNING " in line or " ERROR " in line:
            message = line.split(" ", 3)[-1]
            message = re.sub(r"call=\S+", "call=…", message)
            problems[re.sub(r"\d+", "#", message)[:160]] += 1
        elif line.startswith("Traceback"):
            tail = number + 1
            while tail < len(lines) and (lines[tail].startswith(" ") or not lines[tail]):
                tail += 1
            if tail < len(lines):
                problems[f"raised {lines[tail][:200]}"] += 1
    return problems


def sipp_problems(text: str) -> Counter[str]:
    """SIPp's errors.log, one count per kind of event (call ids and times elided)."""
    problems: Counter[str] = Counter()
    for event in re.split(r"(?=\d{4}-\d\d-\d\d\t)", text):
        event = re.sub(r"^\S+\t\S+\t\S+: ", "", event.strip())
        event = re.sub(r"Call-Id: \S+", "Call-Id: …", event)
        if event and "The following events occurred" not in event:
            problems[event[:200]] += 1
    return problems


@dataclass
class Collections:
    """One channel's key collections in Asterisk's log: each Read's or GET DATA's first
    prompt and what it heard, and the end of the call."""

    steps: list[str] = field(default_factory=list)
    turnarounds: list[float] = field(default_factory=list)
    ended: str = ""
    _entered: float | None = None

    def read(self, at: float, prompts: str) -> None:
        self.steps.append((prompts.split("&")[0].rsplit("/", 1)[-1] or "-") + ":")
        if self._entered is not None:
            self.turnarounds.append(at - self._entered)
            self._entered = None

    def entered(self, at: float, keys: str) -> None:
        self.steps.append(keys)
        self._entered = at


def key_collections(text: str) -> dict[str, Collections]:
    """Every channel's key collections, from Asterisk's verbose log: app_read's lines for a
    Read, res_agi's debug lines (`agi set debug on`) for a GET DATA and its reply."""
    channels: dict[str, Collections] = defaultdict(Collections)
    getting: set[str] = set()
    for match in LOG_LINE.finditer(text):
        stamp, channel, message = match.groups()
        at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()
        if read := re.search(r"Executing Application: \(Read\) Options: \(\w+,([^,]*),", message):
            channels[channel].read(at, read.group(1))
        elif get := re.search(r'AGI Rx << GET DATA "((?:[^"\\]|\\.)*)"', message):
            channels[channel].read(at, get.group(1))
            getting.add(channel)
        elif "AGI Rx << " in message:
            getting.discard(channel)  # the next command: GET DATA's reply was not logged
        elif channel in getting and (got := GET_DATA_REPLY.search(message)):
            getting.discard(channel)
            key, timed_out = got.groups()
            if key != "-1":
                channels[channel].entered(at, "nothing" if timed_out else key or "#")
        elif entered := re.search(r"User entered (?:'([^']*)'|(nothing))", message):
            channels[channel].entered(at, entered.group(1) or "nothing")
        elif ended := re.search(r"ended: outcome=(\S*) transfer=(\S*)", message):
            channels[channel].ended = "stored" if ended.group(1) == "accepted" else ended.group(2)
    return channels


def heard_without_rows(channels: dict[str, Collections]) -> Counter[str]:
    """What the collections of the calls not stored heard, counted (digit runs shortened)."""
    heard: Counter[str] = Counter()
    for calls in channels.values():
        if calls.ended != "stored":
            steps = " ".join(re.sub(r"\d{3,}", "…", step) for step in calls.steps)
            heard[f"{steps} -> {calls.ended or 'no end logged'}"] += 1
    return heard


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process (0 if it is gone)."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as stream:
            fields = stream.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_level(
    level: list[Caller],
    *,
    folder: Path,
    sip_port: int,
    media_base: int,
    spread: float,
    repository: Repository,
    period: str,
    asterisk_log: Path,
    server_log: Path,
    timeout: float,
    keep: Path | None,
    asterisk_root: Path,
    server_pid: int,
    sipp_nice: int,
    agi_debug: bool,
) -> Level:
    calls = len(level)
    work = folder / "sipp"
    work.mkdir()
    xml = work / "call.xml"
    xml.write_text(scenario(level[0].script, fields=level[0].fields), encoding="iso-8859-1")
    fields = injection_file(work / "calls.csv", (call.fields for call in level))
    asterisk_start, server_start = size(asterisk_log), size(server_log)
    stats = work / "stats.csv"
    command = [
        sipp_binary(),
        "-sf", str(xml), "-inf", str(fields), f"127.0.0.1:{sip_port}", "-s", "2000",
        "-i", "127.0.0.1", "-mp", str(media_base),
        "-m", str(calls), "-l", str(calls),
        "-r", str(calls), "-rp", f"{int(spread * 1000)}",
        "-timeout", f"{int(timeout)}", "-timeout_error", "-nostdin",
        "-trace_err", "-trace_stat", "-stf", str(stats), "-fd", "1",
    ]  # fmt: skip
    asterisk_pid = private_asterisk.running_pid(asterisk_root)
    cpu_before = (cpu_seconds(asterisk_pid), cpu_seconds(server_pid), children_cpu())
    started = time.monotonic()
    try:
        done = subprocess.run(
            command,
            cwd=work,
            capture_output=True,
            text=True,
            timeout=timeout + 30,
            preexec_fn=lambda: os.nice(sipp_nice),
        )
        status = done.returncode
    except subprocess.TimeoutExpired:
        status = -1
    seconds = time.monotonic() - started
    cpu = {
        "asterisk": cpu_seconds(asterisk_pid) - cpu_before[0],
        "server": cpu_seconds(server_pid) - cpu_before[1],
        "sipp": children_cpu() - cpu_before[2],
    }
    time.sleep(1.0)  # the last submissions commit as the IVR hangs up
    successful, failed = read_stats(stats)
    asterisk_text = log_tail(asterisk_log, asterisk_start)
    server_text = log_tail(server_log, server_start)
    errors = "".join(p.read_text(errors="replace") for p in work.glob("*errors.log"))
    channels = key_collections(asterisk_text)
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
        (keep / f"asterisk-{calls}.log").write_text(asterisk_text)
        (keep / f"serve-{calls}.log").write_text(server_text)
        (keep / f"sipp-errors-{calls}.log").write_text(errors)
    return Level(
        calls=calls,
        seconds=seconds,
        successful=successful,
        failed=failed,
        sipp_status=status,
        rows=rows_of(repository, period, level),
        fallbacks=asterisk_text.count(FALLBACK),
        server_failures=len(re.findall(r"call=\S+ failed", server_text)),
        asterisk_problems=asterisk_problems(asterisk_text),
        server_problems=server_problems(server_text),
        sipp_errors=sipp_problems(errors),
        outcomes=Counter(re.findall(r"ended=(\S+ accepted=\S+)", server_text)),
        key_endings=Counter(re.findall(r"keys=\S* ending=(\S+)", server_text)),
        cpu=cpu,
        heard=heard_without_rows(channels),
        turnarounds=sorted(t for calls in channels.values() for t in calls.turnarounds),
        every_collection=agi_debug,
    )


def run_on(
    line: LaidOut, level: list[Caller], *, max_calls: int, agi_debug: bool, **run: Any
) -> Level:
    """One level on a line of its own: a fresh `ivr serve` and private Asterisk (logging
    every AGI command and reply with `agi_debug`)."""
    work = line.folder / f"level-{level[0].contract}-{len(level)}"
    work.mkdir()
    fastagi_port = support.free_port()
    sip_port = support.free_port(socket.SOCK_DGRAM)
    root = work / "asterisk"
    options = replace(
        asterisk_options(root, sip_port, fastagi_port, line.environment),
        config_dir=line.config_dir,
        prompts_dir=line.prompts,
        number_words=line.prompts / "digits",
        line_codings=line.line.line_codings,
    )
    with (
        fastagi_server(
            line.environment, work, fastagi_port, ["--max-calls", str(max_calls)]
        ) as server,
        private_asterisks([options]),
    ):
        if agi_debug:
            private_asterisk.cli(root, "agi set debug on")
        return run_level(
            level,
            folder=work,
            sip_port=sip_port,
            asterisk_log=root / "log" / "messages.log",
            server_log=server.log,
            asterisk_root=root,
            server_pid=server.process.pid,
            agi_debug=agi_debug,
            **run,
        )


def compare(results: dict[str, Level]) -> None:
    """CPU per call of each line beside the first one's, at one level."""
    per_call = {
        name: {process: used / level.calls for process, used in level.cpu.items()}
        for name, level in results.items()
    }
    reference, *others = per_call
    for name in others:
        ratios = ", ".join(
            f"{process} {used * 1000:.1f} ms"
            + (f" ({used / base:.2f} x)" if (base := per_call[reference][process]) else "")
            for process, used in per_call[name].items()
        )
        print(f"        CPU per call, {name} beside {reference}: {ratios}")


def report(level: Level) -> None:
    verdict = "PASS" if level.passed else "FAIL"
    rows = level.rows
    wrong = ", ".join(
        f"{count} {what}"
        for what, count in (
            ("without", rows.missing),
            ("with two or more", rows.doubled),
            ("with another value or caller", rows.wrong),
        )
        if count
    )
    print(
        f"{level.calls:5d} calls: {verdict}  SIPp {level.successful} ok / {level.failed} failed "
        f"(exit {level.sipp_status}) in {level.seconds:.1f} s; rows stored {rows.stored} "
        f"/ calls placed {level.calls}{f' ({wrong})' if wrong else ''}; "
        f"AGI-script fallbacks {level.fallbacks}; server call failures {level.server_failures}",
        flush=True,
    )
    cpu = ", ".join(
        f"{name} {used:.1f} s ({used / level.seconds:.0%})" for name, used in level.cpu.items()
    )
    print(f"        CPU during the level: {cpu}; load average after {os.getloadavg()[0]:.1f}")
    if turns := level.turnarounds:
        late = sum(t * 1000 > TYPED_AHEAD_MS for t in turns)
        after = "a key collection" if level.every_collection else "a Read (--agi-debug: GET DATA)"
        print(
            f"        from {after} to the next: median {turns[len(turns) // 2] * 1000:.0f}"
            f" ms, 90% {turns[int(len(turns) * 0.9)] * 1000:.0f} ms, max {turns[-1] * 1000:.0f} ms;"
            f" {late} of {len(turns)} over the {TYPED_AHEAD_MS} ms between keys typed ahead"
        )
    if not level.passed:
        outcomes = ", ".join(f"{n} {o}" for o, n in level.outcomes.most_common())
        endings = ", ".join(f"{n} {e}" for e, n in level.key_endings.most_common())
        print(f"        server: calls {outcomes}; key collections ended by {endings}")
        for heard, count in level.heard.most_common(5):
            print(f"        heard x{count}: {heard}")
    benign = sum(n for m, n in level.asterisk_problems.items() if any(b in m for b in BENIGN))
    other = [(m, n) for m, n in level.asterisk_problems.items() if not any(b in m for b in BENIGN)]
    if other or benign:
        print(f"        asterisk: {benign} expected warnings (no SIP auth, prompts without audio)")
    for message, count in sorted(other, key=lambda item: -item[1])[:8]:
        print(f"        asterisk x{count}: {message}")
    for message, count in level.server_problems.most_common(6):
        print(f"        server x{count}: {message}")
    for message, count in level.sipp_errors.most_common(4):
        print(f"        sipp x{count}: {message}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--levels",
        type=int,
        nargs="+",
        default=[1, 5, 10, 20, 40, 80, 160, 240, 320, 400, 480, 640],
    )
    parser.add_argument(
        "--lines",
        nargs="+",
        choices=list(LINES),
        default=["shipped"],
        help="run every level on each of these lines in turn: "
        + "; ".join(f"{line.name}: {line.description}" for line in LINES.values()),
    )
    parser.add_argument(
        "--spread", type=float, default=2.0, help="seconds over which a level's calls start"
    )
    parser.add_argument("--max-calls", type=int, default=1000, help="the server's --max-calls")
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    parser.add_argument(
        "--keep-going", action="store_true", help="run the levels above a failed one too"
    )
    parser.add_argument("--call-timeout", type=float, default=120, help="seconds per level")
    parser.add_argument(
        "--sipp-nice",
        type=int,
        default=-10,
        help="SIPp's niceness: ahead of the line by default, so that the callers' keys go out "
        "on their time whatever the line's load; on a real line the callers' phones are not "
        "on this machine",
    )
    parser.add_argument(
        "--agi-debug",
        action="store_true",
        help="have Asterisk log every AGI command and reply, so that the key collections by "
        "GET DATA (menus, confirmations) are counted too; the logging costs Asterisk CPU, and "
        "above about 500 calls its log queue overflows and drops lines",
    )
    parser.add_argument(
        "--keep-logs", type=Path, help="copy each level's Asterisk, server and SIPp logs here"
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root: SIPp sends RTP from raw sockets")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the cleanup below
    print(support.machine_line())
    print(tool_versions(), flush=True)
    with tempfile.TemporaryDirectory(prefix="ivr-sipp-load-") as name:
        folder = Path(name)
        url = args.database_url or f"sqlite:///{folder / 'ivr.db'}"
        repository = support.demo_database(url)
        run = callers(0, sum(args.levels) * len(args.lines))
        seed(repository, run)
        period = Settings(database_url=url, accept_days="1-31").window.period(datetime.now(UTC))
        media_base = support.free_udp_range(4 * max(args.levels) + 8)
        lines = [LINES[name].lay_out(folder / name, url) for name in args.lines]
        print(
            f"SIPp media ports from {media_base}, database {url.split(':')[0]}, "
            f"calls start within {args.spread} s, server --max-calls {args.max_calls}, "
            f"SIPp at nice {args.sipp_nice}",
            flush=True,
        )
        highest = dict.fromkeys(args.lines, 0)
        failures: dict[str, int] = {}
        taken = 0
        for calls in args.levels:
            results = {}
            for line in lines:
                if line.name in failures and not args.keep_going:
                    continue
                level = run_on(
                    line,
                    run[taken : taken + calls],
                    media_base=media_base,
                    spread=args.spread,
                    max_calls=args.max_calls,
                    agi_debug=args.agi_debug,
                    repository=repository,
                    period=period,
                    timeout=args.call_timeout,
                    keep=args.keep_logs and args.keep_logs / line.name,
                    sipp_nice=args.sipp_nice,
                )
                taken += calls
                results[line.name] = level
                print(f"{line.name}:", end="")
                report(level)
                if level.passed and line.name not in failures:
                    highest[line.name] = calls
                elif not level.passed:
                    failures.setdefault(line.name, calls)
            compare(results)
            if len(failures) == len(lines) and not args.keep_going:
                break
        for line in lines:
            failed = failures.get(line.name)
            print(
                f"{line.name}: highest concurrency with every call complete and correct rows: "
                f"{highest[line.name]}" + (f"; first failure at {failed}" if failed else "")
            )
        repository.engine.dispose()


if __name__ == "__main__":
    main()
