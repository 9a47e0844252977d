-- identity_normalise (identity, duckdb)
-- Identity: read the identifiers of every edge source and normalise them.
-- declared at identity.yml:13:5

-- Every identifier value found in the rows of the edge sources, normalised
-- (see the package documentation of models/identity), and what became of it:
-- stitched, or a problem: junk (null, undefined, 0000...), rejected by
-- normalisation, blocklisted. Rows get a row_id: edge number x 2^40 + row number.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_occurrences" AS
WITH
-- edge 1: source crm (identity.yml:13:17)
edge_1 AS (
    SELECT
        row_number() OVER () AS rn,
        CAST(s."contact_id" AS VARCHAR) AS row_key,
        TRY_CAST(s."updated_at" AS TIMESTAMP) AS seen_at,
        CAST(s."contact_id" AS VARCHAR) AS v1,  -- user_id
        CAST(s."email" AS VARCHAR) AS v2,  -- email
        CAST(s."phone" AS VARCHAR) AS v3  -- phone
    FROM "sluice"."src_crm" AS s
),
-- edge 2: source web (identity.yml:14:17)
edge_2 AS (
    SELECT
        row_number() OVER () AS rn,
        CAST(s."event_id" AS VARCHAR) AS row_key,
        TRY_CAST(s."occurred_at" AS TIMESTAMP) AS seen_at,
        CAST(s."anonymous_id" AS VARCHAR) AS v1,  -- anonymous_id
        CAST(s."user_id" AS VARCHAR) AS v2,  -- user_id
        CAST(s."email" AS VARCHAR) AS v3  -- email
    FROM "sluice"."src_web" AS s
),
-- edge 3: source orders (identity.yml:15:17)
edge_3 AS (
    SELECT
        row_number() OVER () AS rn,
        (CAST(s."shop" AS VARCHAR) || '' || CAST(s."order_no" AS VARCHAR)) AS row_key,
        TRY_CAST(s."ordered_at" AS TIMESTAMP) AS seen_at,
        CAST(s."email" AS VARCHAR) AS v1,  -- email
        CAST(s."phone" AS VARCHAR) AS v2  -- phone
    FROM "sluice"."src_orders" AS s
    WHERE (status <> 'test')
),
-- every (row, id type) with a value, t being the id type's number
found AS (
    SELECT 1 AS edge, rn, CAST(NULL AS VARCHAR) AS row_key, seen_at, 4 AS t, v1 AS raw FROM edge_1 WHERE v1 IS NOT NULL  -- user_id
    UNION ALL
    SELECT 1 AS edge, rn, CAST(NULL AS VARCHAR) AS row_key, seen_at, 2 AS t, v2 AS raw FROM edge_1 WHERE v2 IS NOT NULL  -- email
    UNION ALL
    SELECT 1 AS edge, rn, CAST(NULL AS VARCHAR) AS row_key, seen_at, 3 AS t, v3 AS raw FROM edge_1 WHERE v3 IS NOT NULL  -- phone
    UNION ALL
    SELECT 2 AS edge, rn, CAST(NULL AS VARCHAR) AS row_key, seen_at, 1 AS t, v1 AS raw FROM edge_2 WHERE v1 IS NOT NULL  -- anonymous_id
    UNION ALL
    SELECT 2 AS edge, rn, CAST(NULL AS VARCHAR) AS row_key, seen_at, 4 AS t, v2 AS raw FROM edge_2 WHERE v2 IS NOT NULL  -- user_id
    UNION ALL
    SELECT 2 AS edge, rn, CAST(NULL AS VARCHAR) AS row_key, seen_at, 2 AS t, v3 AS raw FROM edge_2 WHERE v3 IS NOT NULL  -- email
    UNION ALL
    SELECT 3 AS edge, rn, CAST(NULL AS VARCHAR) AS row_key, seen_at, 2 AS t, v1 AS raw FROM edge_3 WHERE v1 IS NOT NULL  -- email
    UNION ALL
    SELECT 3 AS edge, rn, CAST(NULL AS VARCHAR) AS row_key, seen_at, 3 AS t, v2 AS raw FROM edge_3 WHERE v2 IS NOT NULL  -- phone
),
-- each distinct value once, with the rows it occurs in: the same e-mail or
-- phone recurs in many rows, and the rules are regular expressions
values_seen AS (
    SELECT t, raw, list(edge * 1099511627776 + rn) AS row_ids, min(seen_at) AS first_seen_at, max(seen_at) AS last_seen_at, count(*) AS n
    FROM found
    GROUP BY t, raw
),
values_normalised AS (
    SELECT
        *,
        regexp_full_match(raw, '(?i)[\s\x{00A0}\x{202F}]*(?:null|undefined|none|n/a|nil|nan|[0.()/+_\-\s\x{00A0}\x{202F}]*)[\s\x{00A0}\x{202F}]*') AS junk,
        CASE
            WHEN t = 2 THEN CASE WHEN regexp_full_match(raw, '[^A-Z\s@\x{0080}-\x{10FFFF}]+@[^A-Z\s@\x{0080}-\x{10FFFF}]+\.[^A-Z\s@\x{0080}-\x{10FFFF}]+') THEN raw ELSE nullif(regexp_extract(lower(CASE WHEN regexp_matches(raw, '^[\s\x{00A0}\x{202F}]|[\s\x{00A0}\x{202F}]$') THEN regexp_replace(raw, '^[\s\x{00A0}\x{202F}]+|[\s\x{00A0}\x{202F}]+$', '', 'g') ELSE raw END), '^(?:[^\s@]+@[^\s@]+\.[^\s@]+)$'), '') END  -- email
            WHEN t = 3 THEN CASE WHEN regexp_full_match(raw, '\+32(?:4\d{8}|[1-9]\d{7})|\+1(?:[2-9]\d{2}[2-9]\d{6})|\+41(?:[1-9]\d{8})|\+49(?:[1-9]\d{5,12})|\+34(?:[5-9]\d{8})|\+33(?:[1-9]\d{8})|\+44(?:[1-9]\d{8,9})|\+39(?:0\d{5,10}|3\d{8,9})|\+31(?:[1-9]\d{8})|\+(?:7)[1-9]\d{6,13}|\+(?:20|27|30|36|40|43|45|46|47|48|51|52|53|54|55|56|57|58|60|61|62|63|64|65|66|81|82|84|86|90|91|92|93|94|95|98)[1-9]\d{5,12}|\+(?:211|212|213|216|218|220|221|222|223|224|225|226|227|228|229|230|231|232|233|234|235|236|237|238|239|240|241|242|243|244|245|246|247|248|249|250|251|252|253|254|255|256|257|258|260|261|262|263|264|265|266|267|268|269|290|291|297|298|299|350|351|352|353|354|355|356|357|358|359|370|371|372|373|374|375|376|377|378|380|381|382|383|385|386|387|389|420|421|423|500|501|502|503|504|505|506|507|508|509|590|591|592|593|594|595|596|597|598|599|670|672|673|674|675|676|677|678|679|680|681|682|683|685|686|687|688|689|690|691|692|850|852|853|855|856|880|886|960|961|962|963|964|965|966|967|968|970|971|972|973|974|975|976|977|992|993|994|995|996|998)[1-9]\d{4,11}') THEN raw  -- already E.164
                ELSE nullif(regexp_extract( -- 3. the result must be a valid E.164 number (letters and the like fail here)
                    regexp_replace( -- 2. put the country code in front, then the first that applies: '+' or 00, a country code, and a trunk prefix 0 to drop; '+' or 00: international; country code 33 without '+'; national, with or without trunk prefix 0
                        ('33|' || regexp_replace( -- 1. delete separators: white space, dots, dashes, slashes, parentheses, "(0)"
                            raw
                        , '\(0\)|[\s.\-/()\x{00A0}\x{202F}]', '', 'g'))
                    , '^\d+\|(?:\+|00)(32|41|49|33|44|31)0(.*)$|^\d+\|(?:\+|00)(.*)$|^(\d+)\|33([1-9]\d{8})$|^(\d+)\|0?([1-9].*)$', '+\1\2\3\4\5\6\7', 'g')
                , '^(?:\+32(?:4\d{8}|[1-9]\d{7})|\+1(?:[2-9]\d{2}[2-9]\d{6})|\+41(?:[1-9]\d{8})|\+49(?:[1-9]\d{5,12})|\+34(?:[5-9]\d{8})|\+33(?:[1-9]\d{8})|\+44(?:[1-9]\d{8,9})|\+39(?:0\d{5,10}|3\d{8,9})|\+31(?:[1-9]\d{8})|\+(?:7)[1-9]\d{6,13}|\+(?:20|27|30|36|40|43|45|46|47|48|51|52|53|54|55|56|57|58|60|61|62|63|64|65|66|81|82|84|86|90|91|92|93|94|95|98)[1-9]\d{5,12}|\+(?:211|212|213|216|218|220|221|222|223|224|225|226|227|228|229|230|231|232|233|234|235|236|237|238|239|240|241|242|243|244|245|246|247|248|249|250|251|252|253|254|255|256|257|258|260|261|262|263|264|265|266|267|268|269|290|291|297|298|299|350|351|352|353|354|355|356|357|358|359|370|371|372|373|374|375|376|377|378|380|381|382|383|385|386|387|389|420|421|423|500|501|502|503|504|505|506|507|508|509|590|591|592|593|594|595|596|597|598|599|670|672|673|674|675|676|677|678|679|680|681|682|683|685|686|687|688|689|690|691|692|850|852|853|855|856|880|886|960|961|962|963|964|965|966|967|968|970|971|972|973|974|975|976|977|992|993|994|995|996|998)[1-9]\d{4,11})$'), '')END  -- phone
            WHEN t = 4 THEN CASE WHEN regexp_matches(raw, '^[\s\x{00A0}\x{202F}]|[\s\x{00A0}\x{202F}]$') THEN regexp_replace(raw, '^[\s\x{00A0}\x{202F}]+|[\s\x{00A0}\x{202F}]+$', '', 'g') ELSE raw END  -- user_id
            WHEN t = 1 THEN CASE WHEN regexp_matches(raw, '^[\s\x{00A0}\x{202F}]|[\s\x{00A0}\x{202F}]$') THEN regexp_replace(raw, '^[\s\x{00A0}\x{202F}]+|[\s\x{00A0}\x{202F}]+$', '', 'g') ELSE raw END  -- anonymous_id
        END AS value
    FROM values_seen
),
judged AS (
    SELECT
        *,
        CASE
            WHEN junk THEN 'junk'
            WHEN value IS NULL THEN 'rejected'
            WHEN CASE
                WHEN t = 2 THEN (value IN ('test@example.com') OR regexp_full_match(value, '.*@mailinator\.com'))
                ELSE FALSE
            END THEN 'blocklisted'
        END AS problem
    FROM values_normalised
)
SELECT
    t,
    CAST(NULL AS BIGINT) AS row_id,    -- rows (t = 0) only
    CAST(NULL AS INTEGER) AS edge,
    CAST(NULL AS VARCHAR) AS row_key,
    first_seen_at AS seen_at,               -- a row's own; a value's first
    last_seen_at,
    n,                                      -- occurrences of the value
    row_ids,
    CASE WHEN problem IS NULL THEN value END AS value,
    problem,                                -- NULL when the value is stitched
    CASE WHEN problem IS NOT NULL THEN raw END AS raw  -- kept for inspection only
