"""The Python side of the polyglot example: an analyst agent, run by a Python worker.

    HOST_URL=tcp://127.0.0.1:7700 python3 examples/polyglot/analyst.py

- `Analyze` (a send from TypeScript): counts the words of a text; a text under five words is
  refused with the declared error `TooShort`, which the TypeScript caller gets typed.
- `Draft` (published by TypeScript on drafts/<key>): asks the writer (a send to TypeScript)
  what the draft is about, then publishes a `Review` on reviews/<key> for TypeScript to hear.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))

from effect_agents import Agent, AgentId, TopicId, Worker, event, message, rpc  # noqa: E402


@message
class Analyze:
    text: str


@message
class Analysis:
    words: int
    longest: str


@message
class TooShort(Exception):
    words: int
    minimum: int


@message
class Draft:
    text: str


@message
class Subject:
    pass


@message
class Review:
    note: str


class Analyst(Agent, type="analyst", description="counts words and reviews drafts (Python)"):
    subscriptions = ("drafts",)
    state = ("reviewed",)

    def __init__(self) -> None:
        self.reviewed = 0

    @rpc(Analyze, success=Analysis, errors=(TooShort,))
    async def analyze(self, m: Analyze) -> Analysis:
        words = m.text.split()
        print(f"  [python] {self.id}: analyzing {len(words)} words", flush=True)
        if len(words) < 5:
            raise TooShort(words=len(words), minimum=5)
        return Analysis(words=len(words), longest=max((w.strip(",.;:!?") for w in words), key=len))

    @event(Draft)
    async def draft(self, m: Draft) -> None:
        # Python -> TypeScript: a send, with its reply
        subject = await self.send(AgentId("writer", self.id.key), Subject(), reply=str)
        self.reviewed += 1
        note = f"{len(m.text.split())} words on {subject!r}: clear enough (review {self.reviewed})"
        print(f"  [python] {self.id}: publishing review: {note}", flush=True)
        await self.publish(TopicId("reviews", self.id.key), Review(note=note))


async def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    worker = Worker(
        os.environ.get("HOST_URL", "tcp://127.0.0.1:7700"),
        "python-worker",
        [Analyst],
        on_joined=lambda w: print(f"python worker ready (host {w.host_id})", flush=True),
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await worker.start()
    closed = asyncio.ensure_future(worker.wait_closed())
    await asyncio.wait({asyncio.ensure_future(stop.wait()), closed}, return_when=asyncio.FIRST_COMPLETED)
    await worker.stop()
    if closed.done():
        closed.result()


if __name__ == "__main__":
    asyncio.run(main())
