-- Events detected from positions: AIS gaps, chokepoint passages, port calls, rejected fixes.
-- Each row has a deterministic id (hash of vessel, kind, place and time) so reruns upsert the
-- same rows. `straitwatch detect` owns, for its window [start, end):
--   ais_gaps              whose ended_at      is in the window (the fix ending the silence)
--   chokepoint_crossings  whose confirmed_at  is in the window (the fix completing the evidence)
--   port_calls            whose arrived_at    is in the window (and updates calls still open)
--   flagged_positions     whose ts            is in the window
-- and replaces exactly those rows on every run. The columns beyond the design's contract
-- (gate, entered_at, confirmed_at; last_seen_at, slow_h, min_distance_nm) are always filled by
-- detect and nullable for rows written by other means.

CREATE TABLE straitwatch.ais_gaps (
    gap_id            text PRIMARY KEY,
    mmsi              integer     NOT NULL,
    started_at        timestamptz NOT NULL,   -- last fix before the silence
    ended_at          timestamptz NOT NULL CHECK (ended_at > started_at),  -- first fix after it
    start_lat         double precision NOT NULL,
    start_lon         double precision NOT NULL,
    end_lat           double precision NOT NULL,
    end_lon           double precision NOT NULL,
    distance_nm       double precision NOT NULL CHECK (distance_nm >= 0),
    implied_speed_kn  double precision NOT NULL CHECK (implied_speed_kn >= 0)
);
CREATE INDEX ais_gaps_mmsi ON straitwatch.ais_gaps (mmsi, started_at);
CREATE INDEX ais_gaps_ended ON straitwatch.ais_gaps (ended_at);

-- One row per passage through a chokepoint (every gate crossed in order).
CREATE TABLE straitwatch.chokepoint_crossings (
    crossing_id    text PRIMARY KEY,
    mmsi           integer     NOT NULL,
    chokepoint_id  text        NOT NULL REFERENCES straitwatch.chokepoints,
    crossed_at     timestamptz NOT NULL,   -- crossing of the gate that completed the passage
    direction      text        NOT NULL,
    inferred       boolean     NOT NULL DEFAULT false,  -- a crossing spanned an AIS gap
    lat            double precision,   -- interpolated crossing point
    lon            double precision,
    prev_ts        timestamptz NOT NULL,  -- the two fixes that bracket the crossing
    prev_lat       double precision NOT NULL,
    prev_lon       double precision NOT NULL,
    next_ts        timestamptz NOT NULL,
    next_lat       double precision NOT NULL,
    next_lon       double precision NOT NULL,
    gap_id         text,               -- the ais_gaps row of the gap crossed (inferred rows)
    gate           text,               -- the gate whose crossing timed the passage
    entered_at     timestamptz,        -- crossing of the first gate of the passage
    confirmed_at   timestamptz,        -- fix that completed the evidence (window owner)
    CHECK (prev_ts <= crossed_at AND crossed_at <= next_ts),
    CHECK (entered_at <= crossed_at AND crossed_at <= confirmed_at)
);
CREATE INDEX chokepoint_crossings_cp_time ON straitwatch.chokepoint_crossings (chokepoint_id, crossed_at);
CREATE INDEX chokepoint_crossings_mmsi ON straitwatch.chokepoint_crossings (mmsi, crossed_at);
CREATE INDEX chokepoint_crossings_confirmed ON straitwatch.chokepoint_crossings (confirmed_at);

CREATE TABLE straitwatch.port_calls (
    port_call_id     text PRIMARY KEY,
    mmsi             integer     NOT NULL,
    port_id          text        NOT NULL REFERENCES straitwatch.ports,
    arrived_at       timestamptz NOT NULL,   -- first fix within the port radius
    departed_at      timestamptz,            -- last fix inside; NULL while the vessel is still there
    ended_by_gap     boolean     NOT NULL DEFAULT false,  -- left unseen, during an AIS gap
    last_seen_at     timestamptz,            -- last fix inside known so far
    slow_h           double precision,       -- hours spent slower than the SOG threshold
    min_distance_nm  double precision,       -- closest fix to the port's reference point
    CHECK (departed_at IS NULL OR departed_at >= arrived_at),
    CHECK (last_seen_at >= arrived_at)
);
CREATE INDEX port_calls_mmsi ON straitwatch.port_calls (mmsi, arrived_at);
CREATE INDEX port_calls_port ON straitwatch.port_calls (port_id, arrived_at);
CREATE INDEX port_calls_arrived ON straitwatch.port_calls (arrived_at);
CREATE INDEX port_calls_open ON straitwatch.port_calls (mmsi) WHERE departed_at IS NULL;

-- Fixes skipped by detection because they imply an impossible speed (position errors,
-- spoofing), with the accepted fix they were judged from.
CREATE TABLE straitwatch.flagged_positions (
    mmsi              integer     NOT NULL,
    ts                timestamptz NOT NULL,
    lat               double precision NOT NULL,
    lon               double precision NOT NULL,
    reason            text        NOT NULL CHECK (reason IN ('implied_speed')),
    implied_speed_kn  double precision NOT NULL,
    anchor_ts         timestamptz NOT NULL,
    anchor_lat        double precision NOT NULL,
    anchor_lon        double precision NOT NULL,
    PRIMARY KEY (mmsi, ts)
);
CREATE INDEX flagged_positions_ts ON straitwatch.flagged_positions (ts);

-- One row per `straitwatch detect` run: its window, what it read and wrote, its settings.
CREATE TABLE straitwatch.detect_runs (
    run_id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    window_start          timestamptz,
    window_end            timestamptz,
    started_at            timestamptz NOT NULL,
    finished_at           timestamptz NOT NULL DEFAULT now(),
    vessels               integer NOT NULL,
    positions             bigint  NOT NULL,   -- positions in the window
    positions_read        bigint  NOT NULL,   -- including look-back
    flagged_positions     integer NOT NULL,
    ais_gaps              integer NOT NULL,
    chokepoint_crossings  integer NOT NULL,
    port_calls            integer NOT NULL,   -- arriving in the window
    port_calls_continued  integer NOT NULL,   -- arrived earlier, still open at the start
    config                jsonb   NOT NULL
);
