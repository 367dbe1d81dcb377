-- Share of tweets per language.
SELECT lang,
       count(*) AS tweets,
       round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS percent
FROM records
GROUP BY lang
ORDER BY tweets DESC
