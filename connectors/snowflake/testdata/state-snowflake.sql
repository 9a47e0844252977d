-- statement 1
SELECT * FROM (SELECT p.* FROM "SLUICE"."CUSTOMER_PROFILES" AS p WHERE p."PROFILE_ID" IN (SELECT m."PROFILE_ID" FROM "SLUICE"."CUSTOMER_SEGMENT_VIP" AS m)) AS m WHERE 1 = 0;

-- statement 2
SELECT CAST(BITAND(HASH('sluice', CAST(42 AS BIGINT), CAST(1.5 AS DOUBLE), CAST(2.25 AS NUMBER(12, 2)), CAST('2020-02-29 12:34:56' AS TIMESTAMP_NTZ), CAST('2020-02-29' AS DATE), TRUE, CAST(NULL AS VARCHAR), 'éé'), 9223372036854775807) AS VARCHAR);

-- statement 3
SELECT coalesce(d.class, -2), CAST(count(*) AS BIGINT), CAST(sum(d.n) AS BIGINT), TO_JSON(MIN_BY(IFF(d.class <> 0, d.k, NULL), IFF(d.class <> 0, d.k, NULL), 3)), TO_JSON(MIN_BY(IFF(d.class <> 0, CAST(d.hk AS VARCHAR), NULL), IFF(d.class <> 0, d.k, NULL), 3)), CAST(min(d.hk) AS VARCHAR) FROM (SELECT coalesce(m.m_k, s.s_key) AS k,
    CASE
        WHEN m.m_n IS NOT NULL AND m.m_k IS NULL THEN 7
        WHEN m.m_n > 1 THEN 6
        WHEN m.m_n IS NULL THEN 2
        WHEN NOT m.m_ok AND s.s_key IS NOT NULL THEN 1
        WHEN NOT m.m_ok THEN 5
        WHEN s.s_key IS NULL THEN 3
        WHEN m.m_h IS DISTINCT FROM s.s_hash THEN 4
        ELSE 0
    END AS class,
    m.m_h AS h,
    m.m_hk AS hk,
    coalesce(m.m_n, 0) AS n
FROM (
    SELECT r.sluice_k AS m_k, count(*) AS m_n, min(r.sluice_h) AS m_h, min(r.sluice_hk) AS m_hk, BOOLAND_AGG(r.sluice_ok) AS m_ok
    FROM (
        SELECT NULLIF(CAST(src."EMAIL" AS VARCHAR), '') AS sluice_k, BITAND(HASH('1532eddd6bb634d5', src."EMAIL", src."FIRST_NAME", src."LIFETIME_VALUE"), 9223372036854775807) AS sluice_h, BITAND(HASH(src."EMAIL"), 9223372036854775807) AS sluice_hk, COALESCE(TRY_TO_BOOLEAN(TO_VARCHAR(src."EMAIL_OPT_IN")), FALSE) AS sluice_ok
        FROM (SELECT p.* FROM "SLUICE"."CUSTOMER_PROFILES" AS p WHERE p."PROFILE_ID" IN (SELECT m."PROFILE_ID" FROM "SLUICE"."CUSTOMER_SEGMENT_VIP" AS m)) AS src
    ) AS r
    GROUP BY r.sluice_k
) AS m
FULL OUTER JOIN (SELECT "KEY" AS s_join, "KEY" AS s_key, "HASH" AS s_hash FROM (SELECT CAST(NULL AS VARCHAR) AS "KEY", CAST(NULL AS BIGINT) AS "HASH", CAST(NULL AS VARCHAR) AS fields FROM (SELECT 1 AS one) AS one_row WHERE 1 = 0) AS snap) AS s ON m.m_k = s.s_join) AS d GROUP BY d.class;

-- statement 4
SELECT NULLIF(CAST(m."EMAIL" AS VARCHAR), '') AS __sluice_key, m."EMAIL", m."FIRST_NAME", m."LIFETIME_VALUE" FROM (SELECT p.* FROM "SLUICE"."CUSTOMER_PROFILES" AS p WHERE p."PROFILE_ID" IN (SELECT m."PROFILE_ID" FROM "SLUICE"."CUSTOMER_SEGMENT_VIP" AS m)) AS m WHERE BITAND(HASH(m."EMAIL"), 9223372036854775807) IN (1111, 2222) QUALIFY ROW_NUMBER() OVER (PARTITION BY BITAND(HASH(m."EMAIL"), 9223372036854775807) ORDER BY NULL) <= 3;

