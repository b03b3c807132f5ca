"""The worker against a real host, on each transport: the conformance checklist of docs/protocol.md.

Each test names the checklist items (C1 to C18) it walks.
"""
from __future__ import annotations

import asyncio
import json
import unittest
from typing import Any, Dict, List

from tests import support
from tests import agents
from tests.agents import ALL, Greet, Greeter, History, Note, Order, Ping, Query, Refused, Said, Slow, Sleeper, Tidy, Trace

from effect_agents import (
    AgentId,
    AgentTimeoutError,
    CantHandleError,
    DeadlockError,
    HandlerError,
    InvalidMessageError,
    ProtocolDefect,
    TopicId,
    TypeSubscription,
    UndeliverableError,
    Worker,
    WorkerRefused,
    message,
)


@message(tag="Greet")
class BadGreet:
    name: int


@message
class Unknown:
    pass


class Frames:
    """Every frame a worker wrote and read, parsed."""

    def __init__(self) -> None:
        self.out: List[Dict[str, Any]] = []
        self.inbound: List[Any] = []

    def __call__(self, direction: str, text: str) -> None:
        (self.out if direction == "out" else self.inbound).append(json.loads(text))


class HostTests:
    """Tests sharing one host per transport; the subclasses pick it."""

    transport = "tcp"
    host: support.Host

    @classmethod
    def setUpClass(cls) -> None:
        cls.host = support.Host(cls.transport).start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.host.stop()

    def worker(self, name: str, agents=ALL, **options: Any) -> Worker:
        return Worker(self.host.url, f"{self.transport}-{name}", agents, **options)

    async def test_envelopes_handshake_and_send(self) -> None:
        """C1 (headers, ids, matching by id), C3 (Welcome first, resume kept, declarations), C9 (declared errors)."""
        frames = Frames()
        async with self.worker("envelope", on_frame=frames) as w:
            greeter = AgentId("py-greeter", "alice")
            replies = await asyncio.gather(*(w.send(greeter, Greet(name=f"n{i}"), reply=str) for i in range(20)))
            self.assertEqual(replies, [f"Hello, n{i}" for i in range(20)])
            with self.assertRaises(Refused) as refused:
                await w.send(greeter, Greet(name="Eve"), errors=[Refused])
            self.assertEqual(refused.exception.why, "not you")
            # without the class listed, the declared error stays inside HandlerError
            with self.assertRaises(HandlerError) as wrapped:
                await w.send(greeter, Greet(name="Eve"))
            self.assertEqual(wrapped.exception.error, {"_tag": "Refused", "why": "not you"})
            with self.assertRaises(HandlerError) as crashed:
                await w.send(greeter, Greet(name="crash"))
            self.assertEqual(crashed.exception.reason, "it broke")
            self.assertNotIn("error", crashed.exception.fields)
        requests = [f for f in frames.out if f["_tag"] == "Request"]
        self.assertTrue(all(f["headers"] == [] for f in requests))
        self.assertTrue(all(isinstance(f["id"], int) for f in requests))
        self.assertEqual(len({f["id"] for f in requests}), len(requests), "no id is reused")
        connect = requests[0]
        self.assertEqual(connect["tag"], "Connect")
        self.assertEqual(connect["payload"], {"workerId": f"{self.transport}-envelope"})
        chunks = [f for f in frames.inbound if isinstance(f, dict) and f.get("_tag") == "Chunk"]
        self.assertEqual(chunks[0]["values"][0]["_tag"], "Welcome")
        declared = [f["payload"]["name"] for f in requests if f["tag"] == "RegisterAgentType"]
        self.assertEqual(declared, [cls.agent_type for cls in ALL])
        self.assertIn({"subscription": {"_tag": "TypeSubscription", "topicType": "py-chat", "agentType": "py-greeter"}}, [f["payload"] for f in requests if f["tag"] == "AddSubscription"])
        # every Ping was answered with its nonce (C5)
        pings = [v["seq"] for c in chunks for v in c["values"] if v["_tag"] == "Ping"]
        pongs = [f["payload"]["seq"] for f in requests if f["tag"] == "Pong"]
        self.assertTrue(set(pings) <= set(pongs) | set(pings[-1:]), "every ping but perhaps the last is answered")

    async def test_refusals_of_a_delivery(self) -> None:
        """C9: CantHandleError, InvalidMessageError; C10: limits refused here first, a Die surfaced as ProtocolDefect."""
        async with self.worker("refusals") as w:
            greeter = AgentId("py-greeter", "bob")
            with self.assertRaises(CantHandleError) as cant:
                await w.send(greeter, Unknown())
            self.assertEqual(cant.exception.to_json(), {"_tag": "CantHandleError", "recipient": "py-greeter/bob", "messageType": "Unknown"})
            # an event handler does not answer sends
            with self.assertRaises(CantHandleError):
                await w.send(greeter, Said(text="x"))
            with self.assertRaises(InvalidMessageError) as invalid:
                await w.send(greeter, BadGreet(name=1))
            self.assertEqual(invalid.exception.message_type, "Greet")
            self.assertIn("expected a string at ['name']", invalid.exception.issue)
            with self.assertRaises(InvalidMessageError) as big:
                await w.send(greeter, Greet(name="x" * (1024 * 1024)))
            self.assertIn("exceeds this worker's limit", big.exception.issue)
            with self.assertRaises(UndeliverableError) as nobody:
                await w.send(AgentId("nobody-runs-this", "k"), Greet(name="x"))
            self.assertEqual(nobody.exception.reason, {"_tag": "NoWorker", "agentType": "nobody-runs-this"})
            with self.assertRaises(ProtocolDefect) as die:
                await w._call("Send", {"recipient": {"type": "a", "key": "é"}, "messageId": "m", "chain": [], "message": {"type": "T", "data": {}}})
            self.assertIn('at ["recipient"]["key"]', str(die.exception.defect))
            # a streaming send (docs/streaming.md) to this worker, which runs no streaming handler: its stream ends at once with the refusal
            stream = {"recipient": greeter.to_json(), "messageId": "stream-1", "chain": [], "message": {"type": "Greet", "data": {"_tag": "Greet", "name": "x"}}, "credit": 4}
            with self.assertRaises(CantHandleError) as no_stream:
                await w._call("SendStream", stream)
            self.assertEqual(no_stream.exception.to_json(), {"_tag": "CantHandleError", "recipient": "py-greeter/bob", "messageType": "Greet", "reason": "Greet is not answered with a stream: use send"})
            with self.assertRaises(CantHandleError) as unknown:
                await w._call("SendStream", {**stream, "messageId": "stream-2", "message": {"type": "Unknown", "data": {"_tag": "Unknown"}}})
            self.assertNotIn("reason", unknown.exception.to_json())
            self.assertEqual(await w.send(greeter, Greet(name="after"), reply=str), "Hello, after", "the worker goes on")

    async def test_a_defect_changes_nothing(self) -> None:
        """C15: a Defect (here, for a frame that is not JSON) is logged; the connection and the session keep working."""
        frames = Frames()
        async with self.worker("defect", on_frame=frames) as w:
            await w._session.transport.send("{not json")
            await support.eventually(lambda: any(isinstance(f, dict) and f.get("_tag") == "Defect" for f in frames.inbound), what="the Defect")
            self.assertEqual(await w.send(AgentId("py-greeter", "d"), Greet(name="still here"), reply=str), "Hello, still here")
            self.assertEqual(w.sessions_joined, 1)

    async def test_mailbox_order_and_bounds(self) -> None:
        """C8: one message at a time per instance, in arrival order; a full mailbox refuses with Overloaded."""
        async with self.worker("order") as w:
            ordered = AgentId("py-ordered", "k")
            sends = [asyncio.ensure_future(w.send(ordered, Order(n=i), reply=int)) for i in range(30)]
            await asyncio.gather(*sends)
            self.assertEqual(await w.send(ordered, History(), reply=List[int]), list(range(30)))
            self.assertEqual(w.instance(ordered).max_active, 1)
            # py-sleeper's mailbox holds 2: one running, two waiting, the fourth is refused
            Sleeper.started.clear()
            sleeper = AgentId("py-sleeper", "full")
            first = asyncio.ensure_future(w.send(sleeper, Slow(seconds=1.0), reply=float))
            await support.eventually(lambda: Sleeper.started == [1.0], what="the first Slow to start")
            waiting = [asyncio.ensure_future(w.send(sleeper, Slow(seconds=0.01), reply=float)) for _ in range(2)]
            await asyncio.sleep(0.3)
            with self.assertRaises(UndeliverableError) as full:
                await w.send(sleeper, Slow(seconds=0.01))
            self.assertEqual(full.exception.reason, {"_tag": "Overloaded", "what": "the mailbox of py-sleeper/full", "limit": 2})
            self.assertEqual(await first, 1.0)
            self.assertEqual(await asyncio.gather(*waiting), [0.01, 0.01])

    async def test_a_deadline_cancels_the_handler(self) -> None:
        """C8: the caller's deadline interrupts the Send; the host sends Cancel; the handler is cancelled."""
        Sleeper.cancelled.clear()
        async with self.worker("deadline") as w:
            with self.assertRaises(AgentTimeoutError) as timeout:
                await w.send(AgentId("py-sleeper", "d"), Slow(seconds=30), timeout=0.5)
            self.assertEqual(timeout.exception.to_json(), {"_tag": "TimeoutError", "recipient": "py-sleeper/d", "messageType": "Slow", "timeoutMillis": 500})
            await support.eventually(lambda: Sleeper.cancelled == [30], what="the handler to be cancelled")
            # the instance takes the next message at once
            self.assertEqual(await w.send(AgentId("py-sleeper", "d"), Slow(seconds=0.01), reply=float), 0.01)

    async def test_a_cancel_is_answered_once_the_handler_ended(self) -> None:
        """C17: a cancelled handler's request is answered Interrupted after its cleanup ran (AwaitIdle waits for it); a queued one at once."""
        frames = Frames()
        log = agents.EVENTS
        log.clear()

        def on_frame(direction: str, text: str) -> None:
            frames(direction, text)
            if direction == "out":
                log.append(("out", json.loads(text)))

        def deliver_of(key: str) -> str:
            found = [v for f in frames.inbound if isinstance(f, dict) and f.get("_tag") == "Chunk" for v in f["values"]
                     if v["_tag"] == "Deliver" and v["recipient"] == {"type": "py-tidier", "key": key}]
            self.assertEqual(len(found), 1)
            return found[0]["requestId"]

        def answers_to(request_id: str) -> List[int]:
            return [i for i, (kind, f) in enumerate(log) if kind == "out" and f.get("tag") == "Reply" for r in f["payload"]["replies"] if r["requestId"] == request_id]

        interrupted = lambda key: {"_tag": "Failure", "error": {"_tag": "UndeliverableError", "recipient": f"py-tidier/{key}", "reason": {"_tag": "Interrupted"}}}
        async with self.worker("cancel-ack", on_frame=on_frame) as w:
            tidier = AgentId("py-tidier", "slow-cleanup")
            with self.assertRaises(AgentTimeoutError):
                await w.send(tidier, Tidy(seconds=60, cleanup=1.0), timeout=0.3)
            # the caller is free at once; the host counts the request in flight until the cleanup has run and the worker said so
            await w.await_idle()
            self.assertEqual(len(w.instance(tidier).cleaned), 1, "AwaitIdle returned only after the cleanup")
            request_id = deliver_of("slow-cleanup")
            [answer] = answers_to(request_id)
            self.assertLess(log.index(("cleaned", "py-tidier/slow-cleanup")), answer, "answered after the cleanup")
            self.assertEqual([r["outcome"] for r in log[answer][1]["payload"]["replies"] if r["requestId"] == request_id], [interrupted("slow-cleanup")])

            # one that waits in the mailbox behind a running handler is answered at once, before the running one ends
            busy = AgentId("py-tidier", "busy")
            running = asyncio.ensure_future(w.send(busy, Tidy(seconds=1.5, cleanup=0), reply=float))
            await support.eventually(lambda: any(v.get("_tag") == "Deliver" and v["recipient"]["key"] == "busy" for f in frames.inbound if isinstance(f, dict) and f.get("_tag") == "Chunk" for v in f["values"]), what="the first delivery")
            with self.assertRaises(AgentTimeoutError):
                await w.send(busy, Tidy(seconds=60, cleanup=0), timeout=0.3)
            await support.eventually(lambda: sum(1 for f in frames.inbound if isinstance(f, dict) and f.get("_tag") == "Chunk" for v in f["values"] if v["_tag"] == "Cancel") >= 2, what="the second Cancel")
            self.assertEqual(await running, 1.5)
            queued = [v["requestId"] for f in frames.inbound if isinstance(f, dict) and f.get("_tag") == "Chunk" for v in f["values"] if v["_tag"] == "Deliver" and v["recipient"]["key"] == "busy"]
            self.assertEqual(len(queued), 2)
            await w.await_idle()
            [first], [second] = answers_to(queued[0]), answers_to(queued[1])
            self.assertLess(second, first, "the queued one is answered before the running one ends")
            self.assertEqual(len(w.instance(busy).cleaned), 0, "a queued message never ran: nothing to clean up")

    async def test_routing_by_kind_and_match(self) -> None:
        """C16: a send runs only rpc handlers, a publish only event handlers; the first whose match accepts; CantHandleError with its reason."""
        async with self.worker("routing") as w:
            router = AgentId("py-router", "r")
            self.assertEqual(await w.send(router, Note(text="urgent: now"), reply=str), "urgent: urgent: now")
            with self.assertRaises(CantHandleError) as no_match:
                await w.send(router, Note(text="hello"))
            self.assertEqual(no_match.exception.to_json(), {"_tag": "CantHandleError", "recipient": "py-router/r", "messageType": "Note", "reason": "no handler's match accepts this send"})
            with self.assertRaises(CantHandleError) as event_only:
                await w.send(router, Query(text="q"))
            self.assertEqual(event_only.exception.reason, "Query is handled as an event: publish it on a topic py-router subscribes to")
            with self.assertRaises(HandlerError) as broken:
                await w.send(router, Note(text="raise"))
            self.assertEqual(broken.exception.reason, "a match predicate failed: the predicate broke")
            # publishes: in declaration order, the first event handler whose match accepts
            await w.publish(TopicId("py-notes", "r"), Note(text="log:1"), ack=True)
            await w.publish(TopicId("py-notes", "r"), Note(text="plain"), ack=True)
            await w.publish(TopicId("py-notes", "r"), Query(text="q"), ack=True)
            await w.publish(TopicId("py-notes", "r-vip"), Note(text="log:2"), ack=True)
            self.assertEqual(await w.send(router, History(), reply=List[List[str]]), [["log", "log:1"], ["any", "plain"], ["query", "q"]])
            self.assertEqual(await w.send(AgentId("py-router", "r-vip"), History(), reply=List[List[str]]), [["vip", "log:2"]])
            # a publish of a message only an rpc handler takes: the acknowledged one fails, the plain one is a dead letter
            rpc_only = "History is handled by an rpc handler, which runs only for a direct send"
            with self.assertRaises(CantHandleError) as acked:
                await w.publish(TopicId("py-notes", "r"), History(), ack=True)
            self.assertEqual(acked.exception.reason, rpc_only)
            await w.publish(TopicId("py-notes", "r"), History())
            letters = [await asyncio.wait_for(w.dead_letters.get(), 15) for _ in range(2)]
            self.assertEqual([(l.recipient, l.message_type, l.topic, l.error.tag, l.error.reason) for l in letters], [("py-router/r", "History", "py-notes/r", "CantHandleError", rpc_only)] * 2)

    async def test_a_trace_context_is_forwarded(self) -> None:
        """C18: a Deliver's traceparent goes on the handler's sends and publishes; one given is checked; none is added."""
        frames = Frames()
        parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        async with self.worker("trace", on_frame=frames) as w:
            tracer = AgentId("py-tracer", "t")
            self.assertEqual(await w.send(tracer, Trace(hops=1), reply=str, traceparent=parent), parent)
            # the nested send was delivered with it (the host forwards it unchanged), and so was the publish
            self.assertEqual(await w.send(AgentId("py-tracer", "t+"), Trace(hops=0), reply=str), "", "a send from outside any handler carries none")
            await support.eventually(lambda: w.instance(AgentId("py-tracer", "t-heard")) is not None and w.instance(AgentId("py-tracer", "t-heard")).seen == [parent], what="the event handler to see the trace context")
            calls = [f["payload"] for f in frames.out if f.get("tag") in ("Send", "Publish") and f["payload"].get("sender") == tracer.to_json()]
            self.assertEqual(len(calls), 2)
            self.assertTrue(all(c.get("traceparent") == parent for c in calls), calls)
            delivered = [v for f in frames.inbound if isinstance(f, dict) and f.get("_tag") == "Chunk" for v in f["values"] if v["_tag"] == "Deliver" and v["message"]["type"] == "Trace"]
            self.assertEqual([d.get("traceparent") for d in delivered], [parent, parent, parent, None])
            with self.assertRaises(InvalidMessageError) as malformed:
                await w.send(tracer, Trace(hops=0), traceparent="00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01")
            self.assertIn("is not a W3C trace context", malformed.exception.issue)

    async def test_a_call_cycle_is_a_deadlock(self) -> None:
        """C11: the chain is built as the protocol says, and a delivery that would wait for itself is refused."""
        async with self.worker("cycle") as w:
            with self.assertRaises(DeadlockError) as deadlock:
                await w.send(AgentId("py-ping", "c"), Ping(hops=1), reply=str, errors=[DeadlockError])
            self.assertEqual(deadlock.exception.to_json(), {"_tag": "DeadlockError", "recipient": "py-ping/c", "messageType": "Ping"})
            # undeclared, the same failure is a HandlerError that describes it
            with self.assertRaises(HandlerError) as undeclared:
                await w.send(AgentId("py-ping", "c"), Ping(hops=1), reply=str)
            self.assertEqual(undeclared.exception.error["_tag"], "DeadlockError")
            self.assertEqual(await w.send(AgentId("py-ping", "c"), Ping(hops=0), reply=str), "done")

    async def test_publish_subscriptions_and_dead_letters(self) -> None:
        """C12 (sender stamping), C13 (dead letters, ack), and subscriptions added, listed, removed."""
        frames = Frames()
        async with self.worker("publish", on_frame=frames) as w:
            topic = TopicId("py-chat", "room")
            await w.publish(topic, Said(text="one"), ack=True)
            await w.send(AgentId("py-announcer", "room"), Said(text="two"))
            greeter = AgentId("py-greeter", "room")
            await support.eventually(lambda: w.instance(greeter) is not None and w.instance(greeter).heard == ["one", "two"], what="both messages to be heard")
            publishes = [f["payload"] for f in frames.out if f.get("tag") == "Publish"]
            self.assertNotIn("sender", publishes[0], "a publish from outside any agent has no sender")
            self.assertEqual(publishes[1]["sender"], {"type": "py-announcer", "key": "room"})
            with self.assertRaises(HandlerError) as failed:
                await w.publish(topic, Said(text="fail"), ack=True)
            self.assertEqual(failed.exception.reason, "cannot hear that")
            await w.publish(topic, Said(text="fail"))
            letters = [await asyncio.wait_for(w.dead_letters.get(), 15) for _ in range(2)]
            self.assertEqual({(l.recipient, l.message_type, l.topic, l.error.reason) for l in letters}, {("py-greeter/room", "Said", "py-chat/room", "cannot hear that")})
            extra = TypeSubscription("py-extra", "py-greeter")
            await w.add_subscription(extra)
            self.assertIn(extra, await w.list_subscriptions())
            await w.publish(TopicId("py-extra", "room"), Said(text="three"), ack=True)
            self.assertEqual(await w.send(greeter, History(), reply=List[str]), ["one", "two", "three"])
            self.assertTrue(await w.remove_subscription(extra.id))
            self.assertNotIn(extra, await w.list_subscriptions())

    async def test_state_save_and_load(self) -> None:
        """State cells by name, through the host (AgentControl) and for every agent (SaveAll)."""
        async with self.worker("state") as w:
            greeter = AgentId("py-greeter", "s")
            await w.send(greeter, Greet(name="a"))
            self.assertEqual(await w.save_state(greeter), {"greeted": 1, "heard": []})
            await w.load_state(greeter, {"greeted": 41, "heard": ["x"]})
            await w.send(greeter, Greet(name="b"))
            self.assertEqual(await w.save_state(greeter), {"greeted": 42, "heard": ["x"]})
            self.assertEqual(await w.metadata(greeter), {"type": "py-greeter", "key": "s", "description": "greets, refuses Eve, counts"})
            everything = await w.save_all()
            self.assertEqual(everything["py-greeter/s"], {"greeted": 42, "heard": ["x"]})
            with self.assertRaises(InvalidMessageError):
                await w.load_state(greeter, {"greeted": "not a number"})

    async def test_a_busy_handler_does_not_stop_the_heartbeat(self) -> None:
        """C5: pings are answered from the reading loop while a handler runs longer than the heartbeat timeout."""
        async with self.worker("busy") as w:
            self.assertEqual(await w.send(AgentId("py-sleeper", "busy"), Slow(seconds=3.0), reply=float), 3.0)
            self.assertEqual(w.sessions_joined, 1, "never dropped")

    async def test_a_worker_id_in_use(self) -> None:
        """C4: "in use" is retried while the holder may be this worker's own dead session, and final when another live process holds it."""
        holder = self.worker("in-use", agents=[Greeter])
        await holder.start()
        twin = self.worker("in-use", agents=[Greeter], connect_timeout=30)
        with self.assertRaises(WorkerRefused) as refused:
            await twin.start()
        self.assertEqual(refused.exception.error.reason, "this worker id is in use by a live session; present its resume secret to take it over")
        await twin.stop()
        # the holder leaves while a successor retries: the successor joins
        successor = self.worker("in-use", agents=[Greeter], connect_timeout=30)
        starting = asyncio.ensure_future(successor.start())
        await asyncio.sleep(1.0)
        await holder.stop()
        await starting
        self.assertEqual(await successor.send(AgentId("py-greeter", "x"), Greet(name="z"), reply=str), "Hello, z")
        await successor.stop()


