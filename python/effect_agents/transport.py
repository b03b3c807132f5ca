"""The two transports of the protocol, behind one interface.

- ``tcp://host:port`` (and ``tls://``): newline-delimited JSON, standard library only.
- ``ws://host:port/`` (and ``wss://``): one JSON text message per frame, with the
  ``websockets`` package when it is importable.

Both bound what they read: a frame (line or message) past ``max_frame_bytes``
(the host's own 16 MiB) closes the connection instead of growing a buffer.
"""
from __future__ import annotations

import asyncio
import ssl as ssl_module
from typing import Optional
from urllib.parse import urlparse

#: The host's largest frame, either transport (``Protocol.maxFrameBytes``).
MAX_FRAME_BYTES = 16 * 1024 * 1024


class TransportClosed(Exception):
    """The connection is closed; ``detail`` says how."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class Transport:
    """One connection to the host: whole frames of JSON text in, whole frames out."""

    async def send(self, text: str) -> None:
        raise NotImplementedError

    async def recv(self) -> str:
        """The next frame; raises ``TransportClosed`` once the connection is closed."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class TcpTransport(Transport):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._lock = asyncio.Lock()

    @staticmethod
    async def open(host: str, port: int, ssl: Optional[ssl_module.SSLContext], max_frame_bytes: int) -> "TcpTransport":
        # the reader's limit bounds one line: a longer one fails the read rather than buffering without end
        reader, writer = await asyncio.open_connection(host, port, ssl=ssl, limit=max_frame_bytes + 2)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            import socket

            # a request/reply protocol would wait for delayed acks on every round trip
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return TcpTransport(reader, writer)

    async def send(self, text: str) -> None:
        if "\n" in text:
            raise ValueError("a frame must not contain a newline")
        async with self._lock:
            if self._writer.is_closing():
                raise TransportClosed("the connection is closed")
            self._writer.write(text.encode("utf-8") + b"\n")
            try:
                await self._writer.drain()
            except (ConnectionError, OSError) as e:
                raise TransportClosed(f"write failed: {e}") from None

    async def recv(self) -> str:
        while True:
            try:
                line = await self._reader.readline()
            except (asyncio.LimitOverrunError, ValueError):
                await self.close()
                raise TransportClosed("a line longer than the largest frame") from None
            except (ConnectionError, OSError) as e:
                raise TransportClosed(f"read failed: {e}") from None
            if not line:
                raise TransportClosed("the host closed the connection")
            text = line.decode("utf-8").rstrip("\r\n")
            if text.strip():
                return text

    async def close(self) -> None:
        if not self._writer.is_closing():
            self._writer.close()
        try:
            await asyncio.wait_for(self._writer.wait_closed(), 1)
        except (asyncio.TimeoutError, ConnectionError, OSError):
            pass


class WebSocketTransport(Transport):
    def __init__(self, ws: object) -> None:
        self._ws = ws

    @staticmethod
    async def open(url: str, ssl: Optional[ssl_module.SSLContext], max_frame_bytes: int) -> "WebSocketTransport":
        websockets = websocket_module()
        if websockets is None:
            raise TransportClosed("the websockets package is not installed: pip install websockets, or use tcp://")
        # most clients refuse messages over 1 MiB by default; the host sends up to its largest frame
        kwargs = {"max_size": max_frame_bytes, "compression": None, "ping_interval": None, "close_timeout": 1}
        if url.startswith("wss:"):
            kwargs["ssl"] = ssl if ssl is not None else ssl_module.create_default_context()
        ws = await websockets.connect(url, **kwargs)  # type: ignore[attr-defined]
        return WebSocketTransport(ws)

    async def send(self, text: str) -> None:
        try:
            await self._ws.send(text)  # type: ignore[attr-defined]
        except Exception as e:  # websockets raises its ConnectionClosed family
            raise TransportClosed(f"write failed: {e}") from None

    async def recv(self) -> str:
        try:
            data = await self._ws.recv()  # type: ignore[attr-defined]
        except Exception as e:
            code = getattr(e, "code", None)
            rcvd = getattr(e, "rcvd", None)
            if rcvd is not None:
                code = getattr(rcvd, "code", code)
            raise TransportClosed(f"the WebSocket closed (code {code})") from None
        return data if isinstance(data, str) else data.decode("utf-8")

    async def close(self) -> None:
        try:
            await self._ws.close()  # type: ignore[attr-defined]
        except Exception:
            pass


def websocket_module() -> Optional[object]:
    """The ``websockets`` package, if it is importable."""
    try:
        import websockets  # type: ignore[import-not-found]
    except ImportError:
        return None
    return websockets


async def open_transport(url: str, ssl: Optional[ssl_module.SSLContext] = None, max_frame_bytes: int = MAX_FRAME_BYTES) -> Transport:
    """Connects to ``url``: ``tcp://``, ``tls://``, ``ws://`` or ``wss://``."""
    parsed = urlparse(url)
    if parsed.scheme in ("tcp", "tls"):
        if parsed.hostname is None or parsed.port is None:
            raise ValueError(f"{url}: a TCP url needs a host and a port")
        context = ssl if ssl is not None else (ssl_module.create_default_context() if parsed.scheme == "tls" else None)
        return await TcpTransport.open(parsed.hostname, parsed.port, context, max_frame_bytes)
    if parsed.scheme in ("ws", "wss"):
        return await WebSocketTransport.open(url, ssl, max_frame_bytes)
    raise ValueError(f"{url}: the scheme must be tcp://, tls://, ws:// or wss://")
