-- The ingest now reports the time span of each file's positions itself (IngestResult.first_ts /
-- last_ts, computed while the file is read), so nothing looks positions up by file_id any more.
-- The BRIN index of 0080 cost a full scan of every new day at ATTACH PARTITION (about 5% of
-- the time of a bulk load): drop it.
DROP INDEX IF EXISTS straitwatch.positions_file_id_brin;
