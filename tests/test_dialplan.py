"""The dialplan as it is rendered: the FastAGI servers it tries, in the order of the setting
`fastagi_servers`, for the private line and for `ivr install`. (That Asterisk runs it as
written: tests/test_real_calls.py, tests/test_real_failover.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agi import installation
from agi.telephony import private_asterisk
from tests.support import ROOT

SERVERS = re.compile(r"^ same => n,Set\(IVR_SERVERS=(?P<servers>[^)]*)\)$", re.MULTILINE)


def servers_in(dialplan: Path) -> str:
    (found,) = SERVERS.findall(dialplan.read_text(encoding="utf-8"))
    return found


@pytest.mark.parametrize(
    ("servers", "rendered"),
    [
        (None, "agi://127.0.0.1:4573/readings"),
        (
            ("agi://127.0.0.1:4573/readings", "agi://127.0.0.2:4573/readings"),
            "agi://127.0.0.1:4573/readings,agi://127.0.0.2:4573/readings",
        ),
        (("hagi://ivr.example.ru/readings",), "hagi://ivr.example.ru/readings"),
        ((), ""),
    ],
    ids=["default", "two in order", "dns srv", "none: the script alone"],
)
def test_the_private_line_tries_the_servers_in_order(tmp_path, servers, rendered) -> None:
    chosen = {} if servers is None else {"fastagi_servers": servers}
    private_asterisk.render(
        private_asterisk.LineOptions(root=tmp_path, config_dir=ROOT / "config/asterisk", **chosen)
    )
    assert servers_in(tmp_path / "etc" / "extensions_ivr.conf") == rendered


@pytest.mark.parametrize(
    "server",
    ["agi://10.0.0.5:4573/readings,agi://evil", "agi://10.0.0.5/readings)", "http://10.0.0.5/"],
)
def test_what_is_no_server_url_is_refused_before_asterisk_reads_it(tmp_path, server) -> None:
    options = private_asterisk.LineOptions(
        root=tmp_path, config_dir=ROOT / "config/asterisk", fastagi_servers=(server,)
    )
    with pytest.raises(private_asterisk.AsteriskError, match="is not a FastAGI server"):
        private_asterisk.render(options)


@pytest.mark.parametrize(
    ("name", "refused"),
    [
        ("pbx-a.1_B", False),
        ("p" * 40, False),
        ("p" * 41, True),
        ("", True),
        ("pbx a", True),
        ("pbx-a\n", True),
        ("pbx;a", True),
    ],
    ids=["letters, digits, . _ -", "40 long", "41 long", "empty", "a space", "a newline", "a ;"],
)
def test_the_private_line_takes_a_system_name_asterisks_ids_can_hold(tmp_path, name, refused):
    options = private_asterisk.LineOptions(
        root=tmp_path, config_dir=ROOT / "config/asterisk", system_name=name
    )
    if refused:
        with pytest.raises(private_asterisk.AsteriskError, match="cannot be a system name"):
            private_asterisk.render(options)
        return
    conf = private_asterisk.render(options).read_text(encoding="utf-8")
    assert conf.endswith(f"systemname = {name}\n")


def install(root: Path) -> dict[Path, str]:
    changes = installation.apply(installation.plan(installation.Options(root=root)), dry_run=False)
    return {change.path: change.action for change in changes}


def test_install_renders_the_servers_of_the_installed_settings(tmp_path) -> None:
    layout = installation.Layout(tmp_path)
    dialplan = layout.asterisk / "extensions_ivr.conf"
    install(tmp_path)
    assert servers_in(dialplan) == "agi://127.0.0.1:4573/readings"
    assert 'fastagi_servers: ["agi://127.0.0.1:4573/readings"]' in layout.settings.read_text()

    settings = layout.settings.read_text().replace(
        'fastagi_servers: ["agi://127.0.0.1:4573/readings"]',
        "fastagi_servers: [agi://10.0.0.5:4573/readings, agi://10.0.0.6:4573/readings]",
    )
    layout.settings.write_text(settings)
    changes = install(tmp_path)
    assert (changes[dialplan], changes[layout.settings]) == ("updated", "kept")
    assert servers_in(dialplan) == "agi://10.0.0.5:4573/readings,agi://10.0.0.6:4573/readings"

    (layout.etc / "ivr.d" / "70-servers.yaml").write_text("fastagi_servers: [agi://10.0.0.7]\n")
    install(tmp_path)
    assert servers_in(dialplan) == "agi://10.0.0.7"
    assert install(tmp_path)[dialplan] == "unchanged"


def test_install_sends_calls_to_its_own_servers_port(tmp_path) -> None:
    installation.apply(
        installation.plan(installation.Options(root=tmp_path, fastagi_port=4600)), dry_run=False
    )
    layout = installation.Layout(tmp_path)
    assert servers_in(layout.asterisk / "extensions_ivr.conf") == "agi://127.0.0.1:4600/readings"
    assert 'fastagi_servers: ["agi://127.0.0.1:4600/readings"]' in layout.settings.read_text()


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ('["agi://10.0.0.5/a,b"]', "'agi://10.0.0.5/a,b' is not a FastAGI server"),
        ("agi://10.0.0.5/readings", "the FastAGI servers are a list"),
        ("[agi://10.0.0.5, agi://10.0.0.5]", "a FastAGI server is listed twice"),
    ],
    ids=["a comma in a url", "no list", "one twice"],
)
def test_install_refuses_servers_the_dialplan_could_not_take(tmp_path, written, said) -> None:
    install(tmp_path)
    override = installation.Layout(tmp_path).etc / "ivr.d" / "70-servers.yaml"
    override.write_text(f"fastagi_servers: {written}\n")
    with pytest.raises(ValueError, match=re.escape(f"{override}: fastagi_servers: {said}")):
        installation.plan(installation.Options(root=tmp_path))
