"""Agents the tests run (and the cross-language tests: ``python -m tests.serve``)."""
from __future__ import annotations

import asyncio
import time
from typing import Any, List, Optional, Tuple

from effect_agents import Agent, AgentId, DeadlockError, TopicId, current_traceparent, event, message, rpc

#: what the tests' agents did, in order, for tests that interleave it with the frames a worker wrote
EVENTS: List[Tuple[str, Any]] = []


@message
class Greet:
    name: str


@message
class Refused(Exception):
    why: str


@message
class Said:
    text: str


@message
class Slow:
    seconds: float


@message
class Ping:
    hops: int


@message
class Order:
    n: int


@message
class History:
    pass


class Greeter(Agent, type="py-greeter", description="greets, refuses Eve, counts"):
    subscriptions = ("py-chat",)
    state = ("greeted", "heard")
    greeted: int
    heard: List[str]

    def __init__(self) -> None:
        self.greeted = 0
        self.heard = []

    @rpc(Greet, success=str, errors=(Refused,))
    async def greet(self, m: Greet) -> str:
        if m.name == "Eve":
            raise Refused(why="not you")
        if m.name == "crash":
            raise RuntimeError("it broke")
        self.greeted += 1
        return f"Hello, {m.name}"

    @event(Said)
    async def said(self, m: Said) -> None:
        if m.text == "fail":
            raise RuntimeError("cannot hear that")
        self.heard.append(m.text)

    @rpc(History, success=List[str])
    async def history(self, m: History) -> List[str]:
        return list(self.heard)


class Sleeper(Agent, type="py-sleeper"):
    """Sleeps on request; records what was cancelled."""

    mailbox_capacity = 2
    cancelled: List[float] = []
    started: List[float] = []

    @rpc(Slow, success=float)
    async def slow(self, m: Slow) -> float:
        Sleeper.started.append(m.seconds)
        try:
            await asyncio.sleep(m.seconds)
        except asyncio.CancelledError:
            Sleeper.cancelled.append(m.seconds)
            raise
        return m.seconds

    @rpc(History, success=List[float])
    async def history(self, m: History) -> List[float]:
        """The handlers cancelled so far (by their ``seconds``)."""
        return list(Sleeper.cancelled)


class Ordered(Agent, type="py-ordered"):
    """Checks that one instance handles one message at a time, in arrival order."""

    def __init__(self) -> None:
        self.seen: List[int] = []
        self.active = 0
        self.max_active = 0

    @rpc(Order, success=int)
    async def order(self, m: Order) -> int:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        await asyncio.sleep(0.01)
        self.seen.append(m.n)
        self.active -= 1
        return m.n

    @rpc(History, success=List[int])
    async def history(self, m: History) -> List[int]:
        return list(self.seen)


class PingPong(Agent, type="py-ping"):
    """Sends `Ping` to py-pong/<key>, which calls back: the cycle ends in DeadlockError."""

    @rpc(Ping, success=str, errors=(DeadlockError,))
    async def ping(self, m: Ping) -> str:
        if m.hops <= 0:
            return "done"
        return await self.send(AgentId("py-pong", self.id.key), Ping(hops=m.hops - 1), reply=str, errors=[DeadlockError])


class Pong(Agent, type="py-pong"):
    @rpc(Ping, success=str, errors=(DeadlockError,))
    async def ping(self, m: Ping) -> str:
        # back to the caller's own instance, still waiting for this reply
        return await self.send(AgentId("py-ping", self.id.key), Ping(hops=m.hops), reply=str, errors=[DeadlockError])


class Announcer(Agent, type="py-announcer"):
    """Publishes from inside a handler: the sender is this agent."""

    @rpc(Said)
    async def announce(self, m: Said) -> None:
        await self.publish(TopicId("py-chat", self.id.key), m, ack=False)


@message
class Tidy:
    seconds: float
    cleanup: float


class Tidier(Agent, type="py-tidier"):
    """Works for ``seconds``; when cancelled, cleans up for ``cleanup`` seconds first, and records when it finished."""

    def __init__(self) -> None:
        #: when each cancelled handler's cleanup ended, in ms since the epoch
        self.cleaned: List[float] = []

    @rpc(Tidy, success=float)
    async def tidy(self, m: Tidy) -> float:
        try:
            await asyncio.sleep(m.seconds)
        except asyncio.CancelledError:
            await asyncio.sleep(m.cleanup)  # the slow part of a cancellation: closing what the handler opened
            self.cleaned.append(time.time() * 1000)
            EVENTS.append(("cleaned", str(self.id)))
            raise
        return m.seconds

    @rpc(History, success=List[float])
    async def history(self, m: History) -> List[float]:
        return list(self.cleaned)


@message
class Note:
    text: str


@message
class Query:
    text: str


def _raises_on(text: str):
    def match(m: Note, context: Any) -> bool:
        if m.text == text:
            raise ValueError("the predicate broke")
        return False
    return match


class Router(Agent, type="py-router"):
    """Several handlers of one message type, chosen by kind (send or publish) and by match, in declaration order."""

    subscriptions = ("py-notes",)

    def __init__(self) -> None:
        self.heard: List[Tuple[str, str]] = []

    @rpc(Note, success=str, match=lambda m, context: m.text.startswith("urgent"))
    async def urgent(self, m: Note) -> str:
        return f"urgent: {m.text}"

    @rpc(Note, success=str, match=_raises_on("raise"))
    async def never(self, m: Note) -> str:
        return "unreachable"

    @event(Note, match=lambda m, context: context.topic is not None and context.topic.source.endswith("vip"))
    async def vip(self, m: Note) -> None:
        self.heard.append(("vip", m.text))

    @event(Note, match=lambda m, context: m.text.startswith("log:"))
    async def log(self, m: Note) -> None:
        self.heard.append(("log", m.text))

    @event(Note)
    async def anything(self, m: Note) -> None:
        self.heard.append(("any", m.text))

    @event(Query)
    async def query(self, m: Query) -> None:
        self.heard.append(("query", m.text))

    @rpc(History, success=List[List[str]])
    async def history(self, m: History) -> List[List[str]]:
        return [list(h) for h in self.heard]


@message
class Trace:
    hops: int


class Tracer(Agent, type="py-tracer"):
    """Answers with the trace context it was delivered; with hops left, sends on and publishes (which carry it on)."""

    subscriptions = ("py-traces",)

    def __init__(self) -> None:
        self.seen: List[Optional[str]] = []

    @rpc(Trace, success=str)
    async def trace(self, m: Trace) -> str:
        if m.hops > 0:
            await self.send(AgentId("py-tracer", f"{self.id.key}+"), Trace(hops=m.hops - 1), reply=str)
            await self.publish(TopicId("py-traces", f"{self.id.key}-heard"), Trace(hops=0), ack=True)
        return current_traceparent() or ""

    @event(Trace)
    async def heard(self, m: Trace) -> None:
        self.seen.append(current_traceparent())


ALL = [Greeter, Sleeper, Ordered, PingPong, Pong, Announcer, Tidier, Router, Tracer]
