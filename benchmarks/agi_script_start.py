"""What the per-call AGI script costs before the caller hears anything: the time from exec of
`ivr-agi` to its first AGI command on stdout, and its peak memory, beside `python -c pass`.

    .venv/bin/python benchmarks/agi_script_start.py [--runs 20] [--full-calls 5]
        [--database-url URL] [--settings-file]

Each run starts `.venv/bin/ivr-agi` the way Asterisk does (the AGI environment on stdin,
settings in IVR_* variables, or with --settings-file in a settings file the way `ivr install`
writes one), reads its first command, answers `HANGUP` and closes stdin so
that it exits, and takes its peak RSS (ru_maxrss) from os.wait4; VmHWM is read from /proc
when the first command arrives. Each start alternates with a run of `python -c pass`, so that
both see the same load. The settings and the flow come from the state folder's caches (written
by a warm-up run); a few starts with the caches removed show the first call after the
settings or the flow are edited. A
few more runs play the seed's whole call `*2 102057522# 11638# 1` on stdin/stdout, for the
peak and the CPU of a complete call. The database is a temporary SQLite file with the demo
contracts (made with `ivr db upgrade` and `ivr db seed`) unless --database-url names
another. Then, once: where the time goes inside the process up to the first command
(imports, settings, flow), the packages loaded by then, and the slowest imports from
`python -X importtime`.

This process imports nothing of the project (the test helpers it uses do not either): a
child started with vfork+exec counts the parent's RSS at exec in its ru_maxrss, so a heavy
parent would inflate the figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.agi_replies import environment as agi_environment  # noqa: E402
from tests.agi_replies import reply  # noqa: E402
from tests.support import checkout_environment, machine_line, percentile  # noqa: E402

SCRIPT = Path(sys.executable).with_name("ivr-agi")
IVR = Path(sys.executable).with_name("ivr")
KEYS = "*2 102057522# 11638# 1"
CACHES = ("flow-cache.pickle", "settings-cache.pickle")
BOOKKEEPING = ("SET VARIABLE", "GET FULL VARIABLE", "GET VARIABLE", "ANSWER", "NOOP", "CHANNEL")
"""Commands that play nothing: the greeting is the first command that is none of them."""

PHASES = """\
import sys, time
started = time.perf_counter()
import agi.telephony.agi_script
imported = time.perf_counter()
from agi.application import Application
try:
    from agi.settings import load_cached_settings
except ImportError:  # a release before the settings cache, measured for comparison
    from agi.settings import load_settings as load_cached_settings
app = Application(load_cached_settings())
configured = time.perf_counter()
app.use_cached_menu()
loaded = time.perf_counter()
print(imported - started, configured - imported, loaded - configured)
print(" ".join(sorted({m.split(".")[0] for m in sys.modules if not m.startswith("_")}
                      - set(sys.stdlib_module_names))))
"""
"""The script's path to its first command, in phases: what it imports, reads and checks."""


def _own_rss() -> int:
    with open("/proc/self/status") as stream:
        for line in stream:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _peak_so_far(pid: int) -> int:
    """VmHWM of a live process in KiB: the peak RSS of its own image since exec."""
    with open(f"/proc/{pid}/status") as stream:
        for line in stream:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


@dataclass
class Start:
    first_seconds: float
    """From exec to the first command read."""
    greeting_seconds: float
    """From exec to the first command that plays something (the greeting)."""
    first_command: str
    peak_at_first: int
    """VmHWM (KiB) when the first command arrived."""
    peak: int
    """ru_maxrss (KiB) at exit."""
    status: int
    call_seconds: float = 0.0
    accepted: bool = False
    cpu_seconds: float = 0.0
    """User and system CPU of the whole process."""
    greeting_command: str = ""


