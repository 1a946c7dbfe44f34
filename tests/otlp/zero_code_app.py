"""A tiny app for `opentelemetry-instrument`: plain `logging`, no OpenTelemetry code."""

import logging

log = logging.getLogger("zero.code")
log.warning("zero-code hello from %s", "logging")
try:
    {}["missing"]
except KeyError:
    log.exception("zero-code lookup failed")
