# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled fast path of `model.normalise` for entries that are valid and plain.

`normalise_many` returns, for each raw entry, the canonical row that
`model.normalise` would return, or None where the entry needs anything this
path does not handle: an invalid value (so the reason comes from the Python
code), a number where a string is expected, a timestamp in a rarer spelling,
a server-assigned key. The caller sends those entries through
`model.normalise`, which stays the one definition of what an entry means; the
tables used here are handed over by `model.py` (`configure`), never copied.
"""

from cpython.dict cimport PyDict_Contains, PyDict_Copy, PyDict_GetItem, PyDict_Next
from cpython.object cimport PyObject
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.unicode cimport PyUnicode_DecodeUTF8
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport int64_t, uint8_t


cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object)
    void* PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    Py_UCS4 PyUnicode_READ_CHAR(object, Py_ssize_t)
    bint Py_UNICODE_ISSPACE(Py_UCS4)
    # The same, on borrowed pointers (the Native encoder's cells).
    int _is_str "PyUnicode_CheckExact"(PyObject*)
    int _is_ascii "PyUnicode_IS_COMPACT_ASCII"(PyObject*)
    void* _ascii_data "PyUnicode_DATA"(PyObject*)
    Py_ssize_t _length "PyUnicode_GET_LENGTH"(PyObject*)


# Kinds of input keys, as in model._KEYS.
cdef enum:
    K_STRING, K_MESSAGE, K_LEVEL, K_TIME, K_TAGS, K_FIELDS, K_STEP

cdef int64_t NS = 1000000000
cdef int64_t MAX_SECONDS = 0
cdef int64_t MAX_NS = 0
cdef Py_ssize_t MAX_FIELDS_BYTES = 0
cdef Py_ssize_t MAX_TAGS = 0
cdef Py_ssize_t MAX_TAG_LENGTH = 0
cdef long MAX_STEP = 0

# input key -> (kind, canonical name, length limit) as a tuple
cdef dict _KEYS = {}
cdef dict _LEVELS = {}  # spelling -> canonical level
cdef dict _SEVERITY = {}  # canonical level -> severity (an int object)
cdef frozenset _SERVER_KEYS = frozenset()
cdef object _encode = None
cdef Py_ssize_t _SERVICE_MAX = 0
cdef bint _configured = False


def configure(
    keys, max_length, level_aliases, severity, server_keys, encode, *,
    max_ns, max_fields_bytes, max_tags, max_tag_length, max_step_index,
):
    """Take the tables of model.py (called once, when model.py is imported)."""
    global _KEYS, _LEVELS, _SEVERITY, _SERVER_KEYS, _encode, _SERVICE_MAX, _configured
    global MAX_NS, MAX_SECONDS, MAX_FIELDS_BYTES, MAX_TAGS, MAX_TAG_LENGTH, MAX_STEP
    kinds = {"s": K_STRING, "m": K_MESSAGE, "l": K_LEVEL, "t": K_TIME, "g": K_TAGS,
             "f": K_FIELDS, "i": K_STEP}
    table = {}
    for key, (kind, name) in keys.items():
        table[key] = (kinds[kind], name, max_length.get(name, 0))
    _KEYS = table
    _LEVELS = dict(level_aliases)
    _SEVERITY = dict(severity)
    _SERVER_KEYS = frozenset(server_keys)
    _encode = encode
    _SERVICE_MAX = max_length["service"]
    MAX_NS = max_ns
    MAX_SECONDS = max_ns // NS
    MAX_FIELDS_BYTES = max_fields_bytes
    MAX_TAGS = max_tags
    MAX_TAG_LENGTH = max_tag_length
    MAX_STEP = max_step_index
    _configured = True


def normalise_many(list entries, dict defaults, Py_ssize_t max_message_bytes,
                   int64_t now_ns, dict base):
    """One canonical row per entry, or None where model.normalise must decide."""
    if not _configured:
        raise RuntimeError("timberyard._fastmodel is not configured (import timberyard.model)")
    cdef list out = []
    cdef object raw
    for raw in entries:
        out.append(_normalise(raw, defaults, max_message_bytes, now_ns, base))
    return out


cdef object _normalise(object raw, dict defaults, Py_ssize_t cap, int64_t now_ns, dict base):
    if type(raw) is not dict:
        return None
    cdef dict row = PyDict_Copy(base) if base else {}
    cdef dict extra = None
    cdef object fields = None
    cdef object message = None
    cdef object level = None
    cdef object timestamp = None
    cdef Py_ssize_t pos = 0
    cdef PyObject* k
    cdef PyObject* v
    cdef PyObject* found
    cdef tuple spec
    cdef int kind
    cdef object key, value, name, tag
    while PyDict_Next(<dict>raw, &pos, &k, &v):
        key = <object>k
        value = <object>v
        found = PyDict_GetItem(_KEYS, key)
        if found is NULL:
            if extra is None:
                extra = {}
            extra[key] = value
            continue
        if value is None:
            continue
        spec = <tuple>found
        kind = spec[0]
        if kind == K_STRING:
            name = spec[1]
            if PyDict_Contains(row, name):
                continue  # an earlier alias set it; model.normalise ignores the rest too
            if type(value) is str and PyUnicode_GET_LENGTH(value) <= <Py_ssize_t>spec[2]:
                row[name] = value
            else:
                return None
        elif kind == K_MESSAGE:
            message = value
        elif kind == K_LEVEL:
            level = value
        elif kind == K_TIME:
            timestamp = value
        elif kind == K_FIELDS:
            if type(value) is not dict:
                return None
            fields = value if fields is None else {**fields, **value}
        elif kind == K_TAGS:
            if type(value) is str:
                if PyUnicode_GET_LENGTH(value) > MAX_TAG_LENGTH:
                    return None
                row["tags"] = [value]
            elif type(value) is list:
                if len(<list>value) > MAX_TAGS:
                    return None
                for tag in <list>value:
                    if type(tag) is not str or PyUnicode_GET_LENGTH(tag) > MAX_TAG_LENGTH:
                        return None
                row["tags"] = value
            else:
                return None
        else:  # K_STEP
            if type(value) is not int or not 0 <= value <= MAX_STEP:
                return None
            row["step_index"] = value

    return _finish(row, message, level, timestamp, fields, extra, True, defaults, cap, now_ns)


cdef object _finish(dict row, object message, object level, object timestamp, object fields,
                    dict extra, bint server_keys, dict defaults, Py_ssize_t cap, int64_t now_ns):
    """The rest of `_normalise` once the keys are sorted: message, level, time, fields.

    `extra` are the keys that name no column (they become fields); with `server_keys`,
    one of ours among them hands the entry back (model.normalise refuses it).
    """
    cdef object name, service, encoded
    cdef int64_t ts
    # message: a non-empty string within the byte limit (else model.normalise says why)
    if type(message) is not str:
        return None
    cdef Py_ssize_t length = PyUnicode_GET_LENGTH(message)
    if length == 0 or Py_UNICODE_ISSPACE(PyUnicode_READ_CHAR(message, 0)):
        return None
    if length * 4 > cap:
        return None

    if level is None and defaults:
        level = defaults.get("level")
    if level is None:
        level = "info"
    elif type(level) is str:
        found = PyDict_GetItem(_LEVELS, level)
        if found is NULL:
            found = PyDict_GetItem(_LEVELS, (<str>level).strip().lower())  # as parse_level
            if found is NULL:
                return None
        level = <object>found
    else:
        return None

    if timestamp is None:
        ts = now_ns
    elif type(timestamp) is str:
        ts = _parse_iso(timestamp)
        if ts < 0:
            return None
    elif type(timestamp) is int:
        ts = _int_to_ns(timestamp)
        if ts < 0:
            return None
    else:
        return None

    row["level"] = level
    row["severity"] = _SEVERITY[level]
    row["message"] = message
    row["ts_ns"] = ts

    if extra:
        if server_keys and not _SERVER_KEYS.isdisjoint(extra):
            return None
        fields = {**extra, **fields} if fields else extra
    if fields:
        if not PyDict_Contains(row, "service"):
            service = (<dict>fields).get("service")
            if isinstance(service, str) and 0 < len(<str>service) <= _SERVICE_MAX:
                row["service"] = service
        encoded = _encode(fields)
        if PyBytes_GET_SIZE(encoded) > MAX_FIELDS_BYTES:
            return None
        row["fields"] = PyUnicode_DecodeUTF8(
            PyBytes_AS_STRING(encoded), PyBytes_GET_SIZE(encoded), NULL
        )
    if defaults:
        for name in ("service", "environment", "dataset"):
            if not PyDict_Contains(row, name) and defaults.get(name):
                row[name] = defaults[name]
    if not PyDict_Contains(row, "dataset"):
        row["dataset"] = "default"
    return row


# -- Elasticsearch bulk bodies -------------------------------------------------
# formats/esbulk.py hands over its tables (`configure_ecs`): each ECS path -> the
# input key of ours it names (kept here as that key's entry of _KEYS), and the first
# parts of the nested paths.
cdef dict _ECS_KEYS = {}
cdef frozenset _ECS_HEADS = frozenset()
cdef Py_ssize_t _DATASET_MAX = 0
cdef bint _ecs_configured = False


def configure_ecs(paths, heads):
    """Take esbulk's tables (called once, when formats/esbulk.py is imported)."""
    global _ECS_KEYS, _ECS_HEADS, _DATASET_MAX, _ecs_configured
    if not _configured:
        raise RuntimeError("configure() first (import timberyard.model)")
    table = {}
    for path, column in paths.items():
        spec = _KEYS[column]
        if spec[0] not in (K_STRING, K_MESSAGE, K_LEVEL, K_TIME):
            raise ValueError(f"ECS path {path!r} names {column!r}, which is not a column")
        table[path] = spec
    _ECS_KEYS = table
    _ECS_HEADS = frozenset(heads)
    _DATASET_MAX = _KEYS["dataset"][2]
    _ecs_configured = True


