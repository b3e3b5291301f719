"""A small HTTP/1.1 load generator on raw asyncio streams: keep-alive connections, bounded request counts.

It does as little as a client can (no URL parsing, no header objects), so the
load generator costs the machine as little as possible next to the server
processes it measures. Responses must carry Content-Length (uvicorn sets it
for every response these servers make).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

Request = tuple[str, str, bytes | None]  # method, path, JSON body


class Connection:
    """One keep-alive connection to ``127.0.0.1:port``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        return cls(reader, writer)

    async def send(
        self, method: str, path: str, body: bytes | None, content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\n"
        if body is not None:
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + (body or b""))
        headers = await self.reader.readuntil(b"\r\n\r\n")
        status = int(headers[9:12])
        length = 0
        for line in headers.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, (await self.reader.readexactly(length) if length else b"")

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


@dataclass
class Outcome:
    """What one load run saw."""

    seconds: float
    latencies: list[float]
    errors: int
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)


async def closed_loop(port: int, requests: Sequence[Request], connections: int, ok: int) -> Outcome:
    """Send ``requests`` over ``connections`` keep-alive connections as fast as the server answers."""
    opened = [await Connection.open(port) for _ in range(connections)]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    next_index = 0

    async def worker(connection: Connection) -> None:
        nonlocal next_index
        while next_index < len(requests):
            method, path, body = requests[next_index]
            next_index += 1
            started = time.perf_counter()
            status, _ = await connection.send(method, path, body)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in opened))
    seconds = time.perf_counter() - started
    for connection in opened:
        await connection.close()
    errors = sum(n for status, n in statuses.items() if status != ok)
    return Outcome(seconds, latencies, errors, statuses)


async def fixed_rate(port: int, requests: Sequence[Request], rate: float, connections: int) -> Outcome:
    """Start one request every ``1/rate`` seconds (open loop) on a free connection; a non-2xx is an error."""
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await Connection.open(port))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0

    async def one(request: Request) -> None:
        nonlocal errors
        connection = await idle.get()
        started = time.perf_counter()
        try:
            status, _ = await connection.send(*request)
        except (OSError, asyncio.IncompleteReadError):
            errors += 1
            connection = await Connection.open(port)
        else:
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
            errors += not 200 <= status < 300
        idle.put_nowait(connection)

    started = time.perf_counter()
    pending = []
    for index, request in enumerate(requests):
        delay = started + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        pending.append(asyncio.ensure_future(one(request)))
    await asyncio.gather(*pending)
    seconds = time.perf_counter() - started
    while not idle.empty():
        await idle.get_nowait().close()
    return Outcome(seconds, latencies, errors, statuses)
