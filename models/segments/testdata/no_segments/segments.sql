-- segment_membership (segment, duckdb)
-- Every segment's members: one row per segment and profile.

CREATE OR REPLACE TABLE "sluice"."person_segment_membership__sluice_next" AS
SELECT CAST(NULL AS VARCHAR) AS segment, CAST(NULL AS VARCHAR) AS profile_id
WHERE 1 = 0;

