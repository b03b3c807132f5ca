"""Agent classes without a host: the routed-agent rule (C16) and the checks made when a class is defined."""
from __future__ import annotations

import unittest
from typing import List

from tests import support  # noqa: F401  (puts the package on the path)
from tests.agents import History, Note, Query, Router

from effect_agents import Agent, AgentId, MessageContext, TopicId, event, message, rpc


def sent(key: str = "k") -> MessageContext:
    return MessageContext(recipient=AgentId("py-router", key), sender=None, topic=None, message_id="m-1", is_rpc=True)


def published(source: str = "k") -> MessageContext:
    return MessageContext(recipient=AgentId("py-router", source), sender=None, topic=TopicId("py-notes", source), message_id="p-1:py-router", is_rpc=False)


@message
class Other:
    pass


class Routing(unittest.TestCase):
    def test_a_send_runs_only_rpc_handlers_and_a_publish_only_event_handlers(self) -> None:
        self.assertEqual(Router.select("Note", Note(text="urgent: now"), sent()).method, "urgent")
        self.assertEqual(Router.select("Note", Note(text="hello"), published()).method, "anything")
        self.assertEqual(
            Router.select("Query", Query(text="q"), sent()),
            "Query is handled as an event: publish it on a topic py-router subscribes to",
        )
        self.assertEqual(
            Router.select("History", History(), published()),
            "History is handled by an rpc handler, which runs only for a direct send",
        )

    def test_the_first_handler_whose_match_accepts_runs_in_declaration_order(self) -> None:
        # vip (by topic) is declared before log (by text), and both before the catch-all
        self.assertEqual(Router.select("Note", Note(text="log:1"), published("room-vip")).method, "vip")
        self.assertEqual(Router.select("Note", Note(text="log:1"), published("room")).method, "log")
        self.assertEqual(Router.select("Note", Note(text="other"), published("room")).method, "anything")
        self.assertEqual(Router.select("Note", Note(text="hello"), sent()), "no handler's match accepts this send")
        self.assertEqual([s.method for s in Router.routes("Note")], ["urgent", "never", "vip", "log", "anything"])

    def test_a_type_without_a_handler_of_the_message_has_no_reason(self) -> None:
        self.assertIsNone(Router.select("Other", Other(), sent()))
        self.assertFalse(Router.handles("Other"))

    def test_a_predicate_that_raises_propagates(self) -> None:
        with self.assertRaises(ValueError):
            Router.select("Note", Note(text="raise"), sent())


class Definitions(unittest.TestCase):
    def test_a_handler_after_one_without_match_of_its_kind_can_never_run(self) -> None:
        with self.assertRaises(TypeError) as raised:
            class Shadowed(Agent, type="shadowed"):
                @event(Note)
                async def first(self, m: Note) -> None:
                    pass

                @event(Note, match=lambda m, c: True)
                async def second(self, m: Note) -> None:
                    pass
        self.assertIn("handler second can never run: first takes every Note publish before it", str(raised.exception))

    def test_rpc_handlers_of_one_message_share_their_reply_contract(self) -> None:
        with self.assertRaises(TypeError) as raised:
            class Mixed(Agent, type="mixed"):
                @rpc(Note, success=str, match=lambda m, c: True)
                async def a(self, m: Note) -> str:
                    return ""

                @rpc(Note, success=int)
                async def b(self, m: Note) -> int:
                    return 0
        self.assertIn("must declare the same success and errors", str(raised.exception))

    def test_one_message_type_has_one_class(self) -> None:
        @message(tag="Note")
        class OtherNote:
            text: str

        with self.assertRaises(TypeError) as raised:
            class Twice(Agent, type="twice"):
                @rpc(Note, success=str)
                async def a(self, m: Note) -> str:
                    return ""

                @event(OtherNote)
                async def b(self, m: OtherNote) -> None:
                    pass
        self.assertIn("message Note is declared with two different classes", str(raised.exception))

    def test_an_rpc_and_an_event_handler_of_one_message_live_side_by_side(self) -> None:
        class Both(Agent, type="both"):
            @rpc(Note, success=str)
            @event(Note)
            async def on(self, m: Note) -> str:
                return m.text

        self.assertEqual([(s.kind, s.method) for s in Both.routes("Note")], [("rpc", "on"), ("event", "on")])
        self.assertEqual(Both.select("Note", Note(text="x"), sent()).kind, "rpc")
        self.assertEqual(Both.select("Note", Note(text="x"), published()).kind, "event")

    def test_a_subclass_override_with_handlers_replaces_the_base_handler_in_its_place(self) -> None:
        class Base(Agent, type="base"):
            @rpc(Note, success=str)
            async def on(self, m: Note) -> str:
                return "base"

            @rpc(History, success=List[str])
            async def history(self, m: History) -> List[str]:
                return []

        class Derived(Base, type="derived"):
            @rpc(Note, success=str, match=lambda m, c: m.text == "x")
            async def on(self, m: Note) -> str:
                return "derived"

        self.assertEqual([s.match is not None for s in Derived.routes("Note")], [True])
        self.assertEqual(Derived.select("Note", Note(text="y"), sent()), "no handler's match accepts this send")
        self.assertEqual(Derived.routes("History")[0].method, "history")

    def test_match_must_be_a_function(self) -> None:
        with self.assertRaises(TypeError):
            rpc(Note, match="urgent")  # type: ignore[arg-type]


if __name__ == "__main__":
    unittest.main()
