-- How long voice clips are: processed clips per 5-second bucket of duration.
SELECT
    CAST(FLOOR(duration_ms / 5000.0) * 5 AS INTEGER) AS from_seconds,
    COUNT(*) AS clips
FROM clip_processed
GROUP BY CAST(FLOOR(duration_ms / 5000.0) * 5 AS INTEGER)
ORDER BY from_seconds;
