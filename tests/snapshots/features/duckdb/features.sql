WITH raw AS (
  SELECT
    message_id,
    type,
    user_id,
    anonymous_id,
    session_id,
    EPOCH_US(timestamp) AS us,
    item_id,
    category,
    revenue,
    depth_percent
  FROM events
  WHERE
    EPOCH_US(timestamp) < 1767614400000000
), links AS (
  SELECT
    anonymous_id,
    ARG_MAX(user_id, {'us': EPOCH_US(timestamp), 'id': message_id}) AS user_id
  FROM events
  WHERE
    EPOCH_US(timestamp) < 1767614400000000
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
    COALESCE(raw.user_id, links.user_id, raw.anonymous_id) AS person
  FROM raw
  LEFT JOIN links
    ON raw.user_id IS NULL AND raw.anonymous_id = links.anonymous_id
), ordered AS (
  SELECT
    keyed.*,
    LAG(us) OVER (
      PARTITION BY person, type IN ('email_open', 'email_click', 'identify')
      ORDER BY us, message_id
    ) AS previous_us,
    ROW_NUMBER() OVER (
      PARTITION BY person, type IN ('email_open', 'email_click', 'identify')
      ORDER BY us, message_id
    ) AS seq
  FROM keyed
), visits AS (
  SELECT
    ordered.*,
    SUM(CASE WHEN previous_us IS NULL OR us - previous_us > 1800000000 THEN 1 ELSE 0 END) OVER (
      PARTITION BY person, type IN ('email_open', 'email_click', 'identify')
      ORDER BY us, message_id
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
    person,
    seq,
    session,
    CASE
      WHEN type = 'product_view'
      THEN CAST(MIN(us) OVER (
        PARTITION BY person, session
        ORDER BY us
        RANGE BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING
      ) - us AS DOUBLE) / 1000000.0
    END AS dwell_s
  FROM (
    SELECT
      visits.*,
      CASE
        WHEN type IN ('email_open', 'email_click', 'identify')
        THEN NULL
        ELSE COALESCE(session_id, CONCAT('~', CAST(visit AS TEXT)))
      END AS session
    FROM visits
  ) AS assigned
), sessions AS (
  SELECT
    CAST(person AS TEXT) AS person,
    CAST(session AS TEXT) AS session,
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
    CAST(CASE WHEN MAX(us) >= 1767612600000000 THEN 1 ELSE 0 END AS BIGINT) AS is_open
  FROM ev
  WHERE
    NOT session IS NULL
  GROUP BY
    person,
    session
), people AS (
  SELECT DISTINCT
    person
  FROM ev
), by_events AS (
  SELECT
    person,
    CAST(1767614400000000 - MAX(CASE WHEN type IN ('purchase') THEN us END) AS DOUBLE) / 86400000000.0 AS days_since_last_purchase,
    CAST(1767614400000000 - MAX(CASE WHEN NOT type IN ('email_open', 'email_click', 'identify') THEN us END) AS DOUBLE) / 86400000000.0 AS days_since_last_visit,
    SUM(CASE WHEN type IN ('purchase') AND us >= 1765026000000000 THEN 1 ELSE 0 END) AS orders_30d,
    COALESCE(
      SUM(CASE WHEN type IN ('purchase') AND us >= 1765026000000000 THEN revenue END),
      0.0
    ) AS revenue_30d,
    SUM(CASE WHEN type IN ('purchase') AND us >= 1759881600000000 THEN 1 ELSE 0 END) AS orders_90d,
    COALESCE(
      SUM(CASE WHEN type IN ('purchase') AND us >= 1759881600000000 THEN revenue END),
      0.0
    ) AS revenue_90d,
    SUM(CASE WHEN us >= 1767613500000000 THEN 1 ELSE 0 END) AS events_15m,
    SUM(CASE WHEN type IN ('page_view') AND us >= 1767613500000000 THEN 1 ELSE 0 END) AS page_views_15m,
    SUM(CASE WHEN type IN ('product_view') AND us >= 1767613500000000 THEN 1 ELSE 0 END) AS product_views_15m,
    SUM(CASE WHEN type IN ('click') AND us >= 1767613500000000 THEN 1 ELSE 0 END) AS clicks_15m,
    SUM(CASE WHEN type IN ('scroll') AND us >= 1767613500000000 THEN 1 ELSE 0 END) AS scrolls_15m,
    SUM(CASE WHEN type IN ('search') AND us >= 1767613500000000 THEN 1 ELSE 0 END) AS searches_15m,
    SUM(CASE WHEN type IN ('add_to_cart') AND us >= 1767613500000000 THEN 1 ELSE 0 END) AS add_to_carts_15m,
    SUM(
      CASE WHEN type IN ('remove_from_cart') AND us >= 1767613500000000 THEN 1 ELSE 0 END
    ) AS removes_from_cart_15m,
    SUM(
      CASE WHEN type IN ('add_to_wishlist') AND us >= 1767613500000000 THEN 1 ELSE 0 END
    ) AS wishlist_adds_15m,
    SUM(CASE WHEN type IN ('purchase') AND us >= 1767613500000000 THEN 1 ELSE 0 END) AS purchases_15m,
    SUM(CASE WHEN us >= 1767610800000000 THEN 1 ELSE 0 END) AS events_1h,
    SUM(CASE WHEN type IN ('page_view') AND us >= 1767610800000000 THEN 1 ELSE 0 END) AS page_views_1h,
    SUM(CASE WHEN type IN ('product_view') AND us >= 1767610800000000 THEN 1 ELSE 0 END) AS product_views_1h,
    SUM(CASE WHEN type IN ('click') AND us >= 1767610800000000 THEN 1 ELSE 0 END) AS clicks_1h,
    SUM(CASE WHEN type IN ('scroll') AND us >= 1767610800000000 THEN 1 ELSE 0 END) AS scrolls_1h,
    SUM(CASE WHEN type IN ('search') AND us >= 1767610800000000 THEN 1 ELSE 0 END) AS searches_1h,
    SUM(CASE WHEN type IN ('add_to_cart') AND us >= 1767610800000000 THEN 1 ELSE 0 END) AS add_to_carts_1h,
    SUM(
      CASE WHEN type IN ('remove_from_cart') AND us >= 1767610800000000 THEN 1 ELSE 0 END
    ) AS removes_from_cart_1h,
    SUM(
      CASE WHEN type IN ('add_to_wishlist') AND us >= 1767610800000000 THEN 1 ELSE 0 END
    ) AS wishlist_adds_1h,
    SUM(CASE WHEN type IN ('purchase') AND us >= 1767610800000000 THEN 1 ELSE 0 END) AS purchases_1h,
    SUM(CASE WHEN us >= 1767528300000000 THEN 1 ELSE 0 END) AS events_24h,
    SUM(CASE WHEN type IN ('page_view') AND us >= 1767528300000000 THEN 1 ELSE 0 END) AS page_views_24h,
    SUM(CASE WHEN type IN ('product_view') AND us >= 1767528300000000 THEN 1 ELSE 0 END) AS product_views_24h,
    SUM(CASE WHEN type IN ('click') AND us >= 1767528300000000 THEN 1 ELSE 0 END) AS clicks_24h,
    SUM(CASE WHEN type IN ('scroll') AND us >= 1767528300000000 THEN 1 ELSE 0 END) AS scrolls_24h,
    SUM(CASE WHEN type IN ('search') AND us >= 1767528300000000 THEN 1 ELSE 0 END) AS searches_24h,
    SUM(CASE WHEN type IN ('add_to_cart') AND us >= 1767528300000000 THEN 1 ELSE 0 END) AS add_to_carts_24h,
    SUM(
      CASE WHEN type IN ('remove_from_cart') AND us >= 1767528300000000 THEN 1 ELSE 0 END
    ) AS removes_from_cart_24h,
    SUM(
      CASE WHEN type IN ('add_to_wishlist') AND us >= 1767528300000000 THEN 1 ELSE 0 END
    ) AS wishlist_adds_24h,
    SUM(CASE WHEN type IN ('purchase') AND us >= 1767528300000000 THEN 1 ELSE 0 END) AS purchases_24h,
    SUM(CASE WHEN us >= 1767013200000000 THEN 1 ELSE 0 END) AS events_7d,
    SUM(CASE WHEN type IN ('page_view') AND us >= 1767013200000000 THEN 1 ELSE 0 END) AS page_views_7d,
    SUM(CASE WHEN type IN ('product_view') AND us >= 1767013200000000 THEN 1 ELSE 0 END) AS product_views_7d,
    SUM(CASE WHEN type IN ('click') AND us >= 1767013200000000 THEN 1 ELSE 0 END) AS clicks_7d,
    SUM(CASE WHEN type IN ('scroll') AND us >= 1767013200000000 THEN 1 ELSE 0 END) AS scrolls_7d,
    SUM(CASE WHEN type IN ('search') AND us >= 1767013200000000 THEN 1 ELSE 0 END) AS searches_7d,
    SUM(CASE WHEN type IN ('add_to_cart') AND us >= 1767013200000000 THEN 1 ELSE 0 END) AS add_to_carts_7d,
    SUM(
      CASE WHEN type IN ('remove_from_cart') AND us >= 1767013200000000 THEN 1 ELSE 0 END
    ) AS removes_from_cart_7d,
    SUM(
      CASE WHEN type IN ('add_to_wishlist') AND us >= 1767013200000000 THEN 1 ELSE 0 END
    ) AS wishlist_adds_7d,
    SUM(CASE WHEN type IN ('purchase') AND us >= 1767013200000000 THEN 1 ELSE 0 END) AS purchases_7d,
    SUM(CASE WHEN us >= 1765026000000000 THEN 1 ELSE 0 END) AS events_30d,
    SUM(CASE WHEN type IN ('page_view') AND us >= 1765026000000000 THEN 1 ELSE 0 END) AS page_views_30d,
    SUM(CASE WHEN type IN ('product_view') AND us >= 1765026000000000 THEN 1 ELSE 0 END) AS product_views_30d,
    SUM(CASE WHEN type IN ('click') AND us >= 1765026000000000 THEN 1 ELSE 0 END) AS clicks_30d,
    SUM(CASE WHEN type IN ('scroll') AND us >= 1765026000000000 THEN 1 ELSE 0 END) AS scrolls_30d,
    SUM(CASE WHEN type IN ('search') AND us >= 1765026000000000 THEN 1 ELSE 0 END) AS searches_30d,
    SUM(CASE WHEN type IN ('add_to_cart') AND us >= 1765026000000000 THEN 1 ELSE 0 END) AS add_to_carts_30d,
    SUM(
      CASE WHEN type IN ('remove_from_cart') AND us >= 1765026000000000 THEN 1 ELSE 0 END
    ) AS removes_from_cart_30d,
    SUM(
      CASE WHEN type IN ('add_to_wishlist') AND us >= 1765026000000000 THEN 1 ELSE 0 END
    ) AS wishlist_adds_30d,
    SUM(CASE WHEN type IN ('purchase') AND us >= 1765026000000000 THEN 1 ELSE 0 END) AS purchases_30d,
    COUNT(
      DISTINCT CASE WHEN type IN ('product_view') AND us >= 1765026000000000 THEN item_id END
    ) AS distinct_items_viewed_30d,
    COUNT(
      DISTINCT CASE WHEN type IN ('product_view') AND us >= 1765026000000000 THEN category END
    ) AS distinct_categories_viewed_30d,
    CAST(1767614400000000 - MIN(CASE WHEN TRUE THEN us END) AS DOUBLE) / 86400000000.0 AS days_since_first_seen,
    SUM(CASE WHEN us >= 1766408400000000 AND us < 1767013200000000 THEN 1 ELSE 0 END) AS events_7d_before,
    SUM(CASE WHEN type IN ('email_open') AND us >= 1765026000000000 THEN 1 ELSE 0 END) AS email_opens_30d,
    SUM(CASE WHEN type IN ('email_click') AND us >= 1765026000000000 THEN 1 ELSE 0 END) AS email_clicks_30d
  FROM ev
  GROUP BY
    person
), by_sessions AS (
  SELECT
    person,
    SUM(CASE WHEN start_us >= 1765026000000000 THEN 1 ELSE 0 END) AS sessions_30d,
    SUM(CASE WHEN start_us >= 1765026000000000 THEN abandoned ELSE 0 END) AS abandoned_carts_30d,
    AVG(CASE WHEN start_us >= 1765026000000000 THEN duration_s END) AS mean_session_seconds_30d,
    MEDIAN(CASE WHEN start_us >= 1765026000000000 THEN duration_s END) AS median_session_seconds_30d,
    AVG(CASE WHEN start_us >= 1765026000000000 THEN max_scroll END) AS mean_scroll_depth_30d,
    AVG(CASE WHEN start_us >= 1765026000000000 THEN bounced END) AS bounce_rate_30d,
    AVG(CASE WHEN start_us >= 1765026000000000 THEN views END) AS pages_per_session_30d,
    SUM(CASE WHEN start_us >= 1765026000000000 THEN dwell_s END) / NULLIF(SUM(CASE WHEN start_us >= 1765026000000000 THEN dwelled END), 0) AS mean_dwell_seconds_30d,
    SUM(CASE WHEN is_open = 1 THEN events ELSE 0 END) AS current_session_events,
    SUM(CASE WHEN is_open = 1 THEN duration_s ELSE 0 END) AS current_session_seconds,
    SUM(CASE WHEN is_open = 1 THEN views ELSE 0 END) AS current_session_views,
    SUM(CASE WHEN is_open = 1 THEN abandoned ELSE 0 END) AS current_session_abandoned_cart,
    AVG(CASE WHEN is_open = 1 THEN max_scroll END) AS current_session_max_scroll,
    SUM(CASE WHEN is_open = 1 THEN events END) / NULLIF(SUM(CASE WHEN is_open = 1 THEN minutes END), 0) AS session_activity_score
  FROM sessions
  GROUP BY
    person
), rank_bcd01f17 AS (
  SELECT
    person,
    v AS value,
    CAST(n AS DOUBLE) / SUM(n) OVER (PARTITION BY person) AS share,
    ROW_NUMBER() OVER (PARTITION BY person ORDER BY n DESC, v ASC) AS position
  FROM (
    SELECT
      person,
      CAST(FLOOR(us / 3600000000.0) AS BIGINT) % 24 AS v,
      COUNT(*) AS n
    FROM ev
    WHERE
      us >= 1765026000000000
      AND NOT CAST(FLOOR(us / 3600000000.0) AS BIGINT) % 24 IS NULL
    GROUP BY
      person,
      v
  ) AS counted
), by_rank_bcd01f17 AS (
  SELECT
    person,
    MAX(CASE WHEN position = 1 THEN value END) AS preferred_hour
  FROM rank_bcd01f17
  GROUP BY
    person
), rank_3298d1b2 AS (
  SELECT
    person,
    v AS value,
    CAST(n AS DOUBLE) / SUM(n) OVER (PARTITION BY person) AS share,
    ROW_NUMBER() OVER (PARTITION BY person ORDER BY n DESC, v ASC) AS position
  FROM (
    SELECT
      person,
      (
        CAST(FLOOR(us / 86400000000.0) AS BIGINT) + 3
      ) % 7 AS v,
      COUNT(*) AS n
    FROM ev
    WHERE
      us >= 1765026000000000
      AND NOT (
        CAST(FLOOR(us / 86400000000.0) AS BIGINT) + 3
      ) % 7 IS NULL
    GROUP BY
      person,
      v
  ) AS counted
), by_rank_3298d1b2 AS (
  SELECT
    person,
    MAX(CASE WHEN position = 1 THEN value END) AS preferred_weekday
  FROM rank_3298d1b2
  GROUP BY
    person
), rank_a3db5976 AS (
  SELECT
    person,
    v AS value,
    CAST(n AS DOUBLE) / SUM(n) OVER (PARTITION BY person) AS share,
    ROW_NUMBER() OVER (PARTITION BY person ORDER BY n DESC, v ASC) AS position
  FROM (
    SELECT
      person,
      category AS v,
      COUNT(*) AS n
    FROM ev
    WHERE
      type IN ('product_view', 'add_to_cart', 'add_to_wishlist', 'purchase')
      AND us >= 1765026000000000
      AND NOT category IS NULL
    GROUP BY
      person,
      v
  ) AS counted
), by_rank_a3db5976 AS (
  SELECT
    person,
    MAX(CASE WHEN position = 1 THEN value END) AS top_category_1,
    MAX(CASE WHEN position = 1 THEN share END) AS top_category_1_share,
    MAX(CASE WHEN position = 2 THEN value END) AS top_category_2,
    MAX(CASE WHEN position = 2 THEN share END) AS top_category_2_share,
    MAX(CASE WHEN position = 3 THEN value END) AS top_category_3,
    MAX(CASE WHEN position = 3 THEN share END) AS top_category_3_share
  FROM rank_a3db5976
  GROUP BY
    person
), base AS (
  SELECT
    people.person,
    by_events.days_since_last_purchase,
    by_events.days_since_last_visit,
    by_events.orders_30d,
    by_events.revenue_30d,
    by_events.orders_90d,
    by_events.revenue_90d,
    by_events.events_15m,
    by_events.page_views_15m,
    by_events.product_views_15m,
    by_events.clicks_15m,
    by_events.scrolls_15m,
    by_events.searches_15m,
    by_events.add_to_carts_15m,
    by_events.removes_from_cart_15m,
    by_events.wishlist_adds_15m,
    by_events.purchases_15m,
    by_events.events_1h,
    by_events.page_views_1h,
    by_events.product_views_1h,
    by_events.clicks_1h,
    by_events.scrolls_1h,
    by_events.searches_1h,
    by_events.add_to_carts_1h,
    by_events.removes_from_cart_1h,
    by_events.wishlist_adds_1h,
    by_events.purchases_1h,
    by_events.events_24h,
    by_events.page_views_24h,
    by_events.product_views_24h,
    by_events.clicks_24h,
    by_events.scrolls_24h,
    by_events.searches_24h,
    by_events.add_to_carts_24h,
    by_events.removes_from_cart_24h,
    by_events.wishlist_adds_24h,
    by_events.purchases_24h,
    by_events.events_7d,
    by_events.page_views_7d,
    by_events.product_views_7d,
    by_events.clicks_7d,
    by_events.scrolls_7d,
    by_events.searches_7d,
    by_events.add_to_carts_7d,
    by_events.removes_from_cart_7d,
    by_events.wishlist_adds_7d,
    by_events.purchases_7d,
    by_events.events_30d,
    by_events.page_views_30d,
    by_events.product_views_30d,
    by_events.clicks_30d,
    by_events.scrolls_30d,
    by_events.searches_30d,
    by_events.add_to_carts_30d,
    by_events.removes_from_cart_30d,
    by_events.wishlist_adds_30d,
    by_events.purchases_30d,
    by_events.distinct_items_viewed_30d,
    by_events.distinct_categories_viewed_30d,
    by_events.days_since_first_seen,
    by_events.events_7d_before,
    by_events.email_opens_30d,
    by_events.email_clicks_30d,
    by_sessions.sessions_30d,
    by_sessions.abandoned_carts_30d,
    by_sessions.mean_session_seconds_30d,
    by_sessions.median_session_seconds_30d,
    by_sessions.mean_scroll_depth_30d,
    by_sessions.bounce_rate_30d,
    by_sessions.pages_per_session_30d,
    by_sessions.mean_dwell_seconds_30d,
    by_sessions.current_session_events,
    by_sessions.current_session_seconds,
    by_sessions.current_session_views,
    by_sessions.current_session_abandoned_cart,
    by_sessions.current_session_max_scroll,
    by_sessions.session_activity_score,
    by_rank_bcd01f17.preferred_hour,
    by_rank_3298d1b2.preferred_weekday,
    by_rank_a3db5976.top_category_1,
    by_rank_a3db5976.top_category_1_share,
    by_rank_a3db5976.top_category_2,
    by_rank_a3db5976.top_category_2_share,
    by_rank_a3db5976.top_category_3,
    by_rank_a3db5976.top_category_3_share
  FROM people
  LEFT JOIN by_events
    ON by_events.person = people.person
  LEFT JOIN by_sessions
    ON by_sessions.person = people.person
  LEFT JOIN by_rank_bcd01f17
    ON by_rank_bcd01f17.person = people.person
  LEFT JOIN by_rank_3298d1b2
    ON by_rank_3298d1b2.person = people.person
  LEFT JOIN by_rank_a3db5976
    ON by_rank_a3db5976.person = people.person
), derived AS (
  SELECT
    base.*,
    CAST(product_views_30d AS DOUBLE) / NULLIF(sessions_30d, 0) AS views_per_session_30d,
    CAST(purchases_30d AS DOUBLE) / NULLIF(add_to_carts_30d, 0) AS cart_to_purchase_30d,
    CAST(add_to_carts_30d AS DOUBLE) / NULLIF(product_views_30d, 0) AS view_to_cart_30d,
    CAST(events_7d - events_7d_before AS DOUBLE) / NULLIF(events_7d + events_7d_before, 0) AS trend_7d,
    CAST(email_clicks_30d AS DOUBLE) / NULLIF(email_opens_30d, 0) AS email_ctr_30d
  FROM base
), population AS (
  SELECT
    person,
    CASE
      WHEN days_since_last_purchase IS NULL
      THEN 1
      ELSE CAST(LEAST(
        5,
        1 + FLOOR(
          5 * PERCENT_RANK() OVER (
            PARTITION BY days_since_last_purchase IS NULL
            ORDER BY days_since_last_purchase DESC
          )
        )
      ) AS BIGINT)
    END AS recency_score,
    CASE
      WHEN orders_90d IS NULL
      THEN 1
      ELSE CAST(LEAST(
        5,
        1 + FLOOR(
          5 * PERCENT_RANK() OVER (PARTITION BY orders_90d IS NULL ORDER BY orders_90d ASC)
        )
      ) AS BIGINT)
    END AS frequency_score,
    CASE
      WHEN revenue_90d IS NULL
      THEN 1
      ELSE CAST(LEAST(
        5,
        1 + FLOOR(
          5 * PERCENT_RANK() OVER (PARTITION BY revenue_90d IS NULL ORDER BY revenue_90d ASC)
        )
      ) AS BIGINT)
    END AS monetary_score
  FROM derived
)
SELECT
  derived.person AS user_id,
  CAST(derived.days_since_last_purchase AS DOUBLE) AS days_since_last_purchase,
  CAST(derived.days_since_last_visit AS DOUBLE) AS days_since_last_visit,
  CAST(derived.orders_30d AS BIGINT) AS orders_30d,
  CAST(derived.revenue_30d AS DOUBLE) AS revenue_30d,
  CAST(derived.orders_90d AS BIGINT) AS orders_90d,
  CAST(derived.revenue_90d AS DOUBLE) AS revenue_90d,
  CAST(population.recency_score AS BIGINT) AS recency_score,
  CAST(population.frequency_score AS BIGINT) AS frequency_score,
  CAST(population.monetary_score AS BIGINT) AS monetary_score,
  CAST(derived.events_15m AS BIGINT) AS events_15m,
  CAST(derived.page_views_15m AS BIGINT) AS page_views_15m,
  CAST(derived.product_views_15m AS BIGINT) AS product_views_15m,
  CAST(derived.clicks_15m AS BIGINT) AS clicks_15m,
  CAST(derived.scrolls_15m AS BIGINT) AS scrolls_15m,
  CAST(derived.searches_15m AS BIGINT) AS searches_15m,
  CAST(derived.add_to_carts_15m AS BIGINT) AS add_to_carts_15m,
  CAST(derived.removes_from_cart_15m AS BIGINT) AS removes_from_cart_15m,
  CAST(derived.wishlist_adds_15m AS BIGINT) AS wishlist_adds_15m,
  CAST(derived.purchases_15m AS BIGINT) AS purchases_15m,
  CAST(derived.events_1h AS BIGINT) AS events_1h,
  CAST(derived.page_views_1h AS BIGINT) AS page_views_1h,
  CAST(derived.product_views_1h AS BIGINT) AS product_views_1h,
  CAST(derived.clicks_1h AS BIGINT) AS clicks_1h,
  CAST(derived.scrolls_1h AS BIGINT) AS scrolls_1h,
  CAST(derived.searches_1h AS BIGINT) AS searches_1h,
  CAST(derived.add_to_carts_1h AS BIGINT) AS add_to_carts_1h,
  CAST(derived.removes_from_cart_1h AS BIGINT) AS removes_from_cart_1h,
  CAST(derived.wishlist_adds_1h AS BIGINT) AS wishlist_adds_1h,
  CAST(derived.purchases_1h AS BIGINT) AS purchases_1h,
  CAST(derived.events_24h AS BIGINT) AS events_24h,
  CAST(derived.page_views_24h AS BIGINT) AS page_views_24h,
  CAST(derived.product_views_24h AS BIGINT) AS product_views_24h,
  CAST(derived.clicks_24h AS BIGINT) AS clicks_24h,
  CAST(derived.scrolls_24h AS BIGINT) AS scrolls_24h,
  CAST(derived.searches_24h AS BIGINT) AS searches_24h,
  CAST(derived.add_to_carts_24h AS BIGINT) AS add_to_carts_24h,
  CAST(derived.removes_from_cart_24h AS BIGINT) AS removes_from_cart_24h,
  CAST(derived.wishlist_adds_24h AS BIGINT) AS wishlist_adds_24h,
  CAST(derived.purchases_24h AS BIGINT) AS purchases_24h,
  CAST(derived.events_7d AS BIGINT) AS events_7d,
  CAST(derived.page_views_7d AS BIGINT) AS page_views_7d,
  CAST(derived.product_views_7d AS BIGINT) AS product_views_7d,
  CAST(derived.clicks_7d AS BIGINT) AS clicks_7d,
  CAST(derived.scrolls_7d AS BIGINT) AS scrolls_7d,
  CAST(derived.searches_7d AS BIGINT) AS searches_7d,
  CAST(derived.add_to_carts_7d AS BIGINT) AS add_to_carts_7d,
  CAST(derived.removes_from_cart_7d AS BIGINT) AS removes_from_cart_7d,
  CAST(derived.wishlist_adds_7d AS BIGINT) AS wishlist_adds_7d,
  CAST(derived.purchases_7d AS BIGINT) AS purchases_7d,
  CAST(derived.events_30d AS BIGINT) AS events_30d,
  CAST(derived.page_views_30d AS BIGINT) AS page_views_30d,
  CAST(derived.product_views_30d AS BIGINT) AS product_views_30d,
  CAST(derived.clicks_30d AS BIGINT) AS clicks_30d,
  CAST(derived.scrolls_30d AS BIGINT) AS scrolls_30d,
  CAST(derived.searches_30d AS BIGINT) AS searches_30d,
  CAST(derived.add_to_carts_30d AS BIGINT) AS add_to_carts_30d,
  CAST(derived.removes_from_cart_30d AS BIGINT) AS removes_from_cart_30d,
  CAST(derived.wishlist_adds_30d AS BIGINT) AS wishlist_adds_30d,
  CAST(derived.purchases_30d AS BIGINT) AS purchases_30d,
  CAST(derived.distinct_items_viewed_30d AS BIGINT) AS distinct_items_viewed_30d,
  CAST(derived.distinct_categories_viewed_30d AS BIGINT) AS distinct_categories_viewed_30d,
  CAST(derived.views_per_session_30d AS DOUBLE) AS views_per_session_30d,
  CAST(derived.cart_to_purchase_30d AS DOUBLE) AS cart_to_purchase_30d,
  CAST(derived.view_to_cart_30d AS DOUBLE) AS view_to_cart_30d,
  CAST(derived.sessions_30d AS BIGINT) AS sessions_30d,
  CAST(derived.abandoned_carts_30d AS BIGINT) AS abandoned_carts_30d,
  CAST(derived.mean_session_seconds_30d AS DOUBLE) AS mean_session_seconds_30d,
  CAST(derived.median_session_seconds_30d AS DOUBLE) AS median_session_seconds_30d,
  CAST(derived.mean_scroll_depth_30d AS DOUBLE) AS mean_scroll_depth_30d,
  CAST(derived.bounce_rate_30d AS DOUBLE) AS bounce_rate_30d,
  CAST(derived.pages_per_session_30d AS DOUBLE) AS pages_per_session_30d,
  CAST(derived.mean_dwell_seconds_30d AS DOUBLE) AS mean_dwell_seconds_30d,
  CAST(derived.current_session_events AS BIGINT) AS current_session_events,
  CAST(derived.current_session_seconds AS DOUBLE) AS current_session_seconds,
  CAST(derived.current_session_views AS BIGINT) AS current_session_views,
  CAST(derived.current_session_abandoned_cart AS BIGINT) AS current_session_abandoned_cart,
  CAST(derived.current_session_max_scroll AS DOUBLE) AS current_session_max_scroll,
  CAST(derived.session_activity_score AS DOUBLE) AS session_activity_score,
  CAST(derived.preferred_hour AS BIGINT) AS preferred_hour,
  CAST(derived.preferred_weekday AS BIGINT) AS preferred_weekday,
  CAST(derived.days_since_first_seen AS DOUBLE) AS days_since_first_seen,
  CAST(derived.events_7d_before AS BIGINT) AS events_7d_before,
  CAST(derived.trend_7d AS DOUBLE) AS trend_7d,
  CAST(derived.top_category_1 AS TEXT) AS top_category_1,
  CAST(derived.top_category_1_share AS DOUBLE) AS top_category_1_share,
  CAST(derived.top_category_2 AS TEXT) AS top_category_2,
  CAST(derived.top_category_2_share AS DOUBLE) AS top_category_2_share,
  CAST(derived.top_category_3 AS TEXT) AS top_category_3,
  CAST(derived.top_category_3_share AS DOUBLE) AS top_category_3_share,
  CAST(derived.email_opens_30d AS BIGINT) AS email_opens_30d,
  CAST(derived.email_clicks_30d AS BIGINT) AS email_clicks_30d,
  CAST(derived.email_ctr_30d AS DOUBLE) AS email_ctr_30d
FROM derived
LEFT JOIN population
  ON population.person = derived.person
ORDER BY
  user_id
