"""`ivr status`: what the running FastAGI server says of itself, for the people who edit
the menu and for the operators."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import click

from agi.cli.common import main, settings_or_exit


@main.command()
@click.option("--host", default=None, help="The status listener's address (default: status_host).")
@click.option("--port", type=int, default=None, help="Its port (default: status_port).")
@click.option(
    "--wait",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0, 60),
    help="Seconds to wait for the server to read the files as they are saved now.",
)
def status(host: str | None, port: int | None, wait: float) -> None:
    """Ask `ivr serve` which flow is live, and why the last refused change was refused.

    Exits 0 when the server answers calls with the flow and catalog as they are saved now,
    1 when it serves an earlier flow (or does not answer).
    """
    from agi.telephony.live_flow import content_version

    settings = settings_or_exit()
    url = f"http://{host or settings.status_host}:{port or settings.status_port}/status"
    saved = content_version(_read(settings.flow_path), _read(settings.prompts_path))
    deadline = time.monotonic() + wait
    while True:
        report = _get(url)
        seen = {
            (report.get("live") or {}).get("version"),
            (report.get("refused") or {}).get("version"),
        }
        if saved in seen or time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    click.echo(_describe(report))
    live = report.get("live") or {}
    if saved not in seen:
        click.echo(
            f"the files as saved now (version {saved or 'unreadable'}) were not read by the "
            f"server within {wait:g} s: does it watch {settings.flow_path}?"
        )
    serving_saved = live.get("version") == saved and not live.get("saved_copy")
    sys.exit(0 if serving_saved and not report.get("refused") else 1)


def _read(path: Any) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _get(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return json.load(answer)
    except (OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise click.ClickException(
            f"no FastAGI server answers on {url} ({reason}): is `ivr serve` running, with "
            "this status_port?"
        ) from None


def _describe(report: dict[str, Any]) -> str:
    server = report.get("server", {})
    live = report.get("live") or {}
    refused = report.get("refused")
    lines = [
        f"ivr serve on {server.get('listening')}, up since {server.get('started_at')}"
        f"{' (stopping)' if server.get('stopping') else ''}: "
        f"{server.get('calls_in_progress')} calls in progress (at most {server.get('max_calls')}), "
        f"{server.get('calls_answered')} answered"
    ]
    if live.get("saved_copy"):
        where = (
            f"the copy of {live.get('flow_file')} kept in {live.get('saved_copy')} (the file "
            "itself was refused when the server started)"
        )
    else:
        where = str(live.get("flow_file"))
    lines.append(
        f"live flow: version {live.get('version')}, {where}, {live.get('nodes')} nodes, "
        f"loaded {live.get('loaded_at')}"
    )
    if refused:
        lines.append(
            f"the last saved change was refused at {refused.get('at')} (version "
            f"{refused.get('version')}); the live flow keeps serving. The problems:"
        )
        lines += [f"  {problem.get('text')}" for problem in refused.get("problems", [])]
    else:
        lines.append("no saved change was refused")
    return "\n".join(lines)