FROM judged
UNION ALL
SELECT 0, 1 * 1099511627776 + rn, 1, row_key, seen_at, NULL, NULL, NULL, NULL, NULL, NULL FROM edge_1
UNION ALL
SELECT 0, 2 * 1099511627776 + rn, 2, row_key, seen_at, NULL, NULL, NULL, NULL, NULL, NULL FROM edge_2
UNION ALL
SELECT 0, 3 * 1099511627776 + rn, 3, row_key, seen_at, NULL, NULL, NULL, NULL, NULL, NULL FROM edge_3;

-- The rows of the edge sources, by number (edge: position in identity.edges,
-- 1-based), for identity explain and the row map.
CREATE OR REPLACE TABLE "sluice"."customer_identity_rows__sluice_next" AS
SELECT row_id, edge, row_key, seen_at
FROM "sluice_work"."sluice"."customer_identity_occurrences"
WHERE t = 0;

-- Values that were not stitched, with their row, for inspection.
CREATE OR REPLACE TABLE "sluice"."customer_identity_rejects__sluice_next" AS
SELECT CASE WHEN edge = 1 THEN 'crm' WHEN edge = 2 THEN 'web' WHEN edge = 3 THEN 'orders' END AS source, r_key AS row_key, CASE WHEN t = 1 THEN 'anonymous_id' WHEN t = 2 THEN 'email' WHEN t = 3 THEN 'phone' WHEN t = 4 THEN 'user_id' END AS id_type, raw, problem AS status
FROM (SELECT unnest(row_ids) AS o_row, t, raw, problem FROM "sluice_work"."sluice"."customer_identity_occurrences" WHERE problem IS NOT NULL) AS o
JOIN (SELECT row_id AS r_row, edge, row_key AS r_key FROM "sluice"."customer_identity_rows__sluice_next") AS r ON r.r_row = o.o_row;