-- statement 5
CREATE SCHEMA IF NOT EXISTS "SLUICE_STATE";

-- statement 6
CREATE TABLE IF NOT EXISTS "SLUICE_STATE"."SYNC_RUNS" (run_id VARCHAR, sync VARCHAR, destination VARCHAR, mode VARCHAR, started_at TIMESTAMP_NTZ, finished_at TIMESTAMP_NTZ, status VARCHAR, adds BIGINT, updates BIGINT, removes BIGINT, sent BIGINT, accepted BIGINT, rejected BIGINT, invalid BIGINT, error VARCHAR, holder VARCHAR, folded BOOLEAN);

-- statement 7
CREATE TABLE IF NOT EXISTS "SLUICE_STATE"."SYNC_LOCKS" (sync VARCHAR, run_id VARCHAR, holder VARCHAR, host VARCHAR, pid BIGINT, acquired_at TIMESTAMP_NTZ, heartbeat_at TIMESTAMP_NTZ);

-- statement 8
CREATE TABLE IF NOT EXISTS "SLUICE_STATE"."SYNC_CHANGES" (run_id VARCHAR, sync VARCHAR, seq BIGINT, "KEY" VARCHAR, op VARCHAR, class VARCHAR, status VARCHAR, error VARCHAR, "HASH" BIGINT, fields VARCHAR, changed_at TIMESTAMP_NTZ);

-- statement 9
CREATE TABLE IF NOT EXISTS "SLUICE_STATE"."SYNC_REJECTIONS" (sync VARCHAR, "KEY" VARCHAR, op VARCHAR, error VARCHAR, attempts BIGINT, first_failed_at TIMESTAMP_NTZ, last_failed_at TIMESTAMP_NTZ, last_run_id VARCHAR);

-- statement 10
CREATE TABLE IF NOT EXISTS "SLUICE_STATE"."SYNC_SNAPSHOTS" (sync VARCHAR, hash_canary BIGINT, created_at TIMESTAMP_NTZ);

-- statement 11
CREATE TABLE IF NOT EXISTS "SLUICE_STATE"."SNAPSHOT_VIP_TO_FILE" ("KEY" VARCHAR, "HASH" BIGINT, fields VARCHAR, run_id VARCHAR, synced_at TIMESTAMP_NTZ);

-- statement 12
DELETE FROM "SLUICE_STATE"."SYNC_SNAPSHOTS" WHERE sync = 'vip_to_file';

-- statement 13
INSERT INTO "SLUICE_STATE"."SYNC_SNAPSHOTS" VALUES ('vip_to_file', 4242424242, CAST('2026-03-02 09:30:00' AS TIMESTAMP_NTZ));

-- statement 14
INSERT INTO "SLUICE_STATE"."SYNC_LOCKS" VALUES ('vip_to_file', 'run-0001', 'host-a:4242', 'host-a', 4242, CAST('2026-03-02 09:30:00' AS TIMESTAMP_NTZ), CAST('2026-03-02 09:30:00' AS TIMESTAMP_NTZ));

-- statement 15
SELECT run_id, host, pid, acquired_at, heartbeat_at FROM "SLUICE_STATE"."SYNC_LOCKS" WHERE sync = 'vip_to_file';

-- statement 16
INSERT INTO "SLUICE_STATE"."SYNC_RUNS" VALUES ('run-0001', 'vip_to_file', 'exports', 'upsert', CAST('2026-03-02 09:30:00' AS TIMESTAMP_NTZ), NULL, 'running', 0, 0, 0, 0, 0, 0, 0, NULL, 'host-a', FALSE);

