"""The `Channel` over Asterisk's AGI: the one module that imports pyst2.

pyst2's `AGI` does the protocol, through a thin subclass (`SafeAgi`, which says what it
replaces and why) on any pair of text streams: an AGI script's stdin/stdout or a FastAGI
socket. Its command methods send the commands and parse the results, and its exceptions
become the channel's: every sign of a hang-up (SIGHUP, a HANGUP line, result=-1, 511, a
closed stream) is `CallerHungUp` at once instead of a blocked read.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
import string
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath
from typing import IO, Any, TypeVar

from asterisk.agi import (
    AGI,
    AGIAppError,
    AGIHangup,
    AGIInvalidCommand,
    AGIResultHangup,
    AGISIGHUPHangup,
    AGIUnknownError,
    AGIUsageError,
    re_code,
    re_kv,
)

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
from agi.telephony.dialplan import ASTERISK_ID
from agi.telephony.protocol import (
    DEAD_CHANNEL,
    HANGUP_LINE,
    RESULT_LINE,
    AgiCommandError,
    AgiResult,
    digit_of,
    quote_argument,
)

log = logging.getLogger(__name__)
R = TypeVar("R")

UNKNOWN_CALLER = {"", "unknown", "anonymous"}
DEAD_PREFIX = f"{DEAD_CHANNEL} "
ENV_NAME = re.compile(r"^agi_[a-z0-9_]+$")
CALL_ID_LETTERS = 24
READ_INTO = "IVR_KEYS"
"""The channel variables Read() collects answers into: IVR_KEYS1, IVR_KEYS2 …"""
READ_SEPARATORS = (",", "&", "|", "(", ")")
MAX_READ_DIGITS = 255
"""The most Read() collects at once."""


def new_call_id() -> str:
    """A call id of the IVR's own: random letters, unique across every server and Asterisk
    without any coordination (26**24 values), and with no digits for the log redaction to
    take for a number. One draw from the system's randomness, spelt in base 26."""
    value = secrets.randbelow(len(string.ascii_lowercase) ** CALL_ID_LETTERS)
    letters = []
    for _ in range(CALL_ID_LETTERS):
        value, letter = divmod(value, len(string.ascii_lowercase))
        letters.append(string.ascii_lowercase[letter])
    return "".join(letters)


ALL_KEYS = "".join(sorted(DTMF_KEYS))
"""The keys that interrupt a prompt played with barge-in."""


@functools.lru_cache(maxsize=4096)
def prompt_path(folder: str, prompt_id: str) -> str:
    """Where Asterisk finds a prompt's recording: the same few paths for every call, kept
    by the folder's text (a path object would be parsed again for each call's key)."""
    return str(PurePosixPath(folder) / prompt_id)


@functools.lru_cache(maxsize=4096)
def read_path(folder: str, prompt_id: str) -> str | None:
    """A prompt's path as Read() takes it among its options, or None when the path holds
    one of Read's separators."""
    path = prompt_path(folder, prompt_id)
    return None if any(mark in path for mark in READ_SEPARATORS) else path


@functools.lru_cache(maxsize=256)
def escape_keys(allowed: frozenset[str], terminator: str) -> str:
    """The keys that interrupt the prompts of an answer: its keys and its terminator."""
    return "".join(sorted(allowed | {terminator} - {""}))


class _Trace:
    """Where pyst2 writes its trace of every command: nowhere, or the debug log with the call
    id and control characters escaped (the log handler masks numbers)."""

    def __init__(self, enabled: bool, label: str = "") -> None:
        self.enabled = enabled
        self.label = label

    def write(self, text: str) -> int:
        if self.enabled and text.strip():
            log.debug("call=%s pyst2 %s", self.label, printable(text.strip()))
        return len(text)

    def flush(self) -> None:
        pass


class _Quoted(str):
    """An argument pyst2 has quoted (through `SafeAgi._quote`): sent as it is."""


class _Replies:
    """The stream Asterisk answers on, as pyst2 reads it. pyst2 takes an empty line (the
    stream closed) for `AGIUnknownError`, and its 520 loop reads on forever at the end of
    the stream; here the end of the stream, a HANGUP line and a 511 (dead channel) raise
    `AGIResultHangup` at once. The last line read is kept for error messages."""

    def __init__(self, stream: IO[Any]) -> None:
        self.stream = stream
        self.last = ""

    def readline(self) -> str:
        line = self.stream.readline()
        if isinstance(line, bytes):
            line = line.decode("utf-8", errors="replace")
        if not line:
            raise AGIResultHangup("the AGI connection closed")
        self.last = line.rstrip("\r\n")
        if self.last == HANGUP_LINE or self.last.startswith(DEAD_PREFIX):
            raise AGIResultHangup(self.last)
        return line


