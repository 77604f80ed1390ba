"""A private Asterisk for the readings line, run from `config/asterisk/` in a folder of the
project (`var/asterisk/`), without touching the system's /etc/asterisk.

`ivr asterisk up` renders the configuration, starts Asterisk in the background and waits
until it has fully booted; `ivr asterisk down` stops it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from agi.audio import line_codings
from agi.audio.number_words import ASTERISK_SOUNDS, RUSSIAN_SOUNDS, linked_number_words
from agi.settings import local_fastagi_server, shipped
from agi.telephony.asterisk_config import LineConfig, TemplateError, fill, ivr_includes
from agi.telephony.dialplan import ASTERISK_ID

CONFIG_FILES = ("asterisk.conf", "modules.conf", "logger.conf", "pjsip.conf", "extensions.conf")
"""The private line's own files; the IVR's include files come from `asterisk_config`."""
SYSTEM_DATA = Path("/usr/share/asterisk")
MODULE_DIRS = (
    Path("/usr/lib/asterisk/modules"),
    Path("/usr/lib/x86_64-linux-gnu/asterisk/modules"),
)


class AsteriskError(Exception):
    pass


@dataclass(frozen=True)
class LineOptions:
    root: Path
    config_dir: Path
    sip_port: int = 5060
    sip_bind: str = "127.0.0.1"
    sip_peer: str = "127.0.0.1"
    fastagi_servers: tuple[str, ...] = (local_fastagi_server(),)
    """Tried in order, then the AGI script."""
    agi_script: str = "ivr-agi"
    call_seconds: int = 600
    operator_dial: str = "Playback(pls-hold-while-try)"
    prompts_dir: Path = field(default_factory=lambda: shipped("prompts/ru"))
    """The prompt recordings, for the dialplan's own apology."""
    environment: tuple[tuple[str, str], ...] = ()
    """Settings for the AGI script, which inherits Asterisk's environment."""
    number_words: Path | None = None
    """The project's number words (`prompts/ru/digits`): all of them, so that numbers are said
    in the voice of the prompts; with `number_voice` `asterisk` only those the Russian sounds
    lack."""
    number_voice: str = "prompts"
    line_codings: bool = True
    """Make the prompts' copies in the G.711 codings beside them (agi.audio.line_codings), so
    that Asterisk plays them as they are; False: it converts the WAVs."""
    system_name: str | None = None
    """Asterisk's SYSTEMNAME (letters, digits, `.`, `_`, `-`): it names the Asterisk in call
    ids and call records; None: none, as a stock Asterisk."""


def asterisk_binary() -> str:
    found = shutil.which("asterisk") or (
        "/usr/sbin/asterisk" if Path("/usr/sbin/asterisk").exists() else None
    )
    if not found:
        raise AsteriskError(
            "Asterisk is not installed. On Debian bookworm it comes from bullseye: see the "
            "README, or run scripts/install-telephony as root"
        )
    return found


