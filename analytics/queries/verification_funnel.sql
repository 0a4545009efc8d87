-- The verification funnel: how many users reached each step.
SELECT funnel.step, funnel.stage, funnel.users
FROM (
    SELECT 1 AS step, 'signed up' AS stage, COUNT(DISTINCT user_pid) AS users
    FROM user_signed_up
    UNION ALL
    SELECT 2 AS step, 'selfie screened' AS stage, COUNT(DISTINCT user_pid) AS users
    FROM verification_screened
    UNION ALL
    SELECT 3 AS step, 'sent to review' AS stage, COUNT(DISTINCT user_pid) AS users
    FROM verification_screened
    WHERE outcome = 'pending_review'
    UNION ALL
    SELECT 4 AS step, 'approved' AS stage, COUNT(DISTINCT user_pid) AS users
    FROM verification_decided
    WHERE outcome = 'approved'
) AS funnel
ORDER BY funnel.step;
