-- identity_edges (identity, duckdb)
-- Identity: normalise the identifiers of every edge source and record which rows link them.
-- declared at identity.yml:13:5

-- Every identifier value found in the rows of the edge sources, normalised
-- (see the package documentation of models/identity), and what became of it:
-- stitched, or a problem: junk (null, undefined, 0000...), rejected by
-- normalisation, blocklisted. Rows get a row_id: edge number x 2^40 + row number.
CREATE OR REPLACE TABLE "sluice"."customer_identity_occurrences" AS
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
    -- every (row, id type) with a value, t being the id type's number, and
    -- every row itself (t = 0), which alone keeps the row's key
    found AS (
        SELECT 1 AS edge, rn, row_key, seen_at, 4 AS t, v1 AS raw FROM edge_1 WHERE v1 IS NOT NULL  -- user_id
        UNION ALL
        SELECT 1 AS edge, rn, row_key, seen_at, 2 AS t, v2 AS raw FROM edge_1 WHERE v2 IS NOT NULL  -- email
        UNION ALL
        SELECT 1 AS edge, rn, row_key, seen_at, 3 AS t, v3 AS raw FROM edge_1 WHERE v3 IS NOT NULL  -- phone
        UNION ALL
        SELECT 1 AS edge, rn, row_key, seen_at, 0 AS t, NULL AS raw FROM edge_1  -- the row itself
        UNION ALL
        SELECT 2 AS edge, rn, row_key, seen_at, 1 AS t, v1 AS raw FROM edge_2 WHERE v1 IS NOT NULL  -- anonymous_id
        UNION ALL
        SELECT 2 AS edge, rn, row_key, seen_at, 4 AS t, v2 AS raw FROM edge_2 WHERE v2 IS NOT NULL  -- user_id
        UNION ALL
        SELECT 2 AS edge, rn, row_key, seen_at, 2 AS t, v3 AS raw FROM edge_2 WHERE v3 IS NOT NULL  -- email
        UNION ALL
        SELECT 2 AS edge, rn, row_key, seen_at, 0 AS t, NULL AS raw FROM edge_2  -- the row itself
        UNION ALL
        SELECT 3 AS edge, rn, row_key, seen_at, 2 AS t, v1 AS raw FROM edge_3 WHERE v1 IS NOT NULL  -- email
        UNION ALL
        SELECT 3 AS edge, rn, row_key, seen_at, 3 AS t, v2 AS raw FROM edge_3 WHERE v2 IS NOT NULL  -- phone
        UNION ALL
        SELECT 3 AS edge, rn, row_key, seen_at, 0 AS t, NULL AS raw FROM edge_3  -- the row itself
    ),
    -- each distinct value is normalised once: the same e-mail or phone
    -- recurs in many rows, and the rules are regular expressions
    values_seen AS (
        SELECT DISTINCT t, raw FROM found WHERE t > 0
    ),
    values_normalised AS (
        SELECT
            t,
            raw,
            regexp_full_match(raw, '(?i)[\s\x{00A0}\x{202F}]*(?:null|undefined|none|n/a|nil|nan|[0.()/+_\-\s\x{00A0}\x{202F}]*)[\s\x{00A0}\x{202F}]*') AS junk,
            CASE t
                WHEN 2 THEN CASE WHEN regexp_full_match(raw, '[^A-Z\s@\x{0080}-\x{10FFFF}]+@[^A-Z\s@\x{0080}-\x{10FFFF}]+\.[^A-Z\s@\x{0080}-\x{10FFFF}]+') THEN raw ELSE nullif(regexp_extract(lower(CASE WHEN regexp_matches(raw, '^[\s\x{00A0}\x{202F}]|[\s\x{00A0}\x{202F}]$') THEN regexp_replace(raw, '^[\s\x{00A0}\x{202F}]+|[\s\x{00A0}\x{202F}]+$', '', 'g') ELSE raw END), '^(?:[^\s@]+@[^\s@]+\.[^\s@]+)$'), '') END  -- email
                WHEN 3 THEN CASE WHEN regexp_full_match(raw, '\+32(?:4\d{8}|[1-9]\d{7})|\+1(?:[2-9]\d{2}[2-9]\d{6})|\+41(?:[1-9]\d{8})|\+49(?:[1-9]\d{5,12})|\+34(?:[5-9]\d{8})|\+33(?:[1-9]\d{8})|\+44(?:[1-9]\d{8,9})|\+39(?:0\d{5,10}|3\d{8,9})|\+31(?:[1-9]\d{8})|\+(?:7)[1-9]\d{6,13}|\+(?:20|27|30|36|40|43|45|46|47|48|51|52|53|54|55|56|57|58|60|61|62|63|64|65|66|81|82|84|86|90|91|92|93|94|95|98)[1-9]\d{5,12}|\+(?:211|212|213|216|218|220|221|222|223|224|225|226|227|228|229|230|231|232|233|234|235|236|237|238|239|240|241|242|243|244|245|246|247|248|249|250|251|252|253|254|255|256|257|258|260|261|262|263|264|265|266|267|268|269|290|291|297|298|299|350|351|352|353|354|355|356|357|358|359|370|371|372|373|374|375|376|377|378|380|381|382|383|385|386|387|389|420|421|423|500|501|502|503|504|505|506|507|508|509|590|591|592|593|594|595|596|597|598|599|670|672|673|674|675|676|677|678|679|680|681|682|683|685|686|687|688|689|690|691|692|850|852|853|855|856|880|886|960|961|962|963|964|965|966|967|968|970|971|972|973|974|975|976|977|992|993|994|995|996|998)[1-9]\d{4,11}') THEN raw  -- already E.164
                    ELSE nullif(regexp_extract( -- 3. the result must be a valid E.164 number (letters and the like fail here)
                        regexp_replace( -- 2. put the country code in front, then the first that applies: '+' or 00, a country code, and a trunk prefix 0 to drop; '+' or 00: international; country code 33 without '+'; national, with or without trunk prefix 0
                            ('33|' || regexp_replace( -- 1. delete separators: white space, dots, dashes, slashes, parentheses, "(0)"
                                raw
                            , '\(0\)|[\s.\-/()\x{00A0}\x{202F}]', '', 'g'))
                        , '^\d+\|(?:\+|00)(32|41|49|33|44|31)0(.*)$|^\d+\|(?:\+|00)(.*)$|^(\d+)\|33([1-9]\d{8})$|^(\d+)\|0?([1-9].*)$', '+\1\2\3\4\5\6\7', 'g')
                    , '^(?:\+32(?:4\d{8}|[1-9]\d{7})|\+1(?:[2-9]\d{2}[2-9]\d{6})|\+41(?:[1-9]\d{8})|\+49(?:[1-9]\d{5,12})|\+34(?:[5-9]\d{8})|\+33(?:[1-9]\d{8})|\+44(?:[1-9]\d{8,9})|\+39(?:0\d{5,10}|3\d{8,9})|\+31(?:[1-9]\d{8})|\+(?:7)[1-9]\d{6,13}|\+(?:20|27|30|36|40|43|45|46|47|48|51|52|53|54|55|56|57|58|60|61|62|63|64|65|66|81|82|84|86|90|91|92|93|94|95|98)[1-9]\d{5,12}|\+(?:211|212|213|216|218|220|221|222|223|224|225|226|227|228|229|230|231|232|233|234|235|236|237|238|239|240|241|242|243|244|245|246|247|248|249|250|251|252|253|254|255|256|257|258|260|261|262|263|264|265|266|267|268|269|290|291|297|298|299|350|351|352|353|354|355|356|357|358|359|370|371|372|373|374|375|376|377|378|380|381|382|383|385|386|387|389|420|421|423|500|501|502|503|504|505|506|507|508|509|590|591|592|593|594|595|596|597|598|599|670|672|673|674|675|676|677|678|679|680|681|682|683|685|686|687|688|689|690|691|692|850|852|853|855|856|880|886|960|961|962|963|964|965|966|967|968|970|971|972|973|974|975|976|977|992|993|994|995|996|998)[1-9]\d{4,11})$'), '')END  -- phone
                WHEN 4 THEN CASE WHEN regexp_matches(raw, '^[\s\x{00A0}\x{202F}]|[\s\x{00A0}\x{202F}]$') THEN regexp_replace(raw, '^[\s\x{00A0}\x{202F}]+|[\s\x{00A0}\x{202F}]+$', '', 'g') ELSE raw END  -- user_id
                WHEN 1 THEN CASE WHEN regexp_matches(raw, '^[\s\x{00A0}\x{202F}]|[\s\x{00A0}\x{202F}]$') THEN regexp_replace(raw, '^[\s\x{00A0}\x{202F}]+|[\s\x{00A0}\x{202F}]+$', '', 'g') ELSE raw END  -- anonymous_id
            END AS value
        FROM values_seen
    ),
    normalised AS (
        SELECT f.*, v.junk, v.value
        FROM found AS f
        LEFT JOIN values_normalised AS v ON v.t = f.t AND v.raw = f.raw
    ),
    judged AS (
        SELECT
            *,
            CASE
                WHEN t = 0 THEN NULL
                WHEN junk THEN 'junk'
                WHEN value IS NULL THEN 'rejected'
                WHEN CASE t
                    WHEN 2 THEN (value IN ('test@example.com') OR regexp_full_match(value, '.*@mailinator\.com'))
                    ELSE false
                END THEN 'blocklisted'
            END AS problem
        FROM normalised
    )
