WITH raw AS (
  SELECT
    message_id,
    type,
    user_id,
    anonymous_id,
    session_id,
    UNIX_MICROS(timestamp) AS us,
    item_id,
    category,
    revenue,
    depth_percent,
    channel,
    context.page_url AS page_url,
    context.user_agent AS user_agent
  FROM events
  WHERE
    UNIX_MICROS(timestamp) < 1767614400000000
), links AS (
  SELECT
    anonymous_id,
    MAX_BY(user_id, STRUCT(UNIX_MICROS(timestamp) AS us, message_id AS id)) AS user_id
  FROM events
  WHERE
    UNIX_MICROS(timestamp) < 1767614400000000
    AND NOT anonymous_id IS NULL
    AND NOT user_id IS NULL
  GROUP BY
    anonymous_id
), keyed AS (
  SELECT
    message_id,
    type,
    session_id,
    us,
    item_id,
    category,
    revenue,
    depth_percent,
    channel,
    page_url,
    user_agent,
    COALESCE(raw.user_id, links.user_id, raw.anonymous_id) AS person
  FROM raw
  LEFT JOIN links
    ON raw.user_id IS NULL AND raw.anonymous_id = links.anonymous_id
), ordered AS (
  SELECT
    keyed.*,
    LAG(us) OVER (
      PARTITION BY person, type IN ('email_open', 'email_click', 'identify')
      ORDER BY us NULLS LAST, message_id NULLS LAST
    ) AS previous_us,
    ROW_NUMBER() OVER (
      PARTITION BY person, type IN ('email_open', 'email_click', 'identify')
      ORDER BY us NULLS LAST, message_id NULLS LAST
    ) AS seq,
    CASE
      WHEN user_agent IS NULL
      THEN NULL
      WHEN user_agent RLIKE '(?i)bot|crawl|spider|slurp|headless'
      THEN 'bot'
      WHEN user_agent RLIKE '(?i)ipad|tablet'
      THEN 'tablet'
      WHEN user_agent RLIKE '(?i)mobi|iphone|android'
      THEN 'mobile'
      ELSE 'desktop'
    END AS device
  FROM keyed
), visits AS (
  SELECT
    ordered.*,
    SUM(CASE WHEN previous_us IS NULL OR us - previous_us > 1800000000 THEN 1 ELSE 0 END) OVER (
      PARTITION BY person, type IN ('email_open', 'email_click', 'identify')
      ORDER BY us NULLS LAST, message_id NULLS LAST
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS visit
  FROM ordered
), ev AS (
  SELECT
    message_id,
    type,
    session_id,
    us,
    item_id,
    category,
    revenue,
    depth_percent,
    channel,
    page_url,
    user_agent,
    person,
    seq,
    session,
    device,
    CASE
      WHEN type = 'product_view'
      THEN CAST(MIN(us) OVER (
        PARTITION BY person, session
        ORDER BY us NULLS LAST
        RANGE BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING
      ) - us AS DOUBLE) / 1000000.0
    END AS dwell_s
  FROM (
    SELECT
      visits.*,
      CASE
        WHEN type IN ('email_open', 'email_click', 'identify')
        THEN NULL
        ELSE COALESCE(session_id, CONCAT('~', COALESCE(CAST(visit AS STRING), '')))
      END AS session
    FROM visits
  ) AS assigned
), sessions AS (
  SELECT
    CAST(person AS STRING) AS person,
    CAST(session AS STRING) AS session,
    CAST(MIN(us) AS BIGINT) AS start_us,
    CAST(MAX(us) AS BIGINT) AS end_us,
    CAST(CAST(MAX(us) - MIN(us) AS DOUBLE) / 1000000.0 AS DOUBLE) AS duration_s,
    CAST(GREATEST(CAST(MAX(us) - MIN(us) AS DOUBLE) / 60000000.0, 1.0) AS DOUBLE) AS minutes,
    CAST(COUNT(*) AS BIGINT) AS events,
    CAST(SUM(CASE WHEN type = 'page_view' THEN 1 ELSE 0 END) AS BIGINT) AS page_views,
    CAST(SUM(CASE WHEN type = 'product_view' THEN 1 ELSE 0 END) AS BIGINT) AS product_views,
    CAST(SUM(CASE WHEN type = 'click' THEN 1 ELSE 0 END) AS BIGINT) AS clicks,
    CAST(SUM(CASE WHEN type = 'add_to_cart' THEN 1 ELSE 0 END) AS BIGINT) AS add_to_carts,
    CAST(SUM(CASE WHEN type = 'purchase' THEN 1 ELSE 0 END) AS BIGINT) AS purchases,
    CAST(SUM(CASE WHEN type = 'purchase' THEN COALESCE(revenue, 0.0) ELSE 0.0 END) AS DOUBLE) AS revenue,
    CAST(SUM(CASE WHEN type IN ('page_view', 'product_view') THEN 1 ELSE 0 END) AS BIGINT) AS views,
    CAST(CASE WHEN COUNT(*) = 1 THEN 1 ELSE 0 END AS BIGINT) AS bounced,
    CAST(CASE
      WHEN SUM(CASE WHEN type = 'add_to_cart' THEN 1 ELSE 0 END) > 0
      AND SUM(CASE WHEN type = 'purchase' THEN 1 ELSE 0 END) = 0
      THEN 1
      ELSE 0
    END AS BIGINT) AS abandoned,
    CAST(MAX(depth_percent) AS DOUBLE) AS max_scroll,
    CAST(AVG(depth_percent) AS DOUBLE) AS mean_scroll,
    CAST(SUM(dwell_s) AS DOUBLE) AS dwell_s,
    CAST(COUNT(dwell_s) AS BIGINT) AS dwelled,
    CAST(MIN_BY(page_url, CASE WHEN NOT page_url IS NULL THEN seq END) AS STRING) AS entry_page,
    CAST(MAX_BY(page_url, CASE WHEN NOT page_url IS NULL THEN seq END) AS STRING) AS exit_page,
    CAST(MIN_BY(channel, seq) AS STRING) AS channel,
    CAST(MIN_BY(device, CASE WHEN NOT device IS NULL THEN seq END) AS STRING) AS device,
    CAST(CASE WHEN MAX(us) >= 1767612600000000 THEN 1 ELSE 0 END AS BIGINT) AS is_open
  FROM ev
  WHERE
    NOT session IS NULL
  GROUP BY
    person,
    session
)
SELECT
  *
FROM sessions
ORDER BY
  person NULLS LAST,
  session NULLS LAST
