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

The settings are a plain dataclass that gathers its own sources (`_sources`), as
pydantic-settings would, and whose annotations carry the checks that pydantic applies
(`agi.constraints`). Every process reads its settings first, the per-call AGI script on
every call: `load_settings` keeps the checked settings in the state folder
(`agi.state_cache`), keyed by everything they were made from, so that a call whose settings
files and variables are unchanged imports no pydantic.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import ipaddress
import logging
import os
import re
import sys
import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import MISSING, Field, dataclass, field, fields
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from agi.constraints import After, Constraint
from agi.file_access import anyone_may_read, owner_and_service_only
from agi.problems import Place, Problem, ProblemsFound, did_you_mean, explain
from agi.readings.callers import DEFAULT_REGION, GuessLimits, is_region
from agi.readings.rules import AcceptanceWindow, ConsumptionPolicy, Resource, parse_accept_days
from agi.state_cache import cached, key_of

if TYPE_CHECKING:
    from pydantic import TypeAdapter

    from agi.located_yaml import Document

log = logging.getLogger(__name__)

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


def _is_structured(annotation: str) -> bool:
    """Whether a setting holds a list or a mapping, which a variable writes as JSON."""
    return re.search(r"\b(list|dict)\[", annotation) is not None


def _variables() -> dict[str, str]:
    """The IVR_* variables by their names in lower case: a setting's variable may be
    written in any case (of two spellings, the one later in the environment counts)."""
    prefix = ENV_PREFIX.lower()
    return {
        name.lower(): value for name, value in os.environ.items() if name.lower().startswith(prefix)
    }


def _environment_values(known: dict[str, Field[Any]]) -> dict[str, Any]:
    """The settings given as IVR_* variables (any case); a list or mapping as JSON. A value
    that is no JSON goes on as text, for validation to say what it should be."""
    variables = _variables()
    values: dict[str, Any] = {}
    for name, setting in known.items():
        value = variables.get((ENV_PREFIX + name).lower())
        if value is None:
            continue
        if _is_structured(str(setting.type)):
            import json

            with contextlib.suppress(ValueError):
                value = json.loads(value)
        values[name] = value
    return values


def _sources(given: dict[str, Any], files: list[Path] | None = None) -> dict[str, Any]:
    """The values of the settings, the ones given winning over the variables, and those over
    the files (`files`, or the ones in use)."""
    files = config_files() if files is None else files
    return {**_file_values(files, FIELDS), **_environment_values(FIELDS), **given}


