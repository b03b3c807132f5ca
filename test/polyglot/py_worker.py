"""The Python worker of the cross-language tests: the package's test agents plus two that call TypeScript agents.

    HOST_URL=tcp://127.0.0.1:7700 WORKER_ID=py python3 test/polyglot/py_worker.py

Prints "ready <hostId>" once joined (and again after every rejoin), and stops on SIGTERM or SIGINT.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import List

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))

from effect_agents import Agent, AgentId, DeadlockError, TopicId, Worker, message, rpc  # noqa: E402
from tests.agents import Greeter, Ping, Refused, Said, Sleeper, Tidier  # noqa: E402


@message
class Echo:
    text: str


@message
class Risky:
    fail: bool


@message
class CallTs:
    text: str


class Bridge(Agent, type="py-bridge", description="calls TypeScript agents"):
    @rpc(CallTs, success=str)
    async def call_ts(self, m: CallTs) -> str:
        """Python -> TS: a send with a reply, a declared error typed here, and a publish TS agents hear."""
        if m.text == "risky":
            try:
                await self.send(AgentId("ts-echo", self.id.key), Risky(fail=True), reply=str, errors=[Refused])
            except Refused as refused:
                return f"py caught Refused({refused.why})"
            return "no error"
        if m.text.startswith("publish:"):
            await self.publish(TopicId("ts-chat", self.id.key), Said(text=m.text[len("publish:"):]), ack=True)
            return "published"
        return await self.send(AgentId("ts-echo", self.id.key), Echo(text=m.text), reply=str)


class Cycle(Agent, type="py-cycle", description="calls ts-cycle back: the cycle's middle"):
    @rpc(Ping, success=str, errors=(DeadlockError,))
    async def ping(self, m: Ping) -> str:
        return await self.send(AgentId("ts-cycle", self.id.key), Ping(hops=m.hops), reply=str, errors=[DeadlockError])


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
    worker = Worker(
        os.environ["HOST_URL"],
        os.environ.get("WORKER_ID", "py"),
        [Greeter, Sleeper, Tidier, Bridge, Cycle],
        connect_timeout=20,
        on_joined=lambda w: print(f"ready {w.host_id} session {w.sessions_joined}", flush=True),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await worker.start()
    stopping = asyncio.ensure_future(stop.wait())
    closed = asyncio.ensure_future(worker.wait_closed())
    await asyncio.wait({stopping, closed}, return_when=asyncio.FIRST_COMPLETED)
    await worker.stop()
    if closed.done():
        closed.result()  # the host refused this worker for good: say why, and exit non-zero


if __name__ == "__main__":
    asyncio.run(main())