SELECT
    edge * 1099511627776 + rn AS row_id,
    edge,
    t,
    CASE WHEN t = 0 OR problem IS NOT NULL THEN row_key END AS row_key,  -- once per row
    seen_at,
    CASE WHEN problem IS NULL THEN value END AS value,
    problem,                                -- NULL when the value is stitched
    CASE WHEN problem IS NOT NULL THEN raw END AS raw  -- kept for inspection only
FROM judged;

-- Per id type: values stitched, rejected, junk and blocklisted (build summary).
CREATE OR REPLACE TABLE "sluice"."customer_identity_stats" AS
SELECT
    t.id_type,
    sum(CASE WHEN o.row_id IS NOT NULL AND o.problem IS NULL THEN 1 ELSE 0 END) AS ok,
    sum(CASE WHEN o.problem = 'rejected' THEN 1 ELSE 0 END) AS rejected,
    sum(CASE WHEN o.problem = 'junk' THEN 1 ELSE 0 END) AS junk,
    sum(CASE WHEN o.problem = 'blocklisted' THEN 1 ELSE 0 END) AS blocklisted
FROM (VALUES (1, 'anonymous_id'), (2, 'email'), (3, 'phone'), (4, 'user_id')) AS t(t, id_type)
LEFT JOIN "sluice"."customer_identity_occurrences" AS o ON o.t = t.t
GROUP BY t.id_type;

