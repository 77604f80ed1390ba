"""Configuration of one installation: a settings file and its overrides, and `IVR_*`
variables, which win.

The settings file is the first of: `IVR_CONFIG` (empty: none at all), `/etc/ivr/ivr.yaml`,
and `config/ivr.yaml` of a checkout. Files in an `ivr.d/` folder beside it override it in
the order of their names, as Debian's services do. A relative path in a file means relative
to that file's folder; one in a variable, relative to the current folder; the defaults are
absolute (the shipped flow and prompts, state in the checkout's `var/`), so no command
depends on the folder it is run from.

A mistake in the settings is reported as one in the flow is: the file and line (or the
environment variable), the setting, and what to write instead.

The settings are a plain pydantic model that gathers its own sources (`_sources`), as
pydantic-settings would, without importing it: every process, the per-call AGI script
included, reads its settings first.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from agi.problems import Place, Problem, ProblemsFound, did_you_mean, explain
from agi.readings.callers import DEFAULT_REGION, GuessLimits, is_region
from agi.readings.rules import AcceptanceWindow, ConsumptionPolicy, Resource, parse_accept_days

if TYPE_CHECKING:
    from agi.located_yaml import Document

ENV_PREFIX = "IVR_"
SYSTEM_CONFIG = Path("/etc/ivr/ivr.yaml")
OVERRIDES = "ivr.d"
PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parent if (PACKAGE.parent / "setup.cfg").is_file() else None
"""The checkout the code runs from, or None when it is installed as a package."""
SQLITE_PREFIX = "sqlite:///"
_FASTAGI_URL = re.compile(
    r"(?:agi://(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::(?P<port>[0-9]{1,5}))?"
    r"|hagi://[A-Za-z0-9.-]+)(?:/[A-Za-z0-9._-]*)?"
)


def shipped(relative: str) -> Path:
    """A file that ships with the IVR (the flow, the prompt catalog, the audio): the
    checkout's own, or the copy inside an installed package (`agi/shipped/`)."""
    packaged = PACKAGE / "shipped" / relative
    if CHECKOUT is None or packaged.exists():
        return packaged
    return CHECKOUT / relative


def state_home() -> Path:
    """Where the defaults keep what the IVR writes: the checkout's `var/`, or the user's
    state folder when the IVR is installed as a package."""
    if CHECKOUT is not None:
        return CHECKOUT / "var"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "ivr"


def config_file() -> Path | None:
    """The settings file in use, or None (then only variables and defaults count)."""
    named = os.environ.get("IVR_CONFIG")
    if named is not None:
        return Path(named).absolute() if named.strip() else None
    if SYSTEM_CONFIG.is_file():
        return SYSTEM_CONFIG
    if CHECKOUT is not None:
        return CHECKOUT / "config" / "ivr.yaml"
    return None


def config_files(main: Path | None = None) -> list[Path]:
    """The settings file (`main`, or the one in use) and its overrides, in the order they
    apply."""
    main = main or config_file()
    if main is None:
        return []
    overrides = main.parent / OVERRIDES
    extra = sorted(overrides.glob("*.yaml")) if overrides.is_dir() else []
    return [main, *extra]


def read_settings_file(path: Path) -> Document | None:
    """The settings file with the line of every value, or None when there is none."""
    if not path.is_file():
        return None
    from agi.located_yaml import YamlSyntaxError, read_yaml_file  # YAML only for a file

    try:
        return read_yaml_file(path)
    except YamlSyntaxError as error:
        raise ProblemsFound([error.problem(path)]) from None


@dataclass(frozen=True)
class _Written:
    """One setting as a file writes it."""

    value: Any
    file: Path
    document: Document


def _written(files: list[Path]) -> Iterator[tuple[str, _Written]]:
    for path in files:
        document = read_settings_file(path)
        if document is not None and isinstance(document.data, dict):
            for name, value in document.data.items():
                yield name, _Written(value, path, document)


def written_setting(main: Path, name: str) -> tuple[Any, Path] | None:
    """What the settings file `main` and its overrides write for `name`, and which file
    wrote it (the last one wins); None when none does. For `ivr install`, which renders
    files from the settings of the installation it updates, not of its own environment."""
    found = None
    for written_name, written in _written(config_files(main)):
        if written_name == name:
            found = (written.value, written.file)
    return found