-- identity_edges (identity, duckdb)
-- Identity: number the identifiers and record which rows link them.
-- declared at identity.yml:13:5

-- One row per distinct identifier, numbered by first sighting (then type and
-- value): the stitching works on these compact numbers, and the smallest
-- number of a profile is its earliest-seen identifier.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_ids" AS
SELECT id, t, CASE WHEN t = 1 THEN 'anonymous_id' WHEN t = 2 THEN 'email' WHEN t = 3 THEN 'phone' WHEN t = 4 THEN 'user_id' END AS id_type, id_value, first_seen_at, last_seen_at, seen_count
FROM (
    SELECT row_number() OVER (ORDER BY first_seen_at NULLS LAST, t NULLS LAST, id_value NULLS LAST) AS id, unnumbered.*
    FROM (
        SELECT t, value AS id_value, min(seen_at) AS first_seen_at, max(last_seen_at) AS last_seen_at, CAST(sum(n) AS BIGINT) AS seen_count
        FROM "sluice_work"."sluice"."customer_identity_occurrences"
        WHERE t > 0 AND problem IS NULL
        GROUP BY t, value
    ) AS unnumbered
) AS numbered;

-- Which row carries which identifier: the hyperedges of the identity graph.
CREATE OR REPLACE TABLE "sluice"."customer_identity_edges__sluice_next" AS
SELECT unnest(o.row_ids) AS row_id, i.id, o.t
FROM "sluice_work"."sluice"."customer_identity_occurrences" AS o
JOIN (SELECT id, t AS i_t, id_value AS i_value FROM "sluice_work"."sluice"."customer_identity_ids") AS i ON i.i_t = o.t AND i.i_value = o.value
WHERE o.t > 0 AND o.problem IS NULL;

DROP TABLE IF EXISTS "sluice_work"."sluice"."customer_identity_occurrences";

-- Per id type: values stitched, rejected, junk and blocklisted (build summary).
CREATE OR REPLACE TABLE "sluice"."customer_identity_stats__sluice_next" AS
SELECT
    t.id_type,
    sum(CASE WHEN x.x_status = 'ok' THEN x.x_n ELSE 0 END) AS ok,
    sum(CASE WHEN x.x_status = 'rejected' THEN x.x_n ELSE 0 END) AS rejected,
    sum(CASE WHEN x.x_status = 'junk' THEN x.x_n ELSE 0 END) AS junk,
    sum(CASE WHEN x.x_status = 'blocklisted' THEN x.x_n ELSE 0 END) AS blocklisted
FROM (SELECT 'anonymous_id' AS id_type UNION ALL SELECT 'email' AS id_type UNION ALL SELECT 'phone' AS id_type UNION ALL SELECT 'user_id' AS id_type) AS t
LEFT JOIN (
    SELECT CASE WHEN t = 1 THEN 'anonymous_id' WHEN t = 2 THEN 'email' WHEN t = 3 THEN 'phone' WHEN t = 4 THEN 'user_id' END AS x_type, 'ok' AS x_status, count(*) AS x_n FROM "sluice"."customer_identity_edges__sluice_next" GROUP BY t
    UNION ALL
    SELECT id_type AS x_type, status AS x_status, count(*) AS x_n FROM "sluice"."customer_identity_rejects__sluice_next" GROUP BY id_type, status
) AS x ON x.x_type = t.id_type
GROUP BY t.id_type;

DROP TABLE IF EXISTS "sluice"."customer_identity_ids";

-- Check: normalisation of email (email) (values rejected as unreadable (see sluice.customer_identity_rejects))

SELECT coalesce(sum(rejected), 0) FROM "sluice"."customer_identity_stats__sluice_next" WHERE id_type = 'email';

-- Check: normalisation of phone (phone_e164) (values rejected as unreadable (see sluice.customer_identity_rejects))

SELECT coalesce(sum(rejected), 0) FROM "sluice"."customer_identity_stats__sluice_next" WHERE id_type = 'phone';

-- identity_components (identity, duckdb)
-- Identity: connected components of the identity graph, in O(log n) rounds on any
-- graph shape (randomised two-hop hooking with pointer jumping and contraction).
-- declared at identity.yml:7:3

-- Per source row with identifiers: how many, the smallest (the hub of its
-- links) and the one that decides its profile in the row map (choice; see
-- choiceKey in models/identity).
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_row_hubs" AS
SELECT row_id, count(*) AS ids, min(id) AS hub, min(CASE WHEN t = 4 THEN 0 WHEN t = 3 THEN 1 ELSE 2 END * 281474976710656 + id) AS choice
FROM "sluice"."customer_identity_edges__sluice_next"
GROUP BY row_id;

-- The graph to split into components, with every link in both directions
-- (deduplicated one way first, which is half the work).
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_cc_links" AS
WITH
one_way AS (
    SELECT DISTINCT greatest(p.a, p.b) AS x, least(p.a, p.b) AS y
    FROM (
        -- each row is linked as a star around its smallest identifier
        SELECT e.id AS a, r.hub AS b
        FROM "sluice"."customer_identity_edges__sluice_next" AS e
        JOIN (SELECT row_id AS r_row, hub FROM "sluice_work"."sluice"."customer_identity_row_hubs" WHERE ids > 1) AS r ON r.r_row = e.row_id
    ) AS p
    WHERE p.a <> p.b
)
SELECT x AS a, y AS b FROM one_way
UNION ALL
SELECT y AS a, x AS b FROM one_way;

CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_cc_round" AS
SELECT 0 AS n;

