-- Voyages: per vessel, each departure from a port call to the next arrival, with the chokepoint
-- passages made in between, in order. Voyage 0 holds the passages made before the first known
-- call (or by a vessel never seen in port); the last voyage is open (to_port_id NULL) until the
-- vessel's next call is detected. route reads like 'SYTTS -> gibraltar westbound -> dover
-- northbound -> RULED' ('?' for an unknown end).
CREATE VIEW straitwatch.voyages AS
WITH calls AS (
    SELECT mmsi, port_call_id, port_id, arrived_at, departed_at,
           row_number() OVER w AS call_no,
           lead(port_call_id) OVER w AS next_call_id,
           lead(port_id) OVER w AS next_port_id,
           lead(arrived_at) OVER w AS next_arrived_at
    FROM straitwatch.port_calls
    WINDOW w AS (PARTITION BY mmsi ORDER BY arrived_at, port_call_id)
),
legs AS (
    SELECT mmsi, call_no AS voyage_no, port_call_id AS from_port_call_id,
           port_id AS from_port_id, departed_at, next_call_id AS to_port_call_id,
           next_port_id AS to_port_id, next_arrived_at AS arrived_at
    FROM calls
    WHERE departed_at IS NOT NULL
    UNION ALL
    SELECT mmsi, 0, NULL, NULL, NULL, port_call_id, port_id, arrived_at
    FROM calls
    WHERE call_no = 1
    UNION ALL
    SELECT DISTINCT c.mmsi, 0, NULL, NULL, NULL::timestamptz, NULL, NULL, NULL::timestamptz
    FROM straitwatch.chokepoint_crossings c
    WHERE NOT EXISTS (SELECT 1 FROM straitwatch.port_calls p WHERE p.mmsi = c.mmsi)
)
SELECT l.mmsi,
       l.voyage_no,
       l.from_port_id,
       l.departed_at,
       l.to_port_id,
       l.arrived_at,
       concat_ws(' -> ', coalesce(l.from_port_id, '?'), p.route, coalesce(l.to_port_id, '?'))
           AS route,
       coalesce(p.n_passages, 0) AS n_passages,
       coalesce(p.n_inferred, 0) AS n_inferred,
       coalesce(p.passages, '[]'::jsonb) AS passages,
       l.from_port_call_id,
       l.to_port_call_id
FROM legs l
LEFT JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object(
               'crossing_id', c.crossing_id, 'chokepoint_id', c.chokepoint_id,
               'direction', c.direction, 'crossed_at', c.crossed_at, 'inferred', c.inferred)
               ORDER BY c.crossed_at) AS passages,
           count(*) AS n_passages,
           count(*) FILTER (WHERE c.inferred) AS n_inferred,
           string_agg(c.chokepoint_id || ' ' || c.direction
                      || CASE WHEN c.inferred THEN ' (dark)' ELSE '' END,
                      ' -> ' ORDER BY c.crossed_at) AS route
    FROM straitwatch.chokepoint_crossings c
    WHERE c.mmsi = l.mmsi
      AND (l.departed_at IS NULL OR c.crossed_at >= l.departed_at)
      AND (l.arrived_at IS NULL OR c.crossed_at < l.arrived_at)
) p ON true
WHERE l.voyage_no > 0 OR p.n_passages > 0;

COMMENT ON VIEW straitwatch.voyages IS
    'Per vessel: port -> ordered chokepoint passages -> next port (reports migration 0050)';
