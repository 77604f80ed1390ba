"""`python -m agi serve` with every call thread under cProfile, timed in thread CPU: at exit
the calls' profiles, added up, are saved to STATS_FILE (`benchmarks/fastagi_load.py
--profile` reads it).

    python benchmarks/profiled_serve.py STATS_FILE serve [OPTIONS]

The profiler costs more CPU than the calls themselves: read where the time goes, not how
much there is.
"""

from __future__ import annotations

import atexit
import cProfile
import pstats
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agi.cli import main
from agi.telephony.fastagi import FastAgiServer


def profile_calls(stats_file: str) -> None:
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()
    serve = FastAgiServer._serve_connection

    def profiled(server: FastAgiServer, connection) -> None:
        profile = cProfile.Profile(time.thread_time)
        profile.enable()
        try:
            serve(server, connection)
        finally:
            profile.disable()
            with lock:
                profiles.append(profile)

    def save() -> None:
        if profiles:
            pstats.Stats(*profiles).dump_stats(stats_file)

    FastAgiServer._serve_connection = profiled
    atexit.register(save)


if __name__ == "__main__":
    profile_calls(sys.argv[1])
    main(sys.argv[2:], prog_name="ivr")
