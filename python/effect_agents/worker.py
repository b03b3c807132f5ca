"""The worker: joins a host, runs agent instances, sends and publishes.

One connection, one ``Connect`` call per session (see docs/protocol.md). The
host pushes ``Welcome``, ``Ping``, ``Deliver``, ``Cancel``, ``Control`` and
``DeadLetter`` down the ``Connect`` stream; everything else is a call from
here. The worker answers every ``Ping`` from its reading loop (never behind a
handler), watches the host's silence, reconnects with the same worker id and
the latest ``resume`` secret when a session ends, and declares its agent
types and subscriptions again on every ``Welcome``.
"""
from __future__ import annotations

import asyncio
import contextvars
import itertools
import json
import logging
import re
import secrets
import ssl as ssl_module
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Type

from . import errors as E
from .agent import Agent, HandlerSpec, MessageContext, all_subscriptions, check_agent_class
from .codec import MAX_DEPTH, MAX_MESSAGE_BYTES, DecodeError, check_payload, decode, dumps, encode, is_message, tag_of
from .ids import MAX_CHAIN_LENGTH, AgentId, Subscription, TopicId, identifier, subscription_from_json
from .transport import MAX_FRAME_BYTES, Transport, TransportClosed, open_transport

log = logging.getLogger("effect_agents")

#: how many answers one ``Reply`` call may carry (``Protocol.maxRepliesPerCall``)
MAX_REPLIES_PER_CALL = 4096
#: the "in use" refusal while this worker's own previous session is being dropped
IN_USE_REASON = "this worker id is in use by a live session; present its resume secret to take it over"
#: a W3C trace context, as the host's schema (``Protocol.Traceparent``) accepts it
TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


@dataclass(frozen=True)
class DeadLetter:
    """A message this worker published failed for one recipient."""

    recipient: str
    message_type: str
    error: E.AgentError
    sender: Optional[str] = None
    topic: Optional[str] = None


@dataclass
class _Current:
    """The handler running in this task: its agent (the sender of what it sends), its call chain, its delivery's trace context."""

    agent: AgentId
    chain: Tuple[str, ...]
    traceparent: Optional[str] = None


_current: contextvars.ContextVar[Optional[_Current]] = contextvars.ContextVar("effect_agents_current", default=None)


def current_traceparent() -> Optional[str]:
    """The W3C ``traceparent`` of the delivery the calling task handles, if it came with one.

    The worker does not trace: it forwards this on the sends and publishes the
    handler makes, so a trace stays whole across it. An application that
    traces makes it the parent of its own span and passes that span's
    context as ``traceparent=`` to ``send``/``publish``.
    """
    current = _current.get()
    return current.traceparent if current is not None else None


@dataclass
class _Work:
    """A ``Deliver`` (its handler and decoded message) or ``Control`` of one session, queued for an instance or running."""

    item: Dict[str, Any]
    session: int
    spec: Optional[HandlerSpec] = None
    message: Any = None
    task: Optional["asyncio.Task[Any]"] = None
    #: the host sent ``Cancel`` for it: once its task has ended, it is answered ``Interrupted``
    cancelled: bool = False


@dataclass
class _Instance:
    id: AgentId
    agent: Agent
    cls: Type[Agent]
    queue: "asyncio.Queue[_Work]"
    running: Dict[str, _Work] = field(default_factory=dict)  # requestId -> work
    consumers: List["asyncio.Task[None]"] = field(default_factory=list)


@dataclass
class _Session:
    number: int
    transport: Transport
    connect_id: int
    welcome: Optional[Dict[str, Any]] = None
    last_received: float = 0.0
    # this session's calls in flight: request id -> future of its exit
    pending: Dict[int, "asyncio.Future[Dict[str, Any]]"] = field(default_factory=dict)
    ended: bool = False