-- A first, cheap contraction before the rounds: each identifier points to
-- the smallest identifier it is linked to (itself when smaller), and pointers
-- are followed twice more. Source rows are stars around their smallest
-- identifier, so this collapses every row, and most small profiles entirely.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_cc_pointers" AS
WITH
smallest AS (
    SELECT a AS v, least(a, min(b)) AS p
    FROM "sluice_work"."sluice"."customer_identity_cc_links"
    GROUP BY a
),
-- follow the pointer once more
jump AS (
    SELECT s.v AS v, u.u_p AS p
    FROM smallest AS s
    JOIN (SELECT v AS u_v, p AS u_p FROM smallest) AS u ON u.u_v = s.p
)
SELECT j.v AS v, k.k_p AS p
FROM jump AS j
JOIN (SELECT v AS k_v, p AS k_p FROM jump) AS k ON k.k_v = j.p;

-- Contract: each link now joins the supernodes its ends point to; links
-- inside a supernode disappear.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_cc_links" AS
SELECT DISTINCT h.pa AS a, pb.pb_p AS b
FROM (
    SELECT pa.pa_p AS pa, l.b AS lb
    FROM "sluice_work"."sluice"."customer_identity_cc_links" AS l
    JOIN (SELECT v AS pa_v, p AS pa_p FROM "sluice_work"."sluice"."customer_identity_cc_pointers") AS pa ON pa.pa_v = l.a
) AS h
JOIN (SELECT v AS pb_v, p AS pb_p FROM "sluice_work"."sluice"."customer_identity_cc_pointers") AS pb ON pb.pb_v = h.lb
WHERE h.pa <> pb.pb_p;

-- Every linked identifier joins the supernode it points to.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_cc_live" AS
SELECT v AS id, p AS label
FROM "sluice_work"."sluice"."customer_identity_cc_pointers";

-- Identifiers of finished components land here with their final label.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_cc_done" AS
SELECT id, label
FROM "sluice_work"."sluice"."customer_identity_cc_live"
WHERE 1 = 0;

-- A supernode without links is a finished component: it leaves the
-- working set, which only keeps what can still change.
INSERT INTO "sluice_work"."sluice"."customer_identity_cc_done"
SELECT id, label
FROM "sluice_work"."sluice"."customer_identity_cc_live"
WHERE label NOT IN (SELECT a FROM "sluice_work"."sluice"."customer_identity_cc_links");

CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_cc_live" AS
SELECT id, label
FROM "sluice_work"."sluice"."customer_identity_cc_live"
WHERE label IN (SELECT a FROM "sluice_work"."sluice"."customer_identity_cc_links");

-- Repeat the statements below until the check returns 0 (at most 64 rounds).

-- A new round draws new random priorities.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_cc_round" AS
SELECT r.n + 1 AS n FROM "sluice_work"."sluice"."customer_identity_cc_round" AS r;

-- Each supernode points to the supernode with the smallest priority within
-- two links (itself included); then pointers are followed twice (pointer
-- jumping), so chains of up to four pointers collapse within the round.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_cc_pointers" AS
WITH
-- best supernode within one link, itself included
near AS (
    SELECT
        l.a AS v,
        CASE WHEN hash(l.a, (SELECT n FROM "sluice_work"."sluice"."customer_identity_cc_round")) <= min(hash(l.b, (SELECT n FROM "sluice_work"."sluice"."customer_identity_cc_round"))) THEN l.a ELSE arg_min(l.b, hash(l.b, (SELECT n FROM "sluice_work"."sluice"."customer_identity_cc_round"))) END AS u,
        least(hash(l.a, (SELECT n FROM "sluice_work"."sluice"."customer_identity_cc_round")), min(hash(l.b, (SELECT n FROM "sluice_work"."sluice"."customer_identity_cc_round")))) AS h
    FROM "sluice_work"."sluice"."customer_identity_cc_links" AS l
    GROUP BY l.a
),
-- best supernode within two links
far AS (
    SELECT
        nl.v AS v,
        CASE WHEN nl.h <= min(m.m_h) THEN nl.u ELSE arg_min(m.m_u, m.m_h) END AS p
    FROM (
        SELECT n.v AS v, n.u AS u, n.h AS h, l.l_b AS lb
        FROM near AS n
        JOIN (SELECT a AS l_a, b AS l_b FROM "sluice_work"."sluice"."customer_identity_cc_links") AS l ON l.l_a = n.v
    ) AS nl
    JOIN (SELECT v AS m_v, u AS m_u, h AS m_h FROM near) AS m ON m.m_v = nl.lb
    GROUP BY nl.v, nl.u, nl.h
),
-- follow the pointer once more
jump AS (
    SELECT f.v AS v, g.g_p AS p
    FROM far AS f
    JOIN (SELECT v AS g_v, p AS g_p FROM far) AS g ON g.g_v = f.p
)
SELECT j.v AS v, k.k_p AS p
FROM jump AS j
JOIN (SELECT v AS k_v, p AS k_p FROM jump) AS k ON k.k_v = j.p;

-- Contract: each link now joins the supernodes its ends point to; links
-- inside a supernode disappear.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_cc_links" AS
SELECT DISTINCT h.pa AS a, pb.pb_p AS b
FROM (
    SELECT pa.pa_p AS pa, l.b AS lb
    FROM "sluice_work"."sluice"."customer_identity_cc_links" AS l
    JOIN (SELECT v AS pa_v, p AS pa_p FROM "sluice_work"."sluice"."customer_identity_cc_pointers") AS pa ON pa.pa_v = l.a
) AS h
JOIN (SELECT v AS pb_v, p AS pb_p FROM "sluice_work"."sluice"."customer_identity_cc_pointers") AS pb ON pb.pb_v = h.lb
WHERE h.pa <> pb.pb_p;

-- Identifiers follow their supernode.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_cc_live" AS
SELECT f.i_id AS id, f.i_label AS label
FROM (
    SELECT i.id AS i_id, p.p_p AS i_label
    FROM "sluice_work"."sluice"."customer_identity_cc_live" AS i
    JOIN (SELECT v AS p_v, p AS p_p FROM "sluice_work"."sluice"."customer_identity_cc_pointers") AS p ON p.p_v = i.label
) AS f;

-- A supernode without links is a finished component: it leaves the
-- working set, which only keeps what can still change.
INSERT INTO "sluice_work"."sluice"."customer_identity_cc_done"
SELECT id, label
FROM "sluice_work"."sluice"."customer_identity_cc_live"
WHERE label NOT IN (SELECT a FROM "sluice_work"."sluice"."customer_identity_cc_links");

CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_cc_live" AS
SELECT id, label
FROM "sluice_work"."sluice"."customer_identity_cc_live"
WHERE label IN (SELECT a FROM "sluice_work"."sluice"."customer_identity_cc_links");

-- Check: still changing

-- Links left between different supernodes (0: every component is found).
SELECT count(*) FROM "sluice_work"."sluice"."customer_identity_cc_links";

-- End of repeated part.

-- identity_guards (identity, duckdb)
-- Identity: limit_per_profile. A component over a limit is split around the values
-- of the over-limit types (anchors): identifiers in a row with anchors join the
-- earliest-seen one, the rest joins by regions the earliest-seen anchor it reaches.
-- declared at identity.yml:9:76

-- Components holding more values of a limited type than its limit.
CREATE OR REPLACE TABLE "sluice"."customer_identity_limit_conflicts__sluice_next" AS
SELECT c.label AS component, i.id_type AS id_type, count(*) AS value_count
FROM "sluice_work"."sluice"."customer_identity_cc_done" AS c
JOIN (SELECT id AS i_id, id_type FROM "sluice_work"."sluice"."customer_identity_ids") AS i ON i.i_id = c.id
WHERE i.id_type IN ('phone', 'user_id')
GROUP BY c.label, i.id_type
HAVING count(*) > CASE WHEN i.id_type = 'phone' THEN 2 WHEN i.id_type = 'user_id' THEN 1 END;

-- Anchors: the values of the over-limit types; each heads its own profile.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_guard_anchors" AS
SELECT ci.c_id AS id, ci.c_label AS component
FROM (
    SELECT c.id AS c_id, c.label AS c_label, i.id_type AS c_type
    FROM "sluice_work"."sluice"."customer_identity_cc_done" AS c
    JOIN (SELECT id AS i_id, id_type FROM "sluice_work"."sluice"."customer_identity_ids") AS i ON i.i_id = c.id
) AS ci
JOIN (SELECT component AS x_component, id_type AS x_type FROM "sluice"."customer_identity_limit_conflicts__sluice_next") AS x ON x.x_component = ci.c_label AND x.x_type = ci.c_type;

-- Identifiers sharing a row with anchors join the earliest-seen of them
-- (the smallest number: identifiers are numbered by first sighting).
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_guard_attached" AS
SELECT em.em_id AS id, min(ar.anchor_id) AS anchor
FROM (
    SELECT a.id AS anchor_id, ea.ea_row AS arow
    FROM "sluice_work"."sluice"."customer_identity_guard_anchors" AS a
    JOIN (SELECT id AS ea_id, row_id AS ea_row FROM "sluice"."customer_identity_edges__sluice_next") AS ea ON ea.ea_id = a.id
) AS ar
JOIN (SELECT row_id AS em_row, id AS em_id FROM "sluice"."customer_identity_edges__sluice_next") AS em ON em.em_row = ar.arow
WHERE em.em_id NOT IN (SELECT id FROM "sluice_work"."sluice"."customer_identity_guard_anchors")
GROUP BY em.em_id;

-- The other identifiers of those components.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_guard_rest" AS
SELECT c.id AS id, c.label AS component
FROM "sluice_work"."sluice"."customer_identity_cc_done" AS c
WHERE c.label IN (SELECT component FROM "sluice"."customer_identity_limit_conflicts__sluice_next")
  AND c.id NOT IN (SELECT id FROM "sluice_work"."sluice"."customer_identity_guard_anchors")
  AND c.id NOT IN (SELECT id FROM "sluice_work"."sluice"."customer_identity_guard_attached");

-- The graph to split into components, with every link in both directions
-- (deduplicated one way first, which is half the work).
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_guard_cc_links" AS
WITH
one_way AS (
    SELECT DISTINCT greatest(p.a, p.b) AS x, least(p.a, p.b) AS y
    FROM (
        -- rows restricted to those other identifiers, each as a star around its
        -- smallest such identifier: their components are the regions
        SELECT e.id AS a, h.hub AS b
        FROM (SELECT row_id, id FROM "sluice"."customer_identity_edges__sluice_next" WHERE id IN (SELECT id FROM "sluice_work"."sluice"."customer_identity_guard_rest")) AS e
        JOIN (
            SELECT row_id AS h_row, min(id) AS hub
            FROM (SELECT row_id, id FROM "sluice"."customer_identity_edges__sluice_next" WHERE id IN (SELECT id FROM "sluice_work"."sluice"."customer_identity_guard_rest")) AS r
            GROUP BY row_id
            HAVING count(*) > 1
        ) AS h ON h.h_row = e.row_id
    ) AS p
    WHERE p.a <> p.b
)
SELECT x AS a, y AS b FROM one_way
UNION ALL
SELECT y AS a, x AS b FROM one_way;

CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_guard_cc_round" AS
SELECT 0 AS n;

-- A first, cheap contraction before the rounds: each identifier points to
-- the smallest identifier it is linked to (itself when smaller), and pointers
-- are followed twice more. Source rows are stars around their smallest
-- identifier, so this collapses every row, and most small profiles entirely.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_guard_cc_pointers" AS
WITH
smallest AS (
    SELECT a AS v, least(a, min(b)) AS p
    FROM "sluice_work"."sluice"."customer_identity_guard_cc_links"
    GROUP BY a
),
-- follow the pointer once more
jump AS (
    SELECT s.v AS v, u.u_p AS p
    FROM smallest AS s
    JOIN (SELECT v AS u_v, p AS u_p FROM smallest) AS u ON u.u_v = s.p
)
SELECT j.v AS v, k.k_p AS p
FROM jump AS j
JOIN (SELECT v AS k_v, p AS k_p FROM jump) AS k ON k.k_v = j.p;

-- Contract: each link now joins the supernodes its ends point to; links
-- inside a supernode disappear.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_guard_cc_links" AS
SELECT DISTINCT h.pa AS a, pb.pb_p AS b
FROM (
    SELECT pa.pa_p AS pa, l.b AS lb
    FROM "sluice_work"."sluice"."customer_identity_guard_cc_links" AS l
    JOIN (SELECT v AS pa_v, p AS pa_p FROM "sluice_work"."sluice"."customer_identity_guard_cc_pointers") AS pa ON pa.pa_v = l.a
) AS h
JOIN (SELECT v AS pb_v, p AS pb_p FROM "sluice_work"."sluice"."customer_identity_guard_cc_pointers") AS pb ON pb.pb_v = h.lb
WHERE h.pa <> pb.pb_p;