-- statement 17
CREATE OR REPLACE TRANSIENT TABLE "SLUICE_STATE"."DELTA_VIP_TO_FILE" AS
SELECT d.k AS "KEY", d.class, d.h AS "HASH" FROM (SELECT coalesce(m.m_k, s.s_key) AS k,
    CASE
        WHEN m.m_n IS NOT NULL AND m.m_k IS NULL THEN 7
        WHEN m.m_n > 1 THEN 6
        WHEN m.m_n IS NULL THEN 2
        WHEN NOT m.m_ok AND s.s_key IS NOT NULL THEN 1
        WHEN NOT m.m_ok THEN 5
        WHEN s.s_key IS NULL THEN 3
        WHEN m.m_h IS DISTINCT FROM s.s_hash THEN 4
        ELSE 0
    END AS class,
    m.m_h AS h,
    m.m_hk AS hk,
    coalesce(m.m_n, 0) AS n
FROM (
    SELECT r.sluice_k AS m_k, count(*) AS m_n, min(r.sluice_h) AS m_h, min(r.sluice_hk) AS m_hk, BOOLAND_AGG(r.sluice_ok) AS m_ok
    FROM (
        SELECT NULLIF(CAST(src."EMAIL" AS VARCHAR), '') AS sluice_k, BITAND(HASH('1532eddd6bb634d5', src."EMAIL", src."FIRST_NAME", src."LIFETIME_VALUE"), 9223372036854775807) AS sluice_h, BITAND(HASH(src."EMAIL"), 9223372036854775807) AS sluice_hk, COALESCE(TRY_TO_BOOLEAN(TO_VARCHAR(src."EMAIL_OPT_IN")), FALSE) AS sluice_ok
        FROM (SELECT p.* FROM "SLUICE"."CUSTOMER_PROFILES" AS p WHERE p."PROFILE_ID" IN (SELECT m."PROFILE_ID" FROM "SLUICE"."CUSTOMER_SEGMENT_VIP" AS m)) AS src
    ) AS r
    GROUP BY r.sluice_k
) AS m
FULL OUTER JOIN (SELECT "KEY" AS s_join, "KEY" AS s_key, "HASH" AS s_hash FROM (SELECT CAST(NULL AS VARCHAR) AS "KEY", CAST(NULL AS BIGINT) AS "HASH", CAST(NULL AS VARCHAR) AS fields FROM (SELECT 1 AS one) AS one_row WHERE 1 = 0) AS snap) AS s ON m.m_k = s.s_join) AS d WHERE d.class IN (1, 2, 3, 4);

-- statement 18
SELECT class, count(*) FROM "SLUICE_STATE"."DELTA_VIP_TO_FILE" GROUP BY class;

-- statement 19
SELECT d."KEY", d.class, d."HASH", s.s_fields, 0 FROM "SLUICE_STATE"."DELTA_VIP_TO_FILE" AS d LEFT JOIN (SELECT "KEY" AS s_key, fields AS s_fields FROM (SELECT CAST(NULL AS VARCHAR) AS "KEY", CAST(NULL AS BIGINT) AS "HASH", CAST(NULL AS VARCHAR) AS fields FROM (SELECT 1 AS one) AS one_row WHERE 1 = 0) AS snap) AS s ON s.s_key = d."KEY" WHERE d.class IN (1, 2);

-- statement 20
SELECT d."KEY", d.class, d."HASH", NULL, 0, m."EMAIL", m."FIRST_NAME", m."LIFETIME_VALUE" FROM "SLUICE_STATE"."DELTA_VIP_TO_FILE" AS d JOIN (SELECT NULLIF(CAST(x."EMAIL" AS VARCHAR), '') AS __sluice_key, x.* FROM (SELECT p.* FROM "SLUICE"."CUSTOMER_PROFILES" AS p WHERE p."PROFILE_ID" IN (SELECT m."PROFILE_ID" FROM "SLUICE"."CUSTOMER_SEGMENT_VIP" AS m)) AS x) AS m ON m.__sluice_key = d."KEY" WHERE d.class IN (3, 4);

-- statement 21
UPDATE "SLUICE_STATE"."SYNC_LOCKS" SET heartbeat_at = CAST('2026-03-02 09:30:01' AS TIMESTAMP_NTZ) WHERE sync = 'vip_to_file' AND run_id = 'run-0001';

