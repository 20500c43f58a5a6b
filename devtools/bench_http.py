"""A lean HTTP/1.1 client for the bench's load: keep-alive connections over asyncio streams, JSON bodies.

Why not httpx: the load generator runs on the same two cores as the system it measures, and httpx spent about
2.5 ms of CPU per request in the first smoke runs (23 ms per lifecycle of nine requests): at the issue's 100
lifecycles/s the bench alone would have needed more than two cores. This client does only what the bench needs
(GET/POST/PUT to 127.0.0.1, Content-Length or chunked bodies, keep-alive) and costs a fraction of that.

A connection that sat idle longer than the server keeps it (uvicorn closes after 5 s) is not reused; one the server
closed meanwhile is noticed (EOF) and dropped; a request that fails on a reused connection before any answer came is
sent once more on a fresh one (safe: GETs, and POSTs carrying an Idempotency-Key, which the services honour).
"""

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urlsplit

IDLE_SECONDS = 4.0  # below uvicorn's timeout_keep_alive (5 s)


class HTTPError(Exception):
    """The request got no complete answer (refused, reset, timed out, malformed)."""


@dataclass
class Response:
    status_code: int
    headers: dict[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self):
        return json.loads(self.content)


class _Connection:
    __slots__ = ("reader", "writer", "idle_since")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def usable(self) -> bool:
        return (
            not self.reader.at_eof()
            and not self.writer.is_closing()
            and time.monotonic() - self.idle_since < IDLE_SECONDS
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class _Stale(Exception):
    """A reused connection failed before any answer: try again on a fresh one."""


class Client:
    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._idle: dict[tuple[str, int], list[_Connection]] = defaultdict(list)
        self._closed = False

    async def get(self, url: str, headers: dict | None = None) -> Response:
        return await self.request("GET", url, headers=headers)

    async def post(self, url: str, json: object = None, headers: dict | None = None) -> Response:
        return await self.request("POST", url, json=json, headers=headers)

    async def put(self, url: str, json: object = None, headers: dict | None = None) -> Response:
        return await self.request("PUT", url, json=json, headers=headers)

    async def request(self, method: str, url: str, *, json: object = None, headers: dict | None = None) -> Response:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only plain http URLs: {url}")
        host, port = parts.hostname, parts.port or 80
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        body = b"" if json is None else _dumps(json)
        head = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
        if json is not None:
            head.append("Content-Type: application/json")
        head.extend(f"{k}: {v}" for k, v in (headers or {}).items())
        payload = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    return await self._exchange((host, port), payload, method, fresh=False)
                except _Stale:
                    return await self._exchange((host, port), payload, method, fresh=True)
        except TimeoutError:
            raise HTTPError(f"{method} {url}: no answer within {self.timeout:g} s") from None

    async def _exchange(self, key: tuple[str, int], payload: bytes, method: str, *, fresh: bool) -> Response:
        conn, reused = None, False
        if not fresh:
            idle = self._idle[key]
            while idle:
                candidate = idle.pop()
                if candidate.usable():
                    conn, reused = candidate, True
                    break
                candidate.close()
        if conn is None:
            try:
                conn = _Connection(*await asyncio.open_connection(*key))
            except OSError as exc:
                raise HTTPError(f"connecting to {key[0]}:{key[1]}: {exc!r}") from None
        answered = False
        try:
            conn.writer.write(payload)
            status_line = await conn.reader.readline()
            if not status_line:
                raise ConnectionResetError("closed before an answer")
            answered = True
            response, keep = await _read_response(conn.reader, status_line, method)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            conn.close()
            if reused and not answered:
                raise _Stale from None
            raise HTTPError(f"{method} {key[0]}:{key[1]}: {exc!r}") from None
        except BaseException:  # cancelled or timed out midway: the connection's state is unknown
            conn.close()
            raise
        if keep and not self._closed:
            conn.idle_since = time.monotonic()
            self._idle[key].append(conn)
        else:
            conn.close()
        return response

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
            idle.clear()


def _dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


async def _read_response(reader: asyncio.StreamReader, status_line: bytes, method: str) -> tuple[Response, bool]:
    """The rest of one response after its status line; whether the connection may be used again."""
    _version, status, *_ = status_line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n"):
            break
        if not line:
            raise asyncio.IncompleteReadError(b"", None)
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    code = int(status)
    if method == "HEAD" or code in (204, 304) or 100 <= code < 200:
        content = b""
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readline()).split(b";", 1)[0].strip(), 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                break
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        content = b"".join(chunks)
    elif "content-length" in headers:
        content = await reader.readexactly(int(headers["content-length"]))
    else:  # delimited by the server closing the connection
        content = await reader.read()
        return Response(code, headers, content), False
    keep = headers.get("connection", "").lower() != "close"
    return Response(code, headers, content), keep
