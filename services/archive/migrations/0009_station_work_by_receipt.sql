-- The weekly report counts a station's visits and special-task reports in the China week the archive received them
-- (`received_at`, in 0007 since the tables were made), not by when intake recorded a visit: a visit
-- recorded Sunday 23:59 that reached the archive after Monday's scheduler kept last week's report was in no report.
-- A finished week's report is kept only once the week has been over for a few minutes by the archive's clock
-- (reports/domain.SETTLE), so every visit and report is in exactly one report, the week it arrived; one dated before
-- that week is marked 补录. The handlers now write
-- `received_at` from the archive's clock (services/archive/stationwork/usecases.py); the rows already kept have the
-- column's default, when the database stored them, which is when the archive received them: nothing to backfill.
-- The report reads a scope's visits and reports by that time; 0007's index of reports by their own time serves no
-- query any more.
CREATE INDEX station_visits_by_station_received ON station_visits (station_id, received_at);
DROP INDEX special_task_reports_by_station_time;
CREATE INDEX special_task_reports_by_station_received ON special_task_reports (station_id, received_at);