cdef extern from "string.h":
    const void* memchr(const void*, int, size_t)


cdef inline bint _blank(const char* data, Py_ssize_t start, Py_ssize_t end):
    """Whether data[start:end] is empty or only what bytes.strip() removes."""
    cdef char c
    while start < end:
        c = data[start]
        if not (c == 32 or 9 <= c <= 13):
            return False
        start += 1
    return True


def bulk_lines(bytes body, object decode, object empty, object invalid, tuple errors):
    """Each line of a bulk body decoded, `empty` for a blank one, `invalid` for one that
    `decode` refuses with one of `errors`; blank lines at the end are left out.

    A line with the bytes of the last action line before it is that line's value
    again (the same object, read only): shippers repeat one action line per document.
    """
    cdef const char* data = PyBytes_AS_STRING(body)
    cdef Py_ssize_t size = PyBytes_GET_SIZE(body)
    cdef Py_ssize_t start = 0
    cdef Py_ssize_t end, length
    cdef Py_ssize_t last_start = 0
    cdef Py_ssize_t last_length = -1
    cdef object last = None
    cdef object value
    cdef const char* found
    cdef list out = []
    while True:
        found = <const char*>memchr(data + start, 10, <size_t>(size - start))
        end = size if found == NULL else found - data
        length = end - start
        if _blank(data, start, end):
            out.append(empty)
        elif length == last_length and memcmp(data + start, data + last_start, <size_t>length) == 0:
            out.append(last)
        else:
            try:
                value = decode(PyBytes_FromStringAndSize(data + start, length))
            except errors:
                value = invalid
            out.append(value)
            if type(value) is dict and len(<dict>value) == 1:  # an action line, most likely
                last = value
                last_start = start
                last_length = length
        if found == NULL:
            break
        start = end + 1
    while out and out[len(out) - 1] is empty:  # (no wraparound here: out[-1] is not the last)
        out.pop()
    return out