-- Values that were not stitched, with their row, for inspection.
CREATE OR REPLACE TABLE "sluice"."customer_identity_rejects" AS
SELECT CASE edge WHEN 1 THEN 'crm' WHEN 2 THEN 'web' WHEN 3 THEN 'orders' END AS source, row_key, CASE t WHEN 1 THEN 'anonymous_id' WHEN 2 THEN 'email' WHEN 3 THEN 'phone' WHEN 4 THEN 'user_id' END AS id_type, raw, problem AS status
FROM "sluice"."customer_identity_occurrences"
WHERE problem IS NOT NULL;

-- One row per distinct identifier, numbered by first sighting (then type and
-- value): the stitching works on these compact numbers, and the smallest
-- number of a profile is its earliest-seen identifier.
CREATE OR REPLACE TABLE "sluice"."customer_identity_ids" AS
SELECT
    row_number() OVER (ORDER BY first_seen_at NULLS LAST, t, id_value) AS id,  -- t sorts like id_type
    t,
    id_type,
    id_value,
    first_seen_at,
    last_seen_at,
    seen_count
FROM (
    SELECT t, CASE t WHEN 1 THEN 'anonymous_id' WHEN 2 THEN 'email' WHEN 3 THEN 'phone' WHEN 4 THEN 'user_id' END AS id_type, value AS id_value, min(seen_at) AS first_seen_at, max(seen_at) AS last_seen_at, count(*) AS seen_count
    FROM "sluice"."customer_identity_occurrences"
    WHERE t > 0 AND problem IS NULL
    GROUP BY t, value
) AS distinct_ids;

-- The rows of the edge sources, by number (edge: position in identity.edges,
-- 1-based), for identity explain and the row map.
CREATE OR REPLACE TABLE "sluice"."customer_identity_rows" AS
SELECT row_id, edge, row_key, seen_at
FROM "sluice"."customer_identity_occurrences"
WHERE t = 0;

-- Which row carries which identifier: the hyperedges of the identity graph.
CREATE OR REPLACE TABLE "sluice"."customer_identity_edges" AS
SELECT o.row_id, i.id, o.t
FROM "sluice"."customer_identity_occurrences" AS o
JOIN "sluice"."customer_identity_ids" AS i ON i.t = o.t AND i.id_value = o.value
WHERE o.t > 0 AND o.problem IS NULL;

DROP TABLE IF EXISTS "sluice"."customer_identity_occurrences";

-- Check: normalisation of email (email) (values rejected as unreadable (see sluice.customer_identity_rejects))

SELECT coalesce(sum(rejected), 0) FROM "sluice"."customer_identity_stats" WHERE id_type = 'email';

-- Check: normalisation of phone (phone_e164) (values rejected as unreadable (see sluice.customer_identity_rejects))

SELECT coalesce(sum(rejected), 0) FROM "sluice"."customer_identity_stats" WHERE id_type = 'phone';

-- identity_components (identity, duckdb)
-- Identity: connected components of the identity graph, in O(log n) rounds on any
-- graph shape (randomised two-hop hooking with pointer jumping and contraction).
-- declared at identity.yml:7:3

