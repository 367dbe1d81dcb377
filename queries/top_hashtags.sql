-- The 20 most used hashtags in the last hour.
-- The datehour condition keeps Athena to the last two hourly partitions (it bills bytes scanned).
SELECT lower(tag) AS hashtag,
       count(*) AS uses
FROM records
CROSS JOIN UNNEST(hashtags) AS t (tag)
WHERE datehour >= date_format(current_timestamp - INTERVAL '1' HOUR, '%Y/%m/%d/%H')
  AND created_at >= CAST(current_timestamp - INTERVAL '1' HOUR AS timestamp)
GROUP BY 1
ORDER BY uses DESC, hashtag
LIMIT 20
