"""Dossiers sealed short, found and supplemented.

    python -m services.archive.audit [--database-url URL] [--supplement]

Lists every sealed dossier that is not the whole story of its demand: the dossier (with its
supplements) lacks what the sealing rule requires (e.g. an assignment its resolution names), or
the archive has logged an event of the demand that the dossier does not hold (one that arrived
after sealing: a return or correction whose queue lagged, say; no other event proves those exist,
so they never hold a seal back). A sealed dossier never changes (the table refuses UPDATE and DELETE); with
`--supplement` the missing logged events are attached in an append-only supplement
(`dossier_supplements`) with its own hash, chained to the dossier's, and `GET /dossiers/{id}`
shows it with the dossier. A dossier still listed afterwards lacks an event the archive has not
logged: find it in the archive queues' DLQs (replay them) or at its producer, then run again.

Applies the archive's pending migrations first (as the service does at start), then works as the
service's own database role. Exit status 1 while anything is listed, 0 otherwise.

    python -m services.archive verify-chain [--station ID] [--database-url URL]

Proves a station's archive unaltered: recomputes every dossier's content hash and each station's hash chain (each
dossier's chain hash covers the previous one's of its station), with the supplements, and reports each station's
first broken link and its head hash. Exit status 1 when any chain is broken, 0 otherwise.
"""

import argparse
import asyncio
import sys
from pathlib import Path

from shared.db import create_pool, migrate
from shared.db.uow import UnitOfWork
from shared.observability import configure_logging

from . import usecases
from .domain import ChainReport, Finding, Supplement
from .settings import Settings
from .store import Store

MIGRATIONS = Path(__file__).parent / "migrations"


async def _bound(settings: Settings) -> tuple:
    await migrate(settings.database_url, settings.service_name, MIGRATIONS, app_role=settings.app_role)
    pool = await create_pool(settings.resolved_app_database_url, min_size=1, max_size=2)
    uow = UnitOfWork(settings.service_name, Store)
    uow.bind(pool)
    return pool, uow


async def verify(settings: Settings, station_id: str | None) -> list[ChainReport]:
    pool, uow = await _bound(settings)
    try:
        return await usecases.verify_chain(uow, station_id=station_id)
    finally:
        await pool.close()


def chain_report(reports: list[ChainReport]) -> str:
    lines = []
    for r in reports:
        counts = f"{r.dossiers} 份档案 dossiers, {r.disposed} 已销毁 disposed, {r.supplements} 补充 supplements"
        if r.broken is None:
            lines.append(f"完好 / intact  {r.station_id}  {counts}  head {r.head_sha256 or '-'}")
        else:
            b = r.broken
            lines.append(f"断裂 / BROKEN  {r.station_id}  第 {b.chain_no} 号 #{b.chain_no}  {b.archive_no or '-'}")
            lines.append(f"    {b.problem} / {b.problem_en}")
            lines.append(f"    此前完好 / intact before it: {counts}, last good head {r.head_sha256 or '-'}")
    if not reports:
        lines.append("没有已封存的档案 / no sealed dossiers")
    return "\n".join(lines)


def verify_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.archive verify-chain",
        description="Recompute every dossier's content hash and each station's hash chain; report the first break.",
    )
    parser.add_argument("--station", help="one station id (default: every station)")
    parser.add_argument("--database-url", help="the archive's database, as its owner (default: ARCHIVE_DATABASE_URL)")
    args = parser.parse_args(argv)
    settings = Settings(**({"database_url": args.database_url} if args.database_url else {}))
    configure_logging(settings.service_name, "WARNING", "console")
    reports = asyncio.run(verify(settings, args.station))
    print(chain_report(reports))
    return 0 if all(r.intact for r in reports) else 1


async def run(settings: Settings, *, supplement: bool) -> tuple[list[Finding], list[Supplement]]:
    pool, uow = await _bound(settings)
    try:
        return await usecases.audit(uow, supplement=supplement)
    finally:
        await pool.close()


def report(findings: list[Finding], added: list[Supplement]) -> str:
    lines = [
        f"已补充归档 / supplemented: {s.demand_id} #{s.supplement_no}, {len(s.content['events'])} event(s), "
        f"sha256 {s.content_sha256}"
        for s in added
    ]
    lines.append(f"记录不完整的已封存档案 / sealed dossiers not complete: {len(findings)}")
    for f in findings:
        d = f.dossier
        lines.append(f"{d.archive_no}  {d.station_id}  {d.tracking_no}  {d.demand_id}")
        if f.lacking:
            lines.append(f"    缺少 / lacks: {'; '.join(f.lacking)}")
        if f.unattached:
            events = ", ".join(f"{e.routing_key} {e.event_id}" for e in f.unattached)
            lines.append(f"    已记录未归入 / logged, not attached: {events}")
        else:
            lines.append("    归档服务尚未收到所缺事件 / the archive has not logged what is missing (see the DLQs)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="List sealed dossiers lacking events; --supplement attaches them.")
    parser.add_argument("--database-url", help="the archive's database, as its owner (default: ARCHIVE_DATABASE_URL)")
    parser.add_argument("--supplement", action="store_true", help="attach the logged events each dossier lacks")
    args = parser.parse_args(argv)
    settings = Settings(**({"database_url": args.database_url} if args.database_url else {}))
    configure_logging(settings.service_name, "WARNING", "console")
    findings, added = asyncio.run(run(settings, supplement=args.supplement))
    print(report(findings, added))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
