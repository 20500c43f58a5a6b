-- 办结用时 (issue 12): the working days from acceptance to resolution, counted as deadlines count (from the working
-- day after acceptance; resolved the day it was accepted = 0), pauses not deducted. Computed in Python with the
-- working-day calendar (chinesecalendar and the corrections, clock/domain.py resolution_working_days), so it is set
-- in the transaction that records the resolution, not here; cases resolved before this migration get it when the
-- service starts (clock.usecases.fill_in_resolution_days, part of fill_in_clocks). NULL: not resolved, or not
-- measured yet. The metrics qs_demand_resolution_working_days* and GET /kpis read it.
ALTER TABLE cases ADD COLUMN resolution_working_days integer CHECK (resolution_working_days >= 0);
