from . import inbox, outbox
from .broker import EVENTS_EXCHANGE, EventRouter, create_broker, declare_dead_letters
from .outbox import OutboxRelay

__all__ = ["EVENTS_EXCHANGE", "OutboxRelay", "create_broker", "EventRouter", "declare_dead_letters", "inbox", "outbox"]
