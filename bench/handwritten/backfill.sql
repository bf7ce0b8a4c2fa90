-- Every entity's features (examples/streaming/features.ts) as of one time, written by hand for
-- DuckDB. With a single t this is one GROUP BY per entity with FILTERed aggregates: the events
-- before t, each window's start fixed at floor((t - W) / H) * H.
-- Placeholders: {{events}} {{items}} {{users}} {{at}} {{out}}.

SET VARIABLE t_at = CAST({{at}} AS BIGINT);
SET VARIABLE s1d = getvariable('t_at') - 86400000 - (getvariable('t_at') - 86400000) % 3600000;
SET VARIABLE s7d = getvariable('t_at') - 604800000 - (getvariable('t_at') - 604800000) % 3600000;
SET VARIABLE s30d = getvariable('t_at') - 2592000000 - (getvariable('t_at') - 2592000000) % 86400000;

CREATE TEMP MACRO hour_bucket(x) AS CASE WHEN x // 3600000 % 24 < 6 THEN 'night' WHEN x // 3600000 % 24 < 12 THEN 'morning' WHEN x // 3600000 % 24 < 18 THEN 'afternoon' ELSE 'evening' END;

CREATE TEMP TABLE ev AS
  SELECT event_id, user_id, item_id, ts, type, value, device,
    CASE WHEN duration > 0 THEN value / duration END AS wf,
    CAST(CASE type WHEN 'complete' THEN 3 WHEN 'play' THEN 1 WHEN 'add_to_list' THEN 2 WHEN 'rating' THEN 1 WHEN 'skip' THEN -1 ELSE 0 END AS DOUBLE) AS weight
  FROM {{events}}
  WHERE ts < getvariable('t_at');

-- user_engagement, user_abandons
CREATE TEMP TABLE b_user AS
  SELECT user_id,
    count(*) FILTER (WHERE type = 'play' AND ts >= getvariable('s1d')) AS play_count_1d,
    count(*) FILTER (WHERE type = 'play' AND ts >= getvariable('s7d')) AS play_count_7d,
    count(*) FILTER (WHERE type = 'play' AND ts >= getvariable('s30d')) AS play_count_30d,
    count(*) FILTER (WHERE type = 'play') AS play_count_lifetime,
    count(*) FILTER (WHERE type = 'complete' AND ts >= getvariable('s7d')) AS complete_count_7d,
    count(*) FILTER (WHERE type = 'complete' AND ts >= getvariable('s30d')) AS complete_count_30d,
    count(*) FILTER (WHERE type = 'skip' AND ts >= getvariable('s7d')) AS skip_count_7d,
    count(*) FILTER (WHERE type = 'search' AND ts >= getvariable('s7d')) AS search_count_7d,
    avg(wf) FILTER (WHERE type IN ('pause', 'complete') AND ts >= getvariable('s7d')) AS wf_mean_7d,
    avg(wf) FILTER (WHERE type IN ('pause', 'complete') AND ts >= getvariable('s30d')) AS wf_mean_30d,
    stddev_pop(wf) FILTER (WHERE type IN ('pause', 'complete') AND ts >= getvariable('s30d')) AS wf_stddev_30d,
    sum(value) FILTER (WHERE type IN ('pause', 'complete') AND ts >= getvariable('s7d')) AS seconds_watched_7d,
    sum(weight * pow(2.0, (ts - getvariable('t_at')) / 86400000.0)) AS engagement_short,
    sum(weight * pow(2.0, (ts - getvariable('t_at')) / 2592000000.0)) AS engagement_long,
    count(DISTINCT item_id) FILTER (WHERE type = 'play' AND ts >= getvariable('s30d')) AS play_items_30d,
    arg_max(device, (ts, event_id)) FILTER (WHERE device IS NOT NULL) AS last_device,
    arg_min(type, (ts, event_id)) AS first_event_type,
    count(*) FILTER (WHERE type = 'pause' AND wf < 0.2 AND ts >= getvariable('s7d')) AS abandons_7d,
    count(*) FILTER (WHERE type = 'pause' AND wf < 0.2 AND ts >= getvariable('s30d')) AS abandons_30d
  FROM ev GROUP BY user_id;

CREATE TEMP TABLE b_recent_plays AS
  SELECT user_id, list(item_id ORDER BY ts DESC, item_id DESC)[1:10] AS recent_plays
  FROM (SELECT user_id, item_id, max(ts) AS ts FROM ev WHERE type = 'play' AND item_id IS NOT NULL GROUP BY user_id, item_id)
  GROUP BY user_id;

-- user_genre_taste
CREATE TEMP TABLE b_genre AS
  SELECT user_id,
    map_from_entries(list({'key': genre, 'value': w_life} ORDER BY genre)) AS genre_affinity,
    coalesce((list(genre ORDER BY w_7d DESC, genre ASC) FILTER (WHERE n_7d > 0))[1:3], CAST([] AS VARCHAR[])) AS top_genres
  FROM (
    SELECT e.user_id, g.genre, sum(e.weight) AS w_life,
      count(*) FILTER (WHERE e.ts >= getvariable('s7d')) AS n_7d,
      sum(e.weight) FILTER (WHERE e.ts >= getvariable('s7d')) AS w_7d
    FROM ev AS e JOIN (SELECT DISTINCT item_id, unnest(genres) AS genre FROM read_parquet('{{items}}')) AS g ON g.item_id = e.item_id
    GROUP BY e.user_id, g.genre
  )
  GROUP BY user_id;