-- statement 22
-- parameter 1: TEXT [{"seq":"1","key":"ada@example.com","op":"add","class":"add","status":"accepted","error":null,"hash":"1111","fields":null},{"seq":"2","key":"bob@example.com","op":"add","class":"add","status":"accepted","error":null,"hash":"2222","fields":null}]
INSERT INTO "SLUICE_STATE"."SYNC_CHANGES" SELECT 'run-0001', 'vip_to_file', CAST(j.seq AS BIGINT), j."KEY", j.op, j.class, j.status, j.error, CAST(j."HASH" AS BIGINT), j.fields, CAST('2026-03-02 09:30:01' AS TIMESTAMP_NTZ) FROM (SELECT CAST(GET(r.VALUE, 'seq') AS VARCHAR) AS "SEQ", CAST(GET(r.VALUE, 'key') AS VARCHAR) AS "KEY", CAST(GET(r.VALUE, 'op') AS VARCHAR) AS "OP", CAST(GET(r.VALUE, 'class') AS VARCHAR) AS "CLASS", CAST(GET(r.VALUE, 'status') AS VARCHAR) AS "STATUS", CAST(GET(r.VALUE, 'error') AS VARCHAR) AS "ERROR", CAST(GET(r.VALUE, 'hash') AS VARCHAR) AS "HASH", CAST(GET(r.VALUE, 'fields') AS VARCHAR) AS "FIELDS" FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?))) AS r) AS j;

-- statement 23
SELECT * FROM (SELECT p.* FROM "SLUICE"."CUSTOMER_PROFILES" AS p WHERE p."PROFILE_ID" IN (SELECT m."PROFILE_ID" FROM "SLUICE"."CUSTOMER_SEGMENT_VIP" AS m)) AS m WHERE 1 = 0;

-- statement 24
SELECT CAST(BITAND(HASH('sluice', CAST(42 AS BIGINT), CAST(1.5 AS DOUBLE), CAST(2.25 AS NUMBER(12, 2)), CAST('2020-02-29 12:34:56' AS TIMESTAMP_NTZ), CAST('2020-02-29' AS DATE), TRUE, CAST(NULL AS VARCHAR), 'éé'), 9223372036854775807) AS VARCHAR);

-- statement 25
SELECT CAST(hash_canary AS VARCHAR) FROM "SLUICE_STATE"."SYNC_SNAPSHOTS" WHERE sync = 'vip_to_file';

-- statement 26
SELECT count(*) FROM (SELECT run_id FROM "SLUICE_STATE"."SYNC_RUNS" WHERE sync = 'vip_to_file' AND NOT folded) AS u;

-- statement 27
SELECT count(*) FROM "SLUICE_STATE"."SYNC_CHANGES" WHERE sync = 'vip_to_file' AND run_id IN (SELECT run_id FROM "SLUICE_STATE"."SYNC_RUNS" WHERE sync = 'vip_to_file' AND NOT folded);