def _relative_to(folder: Path, name: str, value: Any) -> Any:
    """A path setting's value as written in a file in `folder`, made absolute."""
    if not isinstance(value, str) or not value.strip():
        return value
    if name == "database_url":
        if value.startswith(SQLITE_PREFIX) and not value.startswith(SQLITE_PREFIX + "/"):
            database = value[len(SQLITE_PREFIX) :]
            if database and not database.startswith(":memory:"):
                return SQLITE_PREFIX + str(folder / database)
        return value
    return str(folder / value) if name in PATH_SETTINGS else value


def _file_values(files: list[Path], names: Iterable[str]) -> dict[str, Any]:
    """The settings written in the files, as text, with relative paths resolved; names that
    are no setting are left to `load_settings` to report."""
    known = set(names)
    return {
        name: _relative_to(written.file.parent, name, written.value)
        for name, written in _written(files)
        if name in known
    }


def _is_structured(annotation: Any) -> bool:
    """Whether a setting holds a list or a mapping, which a variable writes as JSON."""
    if get_origin(annotation) in (list, dict):
        return True
    return any(_is_structured(member) for member in get_args(annotation) if member is not None)


def _environment_values(fields: dict[str, Any]) -> dict[str, Any]:
    """The settings given as IVR_* variables (any case); a list or mapping as JSON. A value
    that is no JSON goes on as text, for validation to say what it should be."""
    variables = {key.lower(): value for key, value in os.environ.items()}
    values: dict[str, Any] = {}
    for name, field in fields.items():
        value = variables.get((ENV_PREFIX + name).lower())
        if value is None:
            continue
        if _is_structured(field.annotation):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        values[name] = value
    return values


def _sources(given: dict[str, Any]) -> dict[str, Any]:
    """The values of the settings, the ones given winning over the variables, and those over
    the files."""
    fields = Settings.model_fields
    return {**_file_values(config_files(), fields), **_environment_values(fields), **given}


