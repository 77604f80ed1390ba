"""A do-nothing FastAGI server: the floor `benchmarks/fastagi_load.py` measures the IVR against.

    python benchmarks/reference_fastagi.py PORT COMMANDS_FILE SQLITE_FILE

A thread per connection, as `ivr serve` has: it reads the AGI environment, sends the same
commands the IVR sent for one call (one per line of COMMANDS_FILE, recorded from the IVR in
the same run), reads each reply, stores one row in SQLite and closes. No flow, no checks, no
deadlines: what is left of a call's cost is the protocol, the threads and one insert.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
import sys
import threading
from pathlib import Path


def serve_call(sock: socket.socket, commands: list[bytes], database: Path) -> None:
    with sock, sock.makefile("rb") as reader:
        uniqueid = ""
        while line := reader.readline():
            if line == b"\n":
                break
            if line.startswith(b"agi_uniqueid:"):
                uniqueid = line.split(b":", 1)[1].strip().decode()
        for command in commands:
            sock.sendall(command)
            reply = reader.readline()
            if not reply or reply.startswith(b"HANGUP"):
                break
        with sqlite3.connect(database, timeout=30, isolation_level=None) as connection:
            connection.execute("INSERT INTO calls (uniqueid) VALUES (?)", (uniqueid,))
        connection.close()


def main() -> None:
    port, commands_file, database = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    commands = [line.encode() + b"\n" for line in commands_file.read_text().splitlines()]
    with sqlite3.connect(database, isolation_level=None) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE IF NOT EXISTS calls (uniqueid TEXT)")
    connection.close()
    listener = socket.create_server(("127.0.0.1", port), backlog=512)
    signal.signal(signal.SIGTERM, lambda *_: listener.close())
    while True:
        try:
            sock, _ = listener.accept()
        except OSError:
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve_call, args=(sock, commands, database), daemon=True).start()


if __name__ == "__main__":
    main()