class Worker:
    """A worker process's connection to its host, and the agents it runs.

    ``async with Worker(url, worker_id, [Greeter]) as worker:`` joins (waiting
    up to ``connect_timeout`` for the first ``Welcome``) and leaves on exit.
    """

    def __init__(
        self,
        url: str,
        worker_id: str,
        agents: Iterable[Type[Agent]] = (),
        *,
        token: Optional[str] = None,
        ssl: Optional[ssl_module.SSLContext] = None,
        send_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        reconnect_interval: float = 0.25,
        max_in_flight: int = 8192,
        max_instances: int = 100_000,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        max_depth: int = MAX_DEPTH,
        dead_letter_capacity: int = 1024,
        on_dead_letter: Optional[Callable[[DeadLetter], None]] = None,
        on_frame: Optional[Callable[[str, str], None]] = None,
        on_joined: Optional[Callable[["Worker"], None]] = None,
    ) -> None:
        self.url = url
        self.worker_id = identifier(worker_id, "worker id")
        self.agent_classes: Dict[str, Type[Agent]] = {}
        for cls in agents:
            check_agent_class(cls)
            if cls.agent_type in self.agent_classes:
                raise ValueError(f"agent type {cls.agent_type} is given twice")
            self.agent_classes[cls.agent_type] = cls
        self.token = token
        self.ssl = ssl
        self.send_timeout = send_timeout
        self.connect_timeout = connect_timeout
        self.reconnect_interval = reconnect_interval
        self.max_in_flight = max_in_flight
        self.max_instances = max_instances
        self.max_message_bytes = max_message_bytes
        self.max_depth = max_depth
        self.on_dead_letter = on_dead_letter
        #: sees every frame, ``("out", text)`` or ``("in", text)``: for tracing and tests
        self.on_frame = on_frame
        #: called after every join, once the types and subscriptions are declared
        self.on_joined = on_joined
        #: how many times the host was silent for its heartbeat timeout and the worker reconnected
        self.silent_host_detected = 0
        #: dead letters of this worker's publishes; the oldest is dropped when it is full
        self.dead_letters: "asyncio.Queue[DeadLetter]" = asyncio.Queue(maxsize=dead_letter_capacity)
        self.dead_letters_dropped = 0
        #: the ``hostId`` of the current (or last) session's host
        self.host_id: Optional[str] = None
        #: how many sessions this worker joined (a reconnect makes it grow)
        self.sessions_joined = 0
        self._subscriptions: List[Subscription] = all_subscriptions(self.agent_classes.values())
        self._resume: Optional[str] = None
        self._ids = itertools.count(1)
        self._message_prefix = f"{secrets.token_hex(4)}"
        self._message_ids = itertools.count()
        self._instances: Dict[str, _Instance] = {}
        self._queued: Dict[str, _Work] = {}  # requestId -> work still in a mailbox
        self._running: Dict[str, Tuple[_Instance, _Work]] = {}  # requestId -> the work being handled
        self._replies: List[Dict[str, Any]] = []
        self._flush_scheduled = False
        self._session: Optional[_Session] = None
        self._session_numbers = itertools.count(1)
        self._joined = asyncio.Event()
        self._stopping = False
        self._fatal: Optional[BaseException] = None
        self._runner: Optional["asyncio.Task[None]"] = None
        self._background: Set["asyncio.Task[Any]"] = set()

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> "Worker":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    async def start(self) -> None:
        """Starts serving in the background and waits until the first session joined and declared everything."""
        if self._runner is None:
            self._runner = asyncio.create_task(self.run(), name=f"effect-agents worker {self.worker_id}")
        waiter = asyncio.create_task(self._joined.wait())
        try:
            done, _ = await asyncio.wait({waiter, self._runner}, timeout=self.connect_timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if self._runner in done:
            await self._runner  # raises why it stopped
            raise E.WorkerRefused(None, "the worker stopped before it joined")
        if not self._joined.is_set():
            await self.stop()
            raise E.host_unreachable(self.url, f"could not join within {self.connect_timeout} s")

    async def stop(self) -> None:
        """Leaves the host: closes the connection, interrupts running handlers, fails calls in flight."""
        self._stopping = True
        session = self._session
        if session is not None:
            await session.transport.close()
        if self._runner is not None and self._runner is not asyncio.current_task():
            try:
                await asyncio.wait_for(asyncio.shield(self._runner), 5)
            except (asyncio.TimeoutError, Exception):
                self._runner.cancel()
        for instance in self._instances.values():
            for consumer in instance.consumers:
                consumer.cancel()
        for task in list(self._background):
            task.cancel()

    async def wait_closed(self) -> None:
        """Waits until the worker stops serving: after ``stop()``, or raising why the host refused it for good."""
        if self._runner is not None:
            await asyncio.shield(self._runner)

    async def run(self) -> None:
        """Serves until ``stop()``; raises ``WorkerRefused`` if the host refuses this worker for good."""
        in_use_since: Optional[float] = None
        while not self._stopping:
            try:
                outcome = await self._serve_session()
            except E.WorkerRefused:
                raise
            except Exception as e:  # a bug here must not end the worker silently
                log.exception("worker %s: session failed: %s", self.worker_id, e)
                outcome = "lost"
            if self._fatal is not None:
                raise self._fatal
            if outcome == "in use":
                now = time.monotonic()
                in_use_since = in_use_since or now
                window = self._takeover_window()
                if now - in_use_since > window:
                    raise E.WorkerRefused(
                        E.NotAccessibleError(sender=f"worker {self.worker_id}", recipient="host", messageType="Connect", reason=IN_USE_REASON),
                        f"worker id {self.worker_id} is held by another live session for more than {window:.1f} s: another process runs as this worker",
                    )
            else:
                in_use_since = None
            if not self._stopping:
                await asyncio.sleep(self.reconnect_interval)

    def _takeover_window(self) -> float:
        """How long the host may hold a dead session of this id: its heartbeat timeout and two pings (defaults if never welcomed)."""
        beat, timeout = 0.5, 2.0
        if self._last_welcome is not None:
            beat = self._last_welcome["heartbeatMillis"] / 1000
            timeout = self._last_welcome["heartbeatTimeoutMillis"] / 1000
        return timeout + 2 * beat + 0.5

    _last_welcome: Optional[Dict[str, Any]] = None

    # ------------------------------------------------------------------ one session

    async def _serve_session(self) -> str:
        """One connection and its session; returns how it ended: "lost" or "in use"."""
        try:
            transport = await open_transport(self.url, self.ssl, MAX_FRAME_BYTES)
        except (OSError, TransportClosed, asyncio.TimeoutError) as e:
            log.debug("worker %s: cannot reach %s: %s", self.worker_id, self.url, e)
            return "lost"
        session = _Session(next(self._session_numbers), transport, next(self._ids), last_received=time.monotonic())
        self._session = session
        payload: Dict[str, Any] = {"workerId": self.worker_id}
        if self.token is not None:
            payload["token"] = self.token
        if self._resume is not None:
            payload["resume"] = self._resume
        watchdog = asyncio.create_task(self._watch(session))
        ended = "lost"
        try:
            await self._write(session, {"_tag": "Request", "id": session.connect_id, "tag": "Connect", "payload": payload, "headers": []})
            while not session.ended:
                text = await transport.recv()
                session.last_received = time.monotonic()
                if self.on_frame is not None:
                    self.on_frame("in", text)
                try:
                    parsed = json.loads(text)
                except ValueError:
                    log.warning("worker %s: a frame from the host is not JSON", self.worker_id)
                    continue
                for envelope in parsed if isinstance(parsed, list) else [parsed]:
                    result = self._on_envelope(session, envelope)
                    if result is not None:
                        ended = result
                        session.ended = True
                        break
        except TransportClosed as e:
            log.info("worker %s: connection to the host lost: %s", self.worker_id, e.detail)
        finally:
            watchdog.cancel()
            session.ended = True
            await transport.close()
            self._session_lost(session)
        return ended

    async def _watch(self, session: _Session) -> None:
        """Closes a connection on which the host has been silent for its heartbeat timeout (it pings every heartbeat)."""
        while not session.ended:
            await asyncio.sleep(0.1)
            welcome = session.welcome
            # before this session's Welcome, the last one's timeout (a host that accepts and then says nothing is silent too)
            known = welcome or self._last_welcome
            timeout = known["heartbeatTimeoutMillis"] / 1000 if known else self.connect_timeout
            if time.monotonic() - session.last_received > timeout:
                log.info("worker %s: the host has been silent for %.1f s: reconnecting", self.worker_id, timeout)
                self.silent_host_detected += 1
                session.ended = True
                await session.transport.close()
                return

    def _on_envelope(self, session: _Session, envelope: Any) -> Optional[str]:
        """Handles one envelope from the host; returns how the session ended, if it did."""
        if not isinstance(envelope, dict):
            return None
        tag = envelope.get("_tag")
        if tag == "Chunk" and envelope.get("requestId") == session.connect_id:
            for item in envelope.get("values", []):
                self._on_pushed(session, item)
            return None
        if tag == "Exit":
            request_id = envelope.get("requestId")
            if request_id == session.connect_id:
                return self._on_connect_exit(session, envelope.get("exit", {}))
            future = session.pending.pop(request_id, None)
            if future is not None and not future.done():
                future.set_result(envelope.get("exit", {}))
            return None
        if tag == "Defect":
            # a connection-level error: the connection and its stream keep working, so nothing else changes
            log.warning("worker %s: the host reported a defect: %s", self.worker_id, envelope.get("defect"))
            return None
        return None  # Pong (an answer to an envelope Ping) and anything newer

    def _on_connect_exit(self, session: _Session, exit: Dict[str, Any]) -> str:
        if session.welcome is not None:
            # the host ended the session (replaced, silent, stuck): the connection lives, but the worker starts over
            log.info("worker %s: the host ended the session", self.worker_id)
            return "lost"
        cause = exit.get("cause", [])
        fail = next((c for c in cause if c.get("_tag") == "Fail"), None)
        if fail is not None:
            error = E.error_from_json(fail.get("error"))
            if isinstance(error, E.NotAccessibleError) and error.reason == IN_USE_REASON:
                return "in use"
            self._fatal = E.WorkerRefused(error, f"the host refused worker {self.worker_id}: {error}")
            return "lost"
        die = next((c for c in cause if c.get("_tag") == "Die"), None)
        if die is not None:
            self._fatal = E.WorkerRefused(None, f"the host refused the Connect of {self.worker_id} as malformed: {die.get('defect')}")
        return "lost"

    def _on_pushed(self, session: _Session, item: Any) -> None:
        if not isinstance(item, dict):
            return
        tag = item.get("_tag")
        if tag == "Ping":
            # at once, from the reading loop: never behind handler work
            self._fire(session, "Pong", {"seq": item.get("seq")})
        elif tag == "Welcome":
            session.welcome = item
            self._last_welcome = item
            self._resume = item.get("resume")
            self.host_id = item.get("hostId")
            self._spawn(self._declare(session))
        elif tag == "Deliver":
            self._on_deliver(session, item)
        elif tag == "Control":
            self._on_control(session, item)
        elif tag == "Cancel":
            self._on_cancel(str(item.get("requestId")))
        elif tag == "DeadLetter":
            self._on_dead_letter(item)
        elif tag == "DeliverStream":
            self._on_deliver_stream(session, item)

    async def _declare(self, session: _Session) -> None:
        """On every Welcome: every agent type and subscription again (the host forgot them, or is a new process)."""
        try:
            for cls in self.agent_classes.values():
                await self._call("RegisterAgentType", {"name": cls.agent_type, "description": cls.description[:4096]}, session=session)
            for subscription in self._subscriptions:
                await self._call("AddSubscription", {"subscription": subscription.to_json()}, session=session)
        except (E.NotAccessibleError, E.LimitExceededError) as e:
            # a credential or a limit refuses what this worker runs: that does not get better by retrying
            self._fatal = E.WorkerRefused(e, f"the host refused a declaration of worker {self.worker_id}: {e}")
            session.ended = True
            await session.transport.close()
            return
        except E.AgentError as e:
            log.info("worker %s: declarations interrupted (%s); they are made again on the next join", self.worker_id, e)
            return
        if session is self._session and not session.ended:
            self.sessions_joined += 1
            log.info("worker %s joined host %s (session %d)", self.worker_id, self.host_id, self.sessions_joined)
            self._joined.set()
            if self.on_joined is not None:
                self.on_joined(self)

    def _session_lost(self, session: _Session) -> None:
        """The host has settled everything of this session: interrupt its handlers, drop its queued work, fail its calls."""
        self._joined.clear()
        for request_id, (instance, work) in list(self._running.items()):
            if work.session == session.number:
                if work.task is not None:
                    work.task.cancel()
                del self._running[request_id]
                instance.running.pop(request_id, None)
        for request_id, work in list(self._queued.items()):
            if work.session == session.number:
                del self._queued[request_id]
        self._replies = [r for r in self._replies if r["session"] != session.number]
        lost = E.host_unreachable(self.url, "the connection to the host was lost")
        for future in session.pending.values():
            if not future.done():
                future.set_exception(lost)
                future.exception()  # retrieved: a caller that gave up must not make asyncio complain
        session.pending.clear()

    # ------------------------------------------------------------------ calls

    async def _write(self, session: _Session, envelope: Dict[str, Any]) -> None:
        text = dumps(envelope)
        if self.on_frame is not None:
            self.on_frame("out", text)
        await session.transport.send(text)

    def _joined_session(self, recipient: str) -> _Session:
        session = self._session
        if session is None or session.ended or session.welcome is None:
            raise E.host_unreachable(self.url, "not connected to the host")
        return session

    async def _call(self, tag: str, payload: Any, *, session: Optional[_Session] = None, recipient: str = "host") -> Any:
        """A call and its exit: the success value, or the exit's error raised (a ``Die`` as ``ProtocolDefect``)."""
        session = session or self._joined_session(recipient)
        if session.ended:
            raise E.host_unreachable(self.url, "the connection to the host was lost")
        if len(session.pending) >= self.max_in_flight:
            raise E.undeliverable(recipient, "Overloaded", what="this worker's calls in flight", limit=self.max_in_flight)
        request_id = next(self._ids)
        future: "asyncio.Future[Dict[str, Any]]" = asyncio.get_running_loop().create_future()
        session.pending[request_id] = future
        try:
            await self._write(session, {"_tag": "Request", "id": request_id, "tag": tag, "payload": payload, "headers": []})
            exit = await future
        except asyncio.CancelledError:
            # the caller gave up (its deadline, or it was cancelled): the host interrupts the call
            if session.pending.pop(request_id, None) is not None and not session.ended:
                self._spawn(self._interrupt(session, request_id))
            raise
        except TransportClosed:
            session.pending.pop(request_id, None)
            raise E.host_unreachable(self.url, "the connection to the host was lost") from None
        return _result(tag, exit)

    async def _interrupt(self, session: _Session, request_id: int) -> None:
        try:
            await self._write(session, {"_tag": "Interrupt", "requestId": request_id})
        except TransportClosed:
            pass

    def _fire(self, session: _Session, tag: str, payload: Any) -> None:
        """A call whose exit nobody waits for (``Pong``, ``Reply``); a failure is logged."""
        async def call() -> None:
            try:
                await self._call(tag, payload, session=session)
            except E.AgentError as e:
                log.debug("worker %s: %s failed: %s", self.worker_id, tag, e)
            except E.ProtocolDefect as e:
                log.error("worker %s: %s", self.worker_id, e)

        self._spawn(call())

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _next_message_id(self) -> str:
        return f"{self._message_prefix}-{self.worker_id[:200]}-{next(self._message_ids):x}"

    def _wire(self, message: Any) -> Dict[str, Any]:
        if not is_message(message):
            raise TypeError(f"{type(message).__name__} is not a message: mark its class with @message")
        tag = tag_of(message)
        data = encode(message)
        refused = check_payload(tag, data, self.max_message_bytes, self.max_depth)
        if refused is not None:
            raise E.InvalidMessageError(messageType=refused[0], issue=refused[1])
        return {"type": tag, "data": data}

    # ------------------------------------------------------------------ the public API

    async def send(
        self,
        recipient: AgentId,
        message: Any,
        *,
        reply: Any = None,
        errors: Sequence[type] = (),
        timeout: Optional[float] = None,
        traceparent: Optional[str] = None,
    ) -> Any:
        """Sends ``message`` to ``recipient`` and waits for its reply, decoded as ``reply``.

        A declared error listed in ``errors`` is raised as itself; every other
        failure is an ``AgentError`` (``HandlerError``, ``UndeliverableError``,
        ``TimeoutError`` after ``timeout`` seconds, default ``send_timeout``:
        the call is then interrupted and the recipient's handler cancelled).
        ``traceparent`` (a W3C trace context) goes with the message; by default,
        inside a handler, the trace context of the delivery it handles.
        """
        wire = self._wire(message)
        current = _current.get()
        chain = list(current.chain) if current is not None else []
        if len(chain) > MAX_CHAIN_LENGTH:
            raise E.InvalidMessageError(messageType=wire["type"], issue=f"the call chain is longer than {MAX_CHAIN_LENGTH}")
        payload: Dict[str, Any] = {"recipient": recipient.to_json(), "messageId": self._next_message_id(), "chain": chain, "message": wire}
        if current is not None:
            payload["sender"] = current.agent.to_json()
        payload.update(_trace(wire["type"], traceparent, current))
        seconds = self.send_timeout if timeout is None else timeout
        try:
            value = await asyncio.wait_for(self._call("Send", payload, recipient=str(recipient)), seconds)
        except asyncio.TimeoutError:
            raise E.TimeoutError(recipient=str(recipient), messageType=wire["type"], timeoutMillis=round(seconds * 1000)) from None
        except E.HandlerError as e:
            raise _declared(e, errors) from None
        if reply is None:
            return value
        try:
            return decode(reply, value)
        except DecodeError as e:
            raise E.InvalidMessageError(messageType=f"reply to {wire['type']}", issue=e.issue) from None

    async def publish(self, topic: TopicId, message: Any, *, ack: bool = False, traceparent: Optional[str] = None) -> None:
        """Publishes on ``topic``. With ``ack=True`` waits until every recipient handled it, and raises the first failure.

        ``traceparent`` as for ``send``.
        """
        wire = self._wire(message)
        current = _current.get()
        payload: Dict[str, Any] = {"topic": topic.to_json(), "messageId": self._next_message_id(), "message": wire}
        if current is not None:
            payload["sender"] = current.agent.to_json()
        payload.update(_trace(wire["type"], traceparent, current))
        if ack:
            payload["ack"] = True
        await self._call("Publish", payload, recipient=str(topic))

    def _sender(self) -> Dict[str, Any]:
        current = _current.get()
        return {"sender": current.agent.to_json()} if current is not None else {}

    async def add_subscription(self, subscription: Subscription) -> None:
        """Adds a subscription now, and again on every later join."""
        await self._call("AddSubscription", {"subscription": subscription.to_json(), **self._sender()})
        if subscription not in self._subscriptions:
            self._subscriptions.append(subscription)

    async def remove_subscription(self, subscription_id: str) -> bool:
        """Removes a subscription this worker added; ``False`` if it had none of this id."""
        self._subscriptions = [s for s in self._subscriptions if s.id != subscription_id]
        return bool(await self._call("RemoveSubscription", {"id": subscription_id, **self._sender()}))

    async def list_subscriptions(self) -> List[Subscription]:
        return [subscription_from_json(s) for s in await self._call("ListSubscriptions", self._sender())]

    async def save_state(self, agent: AgentId) -> Dict[str, Any]:
        """The state of an agent, wherever it runs: ``{cell name: JSON}``."""
        return await self._call("AgentControl", {"op": "saveState", "agentId": agent.to_json(), **self._sender()}, recipient=str(agent))

    async def load_state(self, agent: AgentId, state: Dict[str, Any]) -> None:
        await self._call("AgentControl", {"op": "loadState", "agentId": agent.to_json(), "state": state, **self._sender()}, recipient=str(agent))

    async def metadata(self, agent: AgentId) -> Dict[str, Any]:
        return await self._call("AgentControl", {"op": "metadata", "agentId": agent.to_json(), **self._sender()}, recipient=str(agent))

    async def save_all(self) -> Dict[str, Any]:
        """The state of every live agent on every worker that this caller may read, by ``type/key``."""
        return await self._call("SaveAll", self._sender())

    async def await_idle(self) -> None:
        """Waits until the host has nothing in flight anywhere."""
        await self._call("AwaitIdle", None)

    @property
    def joined(self) -> bool:
        return self._joined.is_set()

    async def wait_joined(self, timeout: Optional[float] = None) -> None:
        """Waits for a joined session (after a reconnect, the next one)."""
        await asyncio.wait_for(self._joined.wait(), timeout)

    def instance(self, agent: AgentId) -> Optional[Agent]:
        """The local instance of ``agent``, if this worker runs it."""
        found = self._instances.get(str(agent))
        return found.agent if found is not None else None

    # ------------------------------------------------------------------ what the host pushes

    def _on_deliver(self, session: _Session, item: Dict[str, Any]) -> None:
        request_id = str(item.get("requestId"))
        try:
            recipient = AgentId.from_json(item["recipient"])
        except (KeyError, TypeError, ValueError):
            return self._reply(session, request_id, _failure(E.InvalidMessageError(messageType="Deliver", issue="no valid recipient")))
        wire = item.get("message") if isinstance(item.get("message"), dict) else {}
        message_type = str(wire.get("type"))
        cls = self.agent_classes.get(recipient.type)
        if cls is None:
            return self._reply(session, request_id, _failure(E.undeliverable(recipient, "NoSuchAgentType", agentType=recipient.type)))
        routes = cls.routes(message_type)
        if not routes:
            return self._reply(session, request_id, _failure(E.CantHandleError(recipient=str(recipient), messageType=message_type)))
        # every handler of a type shares its class (checked when the agent class is made): decode once, then choose
        try:
            message = decode(routes[0].message, wire.get("data"))
        except DecodeError as e:
            return self._reply(session, request_id, _failure(E.InvalidMessageError(messageType=message_type, issue=e.issue)))
        try:
            chosen = cls.select(message_type, message, _context_of(recipient, item))
        except Exception as e:  # a match predicate that raises is the agent's bug: its caller (or publisher) hears of it
            log.debug("worker %s: a match predicate of %s on %s failed", self.worker_id, message_type, recipient, exc_info=True)
            reason = f"a match predicate failed: {str(e) or type(e).__name__}"[:4096]
            return self._reply(session, request_id, _failure(E.HandlerError(recipient=str(recipient), messageType=message_type, reason=reason, cause={"name": type(e).__name__, "message": str(e)[:4096]})))
        if not isinstance(chosen, HandlerSpec):
            # rpc says how the message came, and so which kind of handler may run it: a send runs rpc handlers, a publish event handlers
            return self._reply(session, request_id, _failure(E.CantHandleError(recipient=str(recipient), messageType=message_type, reason=chosen)))
        spec = chosen
        instance = self._instance_of(recipient, cls)
        if isinstance(instance, E.AgentError):
            return self._reply(session, request_id, _failure(instance))
        work = _Work(item, session.number, spec, message)
        if spec.concurrent:
            return self._start(instance, request_id, work)
        chain = item.get("chain") or []
        busy = [w for w in instance.running.values() if not (w.spec is not None and w.spec.concurrent)]
        if item.get("rpc") and chain and len(busy) >= cls.concurrency and all(w.item.get("messageId") in chain for w in busy):
            # every slot waits, further up this chain, for this very message: it could never run
            return self._reply(session, request_id, _failure(E.DeadlockError(recipient=str(recipient), messageType=message_type)))
        self._enqueue(session, instance, request_id, work)

    def _on_control(self, session: _Session, item: Dict[str, Any]) -> None:
        request_id = str(item.get("requestId"))
        op = item.get("op")
        if op == "saveAll":
            state: Dict[str, Any] = {}
            for key, instance in self._instances.items():
                try:
                    state[key] = instance.agent.save_state()
                except Exception as e:  # one broken agent must not hide the others' state
                    log.exception("worker %s: saving the state of %s failed: %s", self.worker_id, key, e)
            return self._reply(session, request_id, {"_tag": "Success", "value": state})
        try:
            agent = AgentId.from_json(item["agentId"])
        except (KeyError, TypeError, ValueError):
            return self._reply(session, request_id, _failure(E.InvalidMessageError(messageType=str(op), issue="no valid agentId")))
        cls = self.agent_classes.get(agent.type)
        if cls is None:
            return self._reply(session, request_id, _failure(E.undeliverable(agent, "NoSuchAgentType", agentType=agent.type)))
        instance = self._instance_of(agent, cls)
        if isinstance(instance, E.AgentError):
            return self._reply(session, request_id, _failure(instance))
        # state operations wait their turn in the mailbox, like messages
        self._enqueue(session, instance, request_id, _Work(item, session.number, None))

    def _on_cancel(self, request_id: str) -> None:
        """The caller went away. The host keeps the request in flight (``AwaitIdle``, this worker's pending budget)
        until it is answered once its handler has ended, so answer ``Interrupted`` then: at once for a queued one,
        after its task (its cleanup included) for a running one. A request already answered is not answered again."""
        queued = self._queued.pop(request_id, None)
        if queued is not None:
            # dropped where it waits: the consumer skips it
            self._answer_cancelled(request_id, queued)
            return
        running = self._running.get(request_id)
        if running is not None:
            _, work = running
            work.cancelled = True
            if work.task is not None:
                work.task.cancel()

    def _answer_cancelled(self, request_id: str, work: _Work) -> None:
        session = self._session
        if session is None or session.number != work.session or session.ended:
            return  # its session is over: the host settled it already
        item = work.item
        recipient = item.get("agentId") if work.spec is None else item.get("recipient")
        try:
            who: Any = AgentId.from_json(recipient) if recipient is not None else "host"
        except (TypeError, ValueError):
            who = "host"
        self._reply(session, request_id, _failure(E.undeliverable(who, "Interrupted")))

    def _on_deliver_stream(self, session: _Session, item: Dict[str, Any]) -> None:
        """A send to a streaming handler: this worker runs none, so it ends the stream at once with the refusal (docs/streaming.md)."""
        request_id = str(item.get("requestId"))
        recipient = item.get("recipient") if isinstance(item.get("recipient"), dict) else {}
        message_type = str((item.get("message") or {}).get("type"))
        cls = self.agent_classes.get(str(recipient.get("type")))
        name = f"{recipient.get('type')}/{recipient.get('key')}"
        if cls is None:
            refusal: E.AgentError = E.undeliverable(name, "NoSuchAgentType", agentType=str(recipient.get("type")))
        elif cls.handles(message_type):
            refusal = E.CantHandleError(recipient=name, messageType=message_type, reason=f"{message_type} is not answered with a stream: use send")
        else:
            refusal = E.CantHandleError(recipient=name, messageType=message_type)
        self._fire(session, "StreamData", {"requestId": request_id, "chunks": [], "end": _failure(refusal)})

    def _on_dead_letter(self, item: Dict[str, Any]) -> None:
        letter = DeadLetter(
            recipient=str(item.get("recipient")),
            message_type=str(item.get("messageType")),
            error=E.error_from_json(item.get("error")),
            sender=item.get("sender"),
            topic=item.get("topic"),
        )
        if self.on_dead_letter is not None:
            try:
                self.on_dead_letter(letter)
            except Exception as e:
                log.exception("worker %s: on_dead_letter failed: %s", self.worker_id, e)
        if self.dead_letters.full():
            self.dead_letters.get_nowait()
            self.dead_letters_dropped += 1
        self.dead_letters.put_nowait(letter)

    # ------------------------------------------------------------------ instances and mailboxes

    def _instance_of(self, agent: AgentId, cls: Type[Agent]) -> "_Instance | E.AgentError":
        key = str(agent)
        found = self._instances.get(key)
        if found is not None:
            return found
        if len(self._instances) >= self.max_instances:
            return E.undeliverable(agent, "Overloaded", what=f"the instances of worker {self.worker_id}", limit=self.max_instances)
        obj = cls()
        obj.id = agent
        obj.runtime = self
        instance = _Instance(agent, obj, cls, asyncio.Queue(maxsize=cls.mailbox_capacity))
        self._instances[key] = instance
        started = asyncio.ensure_future(obj.on_start())
        instance.consumers = [asyncio.create_task(self._consume(instance, started)) for _ in range(cls.concurrency)]
        return instance

    def _enqueue(self, session: _Session, instance: _Instance, request_id: str, work: _Work) -> None:
        try:
            instance.queue.put_nowait(work)
        except asyncio.QueueFull:
            return self._reply(session, request_id, _failure(E.undeliverable(instance.id, "Overloaded", what=f"the mailbox of {instance.id}", limit=instance.cls.mailbox_capacity)))
        self._queued[request_id] = work

    async def _consume(self, instance: _Instance, started: "asyncio.Future[None]") -> None:
        try:
            await started
        except Exception as e:
            log.exception("worker %s: on_start of %s failed: %s", self.worker_id, instance.id, e)
        while True:
            work = await instance.queue.get()
            request_id = str(work.item.get("requestId"))
            if self._queued.get(request_id) is not work:
                continue  # cancelled while it waited, or its session ended
            del self._queued[request_id]
            task = self._start(instance, request_id, work)
            if task is not None:
                await asyncio.wait({task})

    def _start(self, instance: _Instance, request_id: str, work: _Work) -> "Optional[asyncio.Task[Any]]":
        item = work.item
        if work.spec is not None:
            chain = tuple(item.get("chain") or ()) + (str(item.get("messageId")),) if item.get("rpc") else (str(item.get("messageId")),)
            # forwarded on what the handler sends and publishes: this worker does not trace, so the trace stays whole across it
            traceparent = item.get("traceparent")
            traceparent = traceparent if isinstance(traceparent, str) and TRACEPARENT.match(traceparent) else None
            context = contextvars.copy_context()
            context.run(_current.set, _Current(instance.id, chain, traceparent))
            coroutine = self._handle(instance, work.spec, work.message)
        else:
            context = contextvars.copy_context()
            context.run(_current.set, _Current(instance.id, ()))
            coroutine = self._control(instance, item)
        task = asyncio.get_running_loop().create_task(coroutine, context=context) if _supports_context() else _task_in(context, coroutine)
        work.task = task
        instance.running[request_id] = work
        self._running[request_id] = (instance, work)

        def done(t: "asyncio.Task[Dict[str, Any]]") -> None:
            instance.running.pop(request_id, None)
            if self._running.get(request_id, (None, None))[1] is not work:
                return  # its session ended: the host settled it, no reply
            del self._running[request_id]
            if work.cancelled:
                # the handler has ended (its cleanup ran): the host may count the cancelled request as done
                return self._answer_cancelled(request_id, work)
            if t.cancelled():
                return
            session = self._session
            if session is not None and session.number == work.session and not session.ended:
                self._reply(session, request_id, t.result())

        task.add_done_callback(done)
        return task

    async def _handle(self, instance: _Instance, spec: HandlerSpec, message: Any) -> Dict[str, Any]:
        recipient = str(instance.id)
        tag = spec.tag
        try:
            value = await getattr(instance.agent, spec.method)(message)
        except asyncio.CancelledError:
            raise
        except BaseException as e:
            # only a declared error travels as itself (inside HandlerError.error); any other failure is described, as on a TS worker
            if spec.errors and isinstance(e, tuple(spec.errors)):
                if isinstance(e, E.AgentError):
                    return _failure(E.HandlerError(recipient=recipient, messageType=tag, reason=e.tag, error=e.to_json()))
                return _failure(E.HandlerError(recipient=recipient, messageType=tag, reason=tag_of(e), error=encode(e)))
            if isinstance(e, E.AgentError):
                return _failure(E.HandlerError(recipient=recipient, messageType=tag, reason=str(e)[:4096], cause=e.to_json()))
            if not isinstance(e, Exception):
                raise
            log.debug("worker %s: handler of %s on %s failed", self.worker_id, tag, recipient, exc_info=True)
            return _failure(E.HandlerError(recipient=recipient, messageType=tag, reason=str(e) or type(e).__name__, cause={"name": type(e).__name__, "message": str(e)[:4096]}))
        if spec.kind == "event" or value is None:
            return {"_tag": "Success", "value": None}
        try:
            encoded = encode(value) if spec.success is None else encode(decode(spec.success, encode(value)))
        except DecodeError as e:
            return _failure(E.InvalidMessageError(messageType=f"reply to {tag}", issue=e.issue))
        refused = check_payload(f"reply to {tag}", encoded, self.max_message_bytes, self.max_depth)
        if refused is not None:
            return _failure(E.InvalidMessageError(messageType=refused[0], issue=refused[1]))
        return {"_tag": "Success", "value": encoded}

    async def _control(self, instance: _Instance, item: Dict[str, Any]) -> Dict[str, Any]:
        op = item.get("op")
        agent = instance.agent
        try:
            if op == "ensure":
                return {"_tag": "Success", "value": None}
            if op == "metadata":
                return {"_tag": "Success", "value": {"type": instance.id.type, "key": instance.id.key, "description": instance.cls.description}}
            if op == "saveState":
                state = agent.save_state()
                refused = check_payload(f"state of {instance.id}", state, self.max_message_bytes, self.max_depth)
                if refused is not None:
                    return _failure(E.InvalidMessageError(messageType=refused[0], issue=refused[1]))
                return {"_tag": "Success", "value": state}
            if op == "loadState":
                state = item.get("state")
                agent.load_state(state if isinstance(state, dict) else {})
                return {"_tag": "Success", "value": None}
        except DecodeError as e:
            return _failure(E.InvalidMessageError(messageType=f"state of {instance.id}", issue=e.issue))
        except Exception as e:
            return _failure(E.HandlerError(recipient=str(instance.id), messageType=str(op), reason=str(e) or type(e).__name__))
        return _failure(E.InvalidMessageError(messageType="Control", issue=f"unknown op {op!r}"))

    def _reply(self, session: _Session, request_id: str, outcome: Dict[str, Any]) -> None:
        """Queues an answer; what finishes in the same tick leaves in one ``Reply``."""
        self._replies.append({"requestId": request_id, "outcome": outcome, "session": session.number})
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        session = self._session
        replies, self._replies = self._replies, []
        if session is None or session.ended:
            return
        mine = [{"requestId": r["requestId"], "outcome": r["outcome"]} for r in replies if r["session"] == session.number]
        for start in range(0, len(mine), MAX_REPLIES_PER_CALL):
            self._fire(session, "Reply", {"replies": mine[start:start + MAX_REPLIES_PER_CALL]})


def _trace(message_type: str, traceparent: Optional[str], current: Optional[_Current]) -> Dict[str, str]:
    """The ``traceparent`` key of a send or publish: the one given (checked here, as the host's schema would refuse it), else the handler's."""
    if traceparent is None:
        inherited = current.traceparent if current is not None else None
        return {"traceparent": inherited} if inherited is not None else {}
    if not isinstance(traceparent, str) or not TRACEPARENT.match(traceparent):
        raise E.InvalidMessageError(messageType=message_type, issue=f"traceparent {traceparent!r:.80} is not a W3C trace context (00-<32 hex>-<16 hex>-<2 hex>)")
    return {"traceparent": traceparent}


def _context_of(recipient: AgentId, item: Dict[str, Any]) -> MessageContext:
    """What a ``match`` predicate is told about a delivery."""
    try:
        sender: Optional[AgentId] = AgentId.from_json(item["sender"]) if isinstance(item.get("sender"), dict) else None
    except (KeyError, TypeError, ValueError):
        sender = None
    try:
        topic: Optional[TopicId] = TopicId.from_json(item["topic"]) if isinstance(item.get("topic"), dict) else None
    except (KeyError, TypeError, ValueError):
        topic = None
    return MessageContext(recipient=recipient, sender=sender, topic=topic, message_id=str(item.get("messageId")), is_rpc=bool(item.get("rpc")))


def _supports_context() -> bool:
    import sys

    return sys.version_info >= (3, 11)


def _task_in(context: contextvars.Context, coroutine: Awaitable[Any]) -> "asyncio.Task[Any]":
    # Python 3.10: a task copies the current context, so create it from inside the wanted one
    return context.run(asyncio.ensure_future, coroutine)  # type: ignore[arg-type]


def _failure(error: E.AgentError) -> Dict[str, Any]:
    return {"_tag": "Failure", "error": error.to_json()}


def _result(tag: str, exit: Dict[str, Any]) -> Any:
    if exit.get("_tag") == "Success":
        return exit.get("value")
    cause = exit.get("cause", [])
    fail = next((c for c in cause if c.get("_tag") == "Fail"), None)
    if fail is not None:
        raise E.error_from_json(fail.get("error"))
    die = next((c for c in cause if c.get("_tag") == "Die"), None)
    if die is not None:
        raise E.ProtocolDefect(tag, die.get("defect"))
    raise E.undeliverable("host", "Interrupted")


def _declared(error: E.HandlerError, errors: Sequence[type]) -> BaseException:
    """The declared error a ``HandlerError`` carries, decoded, if the caller listed its class; else the ``HandlerError``."""
    data = error.fields.get("error")
    if isinstance(data, dict):
        for cls in errors:
            if isinstance(cls, type) and issubclass(cls, E.AgentError):
                if data.get("_tag") == cls.tag:
                    return E.error_from_json(data)
                continue
            if data.get("_tag") == tag_of(cls):
                try:
                    return decode(cls, data)
                except DecodeError:
                    break
    return error
