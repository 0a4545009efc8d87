-- Voice messages sent per day, in direct and in group conversations.
SELECT
    CAST(occurred_at AS DATE) AS day,
    SUM(CASE WHEN conversation_kind = 'direct' THEN 1 ELSE 0 END) AS direct_messages,
    SUM(CASE WHEN conversation_kind = 'group' THEN 1 ELSE 0 END) AS group_messages,
    COUNT(*) AS messages
FROM message_sent
GROUP BY CAST(occurred_at AS DATE)
ORDER BY day;
