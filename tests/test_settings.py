"""The settings file and IVR_* variables: every mistake said with its place and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from agi.cli import main
from agi.problems import ProblemsFound, explain
from agi.settings import Settings, load_settings, secret_settings

GOOD = """\
database_url: sqlite:///var/test.db
accept_days: 20-24
tts_speed: 160
"""


@pytest.fixture
def settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ivr.yaml"
    monkeypatch.setenv("IVR_CONFIG", str(path))
    for name in ("IVR_ACCEPT_DAYS", "IVR_TTS_SPEED", "IVR_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return path


def test_the_file_sets_what_it_says(settings_file: Path) -> None:
    settings_file.write_text(GOOD, encoding="utf-8")
    settings = load_settings()
    assert (settings.window.first_day, settings.window.last_day) == (20, 24)
    assert settings.tts_speed == 160


def test_an_environment_variable_wins_over_the_file(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_file.write_text(GOOD, encoding="utf-8")
    monkeypatch.setenv("IVR_ACCEPT_DAYS", "1-31")
    assert load_settings().accept_days == "1-31"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "accept_days: 18-25\nacept_days: 18-25\n",
            "line 2: 'acept_days' is not a setting (did you mean 'accept_days'?); fix its name "
            "or delete the line (config/ivr.example.yaml lists every setting)",
        ),
        ("tts_speed: fast\n", "line 1: 'tts_speed' must be a whole number, not 'fast'"),
        ("\n\nweb_port: 99999\n", "line 3: 'web_port' must be at most 65535, not 99999"),
        (
            "accept_days: 25-18\n",
            "line 1: 'accept_days': acceptance days must be days of the month 1-31, the first "
            "not after the last (for example 18-25), not 25-18",
        ),
        ("tts_engine: say\n", "line 1: 'tts_engine' must be one of 'espeak-ng' or 'festival'"),
        ("accept_days: [18, 25\n", "line 1: the [ opened on this line is not closed"),
        ("accept_days: 18-25\naccept_days: 20-25\n", "line 2: 'accept_days' is written twice"),
        ("- database_url\n", "line 1: the settings file lists settings as  name: value"),
        (
            'fastagi_servers: [agi://10.0.0.5:4573/readings, "agi://10.0.0.6/a,b"]\n',
            "line 1: 'fastagi_servers': 'agi://10.0.0.6/a,b' is not a FastAGI server: "
            "agi://host:port/readings",
        ),
        ("fastagi_servers: agi://10.0.0.5\n", "line 1: 'fastagi_servers' must be a list"),
        (
            "fastagi_servers: [agi://10.0.0.5, agi://10.0.0.5]\n",
            "line 1: 'fastagi_servers': a FastAGI server is listed twice",
        ),
    ],
    ids=[
        "misspelt",
        "not-a-number",
        "too-big",
        "days-backwards",
        "choice",
        "yaml",
        "twice",
        "list",
        "fastagi-not-a-url",
        "fastagi-not-a-list",
        "fastagi-twice",
    ],
)
def test_a_mistake_in_the_file_is_said_with_its_line(
    settings_file: Path, text: str, expected: str
) -> None:
    settings_file.write_text(text, encoding="utf-8")
    with pytest.raises(ProblemsFound) as found:
        load_settings()
    (problem,) = found.value.problems
    assert str(problem).startswith(f"{settings_file}, {expected}"), str(problem)


def test_a_mistake_in_a_variable_names_the_variable(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_file.write_text(GOOD, encoding="utf-8")
    monkeypatch.setenv("IVR_TTS_SPEED", "fast")
    with pytest.raises(ProblemsFound) as found:
        load_settings()
    assert str(found.value) == "environment: IVR_TTS_SPEED must be a whole number, not 'fast'"


@pytest.mark.parametrize("name", ["ivr_tts_speed", "Ivr_Tts_Speed"])
def test_a_variable_is_a_setting_in_any_case(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    settings_file.write_text(GOOD, encoding="utf-8")
    monkeypatch.setenv(name, "170")
    assert load_settings().tts_speed == 170
    monkeypatch.setenv(name, "fast")
    with pytest.raises(ProblemsFound) as found:
        load_settings()
    assert str(found.value) == "environment: IVR_TTS_SPEED must be a whole number, not 'fast'"


def test_every_mistake_is_listed_at_once(settings_file: Path) -> None:
    settings_file.write_text("acept_days: 18-25\ntts_speed: fast\n", encoding="utf-8")
    with pytest.raises(ProblemsFound) as found:
        load_settings()
    assert [(p.line, p.rule) for p in found.value.problems] == [
        (1, "unknown-key"),
        (2, "wrong-value"),
    ]


def test_the_command_prints_the_mistakes_and_does_nothing(settings_file: Path) -> None:
    settings_file.write_text("acept_days: 18-25\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 1
    assert f"{settings_file}, line 1: 'acept_days' is not a setting" in result.stderr
    assert "the settings are not valid; nothing was done" in result.stderr


# --- where the settings come from, and what a relative path means -----------------------


def test_a_relative_path_in_a_file_is_relative_to_that_file(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_file.write_text(
        "flow_path: menus/ivr_flows.yaml\ndatabase_url: sqlite:///data/ivr.db\n", encoding="utf-8"
    )
    monkeypatch.chdir("/")
    settings = load_settings()
    assert settings.flow_path == settings_file.parent / "menus" / "ivr_flows.yaml"
    assert settings.database_url == f"sqlite:///{settings_file.parent / 'data' / 'ivr.db'}"


def test_files_in_ivr_d_override_the_file_in_the_order_of_their_names(
    settings_file: Path,
) -> None:
    settings_file.write_text("accept_days: 18-25\ntts_speed: 120\n", encoding="utf-8")
    overrides = settings_file.parent / "ivr.d"
    overrides.mkdir()
    (overrides / "20-later.yaml").write_text("accept_days: 20-22\n", encoding="utf-8")
    (overrides / "10-site.yaml").write_text(
        "accept_days: 19-24\nflow_path: site_flow.yaml\n", encoding="utf-8"
    )
    settings = load_settings()
    assert (settings.accept_days, settings.tts_speed) == ("20-22", 120)
    assert settings.flow_path == overrides / "site_flow.yaml"


def test_a_mistake_in_an_override_names_the_override(settings_file: Path) -> None:
    settings_file.write_text(GOOD, encoding="utf-8")
    overrides = settings_file.parent / "ivr.d"
    overrides.mkdir()
    (overrides / "site.yaml").write_text("\ntts_speed: fast\n", encoding="utf-8")
    with pytest.raises(ProblemsFound) as found:
        load_settings()
    assert (
        str(found.value)
        == f"{overrides / 'site.yaml'}, line 2: 'tts_speed' must be a whole number, not 'fast'"
    )


def test_ivr_config_naming_no_file_is_a_mistake_and_empty_means_none(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ProblemsFound) as found:
        load_settings()
    assert str(found.value).startswith(f"{settings_file}: IVR_CONFIG names this settings file")
    monkeypatch.setenv("IVR_CONFIG", "")
    assert load_settings().accept_days == "18-25"


def test_the_defaults_do_not_depend_on_the_current_folder(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR_CONFIG", "")
    here = load_settings()
    monkeypatch.chdir("/")
    there = load_settings()
    assert (there.flow_path, there.prompts_path, there.database_url) == (
        here.flow_path,
        here.prompts_path,
        here.database_url,
    )
    assert there.flow_path.is_file() and there.prompts_path.is_file()
    assert there.prompts_audio_dir.is_absolute() and there.speech_spool_dir.is_absolute()


def test_a_relative_path_in_a_variable_is_relative_to_the_current_folder(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("IVR_CONFIG", "")
    monkeypatch.setenv("IVR_FLOW_PATH", "flows/x.yaml")
    monkeypatch.chdir(tmp_path)
    assert load_settings().flow_path == tmp_path / "flows" / "x.yaml"


def test_the_settings_travel_to_a_process_started_elsewhere_as_variables(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the private Asterisk hands the AGI script: the same settings, every one."""
    settings_file.write_text(
        GOOD + "high_consumption_floor: {electricity: 700}\nmax_refused_readings_per_contract: 4\n",
        encoding="utf-8",
    )
    here = load_settings()
    monkeypatch.setenv("IVR_WEBHOOK_SECRET", "a-secret-of-twenty-chars")
    for name, value in load_settings().as_environment():
        monkeypatch.setenv(name, value)
    assert "IVR_WEBHOOK_SECRET" not in dict(load_settings().as_environment())
    there = load_settings()
    unset = {"webhook_secret": None}
    assert there.model_copy(update=unset) == here.model_copy(update=unset)


