"""Loki push bodies: JSON (`streams[].stream` + `values`) and snappy-block protobuf.

Stream labels map to columns (`service_name`/`service`/`app`/`job` -> service,
`env`/`environment` -> environment, `host`/`hostname`/`instance` -> host,
`level`/`detected_level`/`severity` -> level); every other label and each line's
structured metadata go into `fields` (`trace_id`/`span_id` metadata become the
trace columns). The line text is always the message; when no label names a
level, a JSON line's `level` key or a logfmt line's `level=` is read as the level.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import cramjam
import msgspec

from ..errors import ParseError
from .base import Parsed
from .shipper import level_of

# Target column -> labels that name it, first present wins; the rest go to fields.
LABEL_TARGETS: dict[str, tuple[str, ...]] = {
    "service": ("service_name", "service", "app", "job"),
    "environment": ("env", "environment"),
    "host": ("host", "hostname", "instance"),
    "level": ("level", "detected_level", "severity"),
}
_LABEL_TARGET = {name: target for target, names in LABEL_TARGETS.items() for name in names}
# Structured metadata that names a column of ours.
METADATA_TARGETS = {"trace_id": "traceId", "traceId": "traceId", "span_id": "spanId"}

_decode = msgspec.json.Decoder().decode
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_.:]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|})')
_UNESCAPE = re.compile(r"\\(.)")
_LOGFMT_LEVEL = re.compile(rb'(?:^|\s)(?:level|lvl|severity)="?([A-Za-z]+)')
_JSON_LEVEL_KEYS = ("level", "severity", "lvl")


def parse(
    body: bytes, now_ns: int = 0, max_entries: int | None = None, max_bytes: int | None = None
) -> Parsed:
    """A push body of either encoding: JSON when it starts with `{`, else snappy protobuf."""
    if body.lstrip()[:1] == b"{":
        return parse_json(body, now_ns, max_entries)
    return parse_protobuf(body, now_ns, max_entries, max_bytes)


def parse_json(body: bytes, now_ns: int = 0, max_entries: int | None = None) -> Parsed:
    """A JSON push body; decoding stops one entry past `max_entries`."""
    try:
        doc = _decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ParseError(f"invalid JSON push body: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("streams"), list):
        raise ParseError('a push body must be an object with a "streams" array')
    entries: list[dict[str, Any]] = []
    for number, stream in enumerate(doc["streams"], 1):
        if not isinstance(stream, dict):
            raise ParseError(f"stream {number} must be an object with stream and values")
        if "entries" in stream and "values" not in stream:
            _legacy_stream(stream, number, entries)  # the pre-v1 shape: labels + entries
        else:
            labels = stream.get("stream", {})
            values = stream.get("values")
            if not isinstance(labels, dict) or not isinstance(values, list):
                raise ParseError(
                    f'stream {number} must have a "stream" object of labels and a "values" array'
                )
            base, fields = stream_columns(labels)
            for index, value in enumerate(values, 1):
                if not isinstance(value, list) or len(value) not in (2, 3):
                    raise ParseError(
                        f"stream {number} value {index}: expected [timestamp, line]"
                        f" or [timestamp, line, metadata], got {_short(value)}"
                    )
                metadata = value[2] if len(value) == 3 else None
                if metadata is not None and not isinstance(metadata, dict):
                    raise ParseError(
                        f"stream {number} value {index}: structured metadata must be an object"
                    )
                entries.append(_entry(base, fields, value[0], value[1], metadata))
        if max_entries is not None and len(entries) > max_entries:
            break
    return Parsed(entries)


def _legacy_stream(stream: dict[str, Any], number: int, entries: list[dict[str, Any]]) -> None:
    labels = stream.get("labels", "")
    values = stream.get("entries")
    if not isinstance(labels, str) or not isinstance(values, list):
        raise ParseError(f'stream {number} must have a "labels" string and an "entries" array')
    base, fields = stream_columns(parse_labels(labels))
    for index, value in enumerate(values, 1):
        if not isinstance(value, dict):
            raise ParseError(f"stream {number} entry {index} must be an object with ts and line")
        entries.append(_entry(base, fields, value.get("ts"), value.get("line"), None))


def parse_protobuf(
    body: bytes, now_ns: int = 0, max_entries: int | None = None, max_bytes: int | None = None
) -> Parsed:
    """A snappy-block protobuf `PushRequest`; conversion stops one entry past `max_entries`.

    The uncompressed size is checked against `max_bytes` before anything is decompressed.
    """
    try:
        size = int(cramjam.snappy.decompress_raw_len(body))
        if max_bytes is not None and size > max_bytes:
            raise ParseError(
                f"the snappy body holds {size} bytes uncompressed; the limit is {max_bytes}:"
                " send smaller batches"
            )
        # Snappy expands at most about 21 times: a larger claim is a corrupt header.
        if size > 32 * len(body) + 1024:
            raise ParseError(f"invalid snappy block: it claims {size} bytes from {len(body)}")
        raw = bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as exc:
        raise ParseError(f"invalid snappy block: {exc}; send snappy-compressed protobuf") from None
    request = push_request_class()()
    try:
        request.ParseFromString(raw)
    except Exception as exc:  # protobuf raises DecodeError, and more on some backends
        raise ParseError(f"invalid protobuf PushRequest: {exc}") from None
    entries: list[dict[str, Any]] = []
    for number, stream in enumerate(request.streams, 1):
        try:
            labels = parse_labels(stream.labels)
        except ParseError as exc:
            raise ParseError(f"stream {number}: {exc.message}") from None
        base, fields = stream_columns(labels)
        for item in stream.entries:
            ts = item.timestamp.seconds * 1_000_000_000 + item.timestamp.nanos
            metadata = {pair.name: pair.value for pair in item.structuredMetadata} or None
            entries.append(_entry(base, fields, ts or None, item.line, metadata))
            if max_entries is not None and len(entries) > max_entries:
                return Parsed(entries)
    return Parsed(entries)


def parse_labels(text: str) -> dict[str, str]:
    """A Prometheus label set such as `{app="api", level="info"}` as a dict."""
    text = text.strip()
    if text in ("", "{}"):
        return {}
    if not text.startswith("{") or not text.endswith("}"):
        raise ParseError(f"invalid label set {_short(text)}: expected {{name=\"value\", ...}}")
    labels: dict[str, str] = {}
    position = 1
    while position < len(text):
        match = _LABEL.match(text, position)
        if match is None:
            raise ParseError(
                f"invalid label set {_short(text)} at {position}: expected name=\"value\""
            )
        labels[match.group(1)] = _UNESCAPE.sub(_unescape, match.group(2))
        position = match.end()
        if match.group(3) == "}":
            break
    return labels


def _unescape(match: re.Match[str]) -> str:
    char = match.group(1)
    return {"n": "\n", "t": "\t"}.get(char, char)


def stream_columns(labels: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The columns a stream's labels name, and the labels kept as fields."""
    base: dict[str, Any] = {}
    used: set[str] = set()
    for target, names in LABEL_TARGETS.items():
        for name in names:
            value = labels.get(name)
            if not isinstance(value, str) or not value:
                continue
            if target == "level":
                level = level_of(value)
                if level is None:
                    continue
                value = level
            base[target] = value
            used.add(name)
            break
    fields = {name: value for name, value in labels.items() if name not in used}
    return base, fields


