"""Messages, identifiers and errors, without a host: checklist items 9 and 10 (shapes and limits)."""
from __future__ import annotations

import unittest
from typing import Dict, List, Literal, Optional

from tests import support  # noqa: F401  (puts the package on the path)

from effect_agents import AgentId, DecodeError, HandlerError, TopicId, TypePrefixSubscription, TypeSubscription, decode, encode, message, tag_of
from effect_agents import errors as E
from effect_agents.codec import check_payload, depth_within


@message
class Inner:
    n: int


@message(tag="Outer.v2")
class Outer:
    name: str
    inner: Inner
    items: List[Inner]
    by_key: Dict[str, float]
    mode: Literal["a", "b"]
    note: Optional[str] = None


@message
class Refused(Exception):
    why: str


def nest(levels: int) -> object:
    value: object = 0
    for _ in range(levels):
        value = [value]
    return value


class Messages(unittest.TestCase):
    def test_a_message_crosses_as_its_tag_and_fields(self) -> None:
        value = Outer("x", Inner(1), [Inner(2)], {"k": 1.5}, "a")
        data = encode(value)
        self.assertEqual(data, {"_tag": "Outer.v2", "name": "x", "inner": {"_tag": "Inner", "n": 1}, "items": [{"_tag": "Inner", "n": 2}], "by_key": {"k": 1.5}, "mode": "a"})
        self.assertEqual(decode(Outer, data), value)
        self.assertEqual(tag_of(Outer), "Outer.v2")

    def test_decoding_names_the_first_mismatch(self) -> None:
        good = encode(Outer("x", Inner(1), [Inner(2)], {"k": 1}, "b", note="n"))
        cases = {
            "expected an integer at ['inner']['n'], got a string": {**good, "inner": {"_tag": "Inner", "n": "1"}},
            "missing key['name']": {k: v for k, v in good.items() if k != "name"},
            "expected _tag 'Outer.v2', got 'Outer'": {**good, "_tag": "Outer"},
            "expected a boolean": None,
        }
        for issue, data in cases.items():
            if data is None:
                with self.assertRaises(DecodeError) as raised:
                    decode(bool, 1)
            else:
                with self.assertRaises(DecodeError) as raised:
                    decode(Outer, data)
            self.assertIn(issue, raised.exception.issue)
        with self.assertRaises(DecodeError):
            decode(Outer, {**good, "mode": "c"})
        with self.assertRaises(DecodeError):
            decode(int, True)  # a boolean is not a number in JSON

    def test_a_declared_error_is_a_message_and_an_exception(self) -> None:
        error = Refused(why="asked to")
        self.assertEqual(encode(error), {"_tag": "Refused", "why": "asked to"})
        self.assertIsInstance(decode(Refused, {"_tag": "Refused", "why": "w"}), Refused)


class Limits(unittest.TestCase):
    def test_depth_is_counted_as_the_host_counts_it(self) -> None:
        self.assertTrue(depth_within(nest(64)))
        self.assertFalse(depth_within(nest(65)))
        self.assertTrue(depth_within({}))
        self.assertTrue(depth_within("scalar"))

    def test_size_is_the_utf8_length_of_the_json(self) -> None:
        self.assertIsNone(check_payload("T", "x" * (1024 * 1024 - 2)))
        self.assertEqual(check_payload("T", "x" * (1024 * 1024)), ("T", "1048578 bytes exceeds this worker's limit of 1048576"))
        self.assertEqual(check_payload("T", nest(65)), ("T", "nested deeper than this worker's limit of 64"))


class Identifiers(unittest.TestCase):
    """Checklist 10: identifiers are refused here before the host would refuse them with a Die."""

    def test_the_contract(self) -> None:
        AgentId("a.b-c_d", "any printable ASCII / even slashes ~")
        TopicId("chat:room.v1", "r1")
        TypePrefixSubscription("", "logger")  # an empty prefix matches every topic type
        for bad in [lambda: AgentId("a", "é"), lambda: AgentId("a", ""), lambda: AgentId("a/b", "k"), lambda: AgentId("x" * 256, "k"),
                    lambda: TopicId("a=b", "s"), lambda: TypeSubscription("t", "has space"), lambda: AgentId("a", "k" * 256)]:
            with self.assertRaises(ValueError):
                bad()
        self.assertEqual(TypeSubscription("news", "owner").id, "type:news->owner")
        self.assertEqual(TypePrefixSubscription("chat.", "logger").id, "prefix:chat.->logger")
        self.assertEqual(str(AgentId.parse("t/a/b")), "t/a/b")


class Errors(unittest.TestCase):
    """Checklist 9: the exact AgentError shapes."""

    def test_round_trip(self) -> None:
        shapes = [
            {"_tag": "UndeliverableError", "recipient": "worker x", "reason": {"_tag": "WorkerLeft", "workerId": "x", "detail": "disconnected"}},
            {"_tag": "CantHandleError", "recipient": "a/k", "messageType": "T"},
            {"_tag": "CantHandleError", "recipient": "a/k", "messageType": "T", "reason": "no handler's match accepts this send"},
            {"_tag": "HandlerError", "recipient": "a/k", "messageType": "T", "reason": "Refused", "error": {"_tag": "Refused", "why": "w"}},
            {"_tag": "TimeoutError", "recipient": "a/k", "messageType": "T", "timeoutMillis": 500},
            {"_tag": "DeadlockError", "recipient": "a/k", "messageType": "T"},
            {"_tag": "NotAccessibleError", "sender": "worker w", "recipient": "host", "messageType": "Connect", "reason": "bad token"},
            {"_tag": "InvalidMessageError", "messageType": "T", "issue": "i"},
            {"_tag": "LimitExceededError", "limit": "subscriptions per worker", "max": 4096},
            {"_tag": "MessageDroppedError", "messageType": "T", "stage": "send", "reason": "r"},
        ]
        for shape in shapes:
            error = E.error_from_json(shape)
            self.assertEqual(error.tag, shape["_tag"])
            self.assertEqual(error.to_json(), shape)
        undeliverable = E.error_from_json(shapes[0])
        self.assertEqual(undeliverable.reason_tag, "WorkerLeft")
        self.assertEqual(E.error_from_json(shapes[4]).timeout_millis, 500)
        self.assertIsInstance(E.error_from_json({"_tag": "Weird"}), HandlerError)
        self.assertEqual(str(E.error_from_json(shapes[2])), "a/k has no handler for T: no handler's match accepts this send")


if __name__ == "__main__":
    unittest.main()
