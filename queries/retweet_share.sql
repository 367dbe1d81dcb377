-- How much of the traffic is retweets.
SELECT count(*) AS tweets,
       sum(CASE WHEN text LIKE 'RT @%' THEN 1 ELSE 0 END) AS retweets,
       round(100.0 * sum(CASE WHEN text LIKE 'RT @%' THEN 1 ELSE 0 END) / count(*), 2) AS retweet_percent
FROM records
