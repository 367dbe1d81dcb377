-- Records the transformer could not process: how many, when, and one of them (why is in the transformer's log).
SELECT errorcode AS error_code,
       count(*) AS records,
       max(attemptendingtimestamp) AS last_attempt_ms,
       arbitrary(from_utf8(from_base64(rawdata))) AS sample
FROM errors
GROUP BY errorcode
ORDER BY records DESC
