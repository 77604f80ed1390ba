"""What the tests and the benchmarks share: a demo database, the settings of an IVR process
started from this checkout, free ports, and figures.

The project is imported only where it is used, so that a benchmark of a child process's
memory can use the rest without growing itself.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agi.storage.repository import Repository

ROOT = Path(__file__).resolve().parent.parent


def demo_database(url: str, *, at: datetime | None = None) -> Repository:
    """A migrated database with the demo contracts, imported from billing `at`."""
    from agi.readings import billing
    from agi.storage.database import connect, upgrade
    from agi.storage.repository import Repository

    repository = Repository(connect(url))
    upgrade(repository.engine)
    billing.seed_demo(repository, **({"at": at} if at else {}))
    return repository


def checkout_environment(
    folder: Path, database_url: str, base: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """The environment of an `ivr` process run from this checkout in `folder`: the shipped
    flow, prompts and audio, this database, readings taken on any day, its state in
    `folder`, and no settings file or IVR_* variable of the machine's."""
    return {
        **{key: value for key, value in base.items() if not key.startswith("IVR_")},
        "IVR_CONFIG": "",
        "IVR_DATABASE_URL": database_url,
        "IVR_ACCEPT_DAYS": "1-31",
        "IVR_FLOW_PATH": str(ROOT / "ivr_flows.yaml"),
        "IVR_PROMPTS_PATH": str(ROOT / "prompts" / "ru.yaml"),
        "IVR_PROMPTS_AUDIO_DIR": str(ROOT / "prompts" / "ru"),
        "IVR_STATE_DIR": str(folder / "state"),
    }


def free_port(kind: int = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def free_udp_range(count: int, low: int = 40000, high: int = 60000) -> int:
    """The first of `count` free UDP ports in a row, outside Asterisk's RTP range
    (5000-31000 by default), for SIPp's media ports: SIPp processes started together, left
    to choose, race for the same ports."""
    for base in range(low, high - count, count):
        if all(_free_udp(port) for port in range(base, base + count)):
            return base
    raise RuntimeError(f"no {count} free UDP ports in a row between {low} and {high}")


def _free_udp(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def machine_line() -> str:
    return (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}"
    )


def spoken_recording(text: str, target: Path, voice: str = "ko") -> Path:
    """`text` spoken by espeak-ng, as Asterisk records a call: 8 kHz, 16-bit mono WAV with
    half a second of silence before and after (needs espeak-ng and sox)."""
    spoken = target.with_name(f"{target.stem}-espeak.wav")
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "110", "-g", "10", "-w", str(spoken), text], check=True
    )
    telephone = ("-r", "8000", "-c", "1", "-b", "16")
    subprocess.run(
        ["sox", str(spoken), *telephone, str(target), "pad", "0.5", "0.5"],
        check=True,
        capture_output=True,
    )
    spoken.unlink()
    return target