# --- the gateways' secrets ------------------------------------------------------------------

GATEWAY_SECRETS = """\
kannel_secret: kannel-secret-0123456789
viber_token: 445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9
whatsapp_phone_number_id: "106540352242922"
"""


def test_a_file_only_the_service_can_read_may_hold_the_gateways_secrets(
    settings_file: Path,
) -> None:
    settings_file.write_text(GATEWAY_SECRETS, encoding="utf-8")
    settings_file.chmod(0o640)
    settings = load_settings()
    assert settings.kannel_secret is not None
    assert settings.kannel_secret.get_secret_value() == "kannel-secret-0123456789"
    assert settings.whatsapp_phone_number_id == "106540352242922"
    assert "kannel-secret" not in repr(settings)


def test_a_secret_in_a_file_anyone_can_read_is_refused(settings_file: Path) -> None:
    settings_file.write_text(GATEWAY_SECRETS, encoding="utf-8")
    settings_file.chmod(0o644)
    with pytest.raises(ProblemsFound) as found:
        load_settings()
    assert [str(problem) for problem in found.value.problems] == [
        f"{settings_file}, line {line}: '{name}' is a secret, and anyone on this server can "
        f"read this file: chmod 640 {settings_file} and chgrp ivr {settings_file} (or give "
        f"it in the environment, IVR_{name.upper()})"
        for line, name in ((1, "kannel_secret"), (2, "viber_token"))
    ]


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        (
            "IVR_KANNEL_SECRET",
            "short",
            "IVR_KANNEL_SECRET: a gateway's secret or token has at least 16",
        ),
        (
            "IVR_KANNEL_ADDRESSES",
            '["10.0.0.0/8", "kannel.example"]',
            "'kannel.example' is not an address",
        ),
        ("IVR_WHATSAPP_PHONE_NUMBER_ID", "+79129671520", "IVR_WHATSAPP_PHONE_NUMBER_ID"),
        ("IVR_VIBER_API_URL", "chatapi.viber.com", "IVR_VIBER_API_URL"),
    ],
)
def test_a_wrong_gateway_setting_names_its_variable(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    settings_file.write_text(GOOD, encoding="utf-8")
    monkeypatch.setenv(variable, value)
    with pytest.raises(ProblemsFound) as found:
        load_settings()
    (problem,) = found.value.problems
    assert says in str(problem)


def test_a_copy_computes_the_window_and_limits_from_its_own_values():
    settings = Settings(accept_days="18-25", max_unknown_contracts_per_caller=5)
    assert (settings.window.first_day, settings.guess_limits.unknown_per_caller) == (18, 5)
    copied = settings.model_copy(
        update={"accept_days": "1-5", "max_unknown_contracts_per_caller": 2}
    )
    assert (copied.window.first_day, copied.window.last_day) == (1, 5)
    assert copied.guess_limits.unknown_per_caller == 2
    assert settings.window.first_day == 18


def test_a_copy_refuses_a_name_that_is_no_setting():
    with pytest.raises(KeyError, match="'tts_sped' is not a setting \\(did you mean 'tts_speed'"):
        Settings().model_copy(update={"tts_sped": 170})


def test_a_given_name_that_is_no_setting_is_said_to_be_unknown(settings_file: Path) -> None:
    """pydantic calls an extra key of a dataclass an unexpected keyword argument."""
    settings_file.write_text(GOOD)
    with pytest.raises(ProblemsFound) as found:
        load_settings(tts_sped=170)
    (problem,) = found.value.problems
    assert (problem.rule, problem.message) == ("unknown-key", "'tts_sped' is not a setting here")


@pytest.mark.parametrize("kind", ["extra_forbidden", "unexpected_keyword_argument"])
@pytest.mark.parametrize("given", [170, None], ids=["a value", "empty"])
def test_an_extra_key_is_unknown_whatever_it_holds(kind: str, given: object) -> None:
    detail = {"type": kind, "loc": ("tts_sped",), "input": given, "msg": "extra"}
    assert explain(detail, "'tts_sped'") == ("unknown-key", "'tts_sped' is not a setting here")


def test_the_secrets_are_the_settings_of_type_secret():
    assert secret_settings() == {
        "console_secret",
        "kannel_secret",
        "viber_token",
        "webhook_secret",
        "whatsapp_app_secret",
        "whatsapp_token",
        "whatsapp_verify_token",
    }
