"""Agent types: a class whose methods handle messages.

    class Greeter(Agent, type="greeter", description="says hello"):
        state = ("greeted",)              # attributes saved and loaded as state cells

        def __init__(self) -> None:
            self.greeted = 0

        @rpc(Greet, success=str, errors=(Refused,))
        async def greet(self, message: Greet) -> str:
            self.greeted += 1
            return f"Hello, {message.name}"

        @event(Said)
        async def said(self, message: Said) -> None:
            ...

An ``rpc`` handler answers sends (``rpc: true`` deliveries): its return value,
encoded, is the caller's reply; raising one of its declared ``errors`` reaches
the caller as that error. An ``event`` handler takes published messages
(``rpc: false``). A message type may have several handlers, rpc and event
ones, chosen by ``match`` predicates: the first handler, in declaration
order, of the kind the delivery asks for and whose predicate accepts the
message runs; if none does the delivery is refused with ``CantHandleError``
(its ``reason`` says why). Each instance (``type/key``) handles one message at
a time, in arrival order, unless the type allows ``concurrency`` > 1 or the
handler is ``concurrent=True``.
"""
from __future__ import annotations

import dataclasses
import typing
from typing import Any, Callable, ClassVar, Dict, Iterable, List, Optional, Sequence, Tuple, Type, Union

from .codec import decode, encode, tag_of
from .ids import AgentId, Subscription, TopicId, agent_type

HandlerKind = str  # "rpc" | "event"

#: the longest ``CantHandleError.reason`` the host accepts
MAX_REASON_LENGTH = 1024


@dataclasses.dataclass(frozen=True)
class MessageContext:
    """What a ``match`` predicate is told about a delivery (as a TS worker's ``MessageContext``)."""

    #: the instance the message is for
    recipient: AgentId
    #: the agent that sent or published it; ``None`` from outside any agent
    sender: Optional[AgentId]
    #: the topic it was published on; ``None`` for a direct send
    topic: Optional[TopicId]
    message_id: str
    #: ``True`` for a send (a caller waits for the reply), ``False`` for a publish
    is_rpc: bool


#: chooses among several handlers of one message type: ``match(message, context) -> bool``
Match = Callable[[Any, MessageContext], bool]


@dataclasses.dataclass(frozen=True)
class HandlerSpec:
    kind: HandlerKind
    message: type
    tag: str
    success: Any
    errors: Tuple[type, ...]
    concurrent: bool
    method: str
    match: Optional[Match] = None


