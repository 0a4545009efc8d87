-- Delivery latency percentiles per day and path: `live` through the fan-out to an open
-- connection, `receipt` when the member's app confirmed it (after a sync, for instance).
SELECT
    CAST(occurred_at AS DATE) AS day,
    via,
    COUNT(*) AS deliveries,
    PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50_ms,
    PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY latency_ms) AS p90_ms,
    PERCENTILE_CONT(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99_ms
FROM message_delivered
GROUP BY CAST(occurred_at AS DATE), via
ORDER BY day, via;
