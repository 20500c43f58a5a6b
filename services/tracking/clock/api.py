"""HTTP routes: The clock: pauses (挂起), extensions (延期), the station's clock settings, the calendar corrections."""

from fastapi import APIRouter

router = APIRouter(tags=["挂起、延期与时限 / pause, extension and deadlines"])
