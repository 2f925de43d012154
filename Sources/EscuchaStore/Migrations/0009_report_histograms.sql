-- 0009 — the daily summary gains histograms of the time to first response and to
-- resolution (dimensions first_response_min and resolution_min: bucket lower bounds in
-- minutes), so reports take medians from the summary instead of sorting every ticket of
-- the period. Every summarised day is recomputed at the next refresh.
INSERT INTO report_dirty_days SELECT DISTINCT day FROM report_daily ON CONFLICT DO NOTHING;
