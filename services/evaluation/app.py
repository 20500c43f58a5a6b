"""The evaluation service: satisfaction surveys and ratings, rounds and appeals; publishes Rated, RatingVoided and
RatingLinkIssued (the rating link on the enterprise's status page)."""

from pathlib import Path

from shared.contracts import Rated, RatingLinkIssued, RatingVoided
from shared.observability import ServiceMetrics
from shared.observability.metrics import kpi_targets
from shared.runtime import Service

from . import api, handlers, kpis_api, store
from .kpis import Definition
from .scorecards import api as scorecards_api
from .settings import Settings


def _kpi_targets(metrics: ServiceMetrics, settings: Settings) -> None:
    kpi_targets(metrics, "evaluation", {"satisfaction_rate": Definition.of(settings).target_satisfaction_rate})


def _store_counters(settings: Settings) -> tuple:
    """Which overall levels count as satisfied is a setting, and the rating series carry it as their `satisfied`
    label: the figures are made from each runtime's settings, not fixed when this module is imported."""
    return store.counters(Definition.of(settings))


SERVICE = Service(
    settings=Settings,
    title="评价服务 Evaluation",
    description="满意度评价（含重办后的第二轮评价与申诉复核作废），发布 Rated、RatingVoided 与 RatingLinkIssued"
    "（企业查询页上的评价链接）；满意率、解决率与好差评分布（GET /kpis）；考核评分表的评价部分（GET /scorecards）。"
    "Satisfaction surveys and ratings (the second round after re-handling, voiding on appeal); publishes Rated,"
    " RatingVoided and RatingLinkIssued; satisfaction and solution rates and the national 好差评 distribution"
    " (GET /kpis); the rating side of the scorecards (GET /scorecards).",
    migrations=Path(__file__).parent / "migrations",
    store=store.Store,
    subscribers=handlers.subscribers,
    publishes=(Rated, RatingVoided, RatingLinkIssued),
    routers=(api.router, api.public, kpis_api.router, scorecards_api.router),
    store_counters=_store_counters,
    metrics=_kpi_targets,
)
create_app = SERVICE.create_app
asyncapi = SERVICE.asyncapi