class TcpTests(HostTests, unittest.IsolatedAsyncioTestCase):
    transport = "tcp"


@unittest.skipUnless("websocket" in support.TRANSPORTS, "the websockets package is not installed")
class WebSocketTests(HostTests, unittest.IsolatedAsyncioTestCase):
    transport = "websocket"


class Restarts:
    """Each test has its own host, which it stops, pauses or restarts."""

    transport = "tcp"

    async def test_a_host_restart_is_survived(self) -> None:
        """C3 (declarations on every Welcome), C7 (a lost session: running handlers interrupted, own calls failed, same id rejoins)."""
        host = await support.Host(self.transport).started()
        try:
            Sleeper.cancelled.clear()
            Sleeper.started.clear()
            frames = Frames()
            async with Worker(host.url, f"{self.transport}-restart", ALL, on_frame=frames) as w:
                first_host = w.host_id
                sleeper = AgentId("py-sleeper", "r")
                waiting = asyncio.ensure_future(w.send(sleeper, Slow(seconds=60), timeout=90))
                await support.eventually(lambda: Sleeper.started == [60], what="the handler to start")
                await host.stopped()
                with self.assertRaises(UndeliverableError) as lost:
                    await waiting
                self.assertEqual(lost.exception.reason_tag, "HostUnreachable")
                await support.eventually(lambda: Sleeper.cancelled == [60], what="the running handler to be interrupted")
                host = await support.Host(self.transport, port=host.port).started()
                await support.eventually(lambda: w.sessions_joined == 2, timeout=20, what="the worker to join the new host")
                self.assertNotEqual(w.host_id, first_host)
                # the same worker id, presenting the secret of the last Welcome (a new host ignores it)
                connects = [f["payload"] for f in frames.out if f.get("tag") == "Connect"]
                welcomes = [v for f in frames.inbound if isinstance(f, dict) and f.get("_tag") == "Chunk" for v in f["values"] if v["_tag"] == "Welcome"]
                self.assertEqual(connects[0], {"workerId": f"{self.transport}-restart"})
                self.assertEqual(connects[-1], {"workerId": f"{self.transport}-restart", "resume": welcomes[0]["resume"]})
                self.assertNotEqual(welcomes[-1]["resume"], welcomes[0]["resume"])
                self.assertEqual(await w.send(AgentId("py-greeter", "after"), Greet(name="again"), reply=str), "Hello, again")
        finally:
            await host.stopped()

    async def test_a_silent_host_is_detected(self) -> None:
        """C6: a host that says nothing for its heartbeat timeout is given up, and the worker joins again once it answers."""
        host = await support.Host(self.transport).started()
        try:
            async with Worker(host.url, f"{self.transport}-silent", [Greeter]) as w:
                host.pause()
                try:
                    await support.eventually(lambda: w.silent_host_detected >= 1, timeout=10, what="the silence to be noticed")
                finally:
                    host.resume()
                await support.eventually(lambda: w.joined and w.sessions_joined >= 2, timeout=20, what="a new session")
                self.assertEqual(await w.send(AgentId("py-greeter", "s"), Greet(name="back"), reply=str), "Hello, back")
        finally:
            await host.stopped()

    async def test_a_bad_token_is_final(self) -> None:
        """C4: a refused token stops the worker with the host's error; the right one joins."""
        host = await support.Host(self.transport, args=["--token", "s3cret"]).started()
        try:
            with self.assertRaises(WorkerRefused) as refused:
                await Worker(host.url, f"{self.transport}-token", [Greeter], token="wrong").start()
            self.assertEqual(refused.exception.error.reason, "bad token")
            async with Worker(host.url, f"{self.transport}-token", [Greeter], token="s3cret") as w:
                self.assertEqual(await w.send(AgentId("py-greeter", "t"), Greet(name="ok"), reply=str), "Hello, ok")
        finally:
            await host.stopped()


    async def test_frames_larger_than_a_mebibyte(self) -> None:
        """C2: a frame up to the host's 16 MiB crosses whole (many WebSocket clients refuse more than 1 MiB by default)."""
        host = await support.Host(self.transport, args=["--max-message-bytes", str(8 * 1024 * 1024)]).started()
        try:
            async with Worker(host.url, f"{self.transport}-big", [Greeter], max_message_bytes=8 * 1024 * 1024) as w:
                name = "x" * (5 * 1024 * 1024)
                self.assertEqual(await w.send(AgentId("py-greeter", "big"), Greet(name=name), reply=str), f"Hello, {name}")
        finally:
            await host.stopped()


class TcpRestarts(Restarts, unittest.IsolatedAsyncioTestCase):
    transport = "tcp"


@unittest.skipUnless("websocket" in support.TRANSPORTS, "the websockets package is not installed")
class WebSocketRestarts(Restarts, unittest.IsolatedAsyncioTestCase):
    transport = "websocket"


if __name__ == "__main__":
    unittest.main()
