"""effect-agents for Python: agents that join an effect-agents host as a worker.

    from effect_agents import Agent, AgentId, Worker, message, rpc

    @message
    class Greet:
        name: str

    class Greeter(Agent, type="greeter"):
        @rpc(Greet, success=str)
        async def greet(self, message: Greet) -> str:
            return f"Hello, {message.name}"

    async with Worker("tcp://127.0.0.1:7700", "py-1", [Greeter]) as worker:
        print(await worker.send(AgentId("greeter", "alice"), Greet(name="Bob"), reply=str))

The wire protocol is docs/protocol.md of the effect-agents repository.
"""
from .agent import Agent, MessageContext, event, rpc
from .codec import DecodeError, decode, encode, message, tag_of
from .errors import (
    AgentError,
    CantHandleError,
    DeadlockError,
    HandlerError,
    InvalidMessageError,
    LimitExceededError,
    MessageDroppedError,
    NotAccessibleError,
    ProtocolDefect,
    UndeliverableError,
    WorkerRefused,
)
from .errors import TimeoutError as AgentTimeoutError
from .ids import AgentId, TopicId, TypePrefixSubscription, TypeSubscription
from .transport import websocket_module
from .worker import DeadLetter, Worker, current_traceparent

__all__ = [
    "Agent",
    "AgentError",
    "AgentId",
    "AgentTimeoutError",
    "CantHandleError",
    "DeadLetter",
    "DeadlockError",
    "DecodeError",
    "HandlerError",
    "InvalidMessageError",
    "LimitExceededError",
    "MessageContext",
    "MessageDroppedError",
    "NotAccessibleError",
    "ProtocolDefect",
    "TopicId",
    "TypePrefixSubscription",
    "TypeSubscription",
    "UndeliverableError",
    "Worker",
    "WorkerRefused",
    "decode",
    "encode",
    "event",
    "message",
    "rpc",
    "tag_of",
    "current_traceparent",
    "websocket_module",
]
__version__ = "0.2.0"