-- Per source row with identifiers: how many, the smallest (the hub of its
-- links) and the one that decides its profile in the row map (choice; see
-- choiceKey in models/identity).
CREATE OR REPLACE TABLE "sluice"."customer_identity_row_hubs" AS
SELECT row_id, count(*) AS ids, min(id) AS hub, min(CASE t WHEN 4 THEN 0 WHEN 3 THEN 1 ELSE 2 END * 281474976710656 + id) AS choice
FROM "sluice"."customer_identity_edges"
GROUP BY row_id;

-- The graph to split into components, with every link in both directions
-- (deduplicated one way first, which is half the work).
CREATE OR REPLACE TABLE "sluice"."customer_identity_cc_links" AS
WITH
    pairs AS (
        -- each row is linked as a star around its smallest identifier
        SELECT e.id AS a, r.hub AS b
        FROM "sluice"."customer_identity_edges" AS e
        JOIN (SELECT row_id, hub FROM "sluice"."customer_identity_row_hubs" WHERE ids > 1) AS r ON r.row_id = e.row_id
    ),
    one_way AS (
        SELECT DISTINCT greatest(a, b) AS a, least(a, b) AS b
        FROM pairs
        WHERE a <> b
    )
SELECT a, b FROM one_way
UNION ALL
SELECT b AS a, a AS b FROM one_way;

-- Every linked identifier starts as a supernode of its own.
CREATE OR REPLACE TABLE "sluice"."customer_identity_cc_live" AS
SELECT DISTINCT a AS id, a AS label
FROM "sluice"."customer_identity_cc_links";

-- Identifiers of finished components land here with their final label.
CREATE OR REPLACE TABLE "sluice"."customer_identity_cc_done" AS
SELECT CAST(NULL AS BIGINT) AS id, CAST(NULL AS BIGINT) AS label
WHERE 1 = 0;

CREATE OR REPLACE TABLE "sluice"."customer_identity_cc_round" AS
SELECT 0 AS round;

-- A first, cheap contraction before the rounds: each identifier points to
-- the smallest identifier it is linked to (itself when smaller), and pointers
-- are followed twice more. Source rows are stars around their smallest
-- identifier, so this collapses every row, and most small profiles entirely.
CREATE OR REPLACE TABLE "sluice"."customer_identity_cc_pointers" AS
WITH
    smallest AS (
        SELECT a AS v, least(a, min(b)) AS p
        FROM "sluice"."customer_identity_cc_links"
        GROUP BY a
    ),
    jump AS (  -- follow the pointer once more
        SELECT s.v, u.p
        FROM smallest AS s
        JOIN smallest AS u ON u.v = s.p
    )
SELECT j.v, k.p
FROM jump AS j
JOIN jump AS k ON k.v = j.p;

-- Contract: each link now joins the supernodes its ends point to; links
-- inside a supernode disappear.
CREATE OR REPLACE TABLE "sluice"."customer_identity_cc_links" AS
SELECT DISTINCT pa.p AS a, pb.p AS b
FROM "sluice"."customer_identity_cc_links" AS l
JOIN "sluice"."customer_identity_cc_pointers" AS pa ON pa.v = l.a
JOIN "sluice"."customer_identity_cc_pointers" AS pb ON pb.v = l.b
WHERE pa.p <> pb.p;

-- Identifiers follow their supernode.
CREATE OR REPLACE TABLE "sluice"."customer_identity_cc_live" AS
SELECT i.id, p.p AS label
FROM "sluice"."customer_identity_cc_live" AS i
JOIN "sluice"."customer_identity_cc_pointers" AS p ON p.v = i.label;

-- A supernode without links is a finished component: it leaves the
-- working set, which only keeps what can still change.
INSERT INTO "sluice"."customer_identity_cc_done"
SELECT i.id, i.label
FROM "sluice"."customer_identity_cc_live" AS i
WHERE NOT EXISTS (SELECT 1 FROM "sluice"."customer_identity_cc_links" AS l WHERE l.a = i.label);

DELETE FROM "sluice"."customer_identity_cc_live"
WHERE NOT EXISTS (SELECT 1 FROM "sluice"."customer_identity_cc_links" AS l WHERE l.a = "sluice"."customer_identity_cc_live".label);

-- Repeat the statements below until the check returns 0 (at most 64 rounds).

-- A new round draws new random priorities.
UPDATE "sluice"."customer_identity_cc_round" SET round = round + 1;