def bulk_plain(list values, object index, Py_ssize_t max_items, object make_item):
    """The items and documents of a bulk body of plain pairs only, or None.

    `values` are the decoded lines (esbulk's `decoded`). Plain means: every odd line
    an `index` or `create` action whose metadata is an object naming a non-empty
    index (or `index` is the path's), every even line a JSON object, no blank line,
    at most `max_items` pairs. Anything else is None: esbulk.parse decides.
    """
    cdef Py_ssize_t n = len(values)
    if n == 0 or n % 2 or n // 2 > max_items:
        return None
    cdef list items = []
    cdef list docs = []
    cdef Py_ssize_t i, pos
    cdef PyObject* k
    cdef PyObject* v
    cdef PyObject* found
    cdef object action, op, meta, target, doc_id, doc
    for i in range(0, n, 2):
        action = values[i]
        doc = values[i + 1]
        if type(action) is not dict or len(<dict>action) != 1 or type(doc) is not dict:
            return None
        pos = 0
        PyDict_Next(<dict>action, &pos, &k, &v)
        op = <object>k
        meta = <object>v
        if type(meta) is not dict or not (op == "create" or op == "index"):
            return None
        found = PyDict_GetItem(<dict>meta, "_index")
        target = index if found is NULL else <object>found
        if type(target) is not str or PyUnicode_GET_LENGTH(target) == 0:
            return None
        found = PyDict_GetItem(<dict>meta, "_id")
        doc_id = None if found is NULL or <object>found is None else str(<object>found)
        items.append(make_item(op, target, doc_id, i + 1))
        docs.append(doc)
    return items, docs


def ecs_rows(list docs, list indexes, dict defaults, Py_ssize_t max_message_bytes,
             int64_t now_ns, dict base):
    """normalise(esbulk.entry(doc, index)) of each document, or None where Python decides.

    A document is taken here when each column is named by one ECS path at most, with
    a value that is not null, an object or an array, and no nested ECS object
    (`"log": {...}`) is present: then the first-ranked path is the only one, and the
    mapping is a renaming. The other keys are the fields, in the document's order.
    """
    if not _ecs_configured:
        raise RuntimeError("timberyard._fastmodel is not configured (import timberyard.formats.esbulk)")
    cdef list out = []
    cdef Py_ssize_t i
    cdef Py_ssize_t n = len(docs)
    for i in range(n):
        out.append(_normalise_ecs(docs[i], indexes[i], defaults, max_message_bytes, now_ns, base))
    return out