-- Every linked identifier joins the supernode it points to.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_guard_cc_live" AS
SELECT v AS id, p AS label
FROM "sluice_work"."sluice"."customer_identity_guard_cc_pointers";

-- Identifiers of finished components land here with their final label.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_guard_cc_done" AS
SELECT id, label
FROM "sluice_work"."sluice"."customer_identity_guard_cc_live"
WHERE 1 = 0;

-- A supernode without links is a finished component: it leaves the
-- working set, which only keeps what can still change.
INSERT INTO "sluice_work"."sluice"."customer_identity_guard_cc_done"
SELECT id, label
FROM "sluice_work"."sluice"."customer_identity_guard_cc_live"
WHERE label NOT IN (SELECT a FROM "sluice_work"."sluice"."customer_identity_guard_cc_links");

CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_guard_cc_live" AS
SELECT id, label
FROM "sluice_work"."sluice"."customer_identity_guard_cc_live"
WHERE label IN (SELECT a FROM "sluice_work"."sluice"."customer_identity_guard_cc_links");

-- Repeat the statements below until the check returns 0 (at most 64 rounds).

-- A new round draws new random priorities.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_guard_cc_round" AS
SELECT r.n + 1 AS n FROM "sluice_work"."sluice"."customer_identity_guard_cc_round" AS r;

-- Each supernode points to the supernode with the smallest priority within
-- two links (itself included); then pointers are followed twice (pointer
-- jumping), so chains of up to four pointers collapse within the round.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_guard_cc_pointers" AS
WITH
-- best supernode within one link, itself included
near AS (
    SELECT
        l.a AS v,
        CASE WHEN hash(l.a, (SELECT n FROM "sluice_work"."sluice"."customer_identity_guard_cc_round")) <= min(hash(l.b, (SELECT n FROM "sluice_work"."sluice"."customer_identity_guard_cc_round"))) THEN l.a ELSE arg_min(l.b, hash(l.b, (SELECT n FROM "sluice_work"."sluice"."customer_identity_guard_cc_round"))) END AS u,
        least(hash(l.a, (SELECT n FROM "sluice_work"."sluice"."customer_identity_guard_cc_round")), min(hash(l.b, (SELECT n FROM "sluice_work"."sluice"."customer_identity_guard_cc_round")))) AS h
    FROM "sluice_work"."sluice"."customer_identity_guard_cc_links" AS l
    GROUP BY l.a
),
-- best supernode within two links
far AS (
    SELECT
        nl.v AS v,
        CASE WHEN nl.h <= min(m.m_h) THEN nl.u ELSE arg_min(m.m_u, m.m_h) END AS p
    FROM (
        SELECT n.v AS v, n.u AS u, n.h AS h, l.l_b AS lb
        FROM near AS n
        JOIN (SELECT a AS l_a, b AS l_b FROM "sluice_work"."sluice"."customer_identity_guard_cc_links") AS l ON l.l_a = n.v
    ) AS nl
    JOIN (SELECT v AS m_v, u AS m_u, h AS m_h FROM near) AS m ON m.m_v = nl.lb
    GROUP BY nl.v, nl.u, nl.h
),
-- follow the pointer once more
jump AS (
    SELECT f.v AS v, g.g_p AS p
    FROM far AS f
    JOIN (SELECT v AS g_v, p AS g_p FROM far) AS g ON g.g_v = f.p
)
SELECT j.v AS v, k.k_p AS p
FROM jump AS j
JOIN (SELECT v AS k_v, p AS k_p FROM jump) AS k ON k.k_v = j.p;

-- Contract: each link now joins the supernodes its ends point to; links
-- inside a supernode disappear.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_guard_cc_links" AS
SELECT DISTINCT h.pa AS a, pb.pb_p AS b
FROM (
    SELECT pa.pa_p AS pa, l.b AS lb
    FROM "sluice_work"."sluice"."customer_identity_guard_cc_links" AS l
    JOIN (SELECT v AS pa_v, p AS pa_p FROM "sluice_work"."sluice"."customer_identity_guard_cc_pointers") AS pa ON pa.pa_v = l.a
) AS h
JOIN (SELECT v AS pb_v, p AS pb_p FROM "sluice_work"."sluice"."customer_identity_guard_cc_pointers") AS pb ON pb.pb_v = h.lb
WHERE h.pa <> pb.pb_p;

-- Identifiers follow their supernode.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_guard_cc_live" AS
SELECT f.i_id AS id, f.i_label AS label
FROM (
    SELECT i.id AS i_id, p.p_p AS i_label
    FROM "sluice_work"."sluice"."customer_identity_guard_cc_live" AS i
    JOIN (SELECT v AS p_v, p AS p_p FROM "sluice_work"."sluice"."customer_identity_guard_cc_pointers") AS p ON p.p_v = i.label
) AS f;

-- A supernode without links is a finished component: it leaves the
-- working set, which only keeps what can still change.
INSERT INTO "sluice_work"."sluice"."customer_identity_guard_cc_done"
SELECT id, label
FROM "sluice_work"."sluice"."customer_identity_guard_cc_live"
WHERE label NOT IN (SELECT a FROM "sluice_work"."sluice"."customer_identity_guard_cc_links");

CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_guard_cc_live" AS
SELECT id, label
FROM "sluice_work"."sluice"."customer_identity_guard_cc_live"
WHERE label IN (SELECT a FROM "sluice_work"."sluice"."customer_identity_guard_cc_links");

-- Check: still changing

-- Links left between different supernodes (0: every component is found).
SELECT count(*) FROM "sluice_work"."sluice"."customer_identity_guard_cc_links";

-- End of repeated part.

