"""The envelope every event carries (design rule 1).

Consumers are tolerant: unknown fields are ignored, so producers can add fields
without breaking anyone. A breaking change is a new event type, never an edit.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Self, TypeVar
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

# Station ids are paths of GB/T 2260 division codes plus the station's own code,
# e.g. "210100/210112/hunnan-01", so a city or district is a prefix.
STATION_ID_PATTERN = r"^[0-9]{6}(/[0-9]{6}){0,3}/[a-z0-9][a-z0-9-]{0,39}$"
StationId = Annotated[str, StringConstraints(pattern=STATION_ID_PATTERN)]
# 跟踪单号: year plus a per-station serial without gaps (004 附录B).
TrackingNo = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{6}$")]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """What every message carries, whatever it is about."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    routing_key: ClassVar[str]

    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: AwareDatetime = Field(default_factory=utcnow)
    correlation_id: UUID
    causation_id: UUID | None = None
    schema_version: int = 1

    @property
    def lock_key(self) -> str:
        """Handlers of messages with the same key take turns (see shared.db.uow)."""
        return self.routing_key

    @classmethod
    def from_json(cls, body: bytes | str) -> Self:
        return cls.model_validate_json(body)


E = TypeVar("E", bound="Event")


@dataclass(frozen=True)
class Cause:
    """What a follow-up event needs of the event it answers; a service keeps it where it cannot keep the event."""

    event_id: UUID | None  # None when a person, not an event, prompted what follows
    correlation_id: UUID
    station_id: str
    demand_id: UUID
    tracking_no: str

    def caused(self, event_type: type["E"], **fields) -> "E":
        """A follow-up event with the cause's correlation, naming the cause: never a hand-copied envelope."""
        return event_type(
            correlation_id=self.correlation_id,
            causation_id=self.event_id,
            station_id=self.station_id,
            demand_id=self.demand_id,
            tracking_no=self.tracking_no,
            **fields,
        )


class Event(Envelope):
    """An event in one demand's life."""

    station_id: StationId
    demand_id: UUID
    tracking_no: TrackingNo

    @property
    def lock_key(self) -> str:
        return str(self.demand_id)

    @property
    def cause(self) -> Cause:
        return Cause(self.event_id, self.correlation_id, self.station_id, self.demand_id, self.tracking_no)

    def caused(self, event_type: type["E"], **fields) -> "E":
        return self.cause.caused(event_type, **fields)