cdef object _normalise_ecs(object doc, object index, dict defaults, Py_ssize_t cap,
                           int64_t now_ns, dict base):
    if type(doc) is not dict:
        return None
    cdef dict row = PyDict_Copy(base) if base else {}
    cdef dict extra = None
    cdef object message = None
    cdef object level = None
    cdef object timestamp = None
    cdef Py_ssize_t pos = 0
    cdef PyObject* k
    cdef PyObject* v
    cdef PyObject* found
    cdef tuple spec
    cdef int kind
    cdef object key, value, name
    while PyDict_Next(<dict>doc, &pos, &k, &v):
        key = <object>k
        value = <object>v
        found = PyDict_GetItem(_ECS_KEYS, key)
        if found is NULL:
            if type(value) is dict and key in _ECS_HEADS:
                return None  # a nested ECS object: its members' ranks decide, in Python
            if extra is None:
                extra = {}
            extra[key] = value
            continue
        if value is None or type(value) is dict or type(value) is list:
            return None  # it stays in fields there, and may leave room for another path
        spec = <tuple>found
        kind = spec[0]
        # A second path for a column: their ranks decide, in Python.
        if kind == K_STRING:
            name = spec[1]
            if PyDict_Contains(row, name):
                return None
            if type(value) is str and PyUnicode_GET_LENGTH(value) <= <Py_ssize_t>spec[2]:
                row[name] = value
            else:
                return None
        elif kind == K_MESSAGE:
            if message is not None:
                return None
            message = value
        elif kind == K_LEVEL:
            if level is not None:
                return None
            level = value
        else:  # K_TIME
            if timestamp is not None:
                return None
            timestamp = value
    if index and not PyDict_Contains(row, "dataset"):
        if type(index) is not str or PyUnicode_GET_LENGTH(index) > _DATASET_MAX:
            return None
        row["dataset"] = index
    return _finish(row, message, level, timestamp, None, extra, False, defaults, cap, now_ns)


cdef int64_t _int_to_ns(object number):
    """model._number_to_ns for an int, or -1 when it is out of range or too large."""
    cdef int overflow = 0
    cdef long long n = PyLong_AsLongLongAndOverflow(number, &overflow)
    if overflow != 0 or n < 0:
        return -1
    if n < 100000000000:  # seconds
        if n >= MAX_SECONDS:
            return -1
        return n * NS
    if n < 100000000000000:  # milliseconds
        if n >= MAX_NS // 1000000:
            return -1
        return n * 1000000
    if n < 100000000000000000:  # microseconds
        if n >= MAX_NS // 1000:
            return -1
        return n * 1000
    return n if n < MAX_NS else -1


cdef inline int _digits(const uint8_t* s, Py_ssize_t start, Py_ssize_t count) noexcept:
    """The value of `count` ASCII digits at s[start], or -1."""
    cdef int value = 0
    cdef Py_ssize_t i
    cdef uint8_t c
    for i in range(start, start + count):
        c = s[i]
        if c < 48 or c > 57:
            return -1
        value = value * 10 + (c - 48)
    return value


cdef inline int64_t _days_from_civil(int64_t y, int64_t m, int64_t d) noexcept:
    # Days since 1970-01-01 of a proleptic Gregorian date.
    y -= m <= 2
    cdef int64_t era = (y if y >= 0 else y - 399) // 400
    cdef int64_t yoe = y - era * 400
    cdef int64_t mp = m - 3 if m > 2 else m + 9
    cdef int64_t doy = (153 * mp + 2) // 5 + d - 1
    cdef int64_t doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


cdef int64_t _parse_iso(str text):
    """Nanoseconds for `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]`, or -1 for anything else."""
    if not PyUnicode_IS_ASCII(text):
        return -1
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    if n < 19:
        return -1
    cdef const uint8_t* s = <const uint8_t*>PyUnicode_DATA(text)
    if s[4] != 45 or s[7] != 45 or s[10] != 84 or s[13] != 58 or s[16] != 58:  # - - T : :
        return -1
    cdef int year = _digits(s, 0, 4)
    cdef int month = _digits(s, 5, 2)
    cdef int day = _digits(s, 8, 2)
    cdef int hour = _digits(s, 11, 2)
    cdef int minute = _digits(s, 14, 2)
    cdef int second = _digits(s, 17, 2)
    if year < 1 or month < 1 or month > 12 or day < 1 or hour < 0 or hour > 23:
        return -1
    if minute < 0 or minute > 59 or second < 0 or second > 59:
        return -1
    cdef int mdays = 31
    if month == 2:
        mdays = 29 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 28
    elif month == 4 or month == 6 or month == 9 or month == 11:
        mdays = 30
    if day > mdays:
        return -1
    cdef Py_ssize_t i = 19
    cdef int64_t fraction = 0
    cdef int count = 0
    if i < n and s[i] == 46:  # '.'
        i += 1
        while i < n and 48 <= s[i] <= 57:
            if count == 9:
                return -1  # more than nanoseconds: model.normalise decides
            fraction = fraction * 10 + (s[i] - 48)
            count += 1
            i += 1
        if count == 0:
            return -1
        while count < 9:
            fraction *= 10
            count += 1
    cdef int64_t offset = 0
    cdef int oh, om
    if i < n:
        if s[i] == 90 and i + 1 == n:  # 'Z'
            i += 1
        elif (s[i] == 43 or s[i] == 45) and i + 6 == n and s[i + 3] == 58:  # ±HH:MM
            oh = _digits(s, i + 1, 2)
            om = _digits(s, i + 4, 2)
            if oh < 0 or oh > 23 or om < 0 or om > 59:
                return -1
            offset = oh * 3600 + om * 60
            if s[i] == 45:
                offset = -offset
            i = n
        else:
            return -1
    cdef int64_t seconds = (
        _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset
    )
    if seconds < 0 or seconds >= MAX_SECONDS:
        return -1
    cdef int64_t ns = seconds * NS + fraction
    return ns if ns < MAX_NS else -1


