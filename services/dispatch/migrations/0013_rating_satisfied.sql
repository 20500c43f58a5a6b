-- Whether the rating a row holds counts as 满意, as evaluation said in its Rated (`counts_as_satisfied`: under
-- EVALUATION_SATISFIED_LEVELS when the rating was recorded). Evaluation owns what 满意 is; the running record and the
-- review window count `satisfied` by this flag, so a city that counts only 非常满意 gets the same figures here as in
-- evaluation. NULL for a rating recorded before this column or announced by a Rated from before the field: the record
-- then counts 非常满意 + 满意 (the default definition).
ALTER TABLE resolution_outcomes ADD COLUMN satisfied boolean;
