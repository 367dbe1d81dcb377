-- Tweets delivered per minute over the last hour.
-- The datehour condition keeps Athena to the last two hourly partitions (it bills bytes scanned).
SELECT date_trunc('minute', created_at) AS minute,
       count(*) AS tweets
FROM records
WHERE datehour >= date_format(current_timestamp - INTERVAL '1' HOUR, '%Y/%m/%d/%H')
  AND created_at >= CAST(current_timestamp - INTERVAL '1' HOUR AS timestamp)
GROUP BY 1
ORDER BY 1
