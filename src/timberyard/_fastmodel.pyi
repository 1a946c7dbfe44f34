"""Types of the compiled fast path of normalisation (src/timberyard/_fastmodel.pyx)."""

from collections.abc import Callable, Mapping
from typing import Any

def configure(
    keys: Mapping[str, tuple[str, str]],
    max_length: Mapping[str, int],
    level_aliases: Mapping[str, str],
    severity: Mapping[str, int],
    server_keys: frozenset[str],
    encode: Callable[[Any], bytes],
    *,
    max_ns: int,
    max_fields_bytes: int,
    max_tags: int,
    max_tag_length: int,
    max_step_index: int,
) -> None: ...
def normalise_many(
    entries: list[Any],
    defaults: dict[str, str] | None,
    max_message_bytes: int,
    now_ns: int,
    base: dict[str, Any] | None,
) -> list[dict[str, Any] | None]: ...
def parse_iso(text: str) -> int | None: ...
def encode_native(rows: list[dict[str, Any]], columns: list[tuple[str, str, str]]) -> bytes: ...
def merge_native(blocks: list[bytes]) -> bytes: ...
def configure_ecs(paths: Mapping[str, str], heads: frozenset[str] | set[str]) -> None: ...
def bulk_plain(
    values: list[Any], index: str | None, max_items: int, make_item: Callable[..., Any]
) -> tuple[list[Any], list[dict[str, Any]]] | None: ...
def ecs_rows(
    docs: list[dict[str, Any]],
    indexes: list[str | None],
    defaults: dict[str, str] | None,
    max_message_bytes: int,
    now_ns: int,
    base: dict[str, Any] | None,
) -> list[dict[str, Any] | None]: ...
def bulk_lines(
    body: bytes,
    decode: Callable[[bytes], Any],
    empty: object,
    invalid: object,
    errors: tuple[type[BaseException], ...],
) -> list[Any]: ...
def bulk_answer(
    items: list[Any],
    rows: list[dict[str, Any]],
    head: Callable[[str, str], bytes],
    middle: bytes,
    tail: bytes,
    encode: Callable[[Any], bytes],
    failed: Callable[[Any], bytes],
) -> tuple[bytes, bool]: ...
