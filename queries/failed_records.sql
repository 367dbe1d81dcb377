-- Records the transformer could not process, and why.
SELECT errorcode AS error_code,
       errormessage AS error_message,
       count(*) AS records,
       max(attemptendingtimestamp) AS last_attempt_ms
FROM errors
GROUP BY errorcode, errormessage
ORDER BY records DESC
