"""Request bodies: JSON objects and arrays, and NDJSON read as it streams, all within the body-size limit.

A body is read at most to ``max_body`` bytes (413 past it, whatever
Content-Length claimed); malformed JSON is a 400, the wrong media type a 415.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.requests import Request

from .problems import Problem


async def object_body(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise Problem(422, "the body must be a JSON object", errors=[{"field": "", "message": "expected an object"}])
    return body


async def rows_body(request: Request, row: Callable[[Any], dict[str, Any]]) -> list[dict[str, Any]]:
    """A JSON array, or NDJSON read as it arrives (a bad line is named, and nothing is written), each through ``row``.

    Each NDJSON line becomes its checked record as it arrives, so the rows are
    held once (as records), never as parsed JSON and records at the same time.
    """
    if request.headers.get("content-type", "").split(";")[0].strip() == "application/x-ndjson":
        rows: list[dict[str, Any]] = []
        buffer = b""
        number = 0
        async for chunk in limited_stream(request):
            block, newline, buffer = (buffer + chunk).rpartition(b"\n")
            if newline:
                number = _ndjson_block(block, number, rows, row)
        if buffer.strip():
            _ndjson_block(buffer, number, rows, row)
        return rows
    body = await json_body(request)
    if not isinstance(body, list):
        raise Problem(422, "the body must be a JSON array of records (or NDJSON)",
                      errors=[{"field": "", "message": "expected an array"}])  # fmt: skip
    return [row(item) for item in body]


def _ndjson_block(block: bytes, number: int, rows: list[dict[str, Any]], row: Callable[[Any], dict[str, Any]]) -> int:
    """Parse the complete lines in ``block`` (which follow line ``number``) into ``rows``; the last line's number.

    The block is decoded once (a newline byte never falls inside a UTF-8
    sequence, so cutting at one is safe); a block that is not UTF-8 is
    parsed line by line as bytes, so the bad line is the one named.
    """
    lines: list[str] | list[bytes]
    try:
        lines = block.decode().split("\n")
    except UnicodeDecodeError:
        lines = block.split(b"\n")
    for line in lines:
        number += 1
        if line.strip():
            try:
                parsed = json.loads(line)
            except (ValueError, RecursionError):  # RecursionError: nested too deeply to parse
                raise Problem(400, f"NDJSON line {number} is not valid JSON; nothing was written") from None
            rows.append(row(parsed))
    return number


async def json_body(request: Request) -> Any:
    media = request.headers.get("content-type", "").split(";")[0].strip()
    if media != "application/json":
        raise Problem(415, f"send application/json, not {media or 'no content type'}")
    data = b"".join([chunk async for chunk in limited_stream(request)])
    try:
        return json.loads(data)
    except ValueError:
        raise Problem(400, "the body is not valid JSON") from None
    except RecursionError:
        raise Problem(400, "the body is nested too deeply to parse") from None


async def limited_stream(request: Request) -> AsyncIterator[bytes]:
    limit: int = request.app.state.max_body
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(413, f"the body is over the limit of {limit} bytes")
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise Problem(413, f"the body is over the limit of {limit} bytes")
        yield chunk