class Settings(BaseModel):
    """Every setting has a default that runs the demo from a checkout. `Settings(...)` takes
    what it is not given from the variables, the files and the defaults."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    def __init__(self, **given: Any) -> None:
        super().__init__(**_sources(given))

    database_url: str = Field(default_factory=lambda: SQLITE_PREFIX + str(state_home() / "ivr.db"))
    accept_days: str = "18-25"
    timezone: str = "Europe/Moscow"
    flow_path: Path = Field(default_factory=lambda: shipped("ivr_flows.yaml"))
    prompts_path: Path = Field(default_factory=lambda: shipped("prompts/ru.yaml"))
    prompts_audio_dir: Path = Field(default_factory=lambda: shipped("prompts/ru"))
    tts_engine: Literal["espeak-ng", "festival"] = "espeak-ng"
    tts_voice: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_+-]+$")
    """None: the engine's Russian voice (espeak-ng `ru`, festival `msu_ru_nsh_clunits`)."""
    tts_speed: int = Field(default=150, ge=80, le=300)
    """Words per minute (espeak-ng); festival stretches its own pace by 150 / speed."""
    prompt_loudness_dbfs: float = Field(default=-20.0, ge=-30, le=-12)
    """The speech level every prompt file is normalised to."""
    number_voice: Literal["prompts", "asterisk"] = "prompts"
    """Whose number words a call says: `prompts`, the project's own (`prompts/ru/digits/`,
    in the voice of the prompts); `asterisk`, the Russian sounds package's recordings (another
    voice: `ivr prompts check` reports the mix), the project's filling the words it lacks."""
    speech_model: Path | None = None
    """A Vosk model folder (e.g. vosk-model-small-ru-0.22); None: no answers by voice."""
    speech_spool_dir: Path = Field(default_factory=lambda: state_home() / "speech")
    """The private folder Asterisk records answers by voice into, as this server reads it."""
    speech_spool_asterisk_dir: str | None = None
    """The same folder as Asterisk writes it, when Asterisk runs on another host (it must be
    one shared folder); None: the same path as speech_spool_dir."""
    high_consumption_multiple: float = Field(default=3.0, gt=1)
    high_consumption_floor: dict[Resource, int] = Field(
        default_factory=lambda: dict(ConsumptionPolicy().floors)
    )
    database_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    """The longest a call or a message waits for the database; then it is told the readings
    cannot be taken now (the phone caller reaches the operator, a gateway gets 503)."""
    database_pool_size: int = Field(default=16, ge=1, le=500)
    """PostgreSQL connections one process keeps (`ivr serve`, `ivr web`): as many
    database operations run at once, the rest queue in order within their timeout.
    Servers times pool size must stay under PostgreSQL's max_connections (or PgBouncer's
    pool)."""
    conversation_expiry_minutes: int = Field(default=60, gt=0)
    webhook_secret: SecretStr | None = None
    webhook_max_body_bytes: int = Field(default=32768, ge=1024)
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=1, le=65535)
    state_dir: Path = Field(default_factory=lambda: state_home() / "state")
    """What `ivr serve` keeps between runs: the last flow that passed the checks."""
    status_host: str = "127.0.0.1"
    status_port: int = Field(default=4574, ge=1, le=65535)
    """Where `ivr serve` answers /health, /metrics and /status (for `ivr status`)."""
    agi_environment_seconds: float = Field(default=5.0, gt=0, le=60)
    """How long a FastAGI connection may take to send its whole AGI environment."""
    agi_reply_seconds: float = Field(default=60.0, ge=5, le=3600)
    """How long Asterisk may take to answer one command whole: the longest prompt, key wait
    or answer by voice."""
    fastagi_servers: list[str] = Field(default_factory=lambda: [local_fastagi_server()])
    """The FastAGI servers the dialplan tries in order before the AGI script (`agi://host:
    port/readings`, or `hagi://domain/readings` for DNS SRV); `ivr install` and `ivr asterisk
    up` write them into extensions_ivr.conf. Empty: the AGI script alone."""
    drain_seconds: float = Field(default=60.0, ge=0, le=3600)
    """On SIGTERM, how long `ivr serve` lets calls in progress finish before it hands the rest
    to the operator; it exits at most 20 s after that."""

    call_records: bool = True
    """Keep a record of every call and text conversation (for `ivr report`)."""
    record_retention_days: int = Field(default=90, gt=0, le=3650)
    """How long `ivr db purge` keeps call records and answered message ids."""

    caller_region: str = DEFAULT_REGION
    """The country whose numbering a caller number without `+` is read in (ISO 3166 code)."""
    guess_window_minutes: int = Field(default=60, gt=0, le=7 * 24 * 60)
    max_unknown_contracts_per_caller: int = Field(default=5, gt=0)
    max_unknown_contracts_without_caller_id: int = Field(default=3, gt=0)
    """Shared by every call without a caller number."""
    max_refused_readings_per_contract: int = Field(default=10, gt=0)
    web_max_connections: int = Field(default=1000, ge=10)
    """Connections `ivr web` keeps open at once, idle ones included."""
    web_max_requests: int = Field(default=64, ge=1)
    """Requests `ivr web` answers at once; more are refused with 503 at once."""
    web_header_seconds: float = Field(default=10.0, gt=0, le=300)
    """How long a client may take to send a request's headers."""
    web_body_seconds: float = Field(default=10.0, gt=0, le=300)
    """How long a client may take to send a request's body."""

    console_secret: SecretStr | None = None
    """What signs the staff console's session cookies (`ivr install` makes one); None: no
    `ivr console`. Changing it signs everyone out."""
    console_host: str = "127.0.0.1"
    console_port: int = Field(default=8090, ge=1, le=65535)
    console_session_hours: float = Field(default=8.0, gt=0, le=24 * 7)
    """How long a sign-in lasts."""

    kannel_secret: SecretStr | None = None
    """The password Kannel's sms-service sends (`post-url = "http://kannel:<secret>@..."`);
    None: no POST /kannel."""
    kannel_addresses: list[str] = Field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    """Where Kannel's smsbox may post from: addresses or networks."""
    viber_token: SecretStr | None = None
    """The bot's authentication token (Viber: Edit Info, Your app key); None: no POST /viber."""
    viber_api_url: str = Field(default="https://chatapi.viber.com/pa", pattern=r"^https?://\S+$")
    viber_sender_name: str = Field(default="Показания", min_length=1, max_length=28)
    """The name Viber shows over the bot's replies."""
    whatsapp_app_secret: SecretStr | None = None
    """The Meta app's secret, which signs notifications; the four whatsapp_ settings but the
    address are needed for GET|POST /whatsapp."""
    whatsapp_verify_token: SecretStr | None = None
    """The token typed into the app's webhook configuration, for the verification request."""
    whatsapp_token: SecretStr | None = None
    """The access token the replies are sent with (a system user's permanent token)."""
    whatsapp_phone_number_id: str | None = Field(default=None, pattern=r"^[0-9]{1,32}$")
    """The id of the business phone number (not the number itself)."""
    whatsapp_api_url: str = Field(
        default="https://graph.facebook.com/v21.0", pattern=r"^https?://\S+$"
    )

    @field_validator(
        "flow_path",
        "prompts_path",
        "prompts_audio_dir",
        "speech_model",
        "speech_spool_dir",
        "state_dir",
    )
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        """A path given relative (a variable, a test) is relative to the current folder."""
        return None if value is None else value.absolute()

    @field_validator("database_url")
    @classmethod
    def _absolute_sqlite(cls, value: str) -> str:
        return _relative_to(Path.cwd(), "database_url", value)

    @field_validator("accept_days")
    @classmethod
    def _check_accept_days(cls, value: str) -> str:
        parse_accept_days(value)
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("the webhook secret needs at least 16 characters")
        return value

    @field_validator("console_secret")
    @classmethod
    def _check_console_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("the console's secret needs at least 32 characters")
        return value

    @field_validator("kannel_secret", "viber_token", "whatsapp_app_secret", "whatsapp_token")
    @classmethod
    def _check_gateway_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("a gateway's secret or token has at least 16 characters")
        return value

    @field_validator("kannel_addresses")
    @classmethod
    def _check_addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            try:
                ipaddress.ip_network(address, strict=False)
            except ValueError:
                raise ValueError(
                    f"{address!r} is not an address or network (127.0.0.1, 10.0.0.0/8)"
                ) from None
        return value

    @field_validator("fastagi_servers")
    @classmethod
    def _check_fastagi_servers(cls, value: list[str]) -> list[str]:
        return check_fastagi_servers(value)

    @field_validator("caller_region")
    @classmethod
    def _check_caller_region(cls, value: str) -> str:
        if not is_region(value):
            raise ValueError("the caller region is a country code such as RU or KZ")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        AcceptanceWindow(timezone=value)
        return value

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Settings:
        """A copy with `update`; what is computed from the settings (the window, the
        limits) is computed afresh from the copy, never carried over from this one."""
        copied = super().model_copy(update=update, deep=deep)
        for name in COMPUTED:
            copied.__dict__.pop(name, None)
        return copied

    @cached_property
    def window(self) -> AcceptanceWindow:
        first, last = parse_accept_days(self.accept_days)
        return AcceptanceWindow(first_day=first, last_day=last, timezone=self.timezone)

    @cached_property
    def consumption_policy(self) -> ConsumptionPolicy:
        floors = dict(ConsumptionPolicy().floors) | self.high_consumption_floor
        return ConsumptionPolicy(
            multiple=self.high_consumption_multiple, floors=tuple(floors.items())
        )

    @cached_property
    def guess_limits(self) -> GuessLimits:
        return GuessLimits(
            window=timedelta(minutes=self.guess_window_minutes),
            unknown_per_caller=self.max_unknown_contracts_per_caller,
            unknown_without_caller_id=self.max_unknown_contracts_without_caller_id,
            refused_per_contract=self.max_refused_readings_per_contract,
        )

    def as_environment(self) -> tuple[tuple[str, str], ...]:
        """These settings as IVR_* variables, for a process started elsewhere (the AGI script
        that the private Asterisk runs): every one that is set, the webhook's secret aside."""
        variables = [("IVR_CONFIG", "")]
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None or isinstance(value, SecretStr):
                continue
            text = json.dumps(value) if isinstance(value, dict | list) else str(value)
            variables.append((ENV_PREFIX + name.upper(), text))
        return tuple(variables)


