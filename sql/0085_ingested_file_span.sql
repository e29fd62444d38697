-- The time span of each file's clean positions, so that `straitwatch ingest --reload` removes
-- a file's earlier load from the days it touched only (positions has no index on file_id).
-- NULL for files loaded before this column existed: a reload of one scans every day.
ALTER TABLE straitwatch.ingested_files
    ADD COLUMN positions_from timestamptz,
    ADD COLUMN positions_to   timestamptz;

COMMENT ON COLUMN straitwatch.ingested_files.positions_from IS
    'first position time read from the file (before duplicates of other files were refused)';
COMMENT ON COLUMN straitwatch.ingested_files.positions_to IS
    'last position time read from the file';
