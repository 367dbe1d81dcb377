-- Tweets delivered per minute over the last hour.
SELECT date_trunc('minute', created_at) AS minute,
       count(*) AS tweets
FROM records
WHERE created_at >= current_timestamp - INTERVAL '1' HOUR
GROUP BY 1
ORDER BY 1
