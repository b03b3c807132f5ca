"""Identifiers of the protocol: agent ids, topic ids, subscriptions.

The host refuses (with a ``Die``) any identifier outside these rules, so the
worker checks them before sending: a bad one raises ``ValueError`` at once.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, Union

MAX_IDENTIFIER_LENGTH = 255
MAX_CHAIN_LENGTH = 256

_PRINTABLE = re.compile(r"^[\x20-\x7E]+$")
_AGENT_TYPE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_TOPIC_TYPE = re.compile(r"^[A-Za-z0-9_.:\-]+$")


def _check(value: Any, pattern: "re.Pattern[str]", what: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {type(value).__name__}")
    if value == "" and allow_empty:
        return value
    if len(value) > MAX_IDENTIFIER_LENGTH or not pattern.match(value):
        raise ValueError(f"{what} {value!r} is not valid: 1 to {MAX_IDENTIFIER_LENGTH} characters matching {pattern.pattern}")
    return value


def identifier(value: Any, what: str = "identifier") -> str:
    """1 to 255 printable ASCII characters: worker ids, message ids, agent keys, topic sources."""
    return _check(value, _PRINTABLE, what)


def agent_type(value: Any) -> str:
    """1 to 255 of letters, digits, ``_``, ``-`` and ``.``."""
    return _check(value, _AGENT_TYPE, "agent type")


def topic_type(value: Any) -> str:
    """1 to 255 of letters, digits, ``_``, ``-``, ``.`` and ``:``."""
    return _check(value, _TOPIC_TYPE, "topic type")


@dataclass(frozen=True)
class AgentId:
    """One agent instance: ``type/key`` (the key may contain ``/``)."""

    type: str
    key: str = "default"

    def __post_init__(self) -> None:
        agent_type(self.type)
        identifier(self.key, "agent key")

    def __str__(self) -> str:
        return f"{self.type}/{self.key}"

    def to_json(self) -> Dict[str, str]:
        return {"type": self.type, "key": self.key}

    @staticmethod
    def from_json(data: Any) -> "AgentId":
        return AgentId(data["type"], data["key"])

    @staticmethod
    def parse(text: str) -> "AgentId":
        type_, slash, key = text.partition("/")
        if not slash:
            raise ValueError(f"agent id {text!r} must look like type/key")
        return AgentId(type_, key)


@dataclass(frozen=True)
class TopicId:
    """Where a published message goes: ``type/source``."""

    type: str
    source: str = "default"

    def __post_init__(self) -> None:
        topic_type(self.type)
        identifier(self.source, "topic source")

    def __str__(self) -> str:
        return f"{self.type}/{self.source}"

    def to_json(self) -> Dict[str, str]:
        return {"type": self.type, "source": self.source}

    @staticmethod
    def from_json(data: Any) -> "TopicId":
        return TopicId(data["type"], data["source"])


@dataclass(frozen=True)
class TypeSubscription:
    """Topic ``t/s`` with ``t == topic_type`` goes to agent ``agent_type/s``."""

    topic_type: str
    agent_type: str

    def __post_init__(self) -> None:
        topic_type(self.topic_type)
        agent_type(self.agent_type)

    @property
    def id(self) -> str:
        return f"type:{self.topic_type}->{self.agent_type}"

    def to_json(self) -> Dict[str, str]:
        return {"_tag": "TypeSubscription", "topicType": self.topic_type, "agentType": self.agent_type}


@dataclass(frozen=True)
class TypePrefixSubscription:
    """Topic ``t/s`` with ``t`` starting with ``prefix`` goes to agent ``agent_type/s``."""

    prefix: str
    agent_type: str

    def __post_init__(self) -> None:
        _check(self.prefix, _PRINTABLE, "subscription prefix", allow_empty=True)
        agent_type(self.agent_type)

    @property
    def id(self) -> str:
        return f"prefix:{self.prefix}->{self.agent_type}"

    def to_json(self) -> Dict[str, str]:
        return {"_tag": "TypePrefixSubscription", "prefix": self.prefix, "agentType": self.agent_type}


Subscription = Union[TypeSubscription, TypePrefixSubscription]


def subscription_from_json(data: Any) -> Subscription:
    if data.get("_tag") == "TypeSubscription":
        return TypeSubscription(data["topicType"], data["agentType"])
    if data.get("_tag") == "TypePrefixSubscription":
        return TypePrefixSubscription(data["prefix"], data["agentType"])
    raise ValueError(f"not a subscription: {data!r}")