def _entry(
    base: dict[str, Any],
    fields: dict[str, Any],
    ts: Any,
    line: Any,
    metadata: dict[str, Any] | None,
) -> dict[str, Any]:
    entry = dict(base)
    entry["message"] = line
    if isinstance(ts, str) and ts.isdigit():
        entry["timestamp"] = int(ts)
    elif ts is not None:
        entry["timestamp"] = ts
    if "level" not in entry and isinstance(line, str):
        level = line_level(line)
        if level is not None:
            entry["level"] = level
    if metadata:
        extra = dict(fields)
        for name, value in metadata.items():
            column = METADATA_TARGETS.get(name)
            if column is not None and isinstance(value, str) and column not in entry:
                entry[column] = value
            else:
                extra[name] = value
        if extra:
            entry["fields"] = extra
    elif fields:
        entry["fields"] = fields
    return entry


def line_level(line: str) -> str | None:
    """The level a JSON object line's `level` key or a logfmt line's `level=` names, if any."""
    stripped = line.lstrip()
    if stripped[:1] == "{":
        try:
            doc = _decode(stripped)
        except (msgspec.DecodeError, RecursionError):
            return None
        if isinstance(doc, dict):
            for key in _JSON_LEVEL_KEYS:
                if key in doc:
                    return level_of(doc[key])
        return None
    if "=" in line:
        match = _LOGFMT_LEVEL.search(line.encode())
        if match:
            return level_of(match.group(1).decode())
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@functools.cache
def push_request_class() -> Any:
    """The `logproto.PushRequest` message class, built from its descriptor (Loki's push.proto)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    FieldType = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(
        name="timberyard/loki_push.proto", package="logproto", syntax="proto3"
    )

    def message(name: str, *fields: tuple[str, int, int, str | None, bool]) -> None:
        described = proto.message_type.add(name=name)
        for field_name, number, kind, type_name, repeated in fields:
            field = described.field.add(name=field_name, number=number, type=kind)
            field.label = FieldType.LABEL_REPEATED if repeated else FieldType.LABEL_OPTIONAL
            if type_name:
                field.type_name = type_name

    string, message_type = FieldType.TYPE_STRING, FieldType.TYPE_MESSAGE
    # google.protobuf.Timestamp's wire form, declared here to keep the pool self-contained.
    message("Timestamp", ("seconds", 1, FieldType.TYPE_INT64, None, False),
            ("nanos", 2, FieldType.TYPE_INT32, None, False))  # fmt: skip
    message("LabelPairAdapter", ("name", 1, string, None, False), ("value", 2, string, None, False))
    message(
        "EntryAdapter",
        ("timestamp", 1, message_type, ".logproto.Timestamp", False),
        ("line", 2, string, None, False),
        ("structuredMetadata", 3, message_type, ".logproto.LabelPairAdapter", True),
        ("parsed", 4, message_type, ".logproto.LabelPairAdapter", True),
    )
    message(
        "StreamAdapter",
        ("labels", 1, string, None, False),
        ("entries", 2, message_type, ".logproto.EntryAdapter", True),
        ("hash", 3, FieldType.TYPE_UINT64, None, False),
    )
    message("PushRequest", ("streams", 1, message_type, ".logproto.StreamAdapter", True))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("logproto.PushRequest"))


def encode_protobuf(streams: list[tuple[str, list[tuple[int, str, dict[str, str]]]]]) -> bytes:
    """A snappy protobuf push body of (labels, [(ns, line, metadata)]), for tests and benchmarks."""
    request = push_request_class()()
    for labels, values in streams:
        stream = request.streams.add(labels=labels)
        for ns, line, metadata in values:
            entry = stream.entries.add(line=line)
            entry.timestamp.seconds, entry.timestamp.nanos = divmod(ns, 1_000_000_000)
            for name, value in metadata.items():
                entry.structuredMetadata.add(name=name, value=value)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