-- Each supernode points to the supernode with the smallest priority within
-- two links (itself included); then pointers are followed twice (pointer
-- jumping), so chains of up to four pointers collapse within the round.
CREATE OR REPLACE TABLE "sluice"."customer_identity_cc_pointers" AS
WITH
    r AS (SELECT round FROM "sluice"."customer_identity_cc_round"),
    near AS (  -- best supernode within one link, itself included
        SELECT
            l.a AS v,
            CASE WHEN hash(l.a, r.round) <= min(hash(l.b, r.round)) THEN l.a ELSE arg_min(l.b, hash(l.b, r.round)) END AS u,
            least(hash(l.a, r.round), min(hash(l.b, r.round))) AS h
        FROM "sluice"."customer_identity_cc_links" AS l, r
        GROUP BY l.a, r.round
    ),
    far AS (  -- best supernode within two links
        SELECT
            n.v,
            CASE WHEN n.h <= min(m.h) THEN n.u ELSE arg_min(m.u, m.h) END AS p
        FROM near AS n
        JOIN "sluice"."customer_identity_cc_links" AS l ON l.a = n.v
        JOIN near AS m ON m.v = l.b
        GROUP BY n.v, n.u, n.h
    ),
    jump AS (  -- follow the pointer once more
        SELECT f.v, g.p
        FROM far AS f
        JOIN far AS g ON g.v = f.p
    )
SELECT j.v, k.p
FROM jump AS j
JOIN jump AS k ON k.v = j.p;

-- Contract: each link now joins the supernodes its ends point to; links
-- inside a supernode disappear.
CREATE OR REPLACE TABLE "sluice"."customer_identity_cc_links" AS
SELECT DISTINCT pa.p AS a, pb.p AS b
FROM "sluice"."customer_identity_cc_links" AS l
JOIN "sluice"."customer_identity_cc_pointers" AS pa ON pa.v = l.a
JOIN "sluice"."customer_identity_cc_pointers" AS pb ON pb.v = l.b
WHERE pa.p <> pb.p;

-- Identifiers follow their supernode.
CREATE OR REPLACE TABLE "sluice"."customer_identity_cc_live" AS
SELECT i.id, p.p AS label
FROM "sluice"."customer_identity_cc_live" AS i
JOIN "sluice"."customer_identity_cc_pointers" AS p ON p.v = i.label;

-- A supernode without links is a finished component: it leaves the
-- working set, which only keeps what can still change.
INSERT INTO "sluice"."customer_identity_cc_done"
SELECT i.id, i.label
FROM "sluice"."customer_identity_cc_live" AS i
WHERE NOT EXISTS (SELECT 1 FROM "sluice"."customer_identity_cc_links" AS l WHERE l.a = i.label);

DELETE FROM "sluice"."customer_identity_cc_live"
WHERE NOT EXISTS (SELECT 1 FROM "sluice"."customer_identity_cc_links" AS l WHERE l.a = "sluice"."customer_identity_cc_live".label);

-- Check: still changing

-- Links left between different supernodes (0: every component is found).
SELECT count(*) FROM "sluice"."customer_identity_cc_links";

-- End of repeated part.

-- identity_guards (identity, duckdb)
-- Identity: limit_per_profile. A component over a limit is split around the values
-- of the over-limit types (anchors): identifiers in a row with anchors join the
-- earliest-seen one, the rest joins by regions the earliest-seen anchor it reaches.
-- declared at identity.yml:9:76

-- Components holding more values of a limited type than its limit.
CREATE OR REPLACE TABLE "sluice"."customer_identity_limit_conflicts" AS
SELECT c.label AS component, i.id_type, count(*) AS value_count
FROM "sluice"."customer_identity_cc_done" AS c
JOIN "sluice"."customer_identity_ids" AS i ON i.id = c.id
WHERE i.id_type IN ('phone', 'user_id')
GROUP BY c.label, i.id_type
HAVING count(*) > CASE i.id_type WHEN 'phone' THEN 2 WHEN 'user_id' THEN 1 END;

-- Anchors: the values of the over-limit types; each heads its own profile.
CREATE OR REPLACE TABLE "sluice"."customer_identity_guard_anchors" AS
SELECT c.id, c.label AS component
FROM "sluice"."customer_identity_cc_done" AS c
JOIN "sluice"."customer_identity_ids" AS i ON i.id = c.id
JOIN "sluice"."customer_identity_limit_conflicts" AS x ON x.component = c.label AND x.id_type = i.id_type;

-- Identifiers sharing a row with anchors join the earliest-seen of them
-- (the smallest number: identifiers are numbered by first sighting).
CREATE OR REPLACE TABLE "sluice"."customer_identity_guard_attached" AS
SELECT em.id, min(a.id) AS anchor
FROM "sluice"."customer_identity_guard_anchors" AS a
JOIN "sluice"."customer_identity_edges" AS ea ON ea.id = a.id
JOIN "sluice"."customer_identity_edges" AS em ON em.row_id = ea.row_id
WHERE em.id NOT IN (SELECT id FROM "sluice"."customer_identity_guard_anchors")
GROUP BY em.id;