-- user_negatives: an impression with no play of the item in (ts, ts + 10m], known at ts + 10m.
CREATE TEMP TABLE neg AS
  SELECT user_id, item_id, ts + 600000 AS ts FROM (
    SELECT user_id, item_id, ts, type,
      count(*) FILTER (WHERE type = 'play') OVER (PARTITION BY user_id, item_id ORDER BY ts RANGE BETWEEN 1 FOLLOWING AND 600000 FOLLOWING) AS played
    FROM ev WHERE type IN ('impression', 'play') AND item_id IS NOT NULL
  )
  WHERE type = 'impression' AND played = 0 AND ts + 600000 < getvariable('t_at');
CREATE TEMP TABLE b_neg AS
  SELECT c.user_id, c.ignored_1d, c.ignored_7d, l.recently_ignored
  FROM (
    SELECT user_id, count(*) FILTER (WHERE ts >= getvariable('s1d')) AS ignored_1d, count(*) FILTER (WHERE ts >= getvariable('s7d')) AS ignored_7d
    FROM neg GROUP BY user_id
  ) AS c
  JOIN (
    SELECT user_id, list(item_id ORDER BY ts DESC, item_id DESC)[1:20] AS recently_ignored
    FROM (SELECT user_id, item_id, max(ts) AS ts FROM neg GROUP BY user_id, item_id) GROUP BY user_id
  ) AS l USING (user_id);

-- user_session: the session open at t is the one of the user's last event, if that is under 30 minutes before t.
CREATE TEMP TABLE b_session AS
  WITH marked AS (
    SELECT user_id, ts, item_id, ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts) AS gap FROM ev
  ),
  starts AS (
    SELECT user_id, max(ts) FILTER (WHERE gap IS NULL OR gap >= 1800000) AS start_ts, max(ts) AS last_ts FROM marked GROUP BY user_id
  )
  SELECT s.user_id, count(*) AS session_event_count, count(DISTINCT m.item_id) AS session_item_count,
    s.last_ts - s.start_ts AS session_length_ms, getvariable('t_at') - s.start_ts AS session_age_ms
  FROM starts AS s JOIN marked AS m ON m.user_id = s.user_id AND m.ts >= s.start_ts
  WHERE getvariable('t_at') - s.last_ts < 1800000
  GROUP BY s.user_id, s.start_ts, s.last_ts;

CREATE TEMP TABLE user_keys AS
  SELECT DISTINCT user_id FROM (
    SELECT user_id FROM ev
    UNION ALL SELECT user_id FROM neg
    UNION ALL SELECT user_id FROM read_parquet('{{users}}')
  ) WHERE user_id IS NOT NULL;

CREATE TEMP TABLE b_item AS
  SELECT item_id,
    count(*) FILTER (WHERE type = 'play' AND ts >= getvariable('s1d')) AS play_count_1d,
    count(*) FILTER (WHERE type = 'play' AND ts >= getvariable('s7d')) AS play_count_7d,
    count(*) FILTER (WHERE type = 'play' AND ts >= getvariable('s30d')) AS play_count_30d,
    count(*) FILTER (WHERE type = 'impression' AND ts >= getvariable('s7d')) AS impression_count_7d,
    count(*) FILTER (WHERE type = 'complete' AND ts >= getvariable('s7d')) AS complete_count_7d,
    count(DISTINCT user_id) FILTER (WHERE type = 'play' AND ts >= getvariable('s7d')) AS play_users_7d,
    avg(wf) FILTER (WHERE type IN ('pause', 'complete') AND ts >= getvariable('s30d')) AS wf_mean_30d
  FROM ev WHERE item_id IS NOT NULL GROUP BY item_id;

