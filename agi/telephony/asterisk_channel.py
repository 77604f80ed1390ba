"""The `Channel` over Asterisk's AGI: the one module that imports pyst2.

The AGI environment is read by a subclass of pyst2's `AGI` whose constructor and reader are
replaced (`_EnvironmentReader` says why). Commands are written and results read here, so
that every argument is quoted and escaped, every result line is parsed whole
(`agi.telephony.protocol`), and every sign of a hang-up (SIGHUP, a HANGUP line, result=-1,
511, a closed stream) becomes `CallerHungUp` at once instead of a blocked read.
"""

from __future__ import annotations

import logging
import re
import secrets
import string
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath
from typing import IO, Any

from asterisk.agi import AGI

from agi.audio.number_words import MAX_NUMBER
from agi.dialog.channel import (
    DTMF_KEYS,
    CallerHungUp,
    KeyRequest,
    Keys,
    KeyStop,
    ListenFailed,
    ListenRequest,
    Recording,
    collect_keys,
)
from agi.dialog.utterance import Digits, Number, Prompt, Utterance
from agi.redact import printable
from agi.speech.spool import Spool
from agi.telephony import dialplan
from agi.telephony.protocol import (
    DEAD_CHANNEL,
    AgiCommandError,
    AgiHangup,
    AgiResult,
    command_line,
    digit_of,
    parse_agi_result,
)

log = logging.getLogger(__name__)

UNKNOWN_CALLER = {"", "unknown", "anonymous"}
ENV_NAME = re.compile(r"^agi_[a-z0-9_]+$")
ASTERISK_ID = re.compile(r"^[A-Za-z0-9._-]{1,40}$")
"""What a part of Asterisk's id of a call may hold (a system name, a uniqueid)."""
CALL_ID_LETTERS = 24
READ_INTO = "IVR_KEYS"
"""The channel variable Read() collects an answer's keys into."""
READ_SEPARATORS = (",", "&", "|", "(", ")")
MAX_READ_DIGITS = 255
NO_APPLICATION = -2
"""EXEC's result when Asterisk has no such application."""
"""The most Read() collects at once."""


def new_call_id() -> str:
    """A call id of the IVR's own: random letters, unique across every server and Asterisk
    without any coordination (26**24 values), and with no digits for the log redaction to
    take for a number."""
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(CALL_ID_LETTERS))


