-- Daily active users: distinct users who connected or sent a voice message that day.
SELECT activity.day, COUNT(DISTINCT activity.user_pid) AS active_users
FROM (
    SELECT CAST(occurred_at AS DATE) AS day, user_pid FROM connection_opened
    UNION ALL
    SELECT CAST(occurred_at AS DATE) AS day, sender_pid AS user_pid FROM message_sent
) AS activity
GROUP BY activity.day
ORDER BY activity.day;