-- Each region joins the earliest-seen anchor among those of the attached
-- identifiers it shares a row with; attached identifiers join their anchor,
-- and anchors head their own group.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_guard_assignment" AS
WITH
-- region of every remaining identifier
region AS (
    SELECT m.id AS id, coalesce(r.r_label, m.id) AS region
    FROM "sluice_work"."sluice"."customer_identity_guard_rest" AS m
    LEFT JOIN (SELECT id AS r_id, label AS r_label FROM "sluice_work"."sluice"."customer_identity_guard_cc_done") AS r ON r.r_id = m.id
),
-- anchor of the attached identifiers sharing a row with a region
touch AS (
    SELECT g.g_region AS touched, min(tm.anchor) AS touch_anchor
    FROM (
        SELECT tr.anchor AS anchor, em.em_id AS mid
        FROM (
            SELECT t.anchor AS anchor, et.et_row AS trow
            FROM "sluice_work"."sluice"."customer_identity_guard_attached" AS t
            JOIN (SELECT id AS et_id, row_id AS et_row FROM "sluice"."customer_identity_edges__sluice_next") AS et ON et.et_id = t.id
        ) AS tr
        JOIN (SELECT row_id AS em_row, id AS em_id FROM "sluice"."customer_identity_edges__sluice_next") AS em ON em.em_row = tr.trow
    ) AS tm
    JOIN (SELECT id AS g_id, region AS g_region FROM region) AS g ON g.g_id = tm.mid
    GROUP BY g.g_region
)
SELECT g.id AS id, coalesce(t.touch_anchor, g.region) AS grp
FROM region AS g
LEFT JOIN touch AS t ON t.touched = g.region
UNION ALL
SELECT id, anchor AS grp
FROM "sluice_work"."sluice"."customer_identity_guard_attached"
UNION ALL
SELECT id, id AS grp
FROM "sluice_work"."sluice"."customer_identity_guard_anchors";

DROP TABLE IF EXISTS "sluice_work"."sluice"."customer_identity_guard_cc_links";

DROP TABLE IF EXISTS "sluice_work"."sluice"."customer_identity_guard_cc_pointers";

DROP TABLE IF EXISTS "sluice_work"."sluice"."customer_identity_guard_cc_live";

DROP TABLE IF EXISTS "sluice_work"."sluice"."customer_identity_guard_cc_done";

DROP TABLE IF EXISTS "sluice_work"."sluice"."customer_identity_guard_cc_round";

DROP TABLE IF EXISTS "sluice_work"."sluice"."customer_identity_guard_anchors";

DROP TABLE IF EXISTS "sluice_work"."sluice"."customer_identity_guard_attached";

DROP TABLE IF EXISTS "sluice_work"."sluice"."customer_identity_guard_rest";

-- identity_map (identity, duckdb)
-- Identity: stable profile ids and the identity map.
-- declared at identity.yml:7:3

-- The group (future profile) of every identifier.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_groups" AS
SELECT x.i_id AS id, coalesce(a.a_grp, x.i_label, x.i_id) AS grp, coalesce(x.i_label, x.i_id) AS component
FROM (
    SELECT i.id AS i_id, c.c_label AS i_label
    FROM "sluice_work"."sluice"."customer_identity_ids" AS i
    LEFT JOIN (SELECT id AS c_id, label AS c_label FROM "sluice_work"."sluice"."customer_identity_cc_done") AS c ON c.c_id = i.id
) AS x
LEFT JOIN (SELECT id AS a_id, grp AS a_grp FROM "sluice_work"."sluice"."customer_identity_guard_assignment") AS a ON a.a_id = x.i_id;

-- Stable profile ids: a profile is named after its earliest-seen identifier
-- (smallest first_seen_at, then id_type, then id_value; the smallest number),
-- as md5(id_type || ':' || id_value). It changes only when that identifier
-- changes: a merge with an older profile, a split, or backfilled older data.
CREATE OR REPLACE TABLE "sluice_work"."sluice"."customer_identity_profiles" AS
SELECT a.grp AS grp, md5((i.id_type || ':' || i.id_value)) AS profile_id, a.first_id AS first_id
FROM (SELECT grp, min(id) AS first_id FROM "sluice_work"."sluice"."customer_identity_groups" GROUP BY grp) AS a
JOIN (SELECT id AS i_id, id_type, id_value FROM "sluice_work"."sluice"."customer_identity_ids") AS i ON i.i_id = a.first_id;

-- The identity map: one row per identifier, with its profile. profile_no
-- numbers the profile within this build only (its group): later steps
-- join and group on it, which is cheaper than on profile_id. component
-- names the connected component before limit guards split it: what an
-- incremental build re-stitches as a whole.
CREATE OR REPLACE TABLE "sluice"."customer_identity_map__sluice_next" AS
SELECT p.p_profile AS profile_id, x.id_type AS id_type, x.id_value AS id_value, x.first_seen_at AS first_seen_at, x.last_seen_at AS last_seen_at, x.seen_count AS seen_count, x.igrp AS profile_no, x.id_no AS id_no, x.icomp AS component
FROM (
    SELECT i.id AS id_no, i.id_type AS id_type, i.id_value AS id_value, i.first_seen_at AS first_seen_at, i.last_seen_at AS last_seen_at, i.seen_count AS seen_count, g.g_grp AS igrp, g.g_comp AS icomp
    FROM "sluice_work"."sluice"."customer_identity_ids" AS i
    JOIN (SELECT id AS g_id, grp AS g_grp, component AS g_comp FROM "sluice_work"."sluice"."customer_identity_groups") AS g ON g.g_id = i.id
) AS x
JOIN (SELECT grp AS p_grp, profile_id AS p_profile FROM "sluice_work"."sluice"."customer_identity_profiles") AS p ON p.p_grp = x.igrp;

-- How many profiles hold each number of identifiers (build summary).
CREATE OR REPLACE TABLE "sluice"."customer_identity_sizes__sluice_next" AS
SELECT size, CAST(sum(n) AS BIGINT) AS profiles
FROM (
    SELECT CAST(count(*) AS BIGINT) AS size, CAST(1 AS BIGINT) AS n FROM "sluice"."customer_identity_map__sluice_next" GROUP BY profile_no
) AS counted
GROUP BY size
HAVING sum(n) <> 0;

-- identity_row_map (identity, duckdb)
-- Identity: the row map, the profile of every edge-source row.
-- declared at identity.yml:7:3

