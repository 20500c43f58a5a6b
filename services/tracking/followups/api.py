"""HTTP routes: Follow-ups (跟进记录) and appointments on the tracking sheet, and the sheet's print."""

from fastapi import APIRouter

router = APIRouter(tags=["跟进记录与预约 / follow-ups and appointments"])