PATH_SETTINGS = frozenset(
    {
        "flow_path",
        "prompts_path",
        "prompts_audio_dir",
        "speech_model",
        "speech_spool_dir",
        "state_dir",
    }
)
"""The settings that name a file or folder: relative to the file that writes them."""
SECRET_SETTINGS = frozenset(
    name
    for name, field in Settings.model_fields.items()
    if field.annotation in (SecretStr, SecretStr | None)
)
"""The settings a file may hold only if no one but the service can read it."""


def local_fastagi_server(port: int = 4573) -> str:
    """The FastAGI server on this machine: where the dialplan sends calls unless
    `fastagi_servers` says otherwise."""
    return f"agi://127.0.0.1:{port}/readings"


def check_fastagi_servers(servers: object) -> list[str]:
    """FastAGI URLs the dialplan can try, one after the other; ValueError names the first
    that is none (the dialplan takes them as they are written, so nothing else may pass)."""
    if not isinstance(servers, list | tuple) or not all(isinstance(u, str) for u in servers):
        raise ValueError("the FastAGI servers are a list: [agi://10.0.0.5:4573/readings, ...]")
    for url in servers:
        match = _FASTAGI_URL.fullmatch(url)
        if not match or not 0 < int(match["port"] or 4573) < 65536:
            raise ValueError(
                f"{url!r} is not a FastAGI server: agi://host:port/readings (host a name or "
                "an address, the port 4573 if left out), or hagi://domain/readings for the "
                "servers of the domain's _agi._tcp SRV records"
            )
    if len(set(servers)) != len(servers):
        raise ValueError("a FastAGI server is listed twice")
    return list(servers)


