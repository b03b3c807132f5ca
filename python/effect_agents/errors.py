"""The protocol's typed errors (``AgentError``), as Python exceptions.

Each has the ``_tag`` and fields of its JSON shape, so an error raised here
crosses to a TypeScript caller as itself and back. ``UndeliverableError``
carries its ``reason`` as the tagged object the protocol defines
(``{"_tag": "WorkerLeft", "workerId": ..., "detail": ...}``); ``reason_tag``
names it.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple, Type

JsonObject = Dict[str, Any]


class AgentError(Exception):
    """Base of the protocol's errors. ``fields`` are its JSON fields, without ``_tag``."""

    tag: str = "AgentError"
    required: Tuple[str, ...] = ()
    optional: Tuple[str, ...] = ()

    def __init__(self, **fields: Any) -> None:
        missing = [name for name in self.required if name not in fields]
        if missing:
            raise TypeError(f"{self.tag} needs {', '.join(missing)}")
        unknown = [name for name in fields if name not in self.required and name not in self.optional]
        if unknown:
            raise TypeError(f"{self.tag} has no field {', '.join(unknown)}")
        self.fields: JsonObject = {k: v for k, v in fields.items() if v is not None}
        super().__init__(self.describe())

    def __getattr__(self, name: str) -> Any:
        fields = self.__dict__.get("fields", {})
        camel = _camel(name)
        if camel in fields:
            return fields[camel]
        if camel in type(self).required or camel in type(self).optional:
            return None
        raise AttributeError(name)

    def describe(self) -> str:
        return f"{self.tag} {self.fields}"

    def to_json(self) -> JsonObject:
        return {"_tag": self.tag, **self.fields}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AgentError) and other.to_json() == self.to_json()

    def __hash__(self) -> int:
        return hash(self.tag)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.fields!r})"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class UndeliverableError(AgentError):
    """Nobody can take the message; ``reason`` (a tagged object) says why."""

    tag = "UndeliverableError"
    required = ("recipient", "reason")

    @property
    def reason_tag(self) -> str:
        return str(self.fields["reason"].get("_tag"))

    def describe(self) -> str:
        reason = dict(self.fields.get("reason", {}))
        return f"cannot deliver to {self.fields.get('recipient')}: {reason.pop('_tag', '?')} {reason}"


class CantHandleError(AgentError):
    """No handler of the recipient runs this delivery; ``reason`` (at most 1024 characters) says why, when it has handlers of the type."""

    tag = "CantHandleError"
    required = ("recipient", "messageType")
    optional = ("reason",)

    def describe(self) -> str:
        reason = self.fields.get("reason")
        return f"{self.fields.get('recipient')} has no handler for {self.fields.get('messageType')}" + (f": {reason}" if reason else "")


class HandlerError(AgentError):
    """The handler failed: ``error`` is its declared error (JSON) when it declared one."""

    tag = "HandlerError"
    required = ("recipient", "messageType", "reason")
    optional = ("error", "cause")

    def describe(self) -> str:
        return f"handler of {self.fields.get('messageType')} on {self.fields.get('recipient')} failed: {self.fields.get('reason')}"


class MessageDroppedError(AgentError):
    tag = "MessageDroppedError"
    required = ("messageType", "stage", "reason")


class TimeoutError(AgentError):  # noqa: A001 - the protocol's name
    tag = "TimeoutError"
    required = ("recipient", "messageType", "timeoutMillis")

    def describe(self) -> str:
        return f"no reply from {self.fields.get('recipient')} to {self.fields.get('messageType')} within {self.fields.get('timeoutMillis')} ms"


class DeadlockError(AgentError):
    tag = "DeadlockError"
    required = ("recipient", "messageType")

    def describe(self) -> str:
        return f"sending {self.fields.get('messageType')} to {self.fields.get('recipient')} would deadlock: it is waiting on this call chain"


class NotAccessibleError(AgentError):
    tag = "NotAccessibleError"
    required = ("recipient", "messageType")
    optional = ("sender", "reason")


class InvalidMessageError(AgentError):
    tag = "InvalidMessageError"
    required = ("messageType", "issue")

    def describe(self) -> str:
        return f"invalid {self.fields.get('messageType')}: {self.fields.get('issue')}"


class LimitExceededError(AgentError):
    tag = "LimitExceededError"
    required = ("limit", "max")


ERRORS: Mapping[str, Type[AgentError]] = {
    cls.tag: cls
    for cls in (
        UndeliverableError,
        CantHandleError,
        HandlerError,
        MessageDroppedError,
        TimeoutError,
        DeadlockError,
        NotAccessibleError,
        InvalidMessageError,
        LimitExceededError,
    )
}


def error_from_json(data: Any) -> AgentError:
    """An ``AgentError`` from its JSON; an unknown shape becomes a ``HandlerError`` naming it."""
    if isinstance(data, dict):
        cls = ERRORS.get(str(data.get("_tag")))
        if cls is not None:
            fields = {k: v for k, v in data.items() if k != "_tag" and (k in cls.required or k in cls.optional)}
            try:
                return cls(**fields)
            except TypeError:
                pass
    return HandlerError(recipient="?", messageType="?", reason=f"an error of unknown shape: {data!r}"[:1024])


def undeliverable(recipient: Any, reason_tag: str, **fields: Any) -> UndeliverableError:
    return UndeliverableError(recipient=str(recipient), reason={"_tag": reason_tag, **fields})


def host_unreachable(url: str, detail: str) -> UndeliverableError:
    return undeliverable("host", "HostUnreachable", url=url, detail=detail)


class ProtocolDefect(Exception):
    """The host answered a call with a ``Die``: the request was malformed (a bug here, or a refused identifier)."""

    def __init__(self, tag: str, defect: Any) -> None:
        self.defect = defect
        super().__init__(f"the host refused {tag} as malformed: {defect}")


class WorkerRefused(Exception):
    """The host refused this worker for good (bad token, credential, id held by another live process)."""

    def __init__(self, error: Optional[AgentError], detail: str) -> None:
        self.error = error
        super().__init__(detail)
