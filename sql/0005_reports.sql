-- Claims about vessel movements and the verdicts matching gives them.

-- One claim about one vessel: from a row of a reports CSV or from a sentence group of a news
-- article. Empty (NULL) fields were not claimed. `phrases` keeps, for every field taken from
-- article text, the exact phrase and the sentence number it came from, so a claim can be traced
-- back to its words; `via_direction_basis` says whether the direction was stated or implied by
-- the route between the claimed ports.
CREATE TABLE straitwatch.reported_departures (
    report_id            text PRIMARY KEY CHECK (report_id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$'),
    source               text,
    published_at         timestamptz,
    vessel_name          text,
    imo                  text CHECK (imo ~ '^[0-9]{7}$'),
    mmsi                 integer,
    departure_port_id    text,
    departed_after       timestamptz,
    departed_before      timestamptz,
    via_chokepoint_id    text,
    via_date             date,
    via_direction        text,
    destination_port_id  text,
    claim_text           text,
    vessel_kind          text CHECK (vessel_kind IN ('cargo', 'tanker', 'passenger', 'fishing',
                                                     'military', 'merchant')),
    vessel_flag          text CHECK (vessel_flag ~ '^[A-Z]{2}$'),
    via_date_phrase      text,           -- e.g. 'On Tuesday': the words the date was resolved from
    via_direction_basis  text CHECK (via_direction_basis IN ('stated', 'route')),
    phrases              jsonb NOT NULL DEFAULT '{}'::jsonb,
    origin               text NOT NULL DEFAULT 'csv' CHECK (origin IN ('csv', 'article')),
    imported_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (vessel_name IS NOT NULL OR imo IS NOT NULL OR mmsi IS NOT NULL),
    CHECK (departure_port_id IS NOT NULL OR via_chokepoint_id IS NOT NULL
           OR destination_port_id IS NOT NULL),
    CHECK (departed_after IS NULL OR departed_before IS NULL OR departed_after < departed_before)
);
CREATE INDEX reported_departures_published ON straitwatch.reported_departures (published_at);

-- One verdict per report and candidate vessel. A resolved claim has one row (the vessel AIS
-- points to); an ambiguous claim has one row per candidate that nothing separated; a claim whose
-- vessel was not found has one row with mmsi NULL. `evidence` is documented in the README
-- ("Claims and verdicts"): one check per claimed part with the event rows it used.
CREATE TABLE straitwatch.departure_matches (
    report_id         text NOT NULL REFERENCES straitwatch.reported_departures ON DELETE CASCADE,
    mmsi              integer,             -- NULL when no vessel was found
    verdict           text NOT NULL CHECK (verdict IN ('confirmed', 'date_mismatch', 'contradicted',
                                                       'no_ais_coverage', 'vessel_not_found', 'ambiguous')),
    evidence          jsonb NOT NULL DEFAULT '{}'::jsonb,
    departure_delta   interval,            -- AIS departure minus the claimed window (0 inside it)
    crossing_delta    interval,            -- AIS passage minus the claimed day (0 on that day)
    matched_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX departure_matches_report_mmsi
    ON straitwatch.departure_matches (report_id, coalesce(mmsi, 0));
CREATE INDEX departure_matches_verdict ON straitwatch.departure_matches (verdict);