def parse_iso(str text):
    """Nanoseconds of an ISO 8601 instant in the common spelling, or None (for tests)."""
    cdef int64_t ns = _parse_iso(text)
    return None if ns < 0 else ns


# -- ClickHouse Native blocks --------------------------------------------------

from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from cpython.long cimport PyLong_AsUnsignedLongLong, PyLong_AsLongLong
from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcmp, memcpy, memset
from libc.stdint cimport uint64_t

# Column kinds of a Native block, as schema.NATIVE_COLUMNS names them.
cdef enum:
    C_STRING, C_UINT8, C_UINT64, C_INT64, C_NULLABLE_UINT16, C_ARRAY_STRING

_NATIVE_KINDS = {
    "String": C_STRING, "UInt8": C_UINT8, "UInt64": C_UINT64, "Int64": C_INT64,
    "DateTime64(9)": C_INT64, "DateTime64(3)": C_INT64,  # ticks since the epoch
    "Nullable(UInt16)": C_NULLABLE_UINT16, "Array(String)": C_ARRAY_STRING,
}


cdef struct Buffer:
    char* data
    Py_ssize_t size
    Py_ssize_t capacity


cdef int _reserve(Buffer* buf, Py_ssize_t extra) except -1:
    cdef Py_ssize_t wanted = buf.size + extra
    cdef Py_ssize_t capacity
    cdef char* grown
    if wanted <= buf.capacity:
        return 0
    capacity = buf.capacity * 2 if buf.capacity else 4096
    while capacity < wanted:
        capacity *= 2
    grown = <char*>realloc(buf.data, capacity)
    if grown is NULL:
        raise MemoryError()
    buf.data = grown
    buf.capacity = capacity
    return 0


cdef inline int _put(Buffer* buf, const char* data, Py_ssize_t size) except -1:
    _reserve(buf, size)
    memcpy(buf.data + buf.size, data, size)
    buf.size += size
    return 0


cdef inline void _varuint_into(Buffer* buf, uint64_t value) noexcept:
    # LEB128, as Native writes lengths and counts; the caller reserved 10 bytes.
    while value >= 0x80:
        buf.data[buf.size] = <char>((value & 0x7F) | 0x80)
        buf.size += 1
        value >>= 7
    buf.data[buf.size] = <char>value
    buf.size += 1


cdef inline int _put_varuint(Buffer* buf, uint64_t value) except -1:
    _reserve(buf, 10)
    _varuint_into(buf, value)
    return 0


cdef inline int _put_cell(Buffer* buf, PyObject* value) except -1:
    """A String cell: absent (NULL) or None is the empty string."""
    cdef Py_ssize_t size
    cdef const char* utf8
    if value is NULL or <object>value is None:
        if buf.size >= buf.capacity:
            _reserve(buf, 1)
        buf.data[buf.size] = 0
        buf.size += 1
        return 0
    if not _is_str(value):
        raise TypeError(f"a string column holds {type(<object>value).__name__} {<object>value!r}")
    if _is_ascii(value):
        utf8 = <const char*>_ascii_data(value)
        size = _length(value)
    else:
        utf8 = PyUnicode_AsUTF8AndSize(<object>value, &size)
    _reserve(buf, size + 10)
    _varuint_into(buf, <uint64_t>size)
    memcpy(buf.data + buf.size, utf8, size)
    buf.size += size
    return 0


cdef inline int _put_fixed(Buffer* buf, uint64_t value, int width) except -1:
    # Little-endian, as Native writes numbers (x86 and arm64 are little-endian too).
    _reserve(buf, width)
    memcpy(buf.data + buf.size, &value, width)
    buf.size += width
    return 0


