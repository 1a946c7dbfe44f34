"""Notifications: channels, rules, error groups and background delivery."""

from .channels import Channel, ChannelConfig, ChannelConfigError, validate_channel
from .config import AlertSettings, RetryPolicy, SmtpSettings
from .dispatcher import Dispatcher
from .fingerprint import fingerprint, normalise_message
from .notifiers import DeliveryError, Notifier, sign, verify
from .records import Delivery, EntrySnapshot, ErrorGroup, GroupKey, Notification
from .rules import Matcher, QueryCompiler
from .store import (
    ChannelSource,
    DeliveryLog,
    GroupStore,
    MemoryChannels,
    MemoryDeliveryLog,
    MemoryGroupStore,
)

__all__ = [
    "AlertSettings",
    "Channel",
    "ChannelConfig",
    "ChannelConfigError",
    "ChannelSource",
    "Delivery",
    "DeliveryError",
    "DeliveryLog",
    "Dispatcher",
    "EntrySnapshot",
    "ErrorGroup",
    "GroupKey",
    "GroupStore",
    "Matcher",
    "MemoryChannels",
    "MemoryDeliveryLog",
    "MemoryGroupStore",
    "Notification",
    "Notifier",
    "QueryCompiler",
    "RetryPolicy",
    "SmtpSettings",
    "fingerprint",
    "normalise_message",
    "sign",
    "validate_channel",
    "verify",
]