def render(options: LineOptions) -> Path:
    """Write the configuration into `root/etc` and lay out the folders; return asterisk.conf."""
    root = options.root.resolve()
    modules = next((d for d in MODULE_DIRS if d.is_dir()), MODULE_DIRS[0])
    values = {"ROOT": str(root), "MODULES": str(modules)}
    line = LineConfig(
        fastagi_servers=options.fastagi_servers,
        agi_script=options.agi_script,
        call_seconds=options.call_seconds,
        operator_dial=options.operator_dial,
        prompts_dir=options.prompts_dir,
        sip_bind=options.sip_bind,
        sip_port=options.sip_port,
        sip_peer=options.sip_peer,
    )
    for folder in ("etc", "lib", "data/sounds", "agi-bin", "spool", "run", "log", "cache"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    try:
        files = {
            name: fill(name, (options.config_dir / name).read_text(encoding="utf-8"), values)
            for name in CONFIG_FILES
        } | ivr_includes(line, options.config_dir)
    except (TemplateError, ValueError) as error:
        raise AsteriskError(str(error)) from None
    if options.system_name is not None:
        if not ASTERISK_ID.match(options.system_name):
            raise AsteriskError(f"{options.system_name!r} cannot be a system name")
        files["asterisk.conf"] += f"systemname = {options.system_name}\n"
    for name, text in files.items():
        (root / "etc" / name).write_text(text, encoding="utf-8")
    _link(root / "data/documentation", SYSTEM_DATA / "documentation")
    if options.line_codings:
        with contextlib.suppress(OSError):  # a read-only folder: Asterisk converts the WAVs
            line_codings.refresh(options.prompts_dir)
    _russian_sounds(
        root / "data/sounds/ru",
        ASTERISK_SOUNDS / RUSSIAN_SOUNDS,
        options.number_words,
        ours_first=options.number_voice == "prompts",
    )
    _link(root / "data/sounds/en", ASTERISK_SOUNDS / "en")
    return root / "etc" / "asterisk.conf"


def _link(link: Path, target: Path) -> None:
    if link.is_symlink() or link.exists():
        link.unlink()
    if target.exists():
        link.symlink_to(target)


def _russian_sounds(
    folder: Path, system: Path, number_words: Path | None, *, ours_first: bool = True
) -> None:
    """The Russian sounds with the project's number words: all of them (`ours_first`), so
    that SAY NUMBER speaks in the prompts' voice, or only those the package lacks
    (сто...девятьсот, тысячи, тысяч, миллиона, миллионов, одна, две), without which it says
    11638 as «одиннадцать ... тридцать восемь»."""
    if folder.is_symlink() or folder.is_file():
        folder.unlink()
    elif folder.is_dir():
        shutil.rmtree(folder)
    if number_words is None or not number_words.is_dir():
        _link(folder, system)
        return
    folder.mkdir(parents=True)
    for entry in sorted(system.iterdir()) if system.is_dir() else ():
        if entry.name != "digits":
            (folder / entry.name).symlink_to(entry)
    digits = folder / "digits"
    digits.mkdir()
    ours = [p.resolve() for p in sorted(number_words.iterdir()) if p.suffix in line_codings.PLAYED]
    theirs = sorted((system / "digits").glob("*"))
    for entry in linked_number_words(ours, theirs, ours_first=ours_first):
        (digits / entry.name).symlink_to(entry)


def _pid_file(root: Path) -> Path:
    return root / "run" / "asterisk.pid"


def running_pid(root: Path) -> int | None:
    try:
        pid = int(_pid_file(root).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return None
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        return None
    return pid


def cli(root: Path, command: str, timeout: float = 10) -> str:
    """Run one Asterisk CLI command against the private instance and return its output."""
    done = subprocess.run(
        [asterisk_binary(), "-C", str(root.resolve() / "etc" / "asterisk.conf"), "-rx", command],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise AsteriskError(f"asterisk -rx {command!r} failed: {done.stderr.strip()}")
    return done.stdout


def up(options: LineOptions, wait_seconds: float = 30) -> int:
    """Start the private Asterisk (restarting one already running); return its pid."""
    binary = asterisk_binary()
    root = options.root.resolve()
    down(root)
    conf = render(options)
    log_file = (root / "log" / "console.log").open("ab")
    process = subprocess.Popen(
        [binary, "-C", str(conf), "-f", "-n"],
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **dict(options.environment)},
    )
    _pid_file(root).write_text(str(process.pid))
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AsteriskError(f"Asterisk exited at start; see {root / 'log'}")
        try:
            cli(root, "core waitfullybooted", timeout=5)
            return process.pid
        except (AsteriskError, subprocess.TimeoutExpired):
            time.sleep(0.2)
    down(root)
    raise AsteriskError(f"Asterisk did not boot within {wait_seconds:.0f} s; see {root / 'log'}")


def down(root: Path, wait_seconds: float = 10) -> bool:
    """Stop the private Asterisk if it runs; True if one was stopped."""
    root = root.resolve()
    pid = running_pid(root)
    if pid is None:
        return False
    try:
        cli(root, "core stop now", timeout=5)
    except (AsteriskError, subprocess.TimeoutExpired, FileNotFoundError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline and running_pid(root) is not None:
        time.sleep(0.1)
    if running_pid(root) is not None:
        os.kill(pid, signal.SIGKILL)
    _pid_file(root).unlink(missing_ok=True)
    return True