def _handler(kind: HandlerKind, message_cls: type, success: Any, errors: Sequence[type], concurrent: bool, match: Optional[Match]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    tag = tag_of(message_cls)
    from .errors import AgentError

    for error in errors:
        if not issubclass(error, BaseException):
            raise TypeError(f"declared error {error.__name__} must subclass Exception")
        if not issubclass(error, AgentError):
            tag_of(error)  # a message class: its tag is what crosses
    if match is not None and not callable(match):
        raise TypeError(f"match of the handler of {tag} must be a function (message, context) -> bool")

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        specs = list(getattr(fn, "__effect_agents_handlers__", []))
        # decorators apply bottom-up: the one written first goes first
        specs.insert(0, HandlerSpec(kind, message_cls, tag, success, tuple(errors), concurrent, fn.__name__, match))
        fn.__effect_agents_handlers__ = specs  # type: ignore[attr-defined]
        return fn

    return mark


def rpc(message_cls: type, *, success: Any = None, errors: Sequence[type] = (), concurrent: bool = False, match: Optional[Match] = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declares a send handler: ``success`` is the reply's type (``None``: no reply value), ``errors`` the declared errors.

    It runs only for a direct send (``rpc: true``), never for a published
    message. ``match(message, context)`` chooses among several rpc handlers of
    one message type: the first (in declaration order) whose predicate accepts
    the message runs; they must then declare the same ``success`` and ``errors``.
    """
    return _handler("rpc", message_cls, success, errors, concurrent, match)


def event(message_cls: type, *, concurrent: bool = False, match: Optional[Match] = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declares a handler of published messages (``rpc: false``); a direct send never runs it.

    ``match(message, context)`` chooses among several event handlers of one message type.
    """
    return _handler("event", message_cls, None, (), concurrent, match)


def _routes_of(cls: type) -> Dict[str, List[HandlerSpec]]:
    """Every handler of each message tag, in declaration order (base classes first), checked as a TS agent type's are."""
    by_method: Dict[str, List[HandlerSpec]] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            specs = getattr(value, "__effect_agents_handlers__", None)
            # an override with handlers of its own replaces the base's, in its place; a plain override keeps them (it is what runs)
            if specs:
                by_method[name] = list(specs)
    routes: Dict[str, List[HandlerSpec]] = {}
    for specs in by_method.values():
        for spec in specs:
            same = routes.setdefault(spec.tag, [])
            if same and same[0].message is not spec.message:
                raise TypeError(f"{cls.__name__}: message {spec.tag} is declared with two different classes (handlers {same[0].method} and {spec.method})")
            for other in same:
                if other.kind != spec.kind:
                    continue
                if other.match is None:
                    what = "send" if spec.kind == "rpc" else "publish"
                    raise TypeError(f"{cls.__name__}: handler {spec.method} can never run: {other.method} takes every {spec.tag} {what} before it (give {other.method} a match predicate)")
                if spec.kind == "rpc" and (other.success != spec.success or other.errors != spec.errors):
                    raise TypeError(f"{cls.__name__}: rpc handlers {other.method} and {spec.method} of {spec.tag} must declare the same success and errors: a caller cannot know which one answers")
            same.append(spec)
    return routes


class Agent:
    """Base of agent classes. The worker creates one instance per ``type/key`` on its first message."""

    #: the agent type name (``class X(Agent, type="x")``)
    agent_type: ClassVar[str]
    description: ClassVar[str] = ""
    #: topic types this type subscribes to (as ``TypeSubscription(topic, agent_type)``), or subscriptions
    subscriptions: ClassVar[Sequence[Any]] = ()
    #: how many messages one instance handles at once
    concurrency: ClassVar[int] = 1
    #: attribute names saved and loaded as state cells (``saveState`` answers ``{name: value}``)
    state: ClassVar[Sequence[str]] = ()
    #: how many messages may wait in one instance's mailbox
    mailbox_capacity: ClassVar[int] = 4096

    _routes: ClassVar[Dict[str, List[HandlerSpec]]]

    #: set by the worker before ``on_start``
    id: AgentId
    runtime: Any

    def __init_subclass__(cls, type: Optional[str] = None, description: Optional[str] = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if type is not None:
            cls.agent_type = agent_type(type)
        if description is not None:
            cls.description = description
        if cls.concurrency < 1:
            raise ValueError(f"{cls.__name__}.concurrency must be at least 1")
        cls._routes = _routes_of(cls)

    @classmethod
    def declared_subscriptions(cls) -> List[Subscription]:
        from .ids import TypePrefixSubscription, TypeSubscription

        out: List[Subscription] = []
        for item in cls.subscriptions:
            if isinstance(item, (TypeSubscription, TypePrefixSubscription)):
                out.append(item)
            elif isinstance(item, str):
                out.append(TypeSubscription(item, cls.agent_type))
            else:
                raise TypeError(f"{cls.__name__}.subscriptions: {item!r} is neither a topic type nor a subscription")
        return out

    @classmethod
    def routes(cls, tag: str) -> Sequence[HandlerSpec]:
        """Every handler of message type ``tag``, in declaration order (empty if it has none)."""
        return cls._routes.get(tag, ())

    @classmethod
    def handles(cls, tag: str) -> bool:
        return tag in cls._routes

    @classmethod
    def select(cls, tag: str, message: Any, context: MessageContext) -> Union[HandlerSpec, str, None]:
        """The handler that runs this delivery, or why none does.

        The routed-agent rule, as a TS worker applies it: among the handlers of
        ``tag`` in declaration order, the first whose kind fits how the message
        came (a send runs rpc handlers, a publish event handlers) and whose
        ``match``, if any, accepts it. ``None``: the type has no handler of
        ``tag`` at all; a string: the ``CantHandleError`` reason. A predicate
        that raises propagates (the worker reports it as the handler's failure).
        """
        routes = cls._routes.get(tag)
        if not routes:
            return None
        kind = "rpc" if context.is_rpc else "event"
        kind_fits = False
        for spec in routes:
            if spec.kind != kind:
                continue
            kind_fits = True
            if spec.match is None or spec.match(message, context):
                return spec
        if kind_fits:
            reason = f"no handler's match accepts this {'send' if context.is_rpc else 'publish'}"
        elif context.is_rpc:
            reason = f"{tag} is handled as an event: publish it on a topic {context.recipient.type} subscribes to"
        else:
            reason = f"{tag} is handled by an rpc handler, which runs only for a direct send"
        return reason[:MAX_REASON_LENGTH]

    async def on_start(self) -> None:
        """Runs once, when the instance is created, before its first message."""

    def save_state(self) -> Dict[str, Any]:
        """The instance's state as JSON, by cell name: by default the attributes named in ``state``."""
        return {name: encode(getattr(self, name)) for name in type(self).state}

    def load_state(self, state: Dict[str, Any]) -> None:
        """Restores what ``save_state`` gave (cells missing from ``state`` are left as they are)."""
        hints = typing.get_type_hints(type(self))
        for name in type(self).state:
            if name in state:
                setattr(self, name, decode(hints.get(name, Any), state[name], f"[{name!r}]"))

    # the calls an agent makes, on behalf of itself (the worker stamps the sender and the call chain)

    async def send(self, recipient: AgentId, message: Any, **options: Any) -> Any:
        return await self.runtime.send(recipient, message, **options)

    async def publish(self, topic: TopicId, message: Any, **options: Any) -> None:
        await self.runtime.publish(topic, message, **options)


def check_agent_class(cls: Type[Agent]) -> None:
    if not isinstance(cls, type) or not issubclass(cls, Agent):
        raise TypeError(f"{cls!r} is not an Agent class")
    if not getattr(cls, "agent_type", None):
        raise TypeError(f"{cls.__name__} has no agent type: class {cls.__name__}(Agent, type=\"name\")")


def all_subscriptions(classes: Iterable[Type[Agent]]) -> List[Subscription]:
    out: List[Subscription] = []
    for cls in classes:
        for s in cls.declared_subscriptions():
            if s not in out:
                out.append(s)
    return out
