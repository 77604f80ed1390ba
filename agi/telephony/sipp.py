"""Real SIP calls placed with SIPp: a scenario written from a keypad script, and its run.

Keys go as RFC 4733 events with `play_dtmf`. SIPp sends the digits of one `play_dtmf` one
after another (about 0.4 s each) and a new `play_dtmf` cuts off the one still sending, so
each group of keys waits until its digits are out before the next group starts. The line
may hang up at any moment (an apology and the operator come sooner than the keys run
out): a BYE is answered wherever it comes (`optional="global"`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from agi.dialog.simulator import parse_keys

SECONDS_PER_DIGIT = 0.45
PAUSE_AFTER_GROUP = 1.2
WAIT_SECONDS = 7.5
"""What a `.` in a script waits: longer than the shipped flow's first-key timeout."""
LISTEN_TO_WELCOME_SECONDS = 7.0
"""Before the first key the caller listens to the welcome (about 5 s), which keys do not
interrupt: a key pressed during it would be lost."""

_INVITE = """\
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: {display} <sip:{user}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:{user}@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 96
      a=rtpmap:0 PCMU/8000
      a=rtpmap:96 telephone-event/8000
      a=fmtp:96 0-15
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv request="BYE" optional="global" next="ivr_hung_up"/>
  <recv response="200" rtd="true"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: {display} <sip:{user}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:{user}@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
"""

_CALLER_HANGS_UP = """\
  <send retrans="500">
    <![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: {display} <sip:{user}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: sip:{user}@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" next="done"/>
"""

_WAIT_FOR_THE_IVR = """\
  <recv request="BYE" timeout="{timeout_ms}"/>
"""

_ANSWER_BYE = """\
  <label id="ivr_hung_up"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
    ]]>
  </send>
  <label id="done"/>
"""


@dataclass(frozen=True)
class CallScript:
    """A caller's side of one call: who calls, which keys, and who hangs up."""

    keys: str
    caller: str = "79120000000"
    display: str = "Caller"
    caller_hangs_up: bool = False
    """Hang up after the last keys instead of waiting for the IVR to end the call."""
    wait_for_end: float = 30.0


def key_groups(keys: str) -> list[str]:
    """The groups of a script: what the caller types at once (`*2 102057522# .` gives
    `*2`, `102057522#`, `.`)."""
    groups = []
    for word in keys.split():
        parse_keys(word)
        for part in word.replace(".", " . ").split():
            groups.append(part)
    return groups


def scenario(script: CallScript, *, fields: Sequence[str] = ()) -> str:
    """A SIPp scenario (XML) that places the call and presses the keys in order.

    `fields` are values of `script`, its caller or whole runs of digits in its keys, that
    each call takes from its line of the injection file instead: the Nth becomes
    `[fieldN]`. Every line must give values as long as the script's, for the pauses."""
    field = {value: f"[field{index}]" for index, value in enumerate(fields)}
    user = field.get(script.caller) or _sip_user(script.caller)
    header = {"display": _sip_display(script.display), "user": user}
    welcome = int(LISTEN_TO_WELCOME_SECONDS * 1000)
    steps = [_INVITE.format(**header), f'  <pause milliseconds="{welcome}"/>\n']
    groups = key_groups(script.keys)
    for number, group in enumerate(groups, 1):
        last = number == len(groups)
        if group == ".":
            steps.append(f'  <pause milliseconds="{int(WAIT_SECONDS * 1000)}"/>\n')
            continue
        keys = re.sub(r"\d+", lambda run: field.get(run.group(), run.group()), group)
        steps.append(f"  <nop><action><exec play_dtmf={quoteattr(keys)}/></action></nop>\n")
        if last and not script.caller_hangs_up:
            break  # the IVR's BYE may come at once: wait for it, not in a pause
        pause = len(group) * SECONDS_PER_DIGIT + (0 if last else PAUSE_AFTER_GROUP)
        steps.append(f'  <pause milliseconds="{int(pause * 1000)}"/>\n')
    if script.caller_hangs_up:
        steps.append(_CALLER_HANGS_UP.format(**header))
    else:
        steps.append(_WAIT_FOR_THE_IVR.format(timeout_ms=int(script.wait_for_end * 1000)))
    steps.append(_ANSWER_BYE)
    body = "".join(steps)
    return (
        '<?xml version="1.0" encoding="ISO-8859-1" ?>\n'
        '<!DOCTYPE scenario SYSTEM "sipp.dtd">\n'
        f"<scenario name={quoteattr('ivr call ' + escape(script.keys))}>\n{body}</scenario>\n"
    )


def injection_file(path: Path, calls: Iterable[Sequence[str]]) -> Path:
    """SIPp's injection file: one line of fields per call, taken in order."""
    lines = ["SEQUENTIAL"]
    for values in calls:
        if any(not re.fullmatch(r"[0-9+]+", value) for value in values):
            raise ValueError(f"injection fields are digits: {values!r}")
        lines.append(";".join(values))
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def _sip_display(name: str) -> str:
    """A display name as a quoted SIP string (RFC 3261 quoted-pair for `"` and `\\`)."""
    safe = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{safe}"'


def _sip_user(user: str) -> str:
    """The user part of the caller's URI, with anything unsafe percent-escaped."""
    return quote(user, safe="+-_.!~*'()")


@dataclass(frozen=True)
class CallResult:
    succeeded: bool
    returncode: int
    output: str
    call_id: str = ""
    """The call's SIP Call-ID, as the dialplan logs it."""


def sipp_binary() -> str:
    found = shutil.which("sipp")
    if not found:
        raise FileNotFoundError("SIPp is not installed (Debian package sip-tester)")
    return found


def place_call(
    script: CallScript,
    *,
    sip_port: int,
    host: str = "127.0.0.1",
    service: str = "2000",
    local_port: int = 0,
    media_port: int = 0,
    timeout: float = 120,
) -> CallResult:
    """Place one real call to the IVR with SIPp (needs root: SIPp sends RTP from raw sockets)."""
    token = f"ivr-call-{uuid.uuid4().hex}"
    with tempfile.TemporaryDirectory(prefix="ivr-sipp-") as folder:
        path = Path(folder) / "call.xml"
        path.write_text(scenario(script), encoding="iso-8859-1", errors="replace")
        command = [
            sipp_binary(),
            "-sf",
            str(path),
            f"{host}:{sip_port}",
            "-s",
            service,
            "-m",
            "1",
            "-i",
            "127.0.0.1",
            "-timeout",
            f"{int(timeout)}",
            "-timeout_error",
            "-nostdin",
            "-cid_str",
            f"{token}@%s",
        ]
        if local_port:
            command += ["-p", str(local_port)]
        if media_port:
            command += ["-mp", str(media_port)]
        done = subprocess.run(
            command, cwd=folder, capture_output=True, text=True, timeout=timeout + 30
        )
        errors = "".join(p.read_text(errors="replace") for p in Path(folder).glob("*errors.log"))
    return CallResult(
        done.returncode == 0,
        done.returncode,
        done.stdout[-2000:] + errors[-2000:],
        call_id=f"{token}@127.0.0.1",
    )