class _Trace:
    """Where pyst2 writes its trace: nowhere, or the debug log with control characters escaped."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def write(self, text: str) -> int:
        if self.enabled and text.strip():
            log.debug("pyst2 %s", printable(text.strip()))
        return len(text)

    def flush(self) -> None:
        pass


class _EnvironmentReader(AGI):
    """pyst2's AGI reduced to reading the environment, and reading it defensively.

    Its constructor would install a SIGHUP handler (impossible outside the main thread, and
    the script installs its own) and print the caller's details to stderr. Its reader lets a
    later line replace an earlier one, so a caller ID holding a line break could pose as
    `agi_uniqueid`; here the first value of a name wins and only `agi_*` names count.
    """

    def __init__(self, stdin: IO[Any], stdout: IO[Any], trace: _Trace) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = trace
        self._got_sighup = False
        self.env: dict[str, str] = {}
        self._get_agi_env()

    def _get_agi_env(self) -> None:
        while True:
            line = self.stdin.readline()
            if isinstance(line, bytes):
                line = line.decode("utf-8", errors="replace")
            line = line.strip()
            self.stderr.write(f"env {line}\n")
            if not line:
                return
            name, _, value = line.partition(":")
            name = name.strip()
            if ENV_NAME.match(name) and name not in self.env:
                self.env[name] = value.strip()


class AsteriskChannel:
    """One call, on the streams Asterisk gave: stdin/stdout of an AGI script, or a FastAGI socket.

    `hangup_signalled` tells whether SIGHUP arrived (the AGI script's signal handler sets it).
    """

    def __init__(
        self,
        reader: IO[Any],
        writer: IO[Any],
        *,
        prompts_dir: str,
        debug: bool = False,
        hangup_signalled: Callable[[], bool] = lambda: False,
        spool: Spool | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._debug = debug
        self._hangup_signalled = hangup_signalled
        self._hung_up = False
        self._typed_ahead: str | None = None
        self._timeouts: dict[str, float] = {}
        self._no_read = False
        self.prompts_dir = PurePosixPath(prompts_dir)
        self.spool = spool
        """Where answers by voice are recorded; None: this channel cannot listen."""
        self.env = _EnvironmentReader(reader, writer, _Trace(debug)).env
        if not self.env:
            raise CallerHungUp("no AGI environment: the stream closed at once")
        self._call_id = new_call_id()

    @property
    def call_id(self) -> str:
        """The IVR's own id of the call: Asterisk's uniqueid is not unique across Asterisks
        (two without a `systemname` repeat each other's), and may be missing."""
        return self._call_id

    @property
    def correlation_id(self) -> str | None:
        """`system/linkedid/uniqueid` as far as Asterisk gave them: the dialplan passes
        `system=${SYSTEMNAME}` and `linkedid=${CHANNEL(linkedid)}` as AGI arguments."""
        arguments = (value for name, value in self.env.items() if name.startswith("agi_arg_"))
        given = {key: value for key, _, value in (a.partition("=") for a in arguments)}
        uniqueid = self.env.get("agi_uniqueid", "")
        parts = [given.get("system", ""), given.get("linkedid", ""), uniqueid]
        if parts[1] == uniqueid:
            parts[1] = ""
        kept = [part for part in parts if ASTERISK_ID.match(part)]
        return "/".join(kept) or None

    @property
    def caller_number(self) -> str | None:
        """The caller ID as Asterisk gave it, or None; `agi.readings.callers` reads it."""
        number = printable(self.env.get("agi_callerid", "").strip())[:64]
        if number.lower() in UNKNOWN_CALLER:
            return None
        return number

    @property
    def request(self) -> str:
        """The AGI URL or script Asterisk ran, e.g. `agi://127.0.0.1:4573/readings`."""
        return self.env.get("agi_request", "")

    # --- the protocol ------------------------------------------------------------------

    def command(self, name: str, *arguments: str | int) -> AgiResult:
        """Send one command and read its result; CallerHungUp if the channel is gone."""
        if self._hung_up or self._hangup_signalled():
            self._hung_up = True
            raise CallerHungUp
        line = command_line(name, *arguments)
        if self._debug:
            log.debug("call=%s -> %s", printable(self.call_id), printable(line.strip()))
        try:
            self._writer.write(line)
            self._writer.flush()
            result = self._read_result()
        except (AgiHangup, OSError, ValueError) as gone:
            self._hung_up = True
            raise CallerHungUp(str(gone)) from None
        if self._debug:
            log.debug("call=%s <- %s", printable(self.call_id), printable(result.line))
        if result.code == DEAD_CHANNEL or (result.code == 200 and result.result == -1):
            self._hung_up = True
            raise CallerHungUp(result.line)
        if result.code != 200:
            raise AgiCommandError(f"{name}: {result.line}")
        return result

    def _read_result(self) -> AgiResult:
        line = self._readline()
        result = parse_agi_result(line)
        if result.code == 520 and line[3:4] == "-":
            while not self._readline().startswith("520 "):
                pass
        return result

    def _readline(self) -> str:
        line = self._reader.readline()
        if isinstance(line, bytes):
            line = line.decode("utf-8", errors="replace")
        if not line:
            raise AgiHangup("the AGI connection closed")
        return line

    # --- the Channel -------------------------------------------------------------------

    def play(self, utterances: Sequence[Utterance], *, barge_in: bool = False) -> None:
        escape = "".join(sorted(DTMF_KEYS)) if barge_in else ""
        for utterance in utterances:
            key = self._say(utterance, escape=escape)
            if key is not None:
                self._typed_ahead = key
                return

    def _first_key(self, utterances: Sequence[Utterance], escape: str) -> str | None:
        """A key typed during an earlier prompt, or one that interrupts these prompts."""
        if self._typed_ahead is not None:
            key, self._typed_ahead = self._typed_ahead, None
            return key
        for utterance in utterances:
            key = self._say(utterance, escape=escape)
            if key is not None:
                return key
        return None

    def ask(self, utterances: Sequence[Utterance], request: KeyRequest) -> Keys:
        """Play with barge-in and collect the keys inside Asterisk, with `Read()`: res_agi
        drops a key that arrives while no command is waiting, so one `WAIT FOR DIGIT` per
        key would lose keys whenever this side is slow to answer. Prompt files go to Read
        itself, so no key is lost between the end of a prompt and the wait either; numbers
        and digits said (SAY NUMBER) are played first, with barge-in, one round trip
        before Read starts."""
        files = None if self._no_read else self._read_files(utterances)
        first = None
        if self._typed_ahead is not None:
            first, self._typed_ahead = self._typed_ahead, None
            files = []
        elif files is None:
            escape = "".join(sorted(request.allowed | {request.terminator} - {""}))
            first = self._first_key(utterances, escape)
            files = []
        digits = ""
        if first is not None:
            if request.terminator and first == request.terminator:
                return Keys("", KeyStop.TERMINATOR)
            if first in request.allowed:
                digits = first
                if len(digits) >= request.max_digits:
                    return Keys(digits, KeyStop.MAX_DIGITS)
        if self._no_read:
            return self._key_by_key(request, [], digits)
        return self._read(request, files, digits)

    def _key_by_key(self, request: KeyRequest, files: list[str], digits: str) -> Keys:
        """Without Read(): the prompt files with barge-in, then one WAIT FOR DIGIT per key."""
        escape = "".join(sorted(request.allowed | {request.terminator} - {""}))
        first = None
        for path in files:
            first = digit_of(self.command("STREAM FILE", path, escape))
            if first is not None:
                break
        rest = KeyRequest(
            allowed=request.allowed,
            max_digits=request.max_digits - len(digits),
            first_timeout=request.inter_digit_timeout if digits else request.first_timeout,
            inter_digit_timeout=request.inter_digit_timeout,
            terminator=request.terminator,
        )
        more = collect_keys(rest, self._wait_for_digit, first=first)
        return Keys(digits + more.digits, more.stop)

    def _read_files(self, utterances: Sequence[Utterance]) -> list[str] | None:
        """The prompt files Read can play itself, or None when something else must be said
        (a number) or a path holds Read's separators."""
        paths = []
        for utterance in utterances:
            if not isinstance(utterance, Prompt):
                return None
            path = str(self.prompts_dir / utterance.id)
            if any(mark in path for mark in READ_SEPARATORS):
                return None
            paths.append(path)
        return paths

    def _read(self, request: KeyRequest, files: list[str], digits: str) -> Keys:
        """Read the rest of an answer in Asterisk: the first wait is the first-key timeout,
        or the between-keys one once a key came (TIMEOUT(response) and TIMEOUT(digit), which
        Read uses when given no timeout of its own)."""
        first_wait = request.inter_digit_timeout if digits else request.first_timeout
        self._set_timeout("response", first_wait)
        self._set_timeout("digit", request.inter_digit_timeout)
        wanted = min(request.max_digits - len(digits), MAX_READ_DIGITS)
        terminator = f"t({request.terminator})"
        ran = self.command("EXEC", "Read", f"{READ_INTO},{'&'.join(files)},{wanted},{terminator}")
        if ran.result == NO_APPLICATION:
            log.error(
                "call=%s Asterisk has no Read() (load app_read.so): keys are collected one "
                "command per key, and keys typed while this side is slow are lost",
                printable(self.call_id),
            )
            self._no_read = True
            return self._key_by_key(request, files, digits)
        answer = self.command("GET FULL VARIABLE", f"${{{READ_INTO}}}|${{READSTATUS}}").data
        typed, _, status = (answer or "").rpartition("|")
        if status == "HANGUP":
            self._hung_up = True
            raise CallerHungUp("Read: the caller hung up")
        for key in typed:
            if key in request.allowed:
                digits += key
        if status != "OK":
            return Keys(digits, KeyStop.TIMEOUT)
        if len(digits) >= request.max_digits:
            return Keys(digits, KeyStop.MAX_DIGITS)
        if len(typed) < wanted:
            return Keys(digits, KeyStop.TERMINATOR)
        # Read stopped at its count, but some keys were not ones this answer takes (they
        # are ignored, as they would be key by key): the rest comes key by key.
        return self._key_by_key(request, [], digits)

    def _set_timeout(self, which: str, seconds: float) -> None:
        if self._timeouts.get(which) != seconds:
            self.command("SET VARIABLE", f"TIMEOUT({which})", f"{seconds:g}")
            self._timeouts[which] = seconds

    def listen(
        self, utterances: Sequence[Utterance], keys: KeyRequest, request: ListenRequest
    ) -> Keys | Recording:
        """Play the prompts, then RECORD FILE into the spool folder until silence or the
        longest answer. Audio is recorded only once the prompts have ended, so none of their
        sound is in it; a key during the prompts or the recording makes this an `ask`."""
        escape = "".join(sorted(keys.allowed | {keys.terminator} - {""}))
        first = self._first_key(utterances, escape)
        if first is None:
            recorded = self._record(escape, request)
            if isinstance(recorded, Recording):
                return recorded
            first = recorded
        return collect_keys(keys, self._wait_for_digit, first=first)

    def _record(self, escape: str, request: ListenRequest) -> Recording | str:
        """Record one answer: the Recording, or the key that interrupted it."""
        if self.spool is None:
            raise ListenFailed("no spool folder is configured for recordings")
        target, local = self.spool.new_recording()
        try:
            result = self.command(
                "RECORD FILE",
                target,
                "wav",
                escape,
                int(request.max_seconds * 1000),
                f"s={request.silence_seconds}",
            )
        except CallerHungUp as gone:
            local.unlink(missing_ok=True)
            if "(writefile)" in str(gone) and not self._hangup_signalled() and self._still_up():
                raise ListenFailed(
                    f"Asterisk cannot write {target}.wav: the spool folder must exist and be "
                    "writable by Asterisk (speech_spool_dir / speech_spool_asterisk_dir)"
                ) from None
            raise
        except AgiCommandError as refused:
            local.unlink(missing_ok=True)
            raise ListenFailed(str(refused)) from None
        if result.data == "dtmf" and (key := digit_of(result)) is not None:
            local.unlink(missing_ok=True)  # the start of an answer by keys: not needed
            return key
        if result.result:
            local.unlink(missing_ok=True)
            raise ListenFailed(f"RECORD FILE: {result.line}")
        # Asterisk answers before it closes the file: one more command waits for the close.
        try:
            self.command("NOOP")
        except CallerHungUp:
            local.unlink(missing_ok=True)
            raise
        samples = int(result.fields.get("endpos", "0") or 0)
        log.info("call=%s recorded %.1f s", printable(self.call_id), samples / 8000)
        return Recording(audio=local)

    def _wait_for_digit(self, timeout: float) -> str | None:
        return digit_of(self.command("WAIT FOR DIGIT", int(timeout * 1000)))

    def _say(self, utterance: Utterance, *, escape: str) -> str | None:
        match utterance:
            case Prompt():
                return self._stream(utterance, escape)
            case Number() if utterance.value > MAX_NUMBER:
                # beyond what Asterisk's Russian SAY NUMBER says: digit by digit, as the
                # simulator prints it (agi.audio.number_words)
                return digit_of(self.command("SAY DIGITS", str(utterance.value), escape))
            case Number():
                return digit_of(self.command("SAY NUMBER", utterance.value, escape))
            case Digits():
                return digit_of(self.command("SAY DIGITS", utterance.digits, escape))
        raise TypeError(utterance)

    def _stream(self, prompt: Prompt, escape: str) -> str | None:
        """Play one prompt file. A missing file is skipped with a warning, not a dead call:
        Asterisk answers result=-1 for both, so a missing file is told by the channel still
        answering CHANNEL STATUS."""
        path = str(self.prompts_dir / prompt.id)
        try:
            return digit_of(self.command("STREAM FILE", path, escape))
        except CallerHungUp:
            if self._hangup_signalled() or not self._still_up():
                raise
        log.warning(
            "call=%s prompt %s has no audio in %s",
            printable(self.call_id),
            prompt.id,
            self.prompts_dir,
        )
        return None

    def _still_up(self) -> bool:
        self._hung_up = False
        try:
            self.command("CHANNEL STATUS")
        except CallerHungUp:
            return False
        return True

    def claim(self) -> None:
        """Tell the dialplan the IVR has taken this call, so that it does not run the call
        again elsewhere whatever AGISTATUS says (a failed command can make it FAILURE)."""
        self.command("SET VARIABLE", dialplan.ANSWERED, "1")

    def mark(self, outcome: str) -> None:
        self.command("SET VARIABLE", dialplan.OUTCOME, outcome)

    def transfer(self, destination: str) -> None:
        """Name the destination for the dialplan, which alone decides where that leads."""
        self.command("SET VARIABLE", dialplan.TRANSFER, destination)

    def hang_up(self) -> None:
        self.command("HANGUP")
        self._hung_up = True
