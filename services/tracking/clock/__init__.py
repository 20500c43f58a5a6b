"""The clock: pauses (挂起), extensions (延期), the station's clock settings, the calendar corrections."""