def encode_native(list rows, list columns):
    """One ClickHouse Native block of canonical rows.

    `columns` is schema.NATIVE_COLUMNS: (column name, Native type, row key) in
    table order. A key a row lacks gives the column's default (empty string,
    0, NULL step index, empty tags).
    """
    cdef Py_ssize_t n = len(rows)
    cdef Py_ssize_t ncols = len(columns)
    cdef dict index = {}
    cdef list kinds = []
    cdef Py_ssize_t c, r, pos
    cdef object name, type_name, key, row, value
    cdef PyObject* k
    cdef PyObject* v
    cdef PyObject* found
    cdef PyObject** cells
    cdef Buffer buf
    cdef int kind
    cdef uint64_t offset
    cdef list tags
    for c in range(ncols):
        name, type_name, key = columns[c]
        index[key] = c
        kinds.append(_NATIVE_KINDS[type_name])
    buf.data = NULL
    buf.size = 0
    buf.capacity = 0
    # cells[c * n + r]: borrowed pointers to the values of each row, column by column.
    cells = <PyObject**>malloc(sizeof(PyObject*) * (ncols * n + 1))
    if cells is NULL:
        raise MemoryError()
    memset(cells, 0, sizeof(PyObject*) * (ncols * n + 1))
    try:
        for r in range(n):
            row = rows[r]
            if type(row) is not dict:
                raise TypeError(f"a row must be a dict, got {type(row).__name__}")
            pos = 0
            while PyDict_Next(<dict>row, &pos, &k, &v):
                found = PyDict_GetItem(index, <object>k)
                if found is not NULL:
                    cells[(<Py_ssize_t><object>found) * n + r] = v
        _reserve(&buf, 1024 + 256 * n)  # about what a row of the benchmark needs
        _put_varuint(&buf, <uint64_t>ncols)
        _put_varuint(&buf, <uint64_t>n)
        for c in range(ncols):
            name, type_name, key = columns[c]
            _put_cell(&buf, <PyObject*>name)
            _put_cell(&buf, <PyObject*>type_name)
            kind = kinds[c]
            if kind == C_STRING:
                for r in range(n):
                    _put_cell(&buf, cells[c * n + r])
            elif kind == C_UINT8:
                for r in range(n):
                    v = cells[c * n + r]
                    _put_fixed(&buf, 0 if v is NULL else _uint(<object>v, 255), 1)
            elif kind == C_UINT64:
                for r in range(n):
                    v = cells[c * n + r]
                    _put_fixed(&buf, 0 if v is NULL else PyLong_AsUnsignedLongLong(<object>v), 8)
            elif kind == C_INT64:
                for r in range(n):
                    v = cells[c * n + r]
                    _put_fixed(&buf, 0 if v is NULL else <uint64_t>PyLong_AsLongLong(<object>v), 8)
            elif kind == C_NULLABLE_UINT16:
                for r in range(n):  # the null map, then the values
                    v = cells[c * n + r]
                    _put_fixed(&buf, 1 if v is NULL or <object>v is None else 0, 1)
                for r in range(n):
                    v = cells[c * n + r]
                    _put_fixed(&buf, 0 if v is NULL or <object>v is None else _uint(<object>v, 65535), 2)
            else:  # C_ARRAY_STRING: cumulative end offsets, then every element
                offset = 0
                for r in range(n):
                    v = cells[c * n + r]
                    if v is not NULL and <object>v is not None:
                        if type(<object>v) is not list:
                            raise TypeError(f"an array column holds {type(<object>v).__name__}")
                        offset += len(<list>v)
                    _put_fixed(&buf, offset, 8)
                for r in range(n):
                    v = cells[c * n + r]
                    if v is not NULL and <object>v is not None:
                        for value in <list>v:
                            _put_cell(&buf, <PyObject*>value)
        return PyBytes_FromStringAndSize(buf.data, buf.size)
    finally:
        free(cells)
        free(buf.data)


cdef uint64_t _uint(object value, uint64_t maximum) except? 0xFFFFFFFFFFFFFFFF:
    cdef uint64_t number = PyLong_AsUnsignedLongLong(value)
    if number > maximum:
        raise OverflowError(f"{value!r} is out of range (0 to {maximum})")
    return number


# -- merging Native blocks -------------------------------------------------------

cdef struct Reader:
    const unsigned char* data
    Py_ssize_t size
    Py_ssize_t pos


cdef int _read_varuint(Reader* r, uint64_t* out) except -1:
    cdef uint64_t value = 0
    cdef int shift = 0
    cdef unsigned char byte
    while True:
        if r.pos >= r.size or shift > 63:
            raise ValueError("a Native block ends inside a number")
        byte = r.data[r.pos]
        r.pos += 1
        value |= (<uint64_t>(byte & 0x7F)) << shift
        shift += 7
        if byte < 0x80:
            out[0] = value
            return 0


cdef int _skip(Reader* r, uint64_t count) except -1:
    if count > <uint64_t>(r.size - r.pos):
        raise ValueError("a Native block ends inside a column")
    r.pos += <Py_ssize_t>count
    return 0