-- The other identifiers of those components.
CREATE OR REPLACE TABLE "sluice"."customer_identity_guard_rest" AS
SELECT c.id, c.label AS component
FROM "sluice"."customer_identity_cc_done" AS c
WHERE c.label IN (SELECT component FROM "sluice"."customer_identity_limit_conflicts")
  AND c.id NOT IN (SELECT id FROM "sluice"."customer_identity_guard_anchors")
  AND c.id NOT IN (SELECT id FROM "sluice"."customer_identity_guard_attached");

-- The graph to split into components, with every link in both directions
-- (deduplicated one way first, which is half the work).
CREATE OR REPLACE TABLE "sluice"."customer_identity_guard_cc_links" AS
WITH
    pairs AS (
        -- rows restricted to those other identifiers, each as a star around its
        -- smallest such identifier: their components are the regions
        WITH e AS (
            SELECT e.row_id, e.id
            FROM "sluice"."customer_identity_edges" AS e
            WHERE e.id IN (SELECT id FROM "sluice"."customer_identity_guard_rest")
        )
        SELECT e.id AS a, h.hub AS b
        FROM e
        JOIN (SELECT row_id, min(id) AS hub FROM e GROUP BY row_id HAVING count(*) > 1) AS h ON h.row_id = e.row_id
    ),
    one_way AS (
        SELECT DISTINCT greatest(a, b) AS a, least(a, b) AS b
        FROM pairs
        WHERE a <> b
    )
SELECT a, b FROM one_way
UNION ALL
SELECT b AS a, a AS b FROM one_way;

-- Every linked identifier starts as a supernode of its own.
CREATE OR REPLACE TABLE "sluice"."customer_identity_guard_cc_live" AS
SELECT DISTINCT a AS id, a AS label
FROM "sluice"."customer_identity_guard_cc_links";

-- Identifiers of finished components land here with their final label.
CREATE OR REPLACE TABLE "sluice"."customer_identity_guard_cc_done" AS
SELECT CAST(NULL AS BIGINT) AS id, CAST(NULL AS BIGINT) AS label
WHERE 1 = 0;

CREATE OR REPLACE TABLE "sluice"."customer_identity_guard_cc_round" AS
SELECT 0 AS round;

-- A first, cheap contraction before the rounds: each identifier points to
-- the smallest identifier it is linked to (itself when smaller), and pointers
-- are followed twice more. Source rows are stars around their smallest
-- identifier, so this collapses every row, and most small profiles entirely.
CREATE OR REPLACE TABLE "sluice"."customer_identity_guard_cc_pointers" AS
WITH
    smallest AS (
        SELECT a AS v, least(a, min(b)) AS p
        FROM "sluice"."customer_identity_guard_cc_links"
        GROUP BY a
    ),
    jump AS (  -- follow the pointer once more
        SELECT s.v, u.p
        FROM smallest AS s
        JOIN smallest AS u ON u.v = s.p
    )
SELECT j.v, k.p
FROM jump AS j
JOIN jump AS k ON k.v = j.p;

-- Contract: each link now joins the supernodes its ends point to; links
-- inside a supernode disappear.
CREATE OR REPLACE TABLE "sluice"."customer_identity_guard_cc_links" AS
SELECT DISTINCT pa.p AS a, pb.p AS b
FROM "sluice"."customer_identity_guard_cc_links" AS l
JOIN "sluice"."customer_identity_guard_cc_pointers" AS pa ON pa.v = l.a
JOIN "sluice"."customer_identity_guard_cc_pointers" AS pb ON pb.v = l.b
WHERE pa.p <> pb.p;

-- Identifiers follow their supernode.
CREATE OR REPLACE TABLE "sluice"."customer_identity_guard_cc_live" AS
SELECT i.id, p.p AS label
FROM "sluice"."customer_identity_guard_cc_live" AS i
JOIN "sluice"."customer_identity_guard_cc_pointers" AS p ON p.v = i.label;

-- A supernode without links is a finished component: it leaves the
-- working set, which only keeps what can still change.
INSERT INTO "sluice"."customer_identity_guard_cc_done"
SELECT i.id, i.label
FROM "sluice"."customer_identity_guard_cc_live" AS i
WHERE NOT EXISTS (SELECT 1 FROM "sluice"."customer_identity_guard_cc_links" AS l WHERE l.a = i.label);

DELETE FROM "sluice"."customer_identity_guard_cc_live"
WHERE NOT EXISTS (SELECT 1 FROM "sluice"."customer_identity_guard_cc_links" AS l WHERE l.a = "sluice"."customer_identity_guard_cc_live".label);

-- Repeat the statements below until the check returns 0 (at most 64 rounds).

