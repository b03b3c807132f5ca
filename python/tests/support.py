"""A real host servicer for the tests: the repository's CLI (``effect-agents host``) as a process.

The host is found from the environment (``EFFECT_AGENTS_NODE``: a Node 24
executable, ``EFFECT_AGENTS_CLI``: ``src/node/cli.ts``), or else in the
repository this package lives in (``node_modules/.bin/node``,
``src/node/cli.ts``). Without one, the tests that need a host are skipped
(the repository's vitest suite always provides one and fails on skips).
"""
from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from effect_agents import websocket_module  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def host_command() -> Optional[List[str]]:
    node = os.environ.get("EFFECT_AGENTS_NODE") or str(REPO / "node_modules" / ".bin" / "node")
    cli = os.environ.get("EFFECT_AGENTS_CLI") or str(REPO / "src" / "node" / "cli.ts")
    if not (Path(node).exists() and Path(cli).exists()):
        return None
    return [node, cli, "host"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Host:
    """A host process on ``port`` (a free one by default); ``stop()`` kills it by its pid."""

    def __init__(self, transport: str, port: Optional[int] = None, args: List[str] = (), env: Optional[Dict[str, str]] = None) -> None:
        command = host_command()
        if command is None:
            raise unittest.SkipTest("no effect-agents host: set EFFECT_AGENTS_NODE and EFFECT_AGENTS_CLI")
        self.transport = transport
        self.port = port or free_port()
        self.args = list(args)
        self.env = {**os.environ, "EFFECT_AGENTS_RECOVERY_WINDOW": "0 millis", **(env or {})}
        self.command = command
        self.process: Optional[subprocess.Popen[str]] = None
        self.output: List[str] = []
        self.url = ""

    def start(self) -> "Host":
        transport = ["--transport", "tcp"] if self.transport == "tcp" else []
        self.process = subprocess.Popen(
            [*self.command, "--port", str(self.port), *transport, *self.args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()

        def read() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                match = re.search(r"listening on (\S+)", line)
                if match:
                    self.url = match.group(1)
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(30) or not self.url:
            self.stop()
            raise RuntimeError(f"the host did not start:\n{''.join(self.output)}")
        return self

    def stop(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()

    async def started(self) -> "Host":
        """``start()`` from a test's event loop, without blocking it."""
        return await asyncio.to_thread(self.start)

    async def stopped(self, sig: int = signal.SIGKILL) -> None:
        await asyncio.to_thread(self.stop, sig)

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


TRANSPORTS = ["tcp"] + (["websocket"] if websocket_module() is not None else [])


async def eventually(predicate, timeout: float = 15.0, what: str = "the condition") -> None:
    """Waits (polling) until ``predicate()`` holds; generous, for a loaded machine."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.05)