COPY (
  SELECT 'user' AS entity, k.user_id,
    coalesce(u.play_count_1d, 0) AS user_engagement__play_count_1d,
    coalesce(u.play_count_7d, 0) AS user_engagement__play_count_7d,
    coalesce(u.play_count_30d, 0) AS user_engagement__play_count_30d,
    coalesce(u.play_count_lifetime, 0) AS user_engagement__play_count_lifetime,
    coalesce(u.complete_count_7d, 0) AS user_engagement__complete_count_7d,
    coalesce(u.complete_count_30d, 0) AS user_engagement__complete_count_30d,
    coalesce(u.skip_count_7d, 0) AS user_engagement__skip_count_7d,
    coalesce(u.search_count_7d, 0) AS user_engagement__search_count_7d,
    u.wf_mean_7d AS user_engagement__pause_complete_watch_fraction_mean_7d,
    u.wf_mean_30d AS user_engagement__pause_complete_watch_fraction_mean_30d,
    u.wf_stddev_30d AS user_engagement__pause_complete_watch_fraction_stddev_30d,
    coalesce(u.seconds_watched_7d, 0) AS user_engagement__seconds_watched_7d,
    coalesce(u.engagement_short, 0) AS user_engagement__engagement_short,
    coalesce(u.engagement_long, 0) AS user_engagement__engagement_long,
    coalesce(u.play_items_30d, 0) AS user_engagement__play_item_id_count_distinct_30d,
    coalesce(rp.recent_plays, CAST([] AS VARCHAR[])) AS user_engagement__recent_plays,
    u.last_device AS user_engagement__last_device,
    u.first_event_type AS user_engagement__first_event_type,
    CASE WHEN coalesce(u.play_count_30d, 0) <> 0 THEN coalesce(u.complete_count_30d, 0) / u.play_count_30d END AS user_engagement__completion_rate_30d,
    coalesce(g.genre_affinity, MAP {}::MAP(VARCHAR, DOUBLE)) AS user_genre_taste__genre_affinity,
    coalesce(g.top_genres, CAST([] AS VARCHAR[])) AS user_genre_taste__top_genres,
    coalesce(n.ignored_1d, 0) AS user_negatives__ignored_1d,
    coalesce(n.ignored_7d, 0) AS user_negatives__ignored_7d,
    coalesce(n.recently_ignored, CAST([] AS VARCHAR[])) AS user_negatives__recently_ignored,
    coalesce(u.abandons_7d, 0) AS user_abandons__abandons_7d,
    coalesce(u.abandons_30d, 0) AS user_abandons__abandons_30d,
    coalesce(se.session_event_count, 0) AS user_session__session_event_count,
    coalesce(se.session_item_count, 0) AS user_session__session_item_count,
    se.session_length_ms AS user_session__session_length_ms,
    se.session_age_ms AS user_session__session_age_ms,
    us.country AS user_meta__country
  FROM user_keys AS k
  LEFT JOIN b_user AS u USING (user_id)
  LEFT JOIN b_recent_plays AS rp USING (user_id)
  LEFT JOIN b_genre AS g USING (user_id)
  LEFT JOIN b_neg AS n USING (user_id)
  LEFT JOIN b_session AS se USING (user_id)
  LEFT JOIN read_parquet('{{users}}') AS us USING (user_id)
  UNION ALL BY NAME
  SELECT 'user_device' AS entity, user_id, device, count(*) FILTER (WHERE type = 'play' AND ts >= getvariable('s30d')) AS user_device__play_count_30d
  FROM ev WHERE device IS NOT NULL GROUP BY user_id, device
  UNION ALL BY NAME
  SELECT 'user_daypart' AS entity, user_id, hour_bucket(ts) AS hour_bucket, count(*) FILTER (WHERE type = 'play' AND ts >= getvariable('s30d')) AS user_daypart__play_count_30d
  FROM ev GROUP BY user_id, hour_bucket(ts)
  UNION ALL BY NAME
  SELECT 'item' AS entity, k.item_id,
    coalesce(i.play_count_1d, 0) AS item_popularity__play_count_1d,
    coalesce(i.play_count_7d, 0) AS item_popularity__play_count_7d,
    coalesce(i.play_count_30d, 0) AS item_popularity__play_count_30d,
    coalesce(i.impression_count_7d, 0) AS item_popularity__impression_count_7d,
    coalesce(i.complete_count_7d, 0) AS item_popularity__complete_count_7d,
    coalesce(i.play_users_7d, 0) AS item_popularity__play_user_id_count_distinct_7d,
    i.wf_mean_30d AS item_popularity__pause_complete_watch_fraction_mean_30d,
    CASE WHEN coalesce(i.impression_count_7d, 0) <> 0 THEN coalesce(i.play_count_7d, 0) / i.impression_count_7d END AS item_popularity__play_rate_7d,
    CASE WHEN coalesce(i.play_count_30d, 0) <> 0 THEN coalesce(i.play_count_1d, 0) / i.play_count_30d END AS item_popularity__trend_1d_30d,
    coalesce(it.genres, CAST([] AS VARCHAR[])) AS item_meta__genres,
    it.year AS item_meta__year,
    it.duration AS item_meta__duration,
    it.release_ts AS item_meta__release_ts
  FROM (SELECT DISTINCT item_id FROM (SELECT item_id FROM ev UNION ALL SELECT item_id FROM read_parquet('{{items}}')) WHERE item_id IS NOT NULL) AS k
  LEFT JOIN b_item AS i USING (item_id)
  LEFT JOIN read_parquet('{{items}}') AS it USING (item_id)
  UNION ALL BY NAME
  SELECT 'user_item' AS entity, user_id, item_id,
    count(*) FILTER (WHERE type = 'play') AS user_item__plays,
    count(*) FILTER (WHERE type = 'impression' AND ts >= getvariable('s7d')) AS user_item__impressions_7d,
    arg_max(wf, (ts, event_id)) FILTER (WHERE type IN ('pause', 'complete') AND wf IS NOT NULL) AS user_item__last_watch_fraction
  FROM ev WHERE item_id IS NOT NULL GROUP BY user_id, item_id
) TO '{{out}}' (FORMAT parquet);