-- A new round draws new random priorities.
UPDATE "sluice"."customer_identity_guard_cc_round" SET round = round + 1;

-- Each supernode points to the supernode with the smallest priority within
-- two links (itself included); then pointers are followed twice (pointer
-- jumping), so chains of up to four pointers collapse within the round.
CREATE OR REPLACE TABLE "sluice"."customer_identity_guard_cc_pointers" AS
WITH
    r AS (SELECT round FROM "sluice"."customer_identity_guard_cc_round"),
    near AS (  -- best supernode within one link, itself included
        SELECT
            l.a AS v,
            CASE WHEN hash(l.a, r.round) <= min(hash(l.b, r.round)) THEN l.a ELSE arg_min(l.b, hash(l.b, r.round)) END AS u,
            least(hash(l.a, r.round), min(hash(l.b, r.round))) AS h
        FROM "sluice"."customer_identity_guard_cc_links" AS l, r
        GROUP BY l.a, r.round
    ),
    far AS (  -- best supernode within two links
        SELECT
            n.v,
            CASE WHEN n.h <= min(m.h) THEN n.u ELSE arg_min(m.u, m.h) END AS p
        FROM near AS n
        JOIN "sluice"."customer_identity_guard_cc_links" AS l ON l.a = n.v
        JOIN near AS m ON m.v = l.b
        GROUP BY n.v, n.u, n.h
    ),
    jump AS (  -- follow the pointer once more
        SELECT f.v, g.p
        FROM far AS f
        JOIN far AS g ON g.v = f.p
    )
SELECT j.v, k.p
FROM jump AS j
JOIN jump AS k ON k.v = j.p;

-- Contract: each link now joins the supernodes its ends point to; links
-- inside a supernode disappear.
CREATE OR REPLACE TABLE "sluice"."customer_identity_guard_cc_links" AS
SELECT DISTINCT pa.p AS a, pb.p AS b
FROM "sluice"."customer_identity_guard_cc_links" AS l
JOIN "sluice"."customer_identity_guard_cc_pointers" AS pa ON pa.v = l.a
JOIN "sluice"."customer_identity_guard_cc_pointers" AS pb ON pb.v = l.b
WHERE pa.p <> pb.p;

-- Identifiers follow their supernode.
CREATE OR REPLACE TABLE "sluice"."customer_identity_guard_cc_live" AS
SELECT i.id, p.p AS label
FROM "sluice"."customer_identity_guard_cc_live" AS i
JOIN "sluice"."customer_identity_guard_cc_pointers" AS p ON p.v = i.label;

-- A supernode without links is a finished component: it leaves the
-- working set, which only keeps what can still change.
INSERT INTO "sluice"."customer_identity_guard_cc_done"
SELECT i.id, i.label
FROM "sluice"."customer_identity_guard_cc_live" AS i
WHERE NOT EXISTS (SELECT 1 FROM "sluice"."customer_identity_guard_cc_links" AS l WHERE l.a = i.label);

DELETE FROM "sluice"."customer_identity_guard_cc_live"
WHERE NOT EXISTS (SELECT 1 FROM "sluice"."customer_identity_guard_cc_links" AS l WHERE l.a = "sluice"."customer_identity_guard_cc_live".label);

-- Check: still changing

-- Links left between different supernodes (0: every component is found).
SELECT count(*) FROM "sluice"."customer_identity_guard_cc_links";

-- End of repeated part.

-- Each region joins the earliest-seen anchor among those of the attached
-- identifiers it shares a row with; attached identifiers join their anchor,
-- and anchors head their own group.
CREATE OR REPLACE TABLE "sluice"."customer_identity_guard_assignment" AS
WITH
    region AS (  -- region of every remaining identifier
        SELECT m.id, coalesce(r.label, m.id) AS region
        FROM "sluice"."customer_identity_guard_rest" AS m
        LEFT JOIN "sluice"."customer_identity_guard_cc_done" AS r ON r.id = m.id
    ),
    touch AS (  -- anchor of the attached identifiers sharing a row with a region
        SELECT g.region, min(t.anchor) AS anchor
        FROM "sluice"."customer_identity_guard_attached" AS t
        JOIN "sluice"."customer_identity_edges" AS et ON et.id = t.id
        JOIN "sluice"."customer_identity_edges" AS em ON em.row_id = et.row_id
        JOIN region AS g ON g.id = em.id
        GROUP BY g.region
    )
SELECT g.id, coalesce(t.anchor, g.region) AS grp
FROM region AS g
LEFT JOIN touch AS t ON t.region = g.region
UNION ALL
SELECT id, anchor AS grp
FROM "sluice"."customer_identity_guard_attached"
UNION ALL
SELECT id, id AS grp
FROM "sluice"."customer_identity_guard_anchors";