class Secret:
    """A secret setting: its value only through `get_secret_value()`, never in a repr, a log
    line or the environment a child process is given."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __getstate__(self) -> str:
        return self._value

    def __setstate__(self, value: str) -> None:
        self._value = value

    @classmethod
    def __get_pydantic_core_schema__(cls, _source: Any, _handler: Callable[[Any], Any]) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_before_validator_function(
            lambda value: value.get_secret_value() if isinstance(value, Secret) else value,
            core_schema.no_info_after_validator_function(cls, core_schema.str_schema()),
        )


def _absolute(value: Path) -> Path:
    """A path given relative (a variable, a test) is relative to the current folder."""
    return value.absolute()


def _absolute_sqlite(value: str) -> str:
    return _relative_to(Path.cwd(), "database_url", value)


def _check_accept_days(value: str) -> str:
    parse_accept_days(value)
    return value


def _secret_of(length: int, message: str) -> After:
    def check(value: Secret) -> Secret:
        if len(value.get_secret_value()) < length:
            raise ValueError(message)
        return value

    return After(check)


def _check_addresses(value: list[str]) -> list[str]:
    for address in value:
        try:
            ipaddress.ip_network(address, strict=False)
        except ValueError:
            raise ValueError(
                f"{address!r} is not an address or network (127.0.0.1, 10.0.0.0/8)"
            ) from None
    return value


def _check_caller_region(value: str) -> str:
    if not is_region(value):
        raise ValueError("the caller region is a country code such as RU or KZ")
    return value


def _check_timezone(value: str) -> str:
    AcceptanceWindow(timezone=value)
    return value


AbsolutePath = Annotated[Path, After(_absolute)]
Port = Annotated[int, Constraint(ge=1, le=65535)]
GatewaySecret = Annotated[
    Secret, _secret_of(16, "a gateway's secret or token has at least 16 characters")
]
WebSeconds = Annotated[float, Constraint(gt=0, le=300)]
ApiUrl = Annotated[str, Constraint(pattern=r"^https?://\S+$")]


@dataclass(init=False)
class Settings:
    """Every setting has a default that runs the demo from a checkout. `Settings(...)` takes
    what it is not given from the variables, the files and the defaults, and checks them
    all (pydantic's ValidationError says what is wrong)."""

    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid", "validate_default": True}

    def __init__(self, **given: Any) -> None:
        self.__dict__.update(_check(_sources(given)).__dict__)

    database_url: Annotated[str, After(_absolute_sqlite)] = field(
        default_factory=lambda: SQLITE_PREFIX + str(state_home() / "ivr.db")
    )
    accept_days: Annotated[str, After(_check_accept_days)] = "18-25"
    timezone: Annotated[str, After(_check_timezone)] = "Europe/Moscow"
    flow_path: AbsolutePath = field(default_factory=lambda: shipped("ivr_flows.yaml"))
    prompts_path: AbsolutePath = field(default_factory=lambda: shipped("prompts/ru.yaml"))
    prompts_audio_dir: AbsolutePath = field(default_factory=lambda: shipped("prompts/ru"))
    tts_engine: Literal["espeak-ng", "festival"] = "espeak-ng"
    tts_voice: Annotated[str, Constraint(pattern=r"^[A-Za-z0-9_+-]+$")] | None = None
    """None: the engine's Russian voice (espeak-ng `ru`, festival `msu_ru_nsh_clunits`)."""
    tts_speed: Annotated[int, Constraint(ge=80, le=300)] = 150
    """Words per minute (espeak-ng); festival stretches its own pace by 150 / speed."""
    prompt_loudness_dbfs: Annotated[float, Constraint(ge=-30, le=-12)] = -20.0
    """The speech level every prompt file is normalised to."""
    number_voice: Literal["prompts", "asterisk"] = "prompts"
    """Whose number words a call says: `prompts`, the project's own (`prompts/ru/digits/`,
    in the voice of the prompts); `asterisk`, the Russian sounds package's recordings (another
    voice: `ivr prompts check` reports the mix), the project's filling the words it lacks."""
    speech_model: AbsolutePath | None = None
    """A Vosk model folder (e.g. vosk-model-small-ru-0.22); None: no answers by voice."""
    speech_spool_dir: AbsolutePath = field(default_factory=lambda: state_home() / "speech")
    """The private folder Asterisk records answers by voice into, as this server reads it."""
    speech_spool_asterisk_dir: str | None = None
    """The same folder as Asterisk writes it, when Asterisk runs on another host (it must be
    one shared folder); None: the same path as speech_spool_dir."""
    high_consumption_multiple: Annotated[float, Constraint(gt=1)] = 3.0
    high_consumption_floor: dict[Resource, int] = field(
        default_factory=lambda: dict(ConsumptionPolicy().floors)
    )
    database_timeout_seconds: Annotated[float, Constraint(gt=0, le=120)] = 5.0
    """The longest a call or a message waits for the database; then it is told the readings
    cannot be taken now (the phone caller reaches the operator, a gateway gets 503)."""
    database_pool_size: Annotated[int, Constraint(ge=1, le=500)] = 16
    """PostgreSQL connections one process keeps (`ivr serve`, `ivr web`): as many
    database operations run at once, the rest queue in order within their timeout.
    Servers times pool size must stay under PostgreSQL's max_connections (or PgBouncer's
    pool)."""
    conversation_expiry_minutes: Annotated[int, Constraint(gt=0)] = 60
    webhook_secret: (
        Annotated[Secret, _secret_of(16, "the webhook secret needs at least 16 characters")] | None
    ) = None
    webhook_max_body_bytes: Annotated[int, Constraint(ge=1024)] = 32768
    web_host: str = "127.0.0.1"
    web_port: Port = 8080
    state_dir: AbsolutePath = field(default_factory=lambda: state_home() / "state")
    """What `ivr serve` keeps between runs: the last flow that passed the checks."""
    status_host: str = "127.0.0.1"
    status_port: Port = 4574
    """Where `ivr serve` answers /health, /metrics and /status (for `ivr status`)."""
    agi_environment_seconds: Annotated[float, Constraint(gt=0, le=60)] = 5.0
    """How long a FastAGI connection may take to send its whole AGI environment."""
    agi_reply_seconds: Annotated[float, Constraint(ge=5, le=3600)] = 60.0
    """How long Asterisk may take to answer one command whole: the longest prompt, key wait
    or answer by voice."""
    fastagi_servers: Annotated[list[str], After(check_fastagi_servers)] = field(
        default_factory=lambda: [local_fastagi_server()]
    )
    """The FastAGI servers the dialplan tries in order before the AGI script (`agi://host:
    port/readings`, or `hagi://domain/readings` for DNS SRV); `ivr install` and `ivr asterisk
    up` write them into extensions_ivr.conf. Empty: the AGI script alone."""
    drain_seconds: Annotated[float, Constraint(ge=0, le=3600)] = 60.0
    """On SIGTERM, how long `ivr serve` lets calls in progress finish before it hands the rest
    to the operator; it exits at most 20 s after that."""

    call_records: bool = True
    """Keep a record of every call and text conversation (for `ivr report`)."""
    record_retention_days: Annotated[int, Constraint(gt=0, le=3650)] = 90
    """How long `ivr db purge` keeps call records and answered message ids."""

    caller_region: Annotated[str, After(_check_caller_region)] = DEFAULT_REGION
    """The country whose numbering a caller number without `+` is read in (ISO 3166 code)."""
    guess_window_minutes: Annotated[int, Constraint(gt=0, le=7 * 24 * 60)] = 60
    max_unknown_contracts_per_caller: Annotated[int, Constraint(gt=0)] = 5
    max_unknown_contracts_without_caller_id: Annotated[int, Constraint(gt=0)] = 3
    """Shared by every call without a caller number."""
    max_refused_readings_per_contract: Annotated[int, Constraint(gt=0)] = 10
    web_max_connections: Annotated[int, Constraint(ge=10)] = 1000
    """Connections `ivr web` keeps open at once, idle ones included."""
    web_max_requests: Annotated[int, Constraint(ge=1)] = 64
    """Requests `ivr web` answers at once; more are refused with 503 at once."""
    web_header_seconds: WebSeconds = 10.0
    """How long a client may take to send a request's headers."""
    web_body_seconds: WebSeconds = 10.0
    """How long a client may take to send a request's body."""

    console_secret: (
        Annotated[Secret, _secret_of(32, "the console's secret needs at least 32 characters")]
        | None
    ) = None
    """What signs the staff console's session cookies (`ivr install` makes one); None: no
    `ivr console`. Changing it signs everyone out."""
    console_host: str = "127.0.0.1"
    console_port: Port = 8090
    console_session_hours: Annotated[float, Constraint(gt=0, le=24 * 7)] = 8.0
    """How long a sign-in lasts."""

    kannel_secret: GatewaySecret | None = None
    """The password Kannel's sms-service sends (`post-url = "http://kannel:<secret>@..."`);
    None: no POST /kannel."""
    kannel_addresses: Annotated[list[str], After(_check_addresses)] = field(
        default_factory=lambda: ["127.0.0.1/32", "::1/128"]
    )
    """Where Kannel's smsbox may post from: addresses or networks."""
    viber_token: GatewaySecret | None = None
    """The bot's authentication token (Viber: Edit Info, Your app key); None: no POST /viber."""
    viber_api_url: ApiUrl = "https://chatapi.viber.com/pa"
    viber_sender_name: Annotated[str, Constraint(min_length=1, max_length=28)] = "Показания"
    """The name Viber shows over the bot's replies."""
    whatsapp_app_secret: GatewaySecret | None = None
    """The Meta app's secret, which signs notifications; the four whatsapp_ settings but the
    address are needed for GET|POST /whatsapp."""
    whatsapp_verify_token: Secret | None = None
    """The token typed into the app's webhook configuration, for the verification request."""
    whatsapp_token: GatewaySecret | None = None
    """The access token the replies are sent with (a system user's permanent token)."""
    whatsapp_phone_number_id: Annotated[str, Constraint(pattern=r"^[0-9]{1,32}$")] | None = None
    """The id of the business phone number (not the number itself)."""
    whatsapp_api_url: ApiUrl = "https://graph.facebook.com/v21.0"

    def model_copy(self, *, update: dict[str, Any] | None = None) -> Settings:
        """A copy with `update` (not checked again); what is computed from the settings (the
        window, the limits) is computed afresh from the copy, never carried over from this
        one. A name that is no setting is a KeyError."""
        unknown = sorted(set(update or {}) - FIELDS.keys())
        if unknown:
            raise KeyError(f"{unknown[0]!r} is not a setting{did_you_mean(unknown[0], FIELDS)}")
        copied = copy.copy(self)
        copied.__dict__.update(update or {})
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
        import json

        variables = [("IVR_CONFIG", "")]
        for name in FIELDS:
            value = getattr(self, name)
            if value is None or isinstance(value, Secret):
                continue
            text = json.dumps(value) if isinstance(value, dict | list) else str(value)
            variables.append((ENV_PREFIX + name.upper(), text))
        return tuple(variables)


FIELDS: dict[str, Field[Any]] = {setting.name: setting for setting in fields(Settings)}
"""Every setting, by name."""
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


@functools.cache
def secret_settings() -> frozenset[str]:
    """The settings a file may hold only if no one but the service can read it: those of
    type `Secret` (found when a file is checked: reading the annotations takes a while)."""

    def holds_secret(annotation: Any) -> bool:
        return annotation is Secret or any(map(holds_secret, typing.get_args(annotation)))

    hints = typing.get_type_hints(Settings, include_extras=True)
    return frozenset(name for name in FIELDS if holds_secret(hints[name]))


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


def setting_default(name: str) -> Any:
    """What a setting is when nothing sets it, as the defaults write it (before its checks)."""
    setting = FIELDS[name]
    if setting.default_factory is not MISSING:
        return setting.default_factory()
    return setting.default


def load_settings(**overrides: Any) -> Settings:
    """The settings of this installation; ProblemsFound lists every mistake in them."""
    given = {key: value for key, value in overrides.items() if value is not None}
    return _load(given)


def load_cached_settings() -> Settings:
    """`load_settings()` for a process started for each call: settings that passed are kept
    in the state folder they name, keyed by the bytes of the settings files, the `IVR_*`
    variables, the folder relative paths are relative to, the defaults' folders and the code
    that checks them, and taken from there, unread, while all of that stays the same. Each
    file is read once to find both the folder and the key."""
    files = config_files()
    try:
        contents = _contents(files)
    except OSError:
        return _load({}, files)  # an unreadable file: the check says so in its own words
    folder = _likely_state_folder(contents)
    return cached(
        folder / CACHE_FILE,
        lambda: _cache_key(_contents(files)),
        lambda: _load({}, files),
        lambda entry: isinstance(entry, Settings),
        log,
        CACHE,
        keep=lambda settings: settings.state_dir == folder,  # kept where it is looked for
        now=_cache_key(contents),
    )


def _load(given: dict[str, Any], files: list[Path] | None = None) -> Settings:
    files = config_files() if files is None else files
    problems = _missing(files) + [p for path in files for p in _file_problems(path)]
    settings = _checked(_sources(given, files), files, problems)
    if problems:
        raise ProblemsFound(problems)  # _checked raised already when the values are wrong too
    return settings


CACHE = "settings cache"
CACHE_FILE = "settings-cache.pickle"
CODE = (
    "agi/constraints.py",
    "agi/file_access.py",
    "agi/located_yaml.py",
    "agi/problems.py",
    "agi/readings/callers.py",
    "agi/readings/rules.py",
    "agi/settings.py",
    "agi/state_cache.py",
)
"""The modules that read and check the settings and define their values, relative to the
folder of the `agi` package: a change in any of them makes every entry miss."""
_STATE_DIR_LINE = re.compile(
    r"^state_dir:[ \t]*"
    r"(?:\"(?P<double>[^\"\\\n]*)\""
    r"|'(?P<single>(?:[^'\n]|'')*)'"
    r"|(?P<plain>[^\s#'\"{\[&*!|>%@`][^#\n]*?))"
    r"[ \t]*(?:#.*)?$",
    re.M,
)


@dataclass(frozen=True)
class _Content:
    """A settings file as one reading found it."""

    path: Path
    data: bytes | None
    """None: there is no such file (the checkout's config/ivr.yaml need not exist)."""
    readable: bool
    """Anyone on the server may read it, which a secret in it may not allow."""


def _contents(files: list[Path]) -> list[_Content]:
    """The settings files as they are now; OSError for one that cannot be read."""
    contents = []
    for path in files:
        try:
            with open(path, "rb") as stream:
                readable = anyone_may_read(os.fstat(stream.fileno()).st_mode)
                contents.append(_Content(path, stream.read(), readable))
        except FileNotFoundError:
            contents.append(_Content(path, None, False))
    return contents


def _cache_key(contents: list[_Content]) -> bytes:
    """What settings are made from: the files (and whether others may read them), the IVR_*
    variables and what the defaults depend on."""
    parts = []
    for content in contents:
        if content.data is None:
            parts += [str(content.path).encode(), b"(missing)"]
        else:
            parts += [str(content.path).encode(), b"%d" % content.readable, content.data]
    variables = sorted(item for item in os.environ.items() if item[0].upper().startswith("IVR_"))
    parts += [repr(variables).encode(), repr(_defaults_basis()).encode()]
    return key_of(parts, PACKAGE.parent, CODE)


def _defaults_basis() -> tuple[object, ...]:
    """What the defaults and the checks of relative paths depend on besides the code."""
    return (
        Path.cwd(),
        state_home(),
        str(PACKAGE),
        sys.prefix,
        CHECKOUT,
        (PACKAGE / "shipped").exists(),
    )


def _likely_state_folder(contents: list[_Content]) -> Path:
    """The state folder the settings name, found without reading them as YAML: where their
    cache is looked for, and kept only if the checked settings name that folder too. When
    the files write it in a form this misses (a block scalar, an escape), the settings are
    checked on each call."""
    named = _variables().get("ivr_state_dir")
    if named is not None:
        return Path(named).absolute()  # as `_absolute` reads it: empty is the current folder
    folder = state_home() / "state"
    for content in contents:
        if content.data is None:
            continue
        with contextlib.suppress(UnicodeDecodeError):
            # line ends as YAML reads them (and a text file's reading makes them)
            text = content.data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
            for line in _STATE_DIR_LINE.finditer(text):
                single = line["single"]
                written = line["double"] if single is None else single.replace("''", "'")
                written = line["plain"] if written is None else written
                folder = content.path.parent / written if written.strip() else Path(written)
    return folder.absolute()


def _checked(sources: dict[str, Any], files: list[Path], problems: list[Problem]) -> Settings:
    """The settings checked; ProblemsFound with `problems` and the checks' own if any fails."""
    from pydantic import ValidationError

    try:
        return _check(sources)
    except ValidationError as error:
        written = dict(_written(files))
        details = error.errors()
        raise ProblemsFound(problems + [_problem(detail, written) for detail in details]) from None


@functools.cache
def _validator() -> TypeAdapter[Settings]:
    from pydantic import TypeAdapter

    return TypeAdapter(Settings)


def _check(values: dict[str, Any]) -> Settings:
    """Settings of these values and the defaults, checked; pydantic's ValidationError says
    what is wrong."""
    return _validator().validate_python(values)


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
    readable = anyone_may_read(path.stat().st_mode)
    for name in document.data:
        if name in secret_settings() and readable:
            problems.append(
                Problem(
                    path,
                    document.line_of((name,)),
                    "secret-readable",
                    f"'{name}' is a secret, and anyone on this server can read this file: "
                    f"{owner_and_service_only(path)} (or give it in the environment, "
                    f"{ENV_PREFIX}{name.upper()})",
                )
            )
        if name not in FIELDS:
            problems.append(
                Problem(
                    path,
                    document.line_of((name,)),
                    "unknown-key",
                    f"'{name}' is not a setting{did_you_mean(name, FIELDS)}; fix its name or "
                    "delete the line (config/ivr.example.yaml lists every setting)",
                )
            )
    return problems


def _problem(detail: Any, written: dict[str, _Written]) -> Problem:
    """One of pydantic's errors, said of the place the value came from."""
    loc: Place = tuple(detail["loc"])
    name = str(loc[0]) if loc else ""
    variable = ENV_PREFIX + name.upper()
    if variable.lower() in _variables():
        rule, message = explain(detail, variable)
        return Problem(Path("environment"), None, rule, message)
    rule, message = explain(detail, f"'{'.'.join(map(str, loc))}'")
    where = written.get(name)
    if where is None:
        return Problem(Path("settings"), None, rule, message)
    return Problem(where.file, where.document.line_of(loc), rule, message)


COMPUTED = ("window", "consumption_policy", "guess_limits")
"""The settings' cached properties, dropped from a copy (`Settings.model_copy`)."""
