-- Reference data loaded from seeds/ by `straitwatch load-reference`: chokepoints, their gate
-- lines (seeds/geofences) and ports (seeds/ports, from the NGA World Port Index).

CREATE TABLE straitwatch.chokepoints (
    chokepoint_id     text PRIMARY KEY CHECK (chokepoint_id ~ '^[a-z0-9]+(_[a-z0-9]+)*$'),
    name              text NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('strait', 'canal')),
    -- Direction of travel from side_a to side_b (first) and back (second), e.g. eastbound /
    -- westbound for Gibraltar (Atlantic -> Mediterranean): see the design notes.
    first_direction   text NOT NULL
        CHECK (first_direction IN ('northbound', 'southbound', 'eastbound', 'westbound')),
    second_direction  text NOT NULL
        CHECK (second_direction IN ('northbound', 'southbound', 'eastbound', 'westbound')),
    aliases           text[] NOT NULL DEFAULT '{}',   -- names met in news text
    ref_lat           double precision CHECK (ref_lat BETWEEN -90 AND 90),
    ref_lon           double precision CHECK (ref_lon BETWEEN -180 AND 180),
    portwatch_id      text UNIQUE,                    -- IMF PortWatch id when PortWatch counts it
    side_a            text,                           -- the water on side A, e.g. Atlantic Ocean
    side_b            text,
    ref_note          text,                           -- why the reference point differs from PortWatch's
    CHECK (first_direction <> second_direction)
);

-- Gate lines drawn coast to coast. A vessel passes a chokepoint when it crosses every gate in
-- order (seq ascending one way, descending the other). Every line is drawn with side A on its
-- left walking from its first vertex to its last; first_direction is travel from A to B.
CREATE TABLE straitwatch.chokepoint_gates (
    chokepoint_id  text NOT NULL REFERENCES straitwatch.chokepoints ON DELETE CASCADE,
    gate           text NOT NULL,
    seq            smallint NOT NULL CHECK (seq >= 1),
    wkt            text NOT NULL CHECK (wkt ~* '^\s*LINESTRING'),  -- lon/lat, EPSG:4326
    side_a         text NOT NULL,
    side_b         text NOT NULL,
    from_place     text,                  -- where the line starts (first vertex), in words
    to_place       text,
    islands        text[] NOT NULL DEFAULT '{}',  -- land the line crosses between its ends
    PRIMARY KEY (chokepoint_id, gate),
    -- Deferred so that a reload may renumber or rename gates within one transaction.
    CONSTRAINT chokepoint_gates_seq_unique UNIQUE (chokepoint_id, seq) DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE straitwatch.ports (
    port_id          text PRIMARY KEY CHECK (port_id ~ '^[A-Z]{2}[A-Z0-9]{3}$'),  -- UN/LOCODE, no space
    name             text NOT NULL,
    alternate_names  text[] NOT NULL DEFAULT '{}',
    country          text CHECK (country ~ '^[A-Z]{2}$'),  -- ISO 3166 alpha-2 (the LOCODE's prefix)
    lat              double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon              double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    radius_nm        double precision NOT NULL CHECK (radius_nm > 0),
    harbor_size      text,                 -- WPI: Very Small, Small, Medium, Large
    wpi_number       text,                 -- World Port Index number (some carry a decimal)
    country_name     text,                 -- as the WPI names it
    harbor_type      text,
    radius_source    text CHECK (radius_source IN ('harbor_size', 'override')),
    position_source  text CHECK (position_source IN ('wpi', 'override')),
    locode_aliases   text[] NOT NULL DEFAULT '{}'  -- other codes that name this port (SYALD for SYLTK)
);