-- statement 28
SELECT coalesce(d.class, -2), CAST(count(*) AS BIGINT), CAST(sum(d.n) AS BIGINT), TO_JSON(MIN_BY(IFF(FALSE, d.k, NULL), IFF(FALSE, d.k, NULL), 1)), TO_JSON(MIN_BY(IFF(FALSE, CAST(d.hk AS VARCHAR), NULL), IFF(FALSE, d.k, NULL), 1)), CAST(min(d.hk) AS VARCHAR) FROM (SELECT coalesce(m.m_k, s.s_key) AS k,
    CASE
        WHEN m.m_n IS NOT NULL AND m.m_k IS NULL THEN 7
        WHEN m.m_n > 1 THEN 6
        WHEN m.m_n IS NULL THEN 2
        WHEN NOT m.m_ok AND s.s_key IS NOT NULL THEN 1
        WHEN NOT m.m_ok THEN 5
        WHEN s.s_key IS NULL THEN 3
        WHEN m.m_h IS DISTINCT FROM s.s_hash THEN 4
        ELSE 0
    END AS class,
    m.m_h AS h,
    m.m_hk AS hk,
    coalesce(m.m_n, 0) AS n
FROM (
    SELECT r.sluice_k AS m_k, count(*) AS m_n, min(r.sluice_h) AS m_h, min(r.sluice_hk) AS m_hk, BOOLAND_AGG(r.sluice_ok) AS m_ok
    FROM (
        SELECT NULLIF(CAST(src."EMAIL" AS VARCHAR), '') AS sluice_k, BITAND(HASH('1532eddd6bb634d5', src."EMAIL", src."FIRST_NAME", src."LIFETIME_VALUE"), 9223372036854775807) AS sluice_h, BITAND(HASH(src."EMAIL"), 9223372036854775807) AS sluice_hk, COALESCE(TRY_TO_BOOLEAN(TO_VARCHAR(src."EMAIL_OPT_IN")), FALSE) AS sluice_ok
        FROM (SELECT p.* FROM "SLUICE"."CUSTOMER_PROFILES" AS p WHERE p."PROFILE_ID" IN (SELECT m."PROFILE_ID" FROM "SLUICE"."CUSTOMER_SEGMENT_VIP" AS m)) AS src
    ) AS r
    GROUP BY r.sluice_k
) AS m
FULL OUTER JOIN (SELECT "KEY" AS s_join, "KEY" AS s_key, "HASH" AS s_hash FROM (SELECT "KEY", "HASH", fields FROM "SLUICE_STATE"."SNAPSHOT_VIP_TO_FILE" WHERE "KEY" NOT IN (SELECT "KEY" FROM (SELECT * FROM (SELECT c.*, row_number() OVER (PARTITION BY c."KEY" ORDER BY c.changed_at DESC, c.seq DESC) AS rn FROM "SLUICE_STATE"."SYNC_CHANGES" AS c WHERE c.sync = 'vip_to_file' AND c.run_id IN (SELECT run_id FROM "SLUICE_STATE"."SYNC_RUNS" WHERE sync = 'vip_to_file' AND NOT folded)) AS l WHERE rn = 1) AS a) UNION ALL SELECT l."KEY", CASE WHEN l.status = 'accepted' THEN l."HASH" ELSE s."HASH" END AS "HASH", CASE WHEN l.status = 'accepted' THEN l.fields ELSE s.fields END AS fields FROM (SELECT * FROM (SELECT c.*, row_number() OVER (PARTITION BY c."KEY" ORDER BY c.changed_at DESC, c.seq DESC) AS rn FROM "SLUICE_STATE"."SYNC_CHANGES" AS c WHERE c.sync = 'vip_to_file' AND c.run_id IN (SELECT run_id FROM "SLUICE_STATE"."SYNC_RUNS" WHERE sync = 'vip_to_file' AND NOT folded)) AS l WHERE rn = 1) AS l LEFT JOIN "SLUICE_STATE"."SNAPSHOT_VIP_TO_FILE" AS s ON s."KEY" = l."KEY" WHERE NOT (l.status = 'accepted' AND l.class IN ('consent', 'gone'))) AS snap) AS s ON m.m_k = s.s_join) AS d GROUP BY d.class;

-- statement 29
UPDATE "SLUICE_STATE"."SYNC_RUNS" SET finished_at = CAST('2026-03-02 09:30:02' AS TIMESTAMP_NTZ), status = 'succeeded', adds = 2, updates = 0, removes = 0, sent = 2, accepted = 2, rejected = 0, invalid = 0, error = NULL WHERE run_id = 'run-0001';

-- statement 30
MERGE INTO "SLUICE_STATE"."SNAPSHOT_VIP_TO_FILE" AS s USING (SELECT * FROM (SELECT c.*, row_number() OVER (PARTITION BY c."KEY" ORDER BY c.changed_at DESC, c.seq DESC) AS rn FROM "SLUICE_STATE"."SYNC_CHANGES" AS c WHERE c.sync = 'vip_to_file' AND c.run_id IN (SELECT run_id FROM "SLUICE_STATE"."SYNC_RUNS" WHERE sync = 'vip_to_file' AND NOT folded)) AS l WHERE rn = 1) AS c ON s."KEY" = c."KEY" WHEN MATCHED AND c.status = 'accepted' AND c.class IN ('consent', 'gone') THEN DELETE WHEN MATCHED AND c.status = 'accepted' THEN UPDATE SET "HASH" = c."HASH", fields = c.fields, run_id = c.run_id, synced_at = c.changed_at WHEN NOT MATCHED AND c.status = 'accepted' AND NOT c.class IN ('consent', 'gone') THEN INSERT ("KEY", "HASH", fields, run_id, synced_at) VALUES (c."KEY", c."HASH", c.fields, c.run_id, c.changed_at) WHEN NOT MATCHED AND c.status = 'rejected' AND NOT c.class IN ('consent', 'gone') THEN INSERT ("KEY", "HASH", fields, run_id, synced_at) VALUES (c."KEY", NULL, NULL, c.run_id, c.changed_at);

