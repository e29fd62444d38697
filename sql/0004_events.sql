-- Events detected from positions: AIS gaps, chokepoint passages, port calls.
-- Each row has a deterministic id (hash of vessel, kind and time) so reruns upsert the same rows.

CREATE TABLE straitwatch.ais_gaps (
    gap_id            text PRIMARY KEY,
    mmsi              integer     NOT NULL,
    started_at        timestamptz NOT NULL,
    ended_at          timestamptz NOT NULL CHECK (ended_at > started_at),
    start_lat         double precision NOT NULL,
    start_lon         double precision NOT NULL,
    end_lat           double precision NOT NULL,
    end_lon           double precision NOT NULL,
    distance_nm       double precision NOT NULL,
    implied_speed_kn  double precision NOT NULL
);
CREATE INDEX ais_gaps_mmsi ON straitwatch.ais_gaps (mmsi, started_at);

CREATE TABLE straitwatch.chokepoint_crossings (
    crossing_id    text PRIMARY KEY,
    mmsi           integer     NOT NULL,
    chokepoint_id  text        NOT NULL REFERENCES straitwatch.chokepoints,
    crossed_at     timestamptz NOT NULL,
    direction      text        NOT NULL,
    inferred       boolean     NOT NULL DEFAULT false,
    lat            double precision,   -- interpolated crossing point
    lon            double precision,
    prev_ts        timestamptz NOT NULL,  -- the two fixes that bracket the crossing
    prev_lat       double precision NOT NULL,
    prev_lon       double precision NOT NULL,
    next_ts        timestamptz NOT NULL,
    next_lat       double precision NOT NULL,
    next_lon       double precision NOT NULL,
    gap_id         text,
    CHECK (prev_ts <= crossed_at AND crossed_at <= next_ts)
);
CREATE INDEX chokepoint_crossings_cp_time ON straitwatch.chokepoint_crossings (chokepoint_id, crossed_at);
CREATE INDEX chokepoint_crossings_mmsi ON straitwatch.chokepoint_crossings (mmsi, crossed_at);

CREATE TABLE straitwatch.port_calls (
    port_call_id  text PRIMARY KEY,
    mmsi          integer     NOT NULL,
    port_id       text        NOT NULL REFERENCES straitwatch.ports,
    arrived_at    timestamptz NOT NULL,
    departed_at   timestamptz,           -- NULL while the vessel is still there
    ended_by_gap  boolean     NOT NULL DEFAULT false,
    CHECK (departed_at IS NULL OR departed_at >= arrived_at)
);
CREATE INDEX port_calls_mmsi ON straitwatch.port_calls (mmsi, arrived_at);
CREATE INDEX port_calls_port ON straitwatch.port_calls (port_id, arrived_at);
