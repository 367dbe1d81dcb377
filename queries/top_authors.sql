-- The 20 most active authors.
SELECT user_screen_name,
       max(user_name) AS user_name,
       count(*) AS tweets,
       sum(CASE WHEN verified THEN 1 ELSE 0 END) > 0 AS verified
FROM records
GROUP BY user_screen_name
ORDER BY tweets DESC, user_screen_name
LIMIT 20