cdef int _skip_strings(Reader* r, uint64_t count) except -1:
    cdef uint64_t i, length
    for i in range(count):
        _read_varuint(r, &length)
        _skip(r, length)
    return 0


cdef enum:
    M_FIXED, M_STRING, M_NULLABLE16, M_ARRAY_STRING

# What a merged column needs of each block: where its sections start and end.
cdef struct Section:
    Py_ssize_t a      # start of the data (the null map, or the offsets)
    Py_ssize_t b      # Nullable: start of the values; Array: start of the elements
    Py_ssize_t end
    uint64_t rows
    uint64_t elements  # Array: elements in this block


cdef int _kind_of(const unsigned char* t, uint64_t n, int* width) except -1:
    cdef bytes name = PyBytes_FromStringAndSize(<const char*>t, <Py_ssize_t>n)
    found = _FIXED_WIDTH.get(name)
    if found is not None:
        width[0] = found
        return M_FIXED
    if name == b"String":
        return M_STRING
    if name == b"Nullable(UInt16)":
        return M_NULLABLE16
    if name == b"Array(String)":
        return M_ARRAY_STRING
    raise ValueError(f"cannot merge Native columns of type {name.decode(errors='replace')!r}")


_FIXED_WIDTH = {b"UInt8": 1, b"UInt16": 2, b"UInt64": 8, b"Int64": 8,
                b"DateTime64(9)": 8, b"DateTime64(3)": 8}


def merge_native(list blocks):
    """One Native block with the rows of several blocks of the same columns, in order.

    Tiny blocks (the records of single-entry requests) cost ClickHouse far more
    per row than one large block, so the flusher merges them before an insert.
    Handles the column types of schema.NATIVE_COLUMNS.
    """
    cdef Py_ssize_t nblocks = len(blocks)
    if nblocks == 1:
        return blocks[0]
    cdef Reader r
    cdef uint64_t ncols = 0, ncols_here, nrows, total = 0, length, elements, base, value, i
    cdef Py_ssize_t b, c, head_start, name_len, type_len
    cdef const unsigned char** datas = <const unsigned char**>malloc(sizeof(char*) * nblocks)
    cdef Section* sections = NULL
    cdef Section* sec
    cdef int* kinds = NULL
    cdef int* widths = NULL
    cdef Py_ssize_t* heads = NULL  # block 0: where each column header starts, its length
    cdef Py_ssize_t* head_lens = NULL
    cdef Buffer out
    cdef int width = 0
    cdef object block
    out.data = NULL
    out.size = 0
    out.capacity = 0
    if datas is NULL:
        raise MemoryError()
    try:
        for b in range(nblocks):
            block = blocks[b]
            if type(block) is not bytes:
                raise TypeError("Native blocks must be bytes")
            datas[b] = <const unsigned char*>PyBytes_AS_STRING(block)
            r.data = datas[b]
            r.size = PyBytes_GET_SIZE(block)
            r.pos = 0
            _read_varuint(&r, &ncols_here)
            if b == 0:
                ncols = ncols_here
                sections = <Section*>malloc(sizeof(Section) * nblocks * ncols + 1)
                kinds = <int*>malloc(sizeof(int) * ncols + 1)
                widths = <int*>malloc(sizeof(int) * ncols + 1)
                heads = <Py_ssize_t*>malloc(sizeof(Py_ssize_t) * ncols + 1)
                head_lens = <Py_ssize_t*>malloc(sizeof(Py_ssize_t) * ncols + 1)
                if not (sections and kinds and widths and heads and head_lens):
                    raise MemoryError()
            elif ncols_here != ncols:
                raise ValueError("Native blocks to merge have different columns")
            _read_varuint(&r, &nrows)
            total += nrows
            for c in range(<Py_ssize_t>ncols):
                head_start = r.pos
                _read_varuint(&r, &length)
                _skip(&r, length)
                _read_varuint(&r, &length)
                type_len = <Py_ssize_t>length
                _skip(&r, length)
                if b == 0:
                    heads[c] = head_start
                    head_lens[c] = r.pos - head_start
                    kinds[c] = _kind_of(r.data + r.pos - type_len, length, &width)
                    widths[c] = width
                elif (r.pos - head_start != head_lens[c]
                      or memcmp(r.data + head_start, datas[0] + heads[c], head_lens[c]) != 0):
                    raise ValueError("Native blocks to merge have different columns")
                sec = &sections[b * ncols + c]
                sec.rows = nrows
                sec.a = r.pos
                if kinds[c] == M_FIXED:
                    _skip(&r, nrows * <uint64_t>widths[c])
                elif kinds[c] == M_STRING:
                    _skip_strings(&r, nrows)
                elif kinds[c] == M_NULLABLE16:
                    _skip(&r, nrows)
                    sec.b = r.pos
                    _skip(&r, 2 * nrows)
                else:
                    _skip(&r, 8 * nrows)
                    elements = 0
                    if nrows:
                        memcpy(&elements, r.data + r.pos - 8, 8)
                    sec.b = r.pos
                    sec.elements = elements
                    _skip_strings(&r, elements)
                sec.end = r.pos
            if r.pos != r.size:
                raise ValueError("a Native record holds more than one block")
        _reserve(&out, sum(PyBytes_GET_SIZE(block) for block in blocks))
        _put_varuint(&out, ncols)
        _put_varuint(&out, total)
        for c in range(<Py_ssize_t>ncols):
            _put(&out, <const char*>datas[0] + heads[c], head_lens[c])
            if kinds[c] == M_NULLABLE16:
                for b in range(nblocks):  # every null map, then every value
                    sec = &sections[b * ncols + c]
                    _put(&out, <const char*>datas[b] + sec.a, sec.b - sec.a)
                for b in range(nblocks):
                    sec = &sections[b * ncols + c]
                    _put(&out, <const char*>datas[b] + sec.b, sec.end - sec.b)
            elif kinds[c] == M_ARRAY_STRING:
                base = 0  # offsets are cumulative: shift each block's by what came before
                for b in range(nblocks):
                    sec = &sections[b * ncols + c]
                    _reserve(&out, 8 * sec.rows)
                    for i in range(sec.rows):
                        memcpy(&value, datas[b] + sec.a + 8 * i, 8)
                        value += base
                        memcpy(out.data + out.size, &value, 8)
                        out.size += 8
                    base += sec.elements
                for b in range(nblocks):
                    sec = &sections[b * ncols + c]
                    _put(&out, <const char*>datas[b] + sec.b, sec.end - sec.b)
            else:
                for b in range(nblocks):
                    sec = &sections[b * ncols + c]
                    _put(&out, <const char*>datas[b] + sec.a, sec.end - sec.a)
        return PyBytes_FromStringAndSize(out.data, out.size)
    finally:
        free(datas)
        free(sections)
        free(kinds)
        free(widths)
        free(heads)
        free(head_lens)
        free(out.data)


