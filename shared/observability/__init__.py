from .logging import configure_logging
from .metrics import ServiceMetrics

__all__ = ["ServiceMetrics", "configure_logging"]
