-- Push notifications per day and kind, and the voice messages they announced.
SELECT
    CAST(occurred_at AS DATE) AS day,
    kind,
    COUNT(*) AS pushes,
    COUNT(DISTINCT user_pid) AS users,
    SUM(messages) AS messages_announced
FROM push_sent
GROUP BY CAST(occurred_at AS DATE), kind
ORDER BY day, kind;
