-- Ingest: source files, cleaned positions (daily partitions), rejects, vessel identity history.

CREATE TABLE straitwatch.ingested_files (
    file_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    path           text        NOT NULL,
    sha256         text        NOT NULL UNIQUE,
    format         text        NOT NULL CHECK (format IN ('noaa', 'dma', 'nmea', 'csv', 'parquet')),
    rows_read      bigint      NOT NULL CHECK (rows_read >= 0),
    rows_loaded    bigint      NOT NULL CHECK (rows_loaded >= 0),
    rows_rejected  bigint      NOT NULL CHECK (rows_rejected >= 0),
    loaded_at      timestamptz NOT NULL DEFAULT now(),
    mapping        text,                       -- column mapping used for csv / parquet (name or file)
    received_at    timestamptz,                -- --received-at: time given to records without one
    rejects_by_reason jsonb    NOT NULL DEFAULT '{}'::jsonb,  -- {"reason": count, ...}
    CONSTRAINT ingested_files_counts_add_up CHECK (rows_read = rows_loaded + rows_rejected)
);

CREATE TABLE straitwatch.positions (
    mmsi        integer          NOT NULL,
    ts          timestamptz      NOT NULL,
    lat         double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon         double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    sog         real,            -- knots; NULL when not available (102.3)
    cog         real,            -- degrees; NULL when not available (360)
    heading     smallint,        -- degrees; NULL when not available (511)
    nav_status  smallint,        -- ITU-R M.1371 navigational status code 0-15
    file_id     bigint           NOT NULL
) PARTITION BY RANGE (ts);

-- One fix per vessel and instant; also the access path for "one vessel's track".
CREATE UNIQUE INDEX positions_mmsi_ts ON straitwatch.positions (mmsi, ts);

-- One row per refused physical record (CSV data line, NMEA line, Parquet row): its line number
-- in the decompressed file (the header is line 1), its text, and a reason from the list in the
-- README ("Reject reasons"); detail says which field and value.
CREATE TABLE straitwatch.rejected_records (
    file_id   bigint  NOT NULL REFERENCES straitwatch.ingested_files (file_id) ON DELETE CASCADE,
    line_no   bigint  NOT NULL,
    raw       text,
    reason    text    NOT NULL,
    detail    text
);
CREATE INDEX rejected_records_file ON straitwatch.rejected_records (file_id, line_no);

-- Slowly changing dimension (type 2): one row per period in which an MMSI kept the same
-- name, IMO, call sign and ship type. valid_to is NULL for the current row.
CREATE TABLE straitwatch.vessel_identity (
    identity_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mmsi         integer     NOT NULL,
    imo          text,                  -- as reported; use only when imo_valid
    imo_valid    boolean,               -- check digit verified
    name         text,
    callsign     text,
    ship_type    smallint,              -- AIS ship and cargo type 0-99
    flag         text,                  -- ISO 3166 alpha-2 from the MMSI's MID
    valid_from   timestamptz NOT NULL,   -- first report of this identity
    valid_to     timestamptz,            -- first report of the next identity; NULL = current
    last_seen_at timestamptz,            -- last report of this identity (lets later files, loaded
                                         -- out of order, rebuild the history); the loader always
                                         -- sets it, NULL (rows written by hand) reads as valid_from
    file_id      bigint,                 -- file of the first report
    CHECK (valid_to IS NULL OR valid_to > valid_from),
    CHECK (last_seen_at >= valid_from AND (valid_to IS NULL OR last_seen_at <= valid_to))
);
CREATE UNIQUE INDEX vessel_identity_mmsi ON straitwatch.vessel_identity (mmsi, valid_from);
CREATE UNIQUE INDEX vessel_identity_current ON straitwatch.vessel_identity (mmsi) WHERE valid_to IS NULL;
CREATE INDEX vessel_identity_name ON straitwatch.vessel_identity (upper(name));
CREATE INDEX vessel_identity_imo ON straitwatch.vessel_identity (imo) WHERE imo_valid;

-- Voyage-related static data (AIS destination, ETA, draught) as reported, one row per change.
CREATE TABLE straitwatch.voyage_reports (
    mmsi         integer     NOT NULL,
    reported_at  timestamptz NOT NULL,   -- first report of these values
    destination  text,
    eta          timestamptz,
    draught_m    real,
    last_seen_at timestamptz,            -- last report before the values changed (NULL: reported_at)
    file_id      bigint,
    PRIMARY KEY (mmsi, reported_at)
);