-- The row map: the profile of every edge-source row with an identifier. When
-- a limit split a row's identifiers, the row goes with its identifier of the
-- type with the strictest limit (types without a limit last), the earliest
-- seen among equals.
CREATE OR REPLACE TABLE "sluice"."customer_row_map__sluice_next" AS
WITH
unique_rows AS (
    SELECT r.row_id AS row_id, r.edge AS edge, r.row_key AS row_key, r.seen_at AS seen_at
    FROM "sluice"."customer_identity_rows__sluice_next" AS r
    LEFT JOIN (SELECT 1 AS d_edge, row_key AS d_key, 1 AS d_dup FROM "sluice"."src_crm_duplicate_keys__sluice_next" UNION ALL SELECT 2 AS d_edge, row_key AS d_key, 1 AS d_dup FROM "sluice"."src_web_duplicate_keys__sluice_next" UNION ALL SELECT 3 AS d_edge, row_key AS d_key, 1 AS d_dup FROM "sluice"."src_orders_duplicate_keys__sluice_next") AS d ON d.d_edge = r.edge AND d.d_key = r.row_key
    WHERE r.row_key IS NOT NULL AND r.edge IN (1, 2, 3) AND coalesce(d.d_dup, 0) = 0
),
duplicated_rows AS (
    SELECT r.row_id AS row_id, r.edge AS edge, r.row_key AS row_key, r.seen_at AS seen_at
    FROM "sluice"."customer_identity_rows__sluice_next" AS r
    JOIN (SELECT 1 AS d_edge, row_key AS d_key, 1 AS d_dup FROM "sluice"."src_crm_duplicate_keys__sluice_next" UNION ALL SELECT 2 AS d_edge, row_key AS d_key, 1 AS d_dup FROM "sluice"."src_web_duplicate_keys__sluice_next" UNION ALL SELECT 3 AS d_edge, row_key AS d_key, 1 AS d_dup FROM "sluice"."src_orders_duplicate_keys__sluice_next") AS d ON d.d_edge = r.edge AND d.d_key = r.row_key
    WHERE r.row_key IS NOT NULL AND r.edge IN (1, 2, 3)
),
unique_hubs AS (
    SELECT r.edge AS p_edge, r.row_key AS p_key, r.seen_at AS p_seen, h.choice % 281474976710656 AS decider
    FROM unique_rows AS r
    JOIN (SELECT row_id AS h_row, choice FROM "sluice_work"."sluice"."customer_identity_row_hubs") AS h ON h.h_row = r.row_id
),
duplicated_hubs AS (
    SELECT r.edge AS p_edge, r.row_key AS p_key, r.seen_at AS p_seen, h.choice % 281474976710656 AS decider
    FROM duplicated_rows AS r
    JOIN (SELECT row_id AS h_row, choice FROM "sluice_work"."sluice"."customer_identity_row_hubs") AS h ON h.h_row = r.row_id
),
folded AS (
    SELECT r.p_edge AS f_edge, r.p_key AS f_key, g.g_grp AS f_grp, r.p_seen AS f_seen
    FROM unique_hubs AS r
    JOIN (SELECT id AS g_id, grp AS g_grp FROM "sluice_work"."sluice"."customer_identity_groups") AS g ON g.g_id = r.decider
    UNION ALL
    SELECT r.x_edge AS f_edge, r.x_key AS f_key, arg_min(r.x_grp, r.x_first) AS f_grp, max(r.x_seen) AS f_seen
    FROM (
        SELECT x.p_edge AS x_edge, x.p_key AS x_key, x.p_seen AS x_seen, x.x_grp AS x_grp, p.pf_first AS x_first
        FROM (
            SELECT r.p_edge AS p_edge, r.p_key AS p_key, r.p_seen AS p_seen, g.g_grp AS x_grp
            FROM duplicated_hubs AS r
            JOIN (SELECT id AS g_id, grp AS g_grp FROM "sluice_work"."sluice"."customer_identity_groups") AS g ON g.g_id = r.decider
        ) AS x
        JOIN (SELECT grp AS pf_grp, first_id AS pf_first FROM "sluice_work"."sluice"."customer_identity_profiles") AS p ON p.pf_grp = x.x_grp
    ) AS r
    GROUP BY r.x_edge, r.x_key
)
SELECT CASE WHEN r.f_edge = 1 THEN 'crm' WHEN r.f_edge = 2 THEN 'web' WHEN r.f_edge = 3 THEN 'orders' END AS source, r.f_key AS row_key, p.p_profile AS profile_id, r.f_seen AS seen_at, r.f_grp AS profile_no
FROM folded AS r
JOIN (SELECT grp AS p_grp, profile_id AS p_profile FROM "sluice_work"."sluice"."customer_identity_profiles") AS p ON p.p_grp = r.f_grp;

DROP TABLE IF EXISTS "sluice_work"."sluice"."customer_identity_cc_links";

DROP TABLE IF EXISTS "sluice_work"."sluice"."customer_identity_cc_pointers";

DROP TABLE IF EXISTS "sluice_work"."sluice"."customer_identity_cc_live";

DROP TABLE IF EXISTS "sluice_work"."sluice"."customer_identity_cc_done";

DROP TABLE IF EXISTS "sluice_work"."sluice"."customer_identity_cc_round";

DROP TABLE IF EXISTS "sluice_work"."sluice"."customer_identity_groups";

DROP TABLE IF EXISTS "sluice_work"."sluice"."customer_identity_profiles";

DROP TABLE IF EXISTS "sluice_work"."sluice"."customer_identity_row_hubs";

DROP TABLE IF EXISTS "sluice_work"."sluice"."customer_identity_ids";

DROP TABLE IF EXISTS "sluice_work"."sluice"."customer_identity_guard_assignment";

-- Build summary
-- identifiers
SELECT count(*) FROM "sluice"."customer_identity_map";
-- profiles
SELECT coalesce(sum(profiles), 0), coalesce(max(size), 0) FROM "sluice"."customer_identity_sizes";
-- largest profile (identifiers)
SELECT coalesce(sum(profiles), 0), coalesce(max(size), 0) FROM "sluice"."customer_identity_sizes";
-- email values rejected by normalisation (email)
SELECT coalesce(sum(rejected), 0) FROM "sluice"."customer_identity_stats" WHERE id_type = 'email';
-- phone values rejected by normalisation (phone_e164)
SELECT coalesce(sum(rejected), 0) FROM "sluice"."customer_identity_stats" WHERE id_type = 'phone';
-- blocklisted values skipped (junk included)
SELECT coalesce(sum(junk + blocklisted), 0) FROM "sluice"."customer_identity_stats";
-- merges blocked by phone limit 2
SELECT coalesce(sum(value_count - 1), 0) FROM "sluice"."customer_identity_limit_conflicts" WHERE id_type = 'phone';
-- merges blocked by user_id limit 1
SELECT coalesce(sum(value_count - 1), 0) FROM "sluice"."customer_identity_limit_conflicts" WHERE id_type = 'user_id';
