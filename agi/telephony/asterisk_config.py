"""The IVR's own Asterisk configuration: `extensions_ivr.conf` and `pjsip_ivr.conf`, filled
in for one line. `ivr install` writes them beside a stock /etc/asterisk, `ivr asterisk up`
into its private line; the templates are in config/asterisk/ and `@@NAME@@` marks a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agi.settings import check_fastagi_servers, local_fastagi_server, shipped

INCLUDES = ("extensions_ivr.conf", "pjsip_ivr.conf")
SORRY_PROMPT = "readings_unavailable"
"""What the dialplan says before the operator when the IVR gave the call no outcome."""
ACCEPTED_PROMPT = "readings_accepted"
"""What the dialplan says when the IVR stored the readings but left before its goodbye."""


class TemplateError(Exception):
    pass


@dataclass(frozen=True)
class LineConfig:
    fastagi_servers: tuple[str, ...] = (local_fastagi_server(),)
    """Tried in order, then the AGI script (the setting `fastagi_servers`)."""
    agi_script: str = "ivr-agi"
    call_seconds: int = 600
    operator_dial: str = "Playback(pls-hold-while-try)"
    prompts_dir: Path = Path("/var/lib/ivr/prompts/ru")
    settings_file: Path | None = None
    """The settings the AGI script reads (IVR_CONFIG); None: those of Asterisk's
    environment."""
    sip_bind: str = "127.0.0.1"
    sip_port: int = 5060
    sip_peer: str = "127.0.0.1"
    """The trunk or SBC whose calls are the readings line's."""

    def values(self) -> dict[str, str]:
        settings = (
            f"Set(ENV(IVR_CONFIG)={self.settings_file})"
            if self.settings_file is not None
            else "NoOp(the AGI script reads the settings of Asterisk's environment)"
        )
        return {
            "FASTAGI_SERVERS": ",".join(check_fastagi_servers(self.fastagi_servers)),
            "AGI_SCRIPT": self.agi_script,
            "CALL_SECONDS": str(self.call_seconds),
            "OPERATOR_DIAL": self.operator_dial,
            "SORRY": str(self.prompts_dir / SORRY_PROMPT),
            "ACCEPTED": str(self.prompts_dir / ACCEPTED_PROMPT),
            "SETTINGS": settings,
            "SIP_BIND": self.sip_bind,
            "SIP_PORT": str(self.sip_port),
            "SIP_PEER": self.sip_peer,
        }


def fill(name: str, text: str, values: dict[str, str]) -> str:
    """A template with its `@@NAME@@` placeholders replaced; TemplateError when one stays."""
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", value)
    if "@@" in text:
        raise TemplateError(f"{name} has a placeholder that nothing fills in")
    return text


def ivr_includes(line: LineConfig, templates: Path | None = None) -> dict[str, str]:
    """The IVR's include files for this line, by file name (from the shipped templates, or
    those in `templates`)."""
    folder = templates or shipped("config/asterisk")
    values = line.values()
    return {
        name: fill(name, (folder / name).read_text(encoding="utf-8"), values) for name in INCLUDES
    }