class SafeAgi(AGI):
    """pyst2's `AGI` on any pair of text streams (an AGI script's stdin/stdout, a FastAGI
    socket), with what is unsafe there replaced; its command methods, result parsing and
    exceptions are used as they are.

    - The constructor is not pyst2's: that one installs a SIGHUP handler (impossible outside
      the main thread; the AGI script installs its own and passes `hangup_signalled`) and
      prints the caller's details to stderr.
    - The environment reader keeps the first value of a name and only `agi_*` names:
      pyst2's lets a later line replace an earlier one, so a caller ID holding a line break
      could pose as `agi_uniqueid`.
    - `_quote` escapes (pyst2's only wraps in quotes), and `send_command` quotes every
      argument pyst2 passes bare (file names, timeouts, application names), so that
      nothing a caller sent can end a command line early.
    - Replies are read through `_Replies` (the end of the stream is a hang-up).
    - The trace of every command goes to `_Trace`, not stderr, and is made only when the
      trace is on: pyst2's `get_result` formats every result with `pprint` for its trace
      whether anyone reads it or not, a sixth of a call's protocol CPU. `get_result` here
      is pyst2's, parsing with its own expressions into its own exceptions, without that.
    - `get_full_variable` lets a hang-up through instead of returning "hangup".
    - `execute` is pyst2's without its try around every command: a broken pipe is an
      OSError, which the channel takes for a hang-up anyway.

    Not made safe, so not used: pyst2's `fastagi.py` (Python 2 only) and `record_file`
    (it drops the reply's `endpos` and `dtmf`; RECORD FILE goes through `execute`).
    """

    def __init__(
        self,
        stdin: IO[Any],
        stdout: IO[Any],
        *,
        trace: _Trace,
        hangup_signalled: Callable[[], bool] = lambda: False,
    ) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = trace
        self._got_sighup = False
        self._hangup_signalled = hangup_signalled
        self.env: dict[str, str] = {}
        self._get_agi_env()
        self.replies = _Replies(stdin)
        self.stdin = self.replies

    def _get_agi_env(self) -> None:
        while True:
            line = self.stdin.readline()
            if isinstance(line, bytes):
                line = line.decode("utf-8", errors="replace")
            line = line.strip()
            if self.stderr.enabled:
                self.stderr.write(f"env {line}\n")
            if not line:
                return
            name, _, value = line.partition(":")
            name = name.strip()
            if ENV_NAME.match(name) and name not in self.env:
                self.env[name] = value.strip()

    def _quote(self, string: object) -> _Quoted:
        return _Quoted(quote_argument(str(string)))

    def get_full_variable(self, name: str, channel: str | None = None) -> str:
        """pyst2's, except that a hang-up stays one: pyst2's returns the word "hangup" as
        the value, and the reply still on its way would be read as the next command's."""
        arguments = [self._quote(name)] + ([self._quote(channel)] if channel else [])
        return self.execute("GET FULL VARIABLE", *arguments)["result"][1]

    def get_result(self, stdin: object = None) -> dict[str, tuple[str, str]]:
        """pyst2's result parsing (its expressions, its exceptions), traced only when the
        trace is on."""
        line = self.stdin.readline().strip()
        trace = self.stderr.enabled
        if trace:
            self.stderr.write(f"    RESULT_LINE: {line}\n")
        digits, response = re_code.search(line).groups()
        code = int(digits)  # ValueError for a line without a code, as pyst2's
        if code == 200:
            result = {"result": ("", "")}
            for key, value, data in re_kv.findall(response):
                result[key] = (value, data)
                if data == "hangup":
                    raise AGIResultHangup("User hungup during execution")
                if key == "result" and value == "-1":
                    raise AGIAppError("Error executing application, or hangup")
            if trace:
                self.stderr.write(f"    RESULT_DICT: {result}\n")
            return result
        if code == 510:
            raise AGIInvalidCommand(response)
        if code == 520:
            usage = [line]
            line = self.stdin.readline().strip()
            while line[:3] != "520":
                usage.append(line)
                line = self.stdin.readline().strip()
            usage.append(line)
            raise AGIUsageError("\n".join(usage) + "\n")
        raise AGIUnknownError(code, "Unhandled code or undefined response")

    def test_hangup(self) -> None:
        if self._got_sighup or self._hangup_signalled():
            raise AGISIGHUPHangup("Received SIGHUP from Asterisk")

    def execute(self, command: str, *args: object) -> dict[str, tuple[str, str]]:
        self.test_hangup()
        self.send_command(command, *args)
        return self.get_result()

    def send_command(self, command: str, *args: object) -> None:
        """One command line: pyst2's quoted arguments as they are, bare ones quoted and
        escaped, an empty bare one (pyst2's "omitted") left out."""
        words = [command.strip()]
        for argument in args:
            if isinstance(argument, _Quoted):
                words.append(argument)
            elif argument != "":
                words.append(quote_argument(argument))  # type: ignore[arg-type]
        line = " ".join(words) + "\n"
        if self.stderr.enabled:
            self.stderr.write(f"-> {line}")
        self.stdout.write(line)
        self.stdout.flush()


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
        self._reads = 0
        self.prompts_dir = prompts_dir
        self.spool = spool
        """Where answers by voice are recorded; None: this channel cannot listen."""
        self._call_id = new_call_id()
        self.agi = SafeAgi(
            reader,
            writer,
            trace=_Trace(debug, self._call_id),
            hangup_signalled=hangup_signalled,
        )
        self.env = self.agi.env
        if not self.env:
            raise CallerHungUp("no AGI environment: the stream closed at once")

    @property
    def call_id(self) -> str:
        """The IVR's own id of the call: Asterisk's uniqueid is not unique across Asterisks
        (two without a `systemname` repeat each other's), and may be missing."""
        return self._call_id

    @functools.cached_property
    def _arguments(self) -> dict[str, str]:
        arguments = (value for name, value in self.env.items() if name.startswith("agi_arg_"))
        return {key: value for key, _, value in (a.partition("=") for a in arguments)}

    @property
    def system_name(self) -> str | None:
        """The Asterisk's SYSTEMNAME, as the dialplan passes it (`system=`); None without."""
        name = self._arguments.get("system", "")
        return name if ASTERISK_ID.match(name) else None

    @property
    def correlation_id(self) -> str | None:
        """`system/linkedid/uniqueid` as far as Asterisk gave them: the dialplan passes
        `system=${SYSTEMNAME}` and `linkedid=${CHANNEL(linkedid)}` as AGI arguments."""
        given = self._arguments
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
        """Send one command through pyst2's `execute` and read its result; CallerHungUp if
        the channel is gone, AgiCommandError if Asterisk refused the command."""
        result = self._agi(self.agi.execute, name, *arguments)
        value, data = result.pop("result", ("", ""))
        number = int(value) if value.lstrip("-").isdigit() else None
        fields = {key: field for key, (field, _) in result.items()}
        return AgiResult(200, number, data or None, fields, self.agi.replies.last)

    def _agi(self, method: Callable[..., R], *arguments: object) -> R:
        """Call one of pyst2's command methods, its exceptions made the channel's: every sign
        of a hang-up (SIGHUP, a HANGUP line, result=-1, 511, a closed stream) is
        `CallerHungUp` at once, a refused command `AgiCommandError`."""
        if self._hung_up:
            raise CallerHungUp
        try:
            return method(*arguments)
        except AGIHangup as gone:
            self._hung_up = True
            raise CallerHungUp(str(gone)) from None
        except AGIAppError:  # result=-1: pyst2 cannot tell a failure from a hang-up
            self._hung_up = True
            raise CallerHungUp(self.agi.replies.last) from None
        except (AGIInvalidCommand, AGIUsageError, AGIUnknownError):
            raise AgiCommandError(self.agi.replies.last) from None
        except ValueError as error:
            if not RESULT_LINE.match(self.agi.replies.last):  # pyst2's int() of no code
                raise AgiCommandError(
                    f"not an AGI result line: {self.agi.replies.last!r}"
                ) from None
            self._hung_up = True
            raise CallerHungUp(str(error)) from None
        except OSError as gone:
            self._hung_up = True
            raise CallerHungUp(str(gone)) from None

    # --- the Channel -------------------------------------------------------------------

    def play(self, utterances: Sequence[Utterance], *, barge_in: bool = False) -> None:
        escape = ALL_KEYS if barge_in else ""
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
        """Play with barge-in and collect the keys inside Asterisk: res_agi drops a key that
        arrives while no command is waiting, so one `WAIT FOR DIGIT` per key would lose keys
        whenever this side is slow to answer. The prompt files at the end of the question go
        to the collecting command itself, so no key is lost between the end of a prompt and
        the wait either; what comes before them (a number said by SAY NUMBER, a file whose
        path Read cannot take) is played first, with barge-in. One key comes by `GET DATA`,
        whose reply is the key, when the question ends in at most one prompt file; others by
        `Read()`, whose answer takes a second command (or, in an Asterisk without Read, one
        `WAIT FOR DIGIT` per key)."""
        escape = escape_keys(request.allowed, request.terminator)
        first = None
        files: list[str] = []
        if self._typed_ahead is not None:
            first, self._typed_ahead = self._typed_ahead, None
        else:
            lead, files = self._split(utterances)
            if lead:
                first = self._first_key(lead, escape)
                if first is not None:
                    files = []
        digits = ""
        if first is not None:
            if request.terminator and first == request.terminator:
                return Keys("", KeyStop.TERMINATOR)
            if first in request.allowed:
                digits = first
                if len(digits) >= request.max_digits:
                    return Keys(digits, KeyStop.MAX_DIGITS)
        if request.max_digits - len(digits) == 1 and len(files) <= 1:
            return self._get_data(request, files, digits)
        if self._no_read:
            return self._key_by_key(request, files, digits)
        return self._read(request, files, digits)

    def _key_by_key(self, request: KeyRequest, files: list[str], digits: str) -> Keys:
        """Without Read(): the prompt files with barge-in, then one WAIT FOR DIGIT per key."""
        escape = escape_keys(request.allowed, request.terminator)
        first = None
        for path in files:
            first = self._stream_file(path, escape)
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

    def _split(self, utterances: Sequence[Utterance]) -> tuple[Sequence[Utterance], list[str]]:
        """The utterances to play before the collecting command, and the prompt files at
        the end that it plays itself (none after a number, or after a path holding one of
        Read's separators)."""
        files: list[str] = []
        start = len(utterances)
        while start and isinstance(utterances[start - 1], Prompt):
            path = read_path(self.prompts_dir, utterances[start - 1].id)
            if path is None:
                break
            files.append(path)
            start -= 1
        files.reverse()
        return utterances[:start], files

    def _get_data(self, request: KeyRequest, files: list[str], digits: str) -> Keys:
        """The last key of an answer, the prompt played by Asterisk, with `GET DATA`: its
        reply holds the key, so the next question starts one round trip after the key
        instead of two. GET DATA ends on `#` with nothing (`result=`) and marks a wait
        without a key `(timeout)`, which pyst2's parsing drops: the reply line tells. A
        missing prompt file is result=-1, as a hang-up is: the channel's status tells them
        apart, and the key is then waited for without the prompt."""
        wait = request.inter_digit_timeout if digits else request.first_timeout
        path = files[0] if files else ""
        try:
            result = self._agi(
                self.agi.execute, "GET DATA", self.agi._quote(path), max(1, round(wait * 1000)), 1
            )
        except CallerHungUp:
            if not path or not self._skipped_missing(path):
                raise
            return self._get_data(request, [], digits)
        if self.agi.replies.last.endswith("(timeout)"):
            return Keys(digits, KeyStop.TIMEOUT)
        key = result["result"][0] or "#"
        if request.terminator and key == request.terminator:
            return Keys(digits, KeyStop.TERMINATOR)
        if key in request.allowed:
            return Keys(digits + key, KeyStop.MAX_DIGITS)
        return self._key_by_key(request, [], digits)  # a key this answer does not take

    def _read(self, request: KeyRequest, files: list[str], digits: str) -> Keys:
        """Read the rest of an answer in Asterisk: the first wait is the first-key timeout,
        or the between-keys one once a key came (TIMEOUT(response) and TIMEOUT(digit), which
        Read uses when given no timeout of its own)."""
        first_wait = request.inter_digit_timeout if digits else request.first_timeout
        self._set_timeout("response", first_wait)
        self._set_timeout("digit", request.inter_digit_timeout)
        wanted = min(request.max_digits - len(digits), MAX_READ_DIGITS)
        terminator = f"t({request.terminator})"
        self._reads += 1
        into = f"{READ_INTO}{self._reads}"  # a new name each time: never an earlier answer
        options = f"{into},{'&'.join(files)},{wanted},{terminator}"
        if not self._agi(self._exec, "Read", options):
            log.error(
                "call=%s Asterisk has no Read() (load app_read.so): keys are collected one "
                "command per key, and keys typed while this side is slow are lost",
                printable(self.call_id),
            )
            self._no_read = True
            return self._key_by_key(request, files, digits)
        answer = self._agi(self.agi.get_full_variable, f"${{{into}}}|${{READSTATUS}}")
        typed, _, status = answer.rpartition("|")
        if status == "HANGUP":
            self._hung_up = True
            raise CallerHungUp("Read: the caller hung up")
        if status != "OK":
            # EXEC, GET FULL VARIABLE and SET VARIABLE are answered on a dead channel too:
            # ANSWER is not (511), and on a live one does nothing.
            self._agi(self.agi.answer)
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
            self._agi(self.agi.set_variable, f"TIMEOUT({which})", f"{seconds:g}")
            self._timeouts[which] = seconds

    def listen(
        self, utterances: Sequence[Utterance], keys: KeyRequest, request: ListenRequest
    ) -> Keys | Recording:
        """Play the prompts, then RECORD FILE into the spool folder until silence or the
        longest answer. Audio is recorded only once the prompts have ended, so none of their
        sound is in it; a key during the prompts or the recording makes this an `ask`."""
        escape = escape_keys(keys.allowed, keys.terminator)
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
            self._agi(self.agi.noop)
        except CallerHungUp:
            local.unlink(missing_ok=True)
            raise
        samples = int(result.fields.get("endpos", "0") or 0)
        log.info("call=%s recorded %.1f s", printable(self.call_id), samples / 8000)
        return Recording(audio=local)

    def _wait_for_digit(self, timeout: float) -> str | None:
        return self._agi(self.agi.wait_for_digit, int(timeout * 1000)) or None

    def _say(self, utterance: Utterance, *, escape: str) -> str | None:
        match utterance:
            case Prompt():
                return self._stream(utterance, escape)
            case Number() if utterance.value > MAX_NUMBER:
                # beyond what Asterisk's Russian SAY NUMBER says: digit by digit, as the
                # simulator prints it (agi.audio.number_words)
                return self._agi(self.agi.say_digits, str(utterance.value), escape) or None
            case Number():
                return self._agi(self.agi.say_number, utterance.value, escape) or None
            case Digits():
                return self._agi(self.agi.say_digits, utterance.digits, escape) or None
        raise TypeError(utterance)

    def _stream(self, prompt: Prompt, escape: str) -> str | None:
        return self._stream_file(prompt_path(self.prompts_dir, prompt.id), escape)

    def _stream_file(self, path: str, escape: str) -> str | None:
        """Play one prompt file. A missing file is skipped with a warning, not a dead call:
        Asterisk answers result=-1 for both, so a missing file is told by the channel still
        answering CHANNEL STATUS."""
        try:
            return self._agi(self.agi.stream_file, path, escape) or None
        except CallerHungUp:
            if not self._skipped_missing(path):
                raise
        return None

    def _skipped_missing(self, path: str) -> bool:
        """After result=-1 for a prompt file, which a hang-up gives too: whether the
        channel lives, so the file is missing (logged) and the call goes on without it."""
        if self._hangup_signalled() or not self._still_up():
            return False
        log.warning("call=%s prompt file %s has no audio", printable(self.call_id), printable(path))
        return True

    def _still_up(self) -> bool:
        self._hung_up = False
        try:
            up = self._agi(self.agi.channel_status) >= 0
        except CallerHungUp:
            return False
        self._hung_up = not up
        return up

    def _exec(self, application: str, options: str) -> bool:
        """Run a dialplan application; False when this Asterisk has none of that name."""
        try:
            self.agi.appexec(application, options)
        except AGIAppError as error:
            if str(error).startswith("Unable to find application"):
                return False
            raise
        return True

    def claim(self) -> None:
        """Tell the dialplan the IVR has taken this call, so that it does not run the call
        again elsewhere whatever AGISTATUS says (a failed command can make it FAILURE)."""
        self._agi(self.agi.set_variable, dialplan.ANSWERED, "1")

    def mark(self, outcome: str) -> None:
        self._agi(self.agi.set_variable, dialplan.OUTCOME, outcome)

    def transfer(self, destination: str) -> None:
        """Name the destination for the dialplan, which alone decides where that leads."""
        self._agi(self.agi.set_variable, dialplan.TRANSFER, destination)

    def hang_up(self) -> None:
        self._agi(self.agi.hangup)
        self._hung_up = True
