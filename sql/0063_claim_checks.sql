-- Claim checks: departure_matches.evidence flattened, one row per part of a claim (departure,
-- passage, destination) and candidate vessel, with its times, delta and the event rows it used.
-- Follows the evidence document of the matcher (README "Claims and verdicts", version 1);
-- check_json keeps the whole check, so keys added later are reachable without a new view.

CREATE VIEW straitwatch.claim_checks AS
SELECT m.report_id,
       m.mmsi,
       m.verdict,
       c.check_no::integer                              AS check_no,
       c.ch ->> 'part'                                  AS part,
       c.ch ->> 'status'                                AS status,
       c.ch ->> 'summary'                               AS summary,
       c.ch ->> 'claimed_port_id'                       AS claimed_port_id,
       (c.ch ->> 'claimed_date')::date                  AS claimed_date,
       (c.ch ->> 'claimed_from')::timestamptz           AS claimed_from,
       (c.ch ->> 'claimed_to')::timestamptz             AS claimed_to,
       c.ch ->> 'window_basis'                          AS window_basis,
       c.ch ->> 'chokepoint_id'                         AS chokepoint_id,
       c.ch ->> 'expected_direction'                    AS expected_direction,
       c.ch ->> 'direction_basis'                       AS direction_basis,
       c.ch ->> 'event'                                 AS event,
       (c.ch ->> 'event_at')::timestamptz               AS event_at,
       c.ch ->> 'port_id'                               AS port_id,
       c.ch ->> 'direction'                             AS direction,
       (c.ch ->> 'inferred')::boolean                   AS inferred,
       make_interval(secs => (c.ch ->> 'delta_s')::double precision) AS delta,
       (c.ch ->> 'delta_days')::integer                 AS delta_days,
       c.ch ->> 'crossing_id'                           AS crossing_id,
       c.ch ->> 'port_call_id'                          AS port_call_id,
       c.ch ->> 'gap_id'                                AS gap_id,
       c.ch ->> 'ais_destination'                       AS ais_destination,
       (c.ch ->> 'ais_destination_at')::timestamptz     AS ais_destination_at,
       (c.ch ->> 'positions_in_window')::integer        AS positions_in_window,
       (c.ch ->> 'coverage_from')::timestamptz          AS coverage_from,
       (c.ch ->> 'coverage_to')::timestamptz            AS coverage_to,
       (c.ch ->> 'first_fix_at')::timestamptz           AS first_fix_at,
       (c.ch ->> 'last_fix_at')::timestamptz            AS last_fix_at,
       (c.ch ->> 'nearest_nm')::double precision        AS nearest_nm,
       (c.ch ->> 'nearest_at')::timestamptz             AS nearest_at,
       c.ch                                             AS check_json
FROM straitwatch.departure_matches AS m
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(m.evidence -> 'checks') = 'array' THEN m.evidence -> 'checks'
         ELSE '[]'::jsonb END
) WITH ORDINALITY AS c (ch, check_no);

COMMENT ON VIEW straitwatch.claim_checks IS
    'One row per checked part of a claim and candidate vessel: status, claimed window, AIS '
    'event and its time, delta (AIS minus claim) and the ids of the rows used as evidence.';
