-- The 20 most used hashtags in the last hour.
SELECT lower(tag) AS hashtag,
       count(*) AS uses
FROM records
CROSS JOIN UNNEST(hashtags) AS t (tag)
WHERE created_at >= current_timestamp - INTERVAL '1' HOUR
GROUP BY 1
ORDER BY uses DESC, hashtag
LIMIT 20