def one_start(environment: dict[str, str], cwd: str, call_id: str, full_call: bool) -> Start:
    """Run ivr-agi once: to its first command and a HANGUP, or through the seed's call."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(SCRIPT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
        cwd=cwd,
    )
    assert process.stdin and process.stdout and process.stderr
    process.stdin.write(
        agi_environment(call_id, "79120000000", str(SCRIPT), network=False).encode()
    )
    process.stdin.flush()
    first = process.stdout.readline()
    first_seconds = time.perf_counter() - started
    peak_at_first = _peak_so_far(process.pid) if first else 0
    keys = list("".join(KEYS.split())) if full_call else []
    accepted = False
    variables: dict[str, str] = {}
    line = first
    greeting_seconds, greeting_command = 0.0, ""
    try:
        while line:
            command = line.decode().strip()
            if not greeting_seconds and not command.startswith(BOOKKEEPING):
                greeting_seconds = time.perf_counter() - started
                greeting_command = command.split('"')[0].strip()
            accepted = accepted or "readings_accepted" in command
            answer = reply(command, keys, variables)
            if answer is None:
                process.stdin.write(b"HANGUP\n")
                break
            process.stdin.write(answer.encode() + b"\n")
            process.stdin.flush()
            line = process.stdout.readline()
        process.stdin.close()
    except BrokenPipeError:
        pass
    call_seconds = time.perf_counter() - started
    process.stdout.read()
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stdout.close()
    process.stderr.close()
    if not first:
        raise SystemExit(f"ivr-agi wrote no command; stderr:\n{errors.decode(errors='replace')}")
    return Start(
        first_seconds,
        greeting_seconds,
        first.decode().strip(),
        peak_at_first,
        usage.ru_maxrss,
        process.returncode,
        call_seconds,
        accepted,
        usage.ru_utime + usage.ru_stime,
        greeting_command,
    )


def settings_file(folder: Path, environment: dict[str, str]) -> dict[str, str]:
    """The environment with the settings moved from IVR_* variables into a settings file made
    from config/ivr.example.yaml, as `ivr install` makes one: what an installed script reads."""
    values = {
        key.removeprefix("IVR_").lower(): value
        for key, value in environment.items()
        if key.startswith("IVR_") and key != "IVR_CONFIG"
    }
    lines = []
    for line in (ROOT / "config" / "ivr.example.yaml").read_text(encoding="utf-8").splitlines():
        name, colon, _ = line.removeprefix("# ").partition(":")
        if colon and name in values:
            line = f"{name}: {values.pop(name)}"
        lines.append(line)
    path = folder / "ivr.yaml"
    path.write_text("\n".join(lines + [f"{k}: {v}" for k, v in values.items()]) + "\n")
    path.chmod(0o640)
    others = {key: value for key, value in environment.items() if not key.startswith("IVR_")}
    return {**others, "IVR_CONFIG": str(path)}


def child_output(command: list[str], environment: dict[str, str], cwd: str) -> str:
    """The stdout of a short child process."""
    done = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=cwd)
    if done.returncode:
        raise SystemExit(f"{command} failed:\n{done.stderr}")
    return done.stdout


def timed_child(
    command: list[str], environment: dict[str, str], cwd: str
) -> tuple[float, int, float]:
    """(wall seconds, peak RSS in KiB, CPU seconds) of a child, reaped with os.wait4."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment, cwd=cwd
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{command} exited with {process.returncode}")
    return elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def import_times(environment: dict[str, str], cwd: str) -> list[tuple[int, int, str]]:
    """(self µs, cumulative µs, module) of every import on the way to the first command."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", PHASES],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|", 2)
        rows.append((int(own), int(cumulative), name.rstrip()))
    return rows


def summary(values: list[float], unit: float = 1000, suffix: str = "ms") -> str:
    return (
        f"p50 {statistics.median(values) * unit:.0f} {suffix}, "
        f"p90 {percentile(values, 0.9) * unit:.0f} {suffix}, "
        f"min {min(values) * unit:.0f}, max {max(values) * unit:.0f}"
    )


def ratio(subject: list[float], reference: list[float]) -> str:
    return f"{statistics.median(subject) / statistics.median(reference):.1f} x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--full-calls", type=int, default=5, help="whole calls, for the peak")
    parser.add_argument("--uncached", type=int, default=5, help="starts without the cache")
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    parser.add_argument("--top", type=int, default=10, help="imports to list")
    parser.add_argument(
        "--settings-file", action="store_true", help="the settings in a file, not in variables"
    )
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="ivr-agi-start-") as folder:
        url = args.database_url or f"sqlite:///{folder}/agi.db"
        environment = checkout_environment(Path(folder), url)
        if args.settings_file:
            environment = settings_file(Path(folder), environment)
        for step in ("upgrade", "seed"):
            done = subprocess.run(
                [str(IVR), "db", step], env=environment, cwd=folder, capture_output=True, text=True
            )
            if done.returncode:
                raise SystemExit(f"ivr db {step} failed:\n{done.stdout}{done.stderr}")
        own_rss = _own_rss()
        one_start(environment, folder, "warm-up", False)  # the page cache and the flow cache
        starts, bare = [], []
        for run in range(args.runs):
            starts.append(one_start(environment, folder, f"start-{run}", False))
            bare.append(timed_child([sys.executable, "-c", "pass"], environment, folder))
        caches = [Path(folder) / "state" / name for name in CACHES]
        uncached = []
        for run in range(args.uncached):
            for cache in caches:
                cache.unlink(missing_ok=True)
            uncached.append(one_start(environment, folder, f"uncached-{run}", False))
        calls = [
            one_start(environment, folder, f"call-{run}", True) for run in range(args.full_calls)
        ]
        outputs = [
            child_output([sys.executable, "-c", PHASES], environment, folder).splitlines()
            for _ in range(5)
        ]
        rows = import_times(environment, folder)
    firsts = [s.first_seconds for s in starts]
    bare_seconds = [b[0] for b in bare]
    mib = 1024
    given = "a settings file" if args.settings_file else "IVR_* variables"
    print(f"{machine_line()}, database {url.split(':')[0]}, settings in {given}")
    print(f"script: {SCRIPT} (this process: {own_rss / mib:.1f} MiB RSS)")
    print(
        f"first command: {starts[0].first_command}; "
        f"exit status after HANGUP: {sorted({s.status for s in starts})}"
    )
    print(f"exec -> first AGI command, {args.runs} runs: {summary(firsts)}")
    print(
        f"  beside `python -c pass` (alternating): {summary(bare_seconds)}; "
        f"p50 ratio {ratio(firsts, bare_seconds)}"
    )
    greetings = [s.greeting_seconds for s in starts]
    print(f"exec -> the greeting ({starts[0].greeting_command}): {summary(greetings)}")
    print(
        f"peak RSS at the first command (VmHWM): p50 "
        f"{statistics.median(s.peak_at_first for s in starts) / mib:.1f} MiB, max "
        f"{max(s.peak_at_first for s in starts) / mib:.1f} MiB; `python -c pass` (ru_maxrss) "
        f"p50 {statistics.median(b[1] for b in bare) / mib:.1f} MiB"
    )
    print(
        f"  at exit after HANGUP (ru_maxrss, the database opened meanwhile) p50 "
        f"{statistics.median(s.peak for s in starts) / mib:.1f} MiB"
    )
    if uncached:
        print(
            f"without the caches (the first call after an edit), {len(uncached)} runs: "
            f"{summary([u.first_seconds for u in uncached])}, VmHWM p50 "
            f"{statistics.median(u.peak_at_first for u in uncached) / mib:.1f} MiB"
        )
    if calls:
        print(
            f"whole seed call ({KEYS}), {len(calls)} runs: accepted "
            f"{sum(c.accepted for c in calls)}/{len(calls)}, exec -> exit p50 "
            f"{statistics.median(c.call_seconds for c in calls) * 1000:.0f} ms, "
            f"CPU p50 {statistics.median(c.cpu_seconds for c in calls) * 1000:.0f} ms "
            f"(`python -c pass` {statistics.median(b[2] for b in bare) * 1000:.0f} ms), "
            f"peak RSS (ru_maxrss) p50 {statistics.median(c.peak for c in calls) / mib:.1f} MiB, "
            f"max {max(c.peak for c in calls) / mib:.1f} MiB"
        )
    phases = [[float(x) for x in output[0].split()] for output in outputs]
    medians = [statistics.median(p[i] for p in phases) * 1000 for i in range(3)]
    print(
        f"inside the process (p50 of 5): import agi.telephony.agi_script {medians[0]:.0f} ms, "
        f"settings (cached) + Application {medians[1]:.0f} ms, flow and catalog (cached) "
        f"{medians[2]:.0f} ms"
    )
    print(f"packages loaded by the first command: {outputs[0][1]}")
    load_after = os.getloadavg()
    print(
        f"load average: {load_before[0]:.1f} before, {load_after[0]:.1f} after "
        f"(5 min {load_after[1]:.1f})"
    )
    total = max(r[1] for r in rows)
    print(f"\n`python -X importtime`, the path to the first command: {total / 1000:.0f} ms in all")
    print(f"top {args.top} cumulative:")
    for own, cumulative, name in sorted(rows, key=lambda r: r[1], reverse=True)[: args.top]:
        print(f"  {cumulative / 1000:7.1f} ms  (self {own / 1000:5.1f})  {name}")
    print(f"top {args.top} self:")
    for own, _, name in sorted(rows, key=lambda r: r[0], reverse=True)[: args.top]:
        print(f"  {own / 1000:7.1f} ms  {name.strip()}")


if __name__ == "__main__":
    main()