-- statement 31
DELETE FROM "SLUICE_STATE"."SYNC_REJECTIONS" WHERE sync = 'vip_to_file' AND "KEY" IN (SELECT "KEY" FROM (SELECT * FROM (SELECT c.*, row_number() OVER (PARTITION BY c."KEY" ORDER BY c.changed_at DESC, c.seq DESC) AS rn FROM "SLUICE_STATE"."SYNC_CHANGES" AS c WHERE c.sync = 'vip_to_file' AND c.run_id IN (SELECT run_id FROM "SLUICE_STATE"."SYNC_RUNS" WHERE sync = 'vip_to_file' AND NOT folded)) AS l WHERE rn = 1) AS l WHERE l.status = 'accepted');

-- statement 32
MERGE INTO "SLUICE_STATE"."SYNC_REJECTIONS" AS r USING (SELECT * FROM (SELECT * FROM (SELECT c.*, row_number() OVER (PARTITION BY c."KEY" ORDER BY c.changed_at DESC, c.seq DESC) AS rn FROM "SLUICE_STATE"."SYNC_CHANGES" AS c WHERE c.sync = 'vip_to_file' AND c.run_id IN (SELECT run_id FROM "SLUICE_STATE"."SYNC_RUNS" WHERE sync = 'vip_to_file' AND NOT folded)) AS l WHERE rn = 1) AS l WHERE l.status = 'rejected') AS c ON r.sync = 'vip_to_file' AND r."KEY" = c."KEY" WHEN MATCHED AND r.last_run_id <> c.run_id THEN UPDATE SET op = c.op, error = c.error, attempts = r.attempts + 1, last_failed_at = c.changed_at, last_run_id = c.run_id WHEN NOT MATCHED THEN INSERT (sync, "KEY", op, error, attempts, first_failed_at, last_failed_at, last_run_id) VALUES ('vip_to_file', c."KEY", c.op, c.error, 1, c.changed_at, c.changed_at, c.run_id);

-- statement 33
UPDATE "SLUICE_STATE"."SYNC_RUNS" SET folded = TRUE WHERE sync = 'vip_to_file' AND NOT folded AND status <> 'running';

-- statement 34
DELETE FROM "SLUICE_STATE"."SYNC_REJECTIONS" WHERE sync = 'vip_to_file' AND last_run_id <> 'run-0001';

-- statement 35
DELETE FROM "SLUICE_STATE"."SYNC_CHANGES" WHERE sync = 'vip_to_file' AND changed_at < CAST('2026-01-31 09:30:00' AS TIMESTAMP_NTZ) AND run_id NOT IN (SELECT run_id FROM "SLUICE_STATE"."SYNC_RUNS" WHERE sync = 'vip_to_file' AND NOT folded);

-- statement 36
DROP TABLE IF EXISTS "SLUICE_STATE"."DELTA_VIP_TO_FILE";

-- statement 37
DELETE FROM "SLUICE_STATE"."SYNC_LOCKS" WHERE sync = 'vip_to_file' AND run_id = 'run-0001';

-- statement 38
CREATE TABLE IF NOT EXISTS "SLUICE_STATE"."SYNC_TICKS" (sync VARCHAR, scheduled_at TIMESTAMP_NTZ, claimed_by VARCHAR, claimed_at TIMESTAMP_NTZ);

-- statement 39
INSERT INTO "SLUICE_STATE"."SYNC_TICKS" VALUES ('vip_to_file', CAST('2026-03-02 09:30:00' AS TIMESTAMP_NTZ), 'host-a', CAST('2026-03-02 09:30:00' AS TIMESTAMP_NTZ));

-- statement 40
SELECT claimed_by, claimed_at FROM "SLUICE_STATE"."SYNC_TICKS" WHERE sync = 'vip_to_file' AND scheduled_at = CAST('2026-03-02 09:30:00' AS TIMESTAMP_NTZ);

-- statement 41
SELECT run_id, sync, destination, mode, started_at, finished_at, status, adds, updates, removes, sent, accepted, rejected, invalid, coalesce(error, ''), coalesce(holder, '') FROM "SLUICE_STATE"."SYNC_RUNS" WHERE 1 = 1 AND sync = 'vip_to_file' AND status <> 'reset' ORDER BY started_at DESC, run_id DESC LIMIT 10;

