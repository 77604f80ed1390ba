"""What `ivr install` lays out on a Debian server beside a stock Asterisk, as a plan of
entries applied idempotently.

Every path is under `root` (`/` on a server; another folder stages a whole installation
for a test or an image, and then the files refer to each other under that folder too).
Files an operator or the call-center staff edit (the settings, the flow, the prompts, the
webhook's secret) are written once and never replaced; the IVR's own files (units, Asterisk
include files, the nginx site) are brought up to date. A second run changes nothing.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from agi.atomic_file import replace_file
from agi.audio import line_codings
from agi.audio.number_words import RUSSIAN_SOUNDS, linked_number_words
from agi.problems import ProblemsFound
from agi.records.caller_keys import SECRET_FILE, new_secret
from agi.settings import local_fastagi_server, setting_default, shipped, written_setting
from agi.telephony.asterisk_config import LineConfig, ivr_includes
from agi.telephony.fastagi import DEFAULT_MAX_CALLS
from agi.text.kannel_service import SMS_SERVICE, render_sms_service
from agi.text.nginx_site import CONSOLE_SITE_TEMPLATE, SITE_TEMPLATE, render_site

USER = "ivr"
ASTERISK_GROUP = "asterisk"
STOP_MARGIN_SECONDS = 30
"""`ivr serve` exits at most 20 s after its drain time; the unit waits a little longer."""


@dataclass(frozen=True)
class Options:
    root: Path = Path("/")
    code: Path = field(default_factory=lambda: Path(sys.executable).parent)
    """The folder of the `ivr` and `ivr-agi` commands (a venv's bin)."""
    database_url: str | None = None
    """None: SQLite in the state folder."""
    operator_dial: str = "Dial(PJSIP/operators,60)"
    sip_bind: str = "0.0.0.0"
    sip_port: int = 5060
    trunk: str = "127.0.0.1"
    fastagi_port: int = 4573
    web_port: int = 8080
    max_calls: int = DEFAULT_MAX_CALLS
    call_seconds: int = 600
    server_name: str = "_"
    """The name gateways call the webhook by (nginx's server_name; `_`: any)."""
    web_listen: str = "80"
    """Where nginx listens for the gateways (TLS in front is the operator's)."""
    console_port: int = 8090
    console_listen: str = "127.0.0.1:8091"
    """Where nginx listens for the staff console (TLS for other computers is the operator's)."""
    number_voice: str = "prompts"
    """`prompts`: `sounds/ru/digits` links every number word to the project's own, in the
    prompts' voice; `asterisk`: the Russian sounds first (see Settings.number_voice)."""


@dataclass(frozen=True)
class Layout:
    """Where an installation keeps what, under its root."""

    root: Path

    def at(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    @property
    def etc(self) -> Path:
        return self.at("/etc/ivr")

    @property
    def settings(self) -> Path:
        return self.etc / "ivr.yaml"

    @property
    def state(self) -> Path:
        return self.at("/var/lib/ivr")

    @property
    def audio(self) -> Path:
        return self.state / "prompts" / "ru"

    @property
    def spool(self) -> Path:
        return self.at("/var/spool/ivr-speech")

    @property
    def units(self) -> Path:
        return self.at("/etc/systemd/system")

    @property
    def asterisk(self) -> Path:
        return self.at("/etc/asterisk")

    @property
    def sounds(self) -> Path:
        return self.at("/usr/share/asterisk/sounds")

    @property
    def nginx(self) -> Path:
        return self.at("/etc/nginx")


@dataclass(frozen=True)
class Entry:
    path: Path
    content: bytes | None = None
    """None: a folder (or, with `link`, a symbolic link)."""
    mode: int = 0o644
    owner: str | None = None
    group: str | None = None
    keep: bool = False
    """The operator's file once it exists: never replaced."""
    link: Path | None = None


@dataclass
class Change:
    path: Path
    action: str
    """created, updated, unchanged, kept (the operator's own), or would be created..."""


def plan(options: Options) -> list[Entry]:
    layout = Layout(options.root)
    kannel_secret = secrets.token_urlsafe(24)
    entries = [
        Entry(layout.etc, mode=0o755),
        Entry(layout.etc / "ivr.d", mode=0o750, group=USER),
        Entry(layout.settings, _settings(options, layout), mode=0o640, group=USER, keep=True),
        Entry(
            layout.etc / "ivr.d" / "50-webhook-secret.yaml",
            f"webhook_secret: {secrets.token_urlsafe(32)}\n".encode(),
            mode=0o640,
            group=USER,
            keep=True,
        ),
        Entry(
            layout.etc / "ivr.d" / "70-console-secret.yaml",
            f"console_secret: {secrets.token_urlsafe(48)}\n".encode(),
            mode=0o640,
            group=USER,
            keep=True,
        ),
        Entry(
            layout.etc / "ivr.d" / "60-gateways.yaml",
            _gateways(kannel_secret),
            mode=0o640,
            group=USER,
            keep=True,
        ),
        Entry(
            layout.etc / "kannel-sms-service.conf",
            render_sms_service(
                shipped(str(SMS_SERVICE)).read_text(encoding="utf-8"),
                secret=kannel_secret,
                webhook=f"127.0.0.1:{options.web_port}",
            ).encode(),
            mode=0o640,
            group=USER,
            keep=True,
        ),
        Entry(layout.etc / "ivr_flows.yaml", shipped("ivr_flows.yaml").read_bytes(), keep=True),
        Entry(
            layout.etc / "ivr_scenarios.yaml",
            shipped("ivr_scenarios.yaml").read_bytes(),
            keep=True,
        ),
        Entry(layout.etc / "prompts", mode=0o755),
        Entry(
            layout.etc / "prompts" / "ru.yaml", shipped("prompts/ru.yaml").read_bytes(), keep=True
        ),
        Entry(layout.state, mode=0o2770, owner=USER, group=USER),
        Entry(layout.state / "state", mode=0o2770, owner=USER, group=USER),
        Entry(
            layout.state / "state" / SECRET_FILE,
            new_secret().encode(),
            mode=0o640,
            owner=USER,
            group=USER,
            keep=True,
        ),
        Entry(layout.state / "prompts", mode=0o755, owner=USER, group=USER),
        Entry(layout.audio, mode=0o755, owner=USER, group=USER),
        *_audio(layout),
        Entry(layout.spool, mode=0o2770, owner=USER, group=ASTERISK_GROUP),
        Entry(layout.units / "ivr-serve.service", _serve_unit(options, layout).encode()),
        Entry(layout.units / "ivr-web.service", _web_unit(options, layout).encode()),
        Entry(layout.units / "ivr-console.service", _console_unit(options, layout).encode()),
        *(
            Entry(layout.asterisk / name, text.encode())
            for name, text in _ivr_includes(options, layout).items()
        ),
        *_russian_sounds(layout, ours_first=options.number_voice == "prompts"),
        _site(options, layout, "ivr-webhook", SITE_TEMPLATE, options.web_listen, options.web_port),
        Entry(
            layout.nginx / "sites-enabled" / "ivr-webhook",
            link=layout.nginx / "sites-available" / "ivr-webhook",
        ),
        _site(
            options,
            layout,
            "ivr-console",
            CONSOLE_SITE_TEMPLATE,
            options.console_listen,
            options.console_port,
        ),
    ]
    return entries


def _gateways(kannel_secret: str) -> bytes:
    """The gateways' secrets, readable by the ivr group only: Kannel's made here (the same
    as in kannel-sms-service.conf), the messengers' to be filled in."""
    return (
        "# The gateways' secrets (README: SMS through Kannel, Viber, WhatsApp).\n"
        f"kannel_secret: {kannel_secret}\n"
        "# viber_token: the bot's token (Viber: Edit Info, Your app key)\n"
        "# whatsapp_app_secret: the Meta app's secret\n"
        "# whatsapp_verify_token: the token typed into the app's webhook configuration\n"
        "# whatsapp_token: a system user's access token\n"
        '# whatsapp_phone_number_id: "106540352242922"\n'
    ).encode()


def _site(
    options: Options, layout: Layout, name: str, template: Path, listen: str, upstream_port: int
) -> Entry:
    """The nginx site `name` from `template`, listening on `listen` in front of one of the
    IVR's servers on this machine (the webhook's or the console's) at `upstream_port`."""
    text = render_site(
        shipped(str(template)).read_text(encoding="utf-8"),
        server_name=options.server_name,
        listen=listen,
        webhook=f"127.0.0.1:{upstream_port}",  # the templates' WEBHOOK is their upstream
        access_log=str(layout.at(f"/var/log/nginx/{name}.access.log")),
    )
    return Entry(layout.nginx / "sites-available" / name, text.encode())


def _settings(options: Options, layout: Layout) -> bytes:
    """The settings file, from the shipped example with this installation's paths."""
    database = options.database_url or f"sqlite:///{layout.state / 'ivr.db'}"
    values = {
        "database_url": database,
        "fastagi_servers": json.dumps([local_fastagi_server(options.fastagi_port)]),
        "flow_path": "ivr_flows.yaml",
        "prompts_path": "prompts/ru.yaml",
        "prompts_audio_dir": str(layout.audio),
        "speech_spool_dir": str(layout.spool),
        "state_dir": str(layout.state / "state"),
    }
    lines = []
    for line in shipped("config/ivr.example.yaml").read_text(encoding="utf-8").splitlines():
        name, colon, _ = line.removeprefix("# ").partition(":")
        if colon and name in values:
            line = f"{name}: {values.pop(name)}"
        lines.append(line)
    lines += [f"{name}: {value}" for name, value in values.items()]
    header = (
        "# The settings of this server, written by `ivr install` from config/ivr.example.yaml.\n"
        "# Relative paths are relative to this folder; files in ivr.d/ override this one.\n"
    )
    return (header + "\n".join(lines) + "\n").encode()


def _audio(layout: Layout) -> Iterator[Entry]:
    """The shipped prompt audio, copied once: staff may re-record or rebuild any file. The
    copies in the line codings are made from the WAV in place, the shipped one or the one
    staff made, so that they say the same."""
    source = shipped("prompts/ru")
    for path in sorted(source.rglob("*")):
        target = layout.audio / path.relative_to(source)
        if path.is_dir():
            yield Entry(target, mode=0o755, owner=USER, group=USER)
        elif path.suffix not in line_codings.CODINGS:
            yield Entry(target, path.read_bytes(), owner=USER, group=USER, keep=True)
        if path.suffix == ".wav":
            wav = target if target.exists() else path
            for copy, data in line_codings.copies_of(wav).items():
                yield Entry(target.with_suffix(copy.suffix), data, owner=USER, group=USER)


def _ivr_includes(options: Options, layout: Layout) -> dict[str, str]:
    """The IVR's Asterisk includes, whose dialplan tries the servers `fastagi_servers` as the
    installation's settings write it (so that editing it and installing again updates the
    dialplan), or this installation's own server; ValueError names the file whose servers
    the dialplan could not take."""
    try:
        written = written_setting(layout.settings, "fastagi_servers")
    except ProblemsFound as problems:
        raise ValueError(str(problems)) from None
    servers, file = written or ((local_fastagi_server(options.fastagi_port),), layout.settings)
    try:
        return ivr_includes(_line(options, layout, servers))
    except ValueError as error:
        raise ValueError(f"{file}: fastagi_servers: {error}") from None


def _line(options: Options, layout: Layout, fastagi_servers: tuple[str, ...]) -> LineConfig:
    return LineConfig(
        fastagi_servers=fastagi_servers,
        agi_script=str(options.code / "ivr-agi"),
        call_seconds=options.call_seconds,
        operator_dial=options.operator_dial,
        prompts_dir=layout.audio,
        settings_file=layout.settings,
        sip_bind=options.sip_bind,
        sip_port=options.sip_port,
        sip_peer=options.trunk,
    )


HARDENING = """\
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
"""


def _unit(description: str, command: str, layout: Layout, service: str) -> str:
    return (
        "[Unit]\n"
        f"Description=Meter-readings IVR: {description}\n"
        "After=network-online.target postgresql.service\n"
        "Wants=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        f"User={USER}\n"
        f"Group={USER}\n"
        f"Environment=IVR_CONFIG={layout.settings}\n"
        f"ExecStart={command}\n"
        "Restart=on-failure\n"
        "RestartSec=2\n"
        "UMask=0007\n"
        f"{service}"
        f"{HARDENING}"
        f"ReadWritePaths={layout.state} {layout.spool}\n"
        "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def _serve_unit(options: Options, layout: Layout) -> str:
    command = (
        f"{options.code / 'ivr'} serve --host 127.0.0.1 --port {options.fastagi_port} "
        f"--max-calls {options.max_calls}"
    )
    drain = setting_default("drain_seconds")
    limits = (
        f"LimitNOFILE={max(4096, options.max_calls * 4 + 256)}\n"
        f"TimeoutStopSec={int(drain) + STOP_MARGIN_SECONDS}\n"
        "KillSignal=SIGTERM\n"
    )
    return _unit("FastAGI server for Asterisk", command, layout, limits)


def _web_unit(options: Options, layout: Layout) -> str:
    command = f"{options.code / 'ivr'} web --host 127.0.0.1 --port {options.web_port}"
    return _unit("webhook for SMS and messenger gateways", command, layout, "LimitNOFILE=4096\n")


def _console_unit(options: Options, layout: Layout) -> str:
    command = f"{options.code / 'ivr'} console --host 127.0.0.1 --port {options.console_port}"
    return _unit("staff console", command, layout, "")


def _russian_sounds(layout: Layout, *, ours_first: bool = True) -> Iterator[Entry]:
    """`sounds/ru`, where the channel language `ru` looks, made of Debian's Russian sounds
    (`ru_RU_f_IvrvoiceRU`) and the project's number words: every one of them (`ours_first`,
    one voice with the prompts) or those the package lacks; an `ru` folder the operator has
    already is left alone."""
    system = layout.sounds / RUSSIAN_SOUNDS
    ours = layout.sounds / "ru"
    if ours.exists() and not ours.is_symlink() and not (ours / ".ivr").exists():
        return
    yield Entry(ours, mode=0o755)
    yield Entry(ours / ".ivr", b"made by ivr install: links to the Russian sounds\n")
    for entry in sorted(system.iterdir()) if system.is_dir() else ():
        if entry.name != "digits":
            yield Entry(ours / entry.name, link=entry)
    yield Entry(ours / "digits", mode=0o755)
    project = [
        (layout.audio / "digits" / entry.name).with_suffix(suffix)
        for entry in sorted(shipped("prompts/ru/digits").glob("*.wav"))
        for suffix in line_codings.PLAYED
    ]  # the copies are made beside the installed WAVs (_audio)
    package = sorted((system / "digits").glob("*"))
    for target in linked_number_words(project, package, ours_first=ours_first):
        yield Entry(ours / "digits" / target.name, link=target)


# --- applying a plan -----------------------------------------------------------------------


def apply(entries: list[Entry], *, dry_run: bool) -> list[Change]:
    """Bring every entry about; with `dry_run`, only say what would change."""
    changes = []
    for entry in entries:
        action = _needed(entry)
        if action in ("created", "updated") and not dry_run:
            _write(entry)
        elif dry_run and action in ("created", "updated"):
            action = f"would be {action}"
        changes.append(Change(entry.path, action))
        if not dry_run and action in ("created", "updated", "unchanged"):
            _own(entry)
    return changes


def _needed(entry: Entry) -> str:
    path = entry.path
    if entry.link is not None:
        if path.is_symlink() and Path(os.readlink(path)) == entry.link:
            return "unchanged"
        return "updated" if path.is_symlink() or path.exists() else "created"
    if entry.content is None:
        if path.is_dir() and not path.is_symlink():
            return "unchanged" if (path.stat().st_mode & 0o7777) == entry.mode else "updated"
        return "created"
    if not path.is_file():
        return "created"
    if entry.keep:
        return "kept"
    same = path.read_bytes() == entry.content and (path.stat().st_mode & 0o7777) == entry.mode
    return "unchanged" if same else "updated"


def _write(entry: Entry) -> None:
    path = entry.path
    if entry.link is not None:
        if path.is_symlink() or path.is_file():
            path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(entry.link)
        return
    if entry.content is None:
        if path.is_symlink():
            path.unlink()
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(entry.mode)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, entry.content, mode=entry.mode)


def _own(entry: Entry) -> None:
    """Give the entry its owner and group, where they exist on this machine."""
    if entry.link is not None or os.geteuid() != 0:
        return
    uid = _id(pwd.getpwnam, entry.owner, "pw_uid")
    gid = _id(grp.getgrnam, entry.group, "gr_gid")
    if uid != -1 or gid != -1:
        os.chown(entry.path, uid, gid)


def _id(lookup, name: str | None, attribute: str) -> int:
    if name is None:
        return -1
    try:
        return getattr(lookup(name), attribute)
    except KeyError:
        return -1


def ensure_user(root: Path, *, dry_run: bool) -> str:
    """The system user and group `ivr`, in the asterisk group's company; only on `/`."""
    if root != Path("/"):
        return f"user {USER}: not created in a staging root (the units name it)"
    try:
        pwd.getpwnam(USER)
        return f"user {USER}: unchanged"
    except KeyError:
        pass
    if dry_run:
        return f"user {USER}: would be created"
    subprocess.run(
        ["useradd", "--system", "--user-group", "--home-dir", "/var/lib/ivr", "--no-create-home",
         "--shell", "/usr/sbin/nologin", USER],
        check=True,
    )  # fmt: skip
    if _exists(grp.getgrnam, ASTERISK_GROUP):
        subprocess.run(["usermod", "--append", "--groups", ASTERISK_GROUP, USER], check=True)
    if _exists(pwd.getpwnam, ASTERISK_GROUP):  # the AGI script runs as asterisk: it reads
        subprocess.run(["usermod", "--append", "--groups", USER, ASTERISK_GROUP], check=True)
    return f"user {USER}: created"


def _exists(lookup, name: str) -> bool:
    try:
        lookup(name)
        return True
    except KeyError:
        return False


def next_steps(options: Options) -> list[str]:
    """What an operator still has to do, which `ivr install` cannot decide."""
    layout = Layout(options.root)
    ivr = options.code / "ivr"
    if options.root != Path("/"):
        ivr = f"IVR_CONFIG={layout.settings} {ivr}"
    else:
        ivr = f"runuser -u {USER} -- {ivr}"
    steps = [
        f"add the IVR's Asterisk files to the stock ones:\n"
        f"    echo '#include pjsip_ivr.conf' >> {layout.asterisk / 'pjsip.conf'}\n"
        f"    echo '#include extensions_ivr.conf' >> {layout.asterisk / 'extensions.conf'}",
        "route the readings number to the dialplan context [ivr], e.g. in your trunk's "
        "context:  exten => 89129671520,1,Goto(ivr,s,1)",
        f"SIP for the IVR listens on {options.sip_bind}:{options.sip_port} "
        f"(pjsip_ivr.conf), for calls from {options.trunk}; chan_sip binds 5060 too: if "
        f"nothing uses it, add  noload => chan_sip.so  to {layout.asterisk / 'modules.conf'}",
        f"the database: {ivr} db upgrade, then {ivr} db import contracts.csv (or {ivr} db "
        "seed for the demo contracts)",
        "start the services: systemctl daemon-reload && systemctl enable --now ivr-serve "
        "ivr-web ivr-console && asterisk -rx 'core reload' && nginx -t && systemctl reload nginx",
        f"the webhook's nginx site ({layout.nginx / 'sites-available' / 'ivr-webhook'}) "
        f"listens on {options.web_listen} for {options.server_name}: put TLS in front of it "
        "(certbot --nginx, or listen 443 ssl with your certificate) before gateways post to "
        "it, and give them the secret in ivr.d/50-webhook-secret.yaml",
        f"the staff console: {ivr} console user add NAME --role editor (the first "
        f"account), then enable its nginx site "
        f"({layout.nginx / 'sites-available' / 'ivr-console'}, on {options.console_listen}; "
        "TLS for other computers) (README: The staff console)",
        f'SMS through Kannel: add  include = "{layout.etc / "kannel-sms-service.conf"}"  to '
        "/etc/kannel/kannel.conf (with the operator's SMPP smsc group, and mo-recode = true "
        "in the smsbox group) and let Kannel read it (chgrp kannel); Viber and WhatsApp: "
        "their tokens in ivr.d/60-gateways.yaml, then ivr viber set-webhook "
        "https://<server name>/viber (README)",
        f"check: {ivr} check, and {ivr} call --keys '*2 102057522# 11638# 1' --sip-port "
        f"{options.sip_port} --asterisk-log {layout.at('/var/log/asterisk/messages')}",
    ]
    if shutil.which("systemd-analyze") and options.root == Path("/"):
        steps.append("systemd-analyze verify ivr-serve.service ivr-web.service ivr-console.service")
    return steps