# -- Elasticsearch bulk responses ----------------------------------------------

cdef inline int _put_bytes(Buffer* buf, bytes data) except -1:
    return _put(buf, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))


cdef inline int _put_decimal(Buffer* buf, unsigned long long value) except -1:
    cdef char digits[20]
    cdef int n = 0
    _reserve(buf, 20)
    while True:
        digits[n] = <char>(48 + value % 10)
        n += 1
        value //= 10
        if value == 0:
            break
    while n:
        n -= 1
        buf.data[buf.size] = digits[n]
        buf.size += 1
    return 0


def bulk_answer(list items, list rows, object head, bytes middle, bytes tail, object encode,
                object failed):
    """The items of a bulk response, joined by commas, and whether any failed.

    An item without an error takes the next row: `head(op, index)` (asked once per
    pair) + its `_id` (`encode(item.id)`, or the row's id as a JSON string) +
    `middle` + the row's id + `tail`. An item with an error is `failed(item)`.
    """
    cdef Buffer buf
    buf.data = NULL
    buf.size = 0
    buf.capacity = 0
    cdef dict heads = {}
    cdef Py_ssize_t i
    cdef Py_ssize_t n = len(items)
    cdef Py_ssize_t r = 0
    cdef Py_ssize_t stored = len(rows)
    cdef bint errors = False
    cdef object item, op, index, key, prefix, doc_id
    cdef object last_op = None
    cdef object last_index = None
    cdef object last_prefix = None
    cdef unsigned long long seq
    try:
        for i in range(n):
            item = items[i]
            if i:
                _put(&buf, ",", 1)
            if item.error is not None:
                errors = True
                _put_bytes(&buf, failed(item))
                continue
            if r >= stored:
                raise ValueError("more stored items than rows")
            seq = PyLong_AsUnsignedLongLong((<dict>rows[r])["id"])
            r += 1
            op = item.op
            index = item.index
            if op is last_op and index is last_index:  # one index, usually: the same objects
                prefix = last_prefix
            else:
                key = (op, index)
                prefix = heads.get(key)
                if prefix is None:
                    prefix = heads[key] = head(op, index)
                last_op, last_index, last_prefix = op, index, prefix
            _put_bytes(&buf, prefix)
            doc_id = item.id
            if doc_id is None:
                _put(&buf, '"', 1)
                _put_decimal(&buf, seq)
                _put(&buf, '"', 1)
            else:
                _put_bytes(&buf, encode(doc_id))
            _put_bytes(&buf, middle)
            _put_decimal(&buf, seq)
            _put_bytes(&buf, tail)
        return PyBytes_FromStringAndSize(buf.data, buf.size), errors
    finally:
        free(buf.data)
