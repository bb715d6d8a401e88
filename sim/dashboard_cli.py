"""``frontiersim dashboard``: serve the interactive dashboard (:mod:`sim.app`) on this machine.

Registered by :mod:`sim.cli` through :func:`register`; imports nothing heavy until the command
runs. The page is served by Solara's own server in a child process, from the files installed
with the ``solara`` and ``solara-assets`` packages: nothing is fetched from the network, and
Solara's usage statistics are switched off.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

DEFAULT_PORT = 8765
#: environment variable through which the command names the directories the page opens in every
#: new session (a JSON list of paths; :mod:`sim.app` reads it)
OPEN_ENV = "FRONTIERSIM_DASHBOARD_OPEN"


def register(subparsers) -> None:
    d = subparsers.add_parser(
        "dashboard", help="serve the interactive dashboard: run scenarios, open outputs, compare them",
        description="Serve the interactive dashboard on this machine and print its address. In the page: run a "
                    "named scenario with its main parameters and any KEY=VALUE override, watch its progress, see "
                    "the report's figures and headline numbers, open run and ensemble directories, compare "
                    "them, save a run's outputs and download its HTML report. Ctrl-C stops the server.")
    d.add_argument("dirs", metavar="DIR", nargs="*", help="run or ensemble directories to open in the page")
    d.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; the page runs scenarios and "
                        "reads and writes files as you, so serve it beyond localhost only on a network you trust)")
    d.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT})")
    d.add_argument("--open", action="store_true", help="open the page in the default web browser")
    d.set_defaults(func=cmd_dashboard)


def _port(s: str) -> int:
    import argparse

    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {s!r}; expected a whole number from 1 to 65535") from None
    if not 1 <= v <= 65535:
        raise argparse.ArgumentTypeError(f"{s}: expected a port from 1 to 65535")
    return v


def port_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on ``host:port`` (None when it can)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        return f"cannot resolve the address ({e.strerror or e}); expected a host name or IP address of this machine"
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as e:
            if e.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
                return f"port {port} is in use; expected a free port (e.g. --port {port + 1})"
            return f"cannot listen there ({e.strerror or e})"
    return None


def server_env(dirs: list[str]) -> dict[str, str]:
    """The environment of the server process: the directories to open, and Solara's settings."""
    env = dict(os.environ)
    env.update({
        OPEN_ENV: json.dumps(dirs),
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",  # no usage statistics sent anywhere
        "SOLARA_THEME_SHOW_BANNER": "False",
        "SOLARA_THEME_TITLE": "frontiersim dashboard",
    })
    return env


def server_command(host: str, port: int, open_browser: bool = False) -> list[str]:
    return [sys.executable, "-m", "solara", "run", "sim.app", "--host", host, "--port", str(port), "--production",
            "--no-check-version",  # (else Solara asks the package index for its latest version)
            "--open" if open_browser else "--no-open"]


def cmd_dashboard(a) -> int:
    from sim.cli import UserError

    try:
        import solara  # noqa: F401
    except ImportError:
        raise UserError("dashboard: the solara package is not installed; expected frontiersim installed with its "
                        "dependencies (pip install -e .)") from None
    from analysis.io import load_runs

    dirs = []
    for d in a.dirs:
        load_runs(d)  # a directory that is not a run or ensemble: one line, before the server starts
        dirs.append(str(Path(d).resolve()))
    problem = port_problem(a.host, a.port)
    if problem:
        raise UserError(f"dashboard: --host {a.host} --port {a.port}: {problem}")
    url = f"http://{a.host if ':' not in a.host else f'[{a.host}]'}:{a.port}"
    print(f"frontiersim: dashboard at {url} (Ctrl-C stops it)", file=sys.stderr, flush=True)
    proc = subprocess.Popen(server_command(a.host, a.port, a.open), env=server_env(dirs))
    try:
        code = proc.wait()
    except KeyboardInterrupt:  # the server got the same Ctrl-C: let it finish
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        print("frontiersim: dashboard stopped", file=sys.stderr)
        return 0
    if code != 0:
        raise UserError(f"dashboard: the server stopped with exit status {code} (its messages are above)")
    return 0