DROP TABLE IF EXISTS "sluice"."customer_identity_guard_cc_links";

DROP TABLE IF EXISTS "sluice"."customer_identity_guard_cc_pointers";

DROP TABLE IF EXISTS "sluice"."customer_identity_guard_cc_live";

DROP TABLE IF EXISTS "sluice"."customer_identity_guard_cc_done";

DROP TABLE IF EXISTS "sluice"."customer_identity_guard_cc_round";

DROP TABLE IF EXISTS "sluice"."customer_identity_guard_anchors";

DROP TABLE IF EXISTS "sluice"."customer_identity_guard_attached";

DROP TABLE IF EXISTS "sluice"."customer_identity_guard_rest";

-- identity_map (identity, duckdb)
-- Identity: stable profile ids, the identity map and the row map.
-- declared at identity.yml:7:3

-- The group (future profile) of every identifier.
CREATE OR REPLACE TABLE "sluice"."customer_identity_groups" AS
SELECT i.id, coalesce(a.grp, c.label, i.id) AS grp
FROM "sluice"."customer_identity_ids" AS i
LEFT JOIN "sluice"."customer_identity_cc_done" AS c ON c.id = i.id
LEFT JOIN "sluice"."customer_identity_guard_assignment" AS a ON a.id = i.id;

-- Stable profile ids: a profile is named after its earliest-seen identifier
-- (smallest first_seen_at, then id_type, then id_value; the smallest number),
-- as md5(id_type || ':' || id_value). It changes only when that identifier
-- changes: a merge with an older profile, a split, or backfilled older data.
CREATE OR REPLACE TABLE "sluice"."customer_identity_profiles" AS
SELECT a.grp, md5((i.id_type || ':' || i.id_value)) AS profile_id
FROM (SELECT grp, min(id) AS id FROM "sluice"."customer_identity_groups" GROUP BY grp) AS a
JOIN "sluice"."customer_identity_ids" AS i ON i.id = a.id;

-- The identity map: one row per identifier, with its profile.
CREATE OR REPLACE TABLE "sluice"."customer_identity_map" AS
SELECT p.profile_id, i.id_type, i.id_value, i.first_seen_at, i.last_seen_at, i.seen_count
FROM "sluice"."customer_identity_ids" AS i
JOIN "sluice"."customer_identity_groups" AS g ON g.id = i.id
JOIN "sluice"."customer_identity_profiles" AS p ON p.grp = g.grp;

-- The row map: the profile of every edge-source row with an identifier. When
-- a limit split a row's identifiers, the row goes with its identifier of the
-- type with the strictest limit (types without a limit last), the earliest
-- seen among equals.
CREATE OR REPLACE TABLE "sluice"."customer_row_map" AS
WITH per_row AS (
    SELECT r.edge, r.row_key, r.seen_at, h.choice % 281474976710656 AS decider
    FROM "sluice"."customer_identity_rows" AS r
    JOIN "sluice"."customer_identity_row_hubs" AS h ON h.row_id = r.row_id
    WHERE r.row_key IS NOT NULL
),
folded AS (
    SELECT r.edge, r.row_key, min(g.grp) AS grp, max(r.seen_at) AS seen_at
    FROM per_row AS r
    JOIN "sluice"."customer_identity_groups" AS g ON g.id = r.decider
    GROUP BY r.edge, r.row_key
)
SELECT CASE r.edge WHEN 1 THEN 'crm' WHEN 2 THEN 'web' WHEN 3 THEN 'orders' END AS source, r.row_key, p.profile_id, r.seen_at
FROM folded AS r
JOIN "sluice"."customer_identity_profiles" AS p ON p.grp = r.grp;

DROP TABLE IF EXISTS "sluice"."customer_identity_cc_links";

DROP TABLE IF EXISTS "sluice"."customer_identity_cc_pointers";

DROP TABLE IF EXISTS "sluice"."customer_identity_cc_live";

DROP TABLE IF EXISTS "sluice"."customer_identity_cc_done";

DROP TABLE IF EXISTS "sluice"."customer_identity_cc_round";

DROP TABLE IF EXISTS "sluice"."customer_identity_groups";

DROP TABLE IF EXISTS "sluice"."customer_identity_profiles";

DROP TABLE IF EXISTS "sluice"."customer_identity_row_hubs";

DROP TABLE IF EXISTS "sluice"."customer_identity_guard_assignment";

-- Build summary
-- identifiers
SELECT count(*) FROM "sluice"."customer_identity_map";
-- profiles
SELECT count(DISTINCT profile_id) FROM "sluice"."customer_identity_map";
-- largest profile (identifiers)
SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM "sluice"."customer_identity_map" GROUP BY profile_id) AS sizes;
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