def load_settings(**overrides: Any) -> Settings:
    """The settings of this installation; ProblemsFound lists every mistake in them."""
    given = {key: value for key, value in overrides.items() if value is not None}
    files = config_files()
    problems = _missing(files) + [p for path in files for p in _file_problems(path)]
    try:
        settings = Settings(**given)
    except ValidationError as error:
        written = dict(_written(files))
        problems += [_problem(detail, written) for detail in error.errors()]
        raise ProblemsFound(problems) from None
    if problems:
        raise ProblemsFound(problems)
    return settings


def _missing(files: list[Path]) -> list[Problem]:
    named = os.environ.get("IVR_CONFIG", "").strip()
    if named and not files[0].is_file():
        return [
            Problem(
                files[0],
                None,
                "missing-file",
                "IVR_CONFIG names this settings file, but there is none: fix the path, or "
                "set IVR_CONFIG to nothing to run on defaults",
            )
        ]
    return []


def _file_problems(path: Path) -> list[Problem]:
    document = read_settings_file(path)
    if document is None:
        return []
    problems = list(document.problems)
    if document.data is None:
        return problems
    if not isinstance(document.data, dict):
        return [
            *problems,
            Problem(path, 1, "settings-shape", "the settings file lists settings as  name: value"),
        ]
    known = Settings.model_fields
    readable = path.stat().st_mode & stat.S_IROTH
    for name in document.data:
        if name in SECRET_SETTINGS and readable:
            problems.append(
                Problem(
                    path,
                    document.line_of((name,)),
                    "secret-readable",
                    f"'{name}' is a secret, and anyone on this server can read this file: "
                    f"chmod 640 {path} and chgrp ivr {path} (or give it in the environment, "
                    f"{ENV_PREFIX}{name.upper()})",
                )
            )
        if name not in known:
            problems.append(
                Problem(
                    path,
                    document.line_of((name,)),
                    "unknown-key",
                    f"'{name}' is not a setting{did_you_mean(name, known)}; fix its name or "
                    "delete the line (config/ivr.example.yaml lists every setting)",
                )
            )
    return problems


def _problem(detail: Any, written: dict[str, _Written]) -> Problem:
    """One of pydantic's errors, said of the place the value came from."""
    loc: Place = tuple(detail["loc"])
    name = str(loc[0]) if loc else ""
    variable = ENV_PREFIX + name.upper()
    if variable.lower() in {key.lower() for key in os.environ}:
        rule, message = explain(detail, variable)
        return Problem(Path("environment"), None, rule, message)
    rule, message = explain(detail, f"'{'.'.join(map(str, loc))}'")
    where = written.get(name)
    if where is None:
        return Problem(Path("settings"), None, rule, message)
    return Problem(where.file, where.document.line_of(loc), rule, message)


COMPUTED = ("window", "consumption_policy", "guess_limits")
"""The settings' cached properties, dropped from a copy (`Settings.model_copy`)."""
