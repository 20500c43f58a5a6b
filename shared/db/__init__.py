from .migrate import migrate
from .pool import create_pool, ensure_database

__all__ = ["create_pool", "ensure_database", "migrate"]
