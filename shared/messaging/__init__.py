from . import inbox, outbox
from .broker import EVENTS_EXCHANGE, create_broker, declare_dead_letters, subscribe
from .outbox import OutboxRelay

__all__ = ["EVENTS_EXCHANGE", "OutboxRelay", "create_broker", "declare_dead_letters", "inbox", "outbox", "subscribe"]
