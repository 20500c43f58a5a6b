"""HTTP routes: Warnings (预警), chases (催办) and supervision (督办): the scheduler and the supervisors' hand."""

from fastapi import APIRouter

router = APIRouter(tags=["预警、催办与督办 / warnings, chases, supervision"])
