-- Analyst views over the event tables: crossings with the vessel's identity at the time, daily
-- transits comparable with IMF PortWatch, dark (inferred) transits; a track function; indexes.

-- The identity period nearest to `at` for a vessel without one valid at that instant: the
-- latest begun before it, else the earliest begun after it. PL/pgSQL on purpose: an inlined
-- subquery would be costed once per passage and push big analyst queries into JIT compilation,
-- which costs more than the query.
CREATE FUNCTION straitwatch.nearest_vessel_identity(vessel_mmsi integer, at timestamptz)
RETURNS SETOF straitwatch.vessel_identity
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE ROWS 1 AS $$
BEGIN
    RETURN QUERY
        SELECT v.* FROM straitwatch.vessel_identity AS v
        WHERE v.mmsi = vessel_mmsi AND v.valid_from <= at
        ORDER BY v.valid_from DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN QUERY
            SELECT v.* FROM straitwatch.vessel_identity AS v
            WHERE v.mmsi = vessel_mmsi AND v.valid_from > at
            ORDER BY v.valid_from LIMIT 1;
    END IF;
END;
$$;

-- One row per chokepoint passage, with who the vessel was at that moment. The identity is the
-- vessel_identity period that contains crossed_at (a hash or index join on the SCD-2 periods,
-- which do not overlap). When static data was first received only after the passage, or the
-- periods have a hole there, the nearest period is used instead, and identity_basis says which:
-- valid_at_time | last_known_before | first_seen_after (NULL: the vessel never identified itself).
CREATE VIEW straitwatch.crossings_with_identity AS
SELECT c.crossing_id,
       c.chokepoint_id,
       cp.name                                   AS chokepoint_name,
       c.crossed_at,
       (c.crossed_at AT TIME ZONE 'UTC')::date   AS crossed_on,
       c.direction,
       c.inferred,
       c.mmsi,
       coalesce(at_time.name, nearest.name)      AS vessel_name,
       coalesce(at_time.imo, nearest.imo)        AS imo,
       coalesce(at_time.imo_valid, nearest.imo_valid) AS imo_valid,
       coalesce(at_time.callsign, nearest.callsign)   AS callsign,
       coalesce(at_time.ship_type, nearest.ship_type) AS ship_type,
       straitwatch.ship_type_description(coalesce(at_time.ship_type, nearest.ship_type))
                                                 AS ship_type_description,
       straitwatch.ship_type_group(coalesce(at_time.ship_type, nearest.ship_type))
                                                 AS ship_type_group,
       straitwatch.portwatch_comparable(coalesce(at_time.ship_type, nearest.ship_type))
                                                 AS portwatch_comparable,
       mc.flag,
       mc.country                                AS flag_country,
       CASE
           WHEN at_time.identity_id IS NOT NULL THEN 'valid_at_time'
           WHEN nearest.valid_from > c.crossed_at THEN 'first_seen_after'
           WHEN nearest.identity_id IS NOT NULL THEN 'last_known_before'
       END                                       AS identity_basis,
       coalesce(at_time.valid_from, nearest.valid_from) AS identity_valid_from,
       CASE WHEN at_time.identity_id IS NOT NULL THEN at_time.valid_to ELSE nearest.valid_to END
                                                 AS identity_valid_to,
       c.lat,
       c.lon,
       c.prev_ts,
       c.next_ts,
       c.gap_id
FROM straitwatch.chokepoint_crossings AS c
JOIN straitwatch.chokepoints AS cp ON cp.chokepoint_id = c.chokepoint_id
LEFT JOIN straitwatch.vessel_identity AS at_time
       ON at_time.mmsi = c.mmsi
      AND at_time.valid_from <= c.crossed_at
      AND (at_time.valid_to IS NULL OR c.crossed_at < at_time.valid_to)
-- only for passages without a period at the time (the function is opaque to the planner, so a
-- month of passages is costed as cheap as it runs; see nearest_vessel_identity above)
-- (a NULL vessel makes the STRICT function return nothing without running)
LEFT JOIN LATERAL straitwatch.nearest_vessel_identity(
    CASE WHEN at_time.identity_id IS NULL THEN c.mmsi END, c.crossed_at
) AS nearest ON true
LEFT JOIN straitwatch.mid_countries AS mc
       ON c.mmsi BETWEEN 201000000 AND 775999999 AND mc.mid = c.mmsi / 1000000;

COMMENT ON VIEW straitwatch.crossings_with_identity IS
    'Chokepoint passages with the vessel identity (name, IMO, call sign, ship type) valid at '
    'crossed_at and the flag from the MMSI''s MID; crossed_on is the UTC day.';

-- Daily counts per chokepoint, direction and ship-type group (UTC days; days without a transit
-- have no row). Sum the rows where portwatch_comparable to compare with IMF PortWatch n_total.
CREATE VIEW straitwatch.daily_transits AS
SELECT crossed_on                           AS day,
       chokepoint_id,
       direction,
       ship_type_group,
       portwatch_comparable,
       count(*)                             AS transits,
       count(*) FILTER (WHERE inferred)     AS inferred_transits,
       count(DISTINCT mmsi)                 AS vessels
FROM straitwatch.crossings_with_identity
GROUP BY crossed_on, chokepoint_id, direction, ship_type_group, portwatch_comparable;

COMMENT ON VIEW straitwatch.daily_transits IS
    'Transits per UTC day, chokepoint, direction and ship-type group; inferred_transits were '
    'crossed while the vessel''s AIS was silent.';

-- Passages made while AIS was silent (inferred = true), with the silence that hid them. When the
-- detector did not link a gap row, the bracketing fixes give the silence.
CREATE VIEW straitwatch.dark_transits AS
SELECT w.*,
       coalesce(g.started_at, w.prev_ts)                    AS dark_from,
       coalesce(g.ended_at, w.next_ts)                      AS dark_until,
       coalesce(g.ended_at, w.next_ts)
           - coalesce(g.started_at, w.prev_ts)              AS dark_duration,
       g.distance_nm                                        AS dark_distance_nm,
       g.implied_speed_kn                                   AS dark_implied_speed_kn
FROM straitwatch.crossings_with_identity AS w
LEFT JOIN straitwatch.ais_gaps AS g ON g.gap_id = w.gap_id
WHERE w.inferred;

COMMENT ON VIEW straitwatch.dark_transits IS
    'Chokepoint passages inferred across an AIS gap, with the gap''s start, end, length and '
    'implied speed.';

-- One vessel's fixes in [from_ts, to_ts), in time order: prunes partitions and uses the
-- (mmsi, ts) index, which a filter on a view's computed day could not.
CREATE FUNCTION straitwatch.vessel_track(track_mmsi integer, from_ts timestamptz, to_ts timestamptz)
RETURNS SETOF straitwatch.positions
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT *
    FROM straitwatch.positions
    WHERE mmsi = track_mmsi AND ts >= from_ts AND ts < to_ts
    ORDER BY ts
$$;

-- Indexes for analyst queries. Filters on a UTC day (crossed_on, daily_transits.day) use this
-- expression index; a scan for dark passages uses the partial one.
CREATE INDEX chokepoint_crossings_utc_day
    ON straitwatch.chokepoint_crossings (((crossed_at AT TIME ZONE 'UTC')::date), chokepoint_id);
CREATE INDEX chokepoint_crossings_inferred
    ON straitwatch.chokepoint_crossings (chokepoint_id, crossed_at) WHERE inferred;
CREATE INDEX departure_matches_mmsi
    ON straitwatch.departure_matches (mmsi) WHERE mmsi IS NOT NULL;
