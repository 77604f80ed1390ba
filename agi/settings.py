"""Configuration of one installation: `config/ivr.yaml`, overridden by `IVR_*` variables.

A mistake in the settings is reported as one in the flow is: the file and line (or the
environment variable), the setting, and what to write instead.
"""

from __future__ import annotations

import os
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from agi.located_yaml import Document, YamlSyntaxError, read_yaml_file
from agi.problems import Problem, ProblemsFound, did_you_mean, explain
from agi.readings.callers import DEFAULT_REGION, GuessLimits, is_region
from agi.readings.rules import AcceptanceWindow, ConsumptionPolicy, Resource, parse_accept_days

DEFAULT_CONFIG_FILE = Path("config/ivr.yaml")
ENV_PREFIX = "IVR_"


def config_file() -> Path:
    return Path(os.environ.get("IVR_CONFIG", DEFAULT_CONFIG_FILE))


def read_settings_file(path: Path) -> Document | None:
    """The settings file with the line of every value, or None when there is none."""
    if not path.is_file():
        return None
    try:
        return read_yaml_file(path)
    except YamlSyntaxError as error:
        raise ProblemsFound([Problem(path, error.line, "yaml-syntax", error.message)]) from None


class _SettingsFile(PydanticBaseSettingsSource):
    """The settings written in the file, as text; names that are no setting are left to
    `load_settings` to report."""

    def __init__(self, settings_cls: type[BaseSettings], document: Document | None) -> None:
        super().__init__(settings_cls)
        data = document.data if document is not None else None
        self.values = {
            name: value
            for name, value in (data.items() if isinstance(data, dict) else ())
            if name in settings_cls.model_fields
        }

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)


class Settings(BaseSettings):
    """Every setting has a default that runs the demo from a checkout."""

    model_config = SettingsConfigDict(env_prefix="IVR_", extra="forbid")

    database_url: str = "sqlite:///var/ivr.db"
    accept_days: str = "18-25"
    timezone: str = "Europe/Moscow"
    flow_path: Path = Path("ivr_flows.yaml")
    prompts_path: Path = Path("prompts/ru.yaml")
    prompts_audio_dir: Path = Path("prompts/ru")
    tts_engine: Literal["espeak-ng", "festival"] = "espeak-ng"
    tts_voice: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_+-]+$")
    """None: the engine's Russian voice (espeak-ng `ru`, festival `msu_ru_nsh_clunits`)."""
    tts_speed: int = Field(default=150, ge=80, le=300)
    """Words per minute (espeak-ng); festival stretches its own pace by 150 / speed."""
    prompt_loudness_dbfs: float = Field(default=-20.0, ge=-30, le=-12)
    """The speech level every prompt file is normalised to."""
    speech_model: Path | None = None
    """A Vosk model folder (e.g. vosk-model-small-ru-0.22); None: no answers by voice."""
    speech_spool_dir: Path = Path("var/speech")
    """The private folder Asterisk records answers by voice into, as this server reads it."""
    speech_spool_asterisk_dir: str | None = None
    """The same folder as Asterisk writes it, when Asterisk runs on another host (it must be
    one shared folder); None: the same path as speech_spool_dir."""
    high_consumption_multiple: float = Field(default=3.0, gt=1)
    high_consumption_floor: dict[Resource, int] = Field(
        default_factory=lambda: dict(ConsumptionPolicy().floors)
    )
    conversation_expiry_minutes: int = Field(default=60, gt=0)
    webhook_secret: SecretStr | None = None
    webhook_max_body_bytes: int = Field(default=32768, ge=1024)
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=1, le=65535)
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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        file = _SettingsFile(settings_cls, read_settings_file(config_file()))
        return (init_settings, env_settings, file)

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
        """These settings as IVR_* variables with absolute paths, for a process started
        elsewhere (the AGI script that Asterisk runs)."""
        from agi.storage.database import absolute_url

        return (
            ("IVR_DATABASE_URL", absolute_url(self.database_url)),
            ("IVR_ACCEPT_DAYS", self.accept_days),
            ("IVR_TIMEZONE", self.timezone),
            ("IVR_FLOW_PATH", str(self.flow_path.resolve())),
            ("IVR_PROMPTS_PATH", str(self.prompts_path.resolve())),
            ("IVR_PROMPTS_AUDIO_DIR", str(self.prompts_audio_dir.resolve())),
        )


def load_settings(**overrides: Any) -> Settings:
    """The settings of this installation; ProblemsFound lists every mistake in them."""
    given = {key: value for key, value in overrides.items() if value is not None}
    path = config_file()
    document = read_settings_file(path)
    problems = _file_problems(path, document)
    try:
        settings = Settings(**given)
    except ValidationError as error:
        problems += [_problem(detail, path, document) for detail in error.errors()]
        raise ProblemsFound(problems) from None
    if problems:
        raise ProblemsFound(problems)
    return settings


def _file_problems(path: Path, document: Document | None) -> list[Problem]:
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
    for name in document.data:
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


def _problem(detail: Any, path: Path, document: Document | None) -> Problem:
    """One of pydantic's errors, said of the place the value came from."""
    loc = tuple(detail["loc"])
    name = str(loc[0]) if loc else ""
    variable = ENV_PREFIX + name.upper()
    if variable.lower() in {key.lower() for key in os.environ}:
        rule, message = explain(detail, variable)
        return Problem(Path("environment"), None, rule, message)
    rule, message = explain(detail, f"'{'.'.join(map(str, loc))}'")
    line = document.line_of(loc) if document is not None and name in (document.data or {}) else 1
    return Problem(path, line, rule, message)
