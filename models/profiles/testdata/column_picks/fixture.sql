CREATE SCHEMA raw;
CREATE TABLE raw.crm_contacts (contact_id VARCHAR, user_id VARCHAR, first_name VARCHAR, city VARCHAR,
    status VARCHAR, email_consent BOOLEAN, email_consent_at TIMESTAMP, updated_at TIMESTAMP);
INSERT INTO raw.crm_contacts VALUES
    -- p1: the latest row is blank: a blank never wins.
    ('c1', 'u1', 'Ann',  'Paris', 'active',   true,  '2024-01-10', '2024-01-10'),
    ('c2', 'u1', 'Anne', 'Lyon',  'inactive', false, '2025-03-01', '2025-03-01'),
    ('c3', 'u1', NULL,   NULL,    'active',   NULL,  NULL,         '2025-06-01'),
    -- p2: two rows at the same time: the smallest value wins (false for consent).
    ('c4', 'u2', 'Bob',   'Nice', 'active', true,  '2025-01-01', '2025-01-01'),
    ('c5', 'u2', 'Bobby', 'Nice', 'active', false, '2025-01-01', '2025-01-01'),
    -- p3: a row without a timestamp loses to a dated one, but is used when
    -- it alone has a value (consent).
    ('c6', 'u3', 'Cy',    NULL, 'active', true, '2025-05-01', NULL),
    ('c7', 'u3', 'Cyril', 'Geneva', 'active', NULL, NULL,         '2020-01-01'),
    -- the where keeps this row but its city is blank: Geneva stays.
    ('c8', 'u3', NULL,    NULL,     NULL,     NULL, NULL,         '2025-06-30'),
    -- a row no profile owns (absent from the row map) is ignored.
    ('c9', 'ghost', 'Ghost', 'Oslo', 'active', true, '2025-06-30', '2025-06-30');

CREATE TABLE raw.web_events (event_id INTEGER, user_id VARCHAR, first_name VARCHAR, city VARCHAR, occurred_at TIMESTAMP);
INSERT INTO raw.web_events VALUES
    -- p1: Lyon and Paris twice each: the most recently seen wins.
    (1, 'u1', 'Annie', 'Lyon',  '2025-06-20'),
    (2, 'u1', NULL,    'Paris', '2025-05-01'),
    (3, 'u1', NULL,    'Paris', '2025-04-01'),
    (4, 'u1', NULL,    'Lyon',  '2025-01-01'),
    -- p2: Nice is the most frequent though Cannes is more recent.
    (5, 'u2', 'Robert', 'Nice',   '2024-06-01'),
    (6, 'u2', NULL,     'Nice',   '2024-01-01'),
    (7, 'u2', NULL,     'Cannes', '2025-06-30'),
    -- p3: Bern and Zurich tied on count and time: the smallest wins; NULL skipped.
    (8,  'u3', NULL, 'Zurich', '2025-06-15'),
    (9,  'u3', NULL, 'Bern',   '2025-06-15'),
    (10, 'u3', NULL, NULL,     '2025-06-16'),
    (11, 'u3', NULL, NULL,     '2025-06-17'),
    -- p4: only web rows; the 30d window starts at 2025-06-01 00:00:00, inclusive.
    (12, 'u4', 'Dora', 'Brest',   '2025-06-01 00:00:00'),
    (13, 'u4', NULL,   'Quimper', '2025-05-31 23:59:59');

CREATE TABLE raw.support_tickets (ticket_id VARCHAR, user_id VARCHAR, first_name VARCHAR, channel VARCHAR);
INSERT INTO raw.support_tickets VALUES
    ('t1', 'u1', NULL, 'email'),
    ('t2', 'u1', NULL, 'phone'),
    ('t3', 'u1', NULL, 'phone'),
    -- p2: chat and email once each, no time to tell them apart: the smallest wins.
    ('t4', 'u2', 'Rob', 'email'),
    ('t5', 'u2', NULL,  'chat');

CREATE SCHEMA sluice;
CREATE TABLE sluice.customer_identity_map (profile_id VARCHAR, id_type VARCHAR, id_value VARCHAR,
    first_seen_at TIMESTAMP, last_seen_at TIMESTAMP, seen_count BIGINT);
INSERT INTO sluice.customer_identity_map
SELECT 'p' || substr(id, 2), 'user_id', id, NULL, NULL, 1
FROM (VALUES ('u1'), ('u2'), ('u3'), ('u4'), ('u5')) AS v(id);

-- Each row's profile: what the identity stage would write.
CREATE TABLE sluice.customer_row_map AS
SELECT 'crm_contacts' AS source, contact_id AS row_key, 'p' || substr(user_id, 2) AS profile_id, updated_at AS seen_at
FROM raw.crm_contacts WHERE user_id <> 'ghost'
UNION ALL
SELECT 'web_events', CAST(event_id AS VARCHAR), 'p' || substr(user_id, 2), occurred_at FROM raw.web_events
UNION ALL
SELECT 'support_tickets', ticket_id, 'p' || substr(user_id, 2), NULL FROM raw.support_tickets;
