"""The ceiling to compare ingestion with: an ASGI endpoint that only decodes the JSON
body and appends it to a file, served by the same uvicorn as Timberyard."""

from __future__ import annotations

import os

import msgspec

_decode = msgspec.json.Decoder().decode
_out = open(os.environ.get("CEILING_FILE", "/tmp/timberyard-ceiling.jsonl"), "ab")  # noqa: SIM115


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    try:
        value = _decode(body)
    except msgspec.DecodeError:
        await send({"type": "http.response.start", "status": 400, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    count = len(value["logs"]) if isinstance(value, dict) and "logs" in value else 1
    _out.write(body + b"\n")
    payload = b'{"success":true,"count":%d}' % count
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
