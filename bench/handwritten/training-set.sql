-- The demo feature set (examples/streaming/features.ts) as of every spine row, written by hand
-- for DuckDB: what a competent engineer would write instead of using recsignal.
-- Point-in-time: a row at time t sees the events with ts < t. Sawtooth windows start at
-- floor((t - W) / H) * H, hop H = 1h below 12 days, 1d otherwise. Strategy: one window pass per
-- entity over the union of its events and its query rows (RANGE frames whose start depends on
-- the row's own t, ending at 1 PRECEDING), ASOF joins for "latest before t", and, for the
-- "k most recent distinct" lists, a join on the interval during which an event is its item's latest.
-- Placeholders: {{events}} {{items}} {{users}} {{spine}} {{out}}.

CREATE TEMP TABLE spine AS
  SELECT file_row_number AS r, user_id, item_id, ts, label FROM read_parquet('{{spine}}', file_row_number = true);

SET VARIABLE t_max = (SELECT max(ts) FROM spine);
-- Decay anchor: Σ w·2^((ts−t)/h) = 2^((a−t)/h) · Σ w·2^((ts−a)/h), so one running sum serves every t.
SET VARIABLE anchor = (SELECT min(ts) FROM spine);

CREATE TEMP TABLE ev AS
  SELECT event_id, user_id, item_id, ts, type, value, device,
    CASE WHEN duration > 0 THEN value / duration END AS wf,
    CAST(CASE type WHEN 'complete' THEN 3 WHEN 'play' THEN 1 WHEN 'add_to_list' THEN 2 WHEN 'rating' THEN 1 WHEN 'skip' THEN -1 ELSE 0 END AS DOUBLE) AS weight
  FROM {{events}}
  WHERE ts < getvariable('t_max');

CREATE TEMP TABLE q_user AS SELECT DISTINCT user_id, ts AS t FROM spine;

-- user_engagement and user_abandons: the event types they read (weight 0 adds nothing to a decayed sum).
CREATE TEMP TABLE f_user AS
SELECT user_id, ts AS t, * EXCLUDE (user_id, ts, q) FROM (
  SELECT user_id, ts, q,
    count(*) FILTER (WHERE type = 'play') OVER w1d AS play_count_1d,
    count(*) FILTER (WHERE type = 'play') OVER w7d AS play_count_7d,
    count(*) FILTER (WHERE type = 'play') OVER w30d AS play_count_30d,
    count(*) FILTER (WHERE type = 'play') OVER wlife AS play_count_lifetime,
    count(*) FILTER (WHERE type = 'complete') OVER w7d AS complete_count_7d,
    count(*) FILTER (WHERE type = 'complete') OVER w30d AS complete_count_30d,
    count(*) FILTER (WHERE type = 'skip') OVER w7d AS skip_count_7d,
    count(*) FILTER (WHERE type = 'search') OVER w7d AS search_count_7d,
    avg(wf) FILTER (WHERE type IN ('pause', 'complete')) OVER w7d AS wf_mean_7d,
    avg(wf) FILTER (WHERE type IN ('pause', 'complete')) OVER w30d AS wf_mean_30d,
    stddev_pop(wf) FILTER (WHERE type IN ('pause', 'complete')) OVER w30d AS wf_stddev_30d,
    sum(value) FILTER (WHERE type IN ('pause', 'complete')) OVER w7d AS seconds_watched_7d,
    sum(weight * pow(2.0, (ts - getvariable('anchor')) / 86400000.0)) OVER wlife AS short_at_anchor,
    sum(weight * pow(2.0, (ts - getvariable('anchor')) / 2592000000.0)) OVER wlife AS long_at_anchor,
    count(DISTINCT item_id) FILTER (WHERE type = 'play') OVER w30d AS play_items_30d,
    count(*) FILTER (WHERE type = 'pause' AND wf < 0.2) OVER w7d AS abandons_7d,
    count(*) FILTER (WHERE type = 'pause' AND wf < 0.2) OVER w30d AS abandons_30d
  FROM (
    SELECT user_id, ts, type, item_id, value, wf, weight, FALSE AS q FROM ev
      WHERE type IN ('play', 'complete', 'skip', 'search', 'pause', 'add_to_list', 'rating')
    UNION ALL
    SELECT user_id, t, NULL, NULL, NULL, NULL, NULL, TRUE FROM q_user
  )
  WINDOW
    w1d AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN ts - (ts - 86400000) // 3600000 * 3600000 PRECEDING AND 1 PRECEDING),
    w7d AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN ts - (ts - 604800000) // 3600000 * 3600000 PRECEDING AND 1 PRECEDING),
    w30d AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN ts - (ts - 2592000000) // 86400000 * 86400000 PRECEDING AND 1 PRECEDING),
    wlife AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
)
WHERE q;

-- last_device: the latest non-null device before t (ties on ts: the greatest event id).
CREATE TEMP TABLE device_at AS
  SELECT user_id, ts, arg_max(device, event_id) AS device FROM ev WHERE device IS NOT NULL GROUP BY user_id, ts;
-- first_event_type: the user's first event, once it is before t.
CREATE TEMP TABLE first_event AS
  SELECT user_id, min(ts) AS ts, arg_min(type, (ts, event_id)) AS type FROM ev GROUP BY user_id;

-- recent_plays: each (user, item)'s play is the item's latest from its ts until the next play of it.
CREATE TEMP TABLE play_spans AS
  SELECT user_id, item_id, ts, lead(ts) OVER (PARTITION BY user_id, item_id ORDER BY ts) AS next_ts
  FROM (SELECT DISTINCT user_id, item_id, ts FROM ev WHERE type = 'play' AND item_id IS NOT NULL);
CREATE TEMP TABLE f_recent_plays AS
  SELECT q.user_id, q.t, list(p.item_id ORDER BY p.ts DESC, p.item_id DESC)[1:10] AS recent_plays
  FROM q_user AS q JOIN play_spans AS p ON p.user_id = q.user_id AND p.ts < q.t AND (p.next_ts IS NULL OR p.next_ts >= q.t)
  GROUP BY q.user_id, q.t;

-- user_genre_taste: events fanned out to their item's genres; one query row per genre the user has before t.
CREATE TEMP TABLE ev_genre AS
  SELECT e.user_id, e.ts, g.genre, e.weight
  FROM ev AS e JOIN (SELECT DISTINCT item_id, unnest(genres) AS genre FROM read_parquet('{{items}}')) AS g ON g.item_id = e.item_id;
CREATE TEMP TABLE f_genre AS
SELECT user_id, t,
  map_from_entries(list({'key': genre, 'value': w_life} ORDER BY genre)) AS genre_affinity,
  coalesce((list(genre ORDER BY w_7d DESC, genre ASC) FILTER (WHERE n_7d > 0))[1:3], CAST([] AS VARCHAR[])) AS top_genres
FROM (
  SELECT user_id, genre, ts AS t, q,
    sum(weight) OVER wlife AS w_life,
    count(weight) OVER w7d AS n_7d,
    sum(weight) OVER w7d AS w_7d
  FROM (
    SELECT user_id, genre, ts, weight, FALSE AS q FROM ev_genre
    UNION ALL
    SELECT q.user_id, g.genre, q.t, NULL, TRUE
    FROM q_user AS q JOIN (SELECT user_id, genre, min(ts) AS first_ts FROM ev_genre GROUP BY user_id, genre) AS g
      ON g.user_id = q.user_id AND g.first_ts < q.t
  )
  WINDOW
    w7d AS (PARTITION BY user_id, genre ORDER BY ts RANGE BETWEEN ts - (ts - 604800000) // 3600000 * 3600000 PRECEDING AND 1 PRECEDING),
    wlife AS (PARTITION BY user_id, genre ORDER BY ts RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
)
WHERE q
GROUP BY user_id, t;

-- user_negatives: an impression with no play of the item in (ts, ts + 10m] happens at ts + 10m.
CREATE TEMP TABLE neg AS
  SELECT user_id, item_id, ts + 600000 AS ts FROM (
    SELECT user_id, item_id, ts, type,
      count(*) FILTER (WHERE type = 'play') OVER (PARTITION BY user_id, item_id ORDER BY ts RANGE BETWEEN 1 FOLLOWING AND 600000 FOLLOWING) AS played
    FROM ev WHERE type IN ('impression', 'play') AND item_id IS NOT NULL
  )
  WHERE type = 'impression' AND played = 0;
CREATE TEMP TABLE f_neg AS
SELECT user_id, ts AS t, ignored_1d, ignored_7d FROM (
  SELECT user_id, ts, q,
    count(item_id) OVER w1d AS ignored_1d,
    count(item_id) OVER w7d AS ignored_7d
  FROM (SELECT user_id, item_id, ts, FALSE AS q FROM neg UNION ALL SELECT user_id, NULL, t, TRUE FROM q_user)
  WINDOW
    w1d AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN ts - (ts - 86400000) // 3600000 * 3600000 PRECEDING AND 1 PRECEDING),
    w7d AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN ts - (ts - 604800000) // 3600000 * 3600000 PRECEDING AND 1 PRECEDING)
)
WHERE q;
CREATE TEMP TABLE neg_spans AS
  SELECT user_id, item_id, ts, lead(ts) OVER (PARTITION BY user_id, item_id ORDER BY ts) AS next_ts
  FROM (SELECT DISTINCT user_id, item_id, ts FROM neg);
CREATE TEMP TABLE f_recently_ignored AS
  SELECT q.user_id, q.t, list(n.item_id ORDER BY n.ts DESC, n.item_id DESC)[1:20] AS recently_ignored
  FROM q_user AS q JOIN neg_spans AS n ON n.user_id = q.user_id AND n.ts < q.t AND (n.next_ts IS NULL OR n.next_ts >= q.t)
  GROUP BY q.user_id, q.t;

-- user_session: sessions split at 30 minutes of silence; running counts per distinct ts, read as of the latest ts < t.
CREATE TEMP TABLE session_at AS
WITH s AS (
  SELECT user_id, ts, item_id,
    sum(CASE WHEN ts - prev_ts < 1800000 THEN 0 ELSE 1 END) OVER (PARTITION BY user_id ORDER BY ts ROWS UNBOUNDED PRECEDING) AS sid
  FROM (SELECT user_id, ts, item_id, lag(ts) OVER (PARTITION BY user_id ORDER BY ts) AS prev_ts FROM ev)
),
per_ts AS (SELECT user_id, sid, ts, count(*) AS n FROM s GROUP BY ALL),
new_items AS (
  SELECT user_id, ts, count(*) AS k FROM (SELECT user_id, sid, item_id, min(ts) AS ts FROM s WHERE item_id IS NOT NULL GROUP BY ALL) GROUP BY ALL
)
SELECT p.user_id, p.ts,
  min(p.ts) OVER (PARTITION BY p.user_id, p.sid) AS start_ts,
  sum(p.n) OVER (PARTITION BY p.user_id, p.sid ORDER BY p.ts ROWS UNBOUNDED PRECEDING) AS events,
  sum(coalesce(k.k, 0)) OVER (PARTITION BY p.user_id, p.sid ORDER BY p.ts ROWS UNBOUNDED PRECEDING) AS items
FROM per_ts AS p LEFT JOIN new_items AS k ON k.user_id = p.user_id AND k.ts = p.ts;
CREATE TEMP TABLE f_session AS
  SELECT q.user_id, q.t,
    CASE WHEN q.t - s.ts < 1800000 THEN s.events END AS session_event_count,
    CASE WHEN q.t - s.ts < 1800000 THEN s.items END AS session_item_count,
    CASE WHEN q.t - s.ts < 1800000 THEN s.ts - s.start_ts END AS session_length_ms,
    CASE WHEN q.t - s.ts < 1800000 THEN q.t - s.start_ts END AS session_age_ms
  FROM q_user AS q ASOF LEFT JOIN session_at AS s ON s.user_id = q.user_id AND q.t > s.ts;

-- user_daypart: plays in the same UTC part of the day as t.
CREATE MACRO hour_bucket(x) AS CASE WHEN x // 3600000 % 24 < 6 THEN 'night' WHEN x // 3600000 % 24 < 12 THEN 'morning' WHEN x // 3600000 % 24 < 18 THEN 'afternoon' ELSE 'evening' END;
CREATE TEMP TABLE f_daypart AS
SELECT user_id, hb, ts AS t, play_count_30d FROM (
  SELECT user_id, hb, ts, q, count(*) FILTER (WHERE NOT q) OVER (PARTITION BY user_id, hb ORDER BY ts RANGE BETWEEN ts - (ts - 2592000000) // 86400000 * 86400000 PRECEDING AND 1 PRECEDING) AS play_count_30d
  FROM (
    SELECT user_id, hour_bucket(ts) AS hb, ts, FALSE AS q FROM ev WHERE type = 'play'
    UNION ALL
    SELECT DISTINCT user_id, hour_bucket(ts), ts, TRUE FROM spine
  )
)
WHERE q;

-- item_popularity
CREATE TEMP TABLE f_item AS
SELECT item_id, ts AS t, * EXCLUDE (item_id, ts, q) FROM (
  SELECT item_id, ts, q,
    count(*) FILTER (WHERE type = 'play') OVER w1d AS play_count_1d,
    count(*) FILTER (WHERE type = 'play') OVER w7d AS play_count_7d,
    count(*) FILTER (WHERE type = 'play') OVER w30d AS play_count_30d,
    count(*) FILTER (WHERE type = 'impression') OVER w7d AS impression_count_7d,
    count(*) FILTER (WHERE type = 'complete') OVER w7d AS complete_count_7d,
    count(DISTINCT user_id) FILTER (WHERE type = 'play') OVER w7d AS play_users_7d,
    avg(wf) FILTER (WHERE type IN ('pause', 'complete')) OVER w30d AS wf_mean_30d
  FROM (
    SELECT item_id, ts, type, user_id, wf, FALSE AS q FROM ev WHERE type IN ('play', 'impression', 'complete', 'pause') AND item_id IS NOT NULL
    UNION ALL
    SELECT DISTINCT item_id, ts, NULL, NULL, NULL, TRUE FROM spine
  )
  WINDOW
    w1d AS (PARTITION BY item_id ORDER BY ts RANGE BETWEEN ts - (ts - 86400000) // 3600000 * 3600000 PRECEDING AND 1 PRECEDING),
    w7d AS (PARTITION BY item_id ORDER BY ts RANGE BETWEEN ts - (ts - 604800000) // 3600000 * 3600000 PRECEDING AND 1 PRECEDING),
    w30d AS (PARTITION BY item_id ORDER BY ts RANGE BETWEEN ts - (ts - 2592000000) // 86400000 * 86400000 PRECEDING AND 1 PRECEDING)
)
WHERE q;

-- user_item: plays ever, impressions in 7 days, the last watch fraction of a pause or complete.
CREATE TEMP TABLE f_user_item AS
SELECT user_id, item_id, ts AS t, plays, impressions_7d FROM (
  SELECT user_id, item_id, ts, q,
    count(*) FILTER (WHERE type = 'play') OVER (PARTITION BY user_id, item_id ORDER BY ts RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS plays,
    count(*) FILTER (WHERE type = 'impression') OVER (PARTITION BY user_id, item_id ORDER BY ts RANGE BETWEEN ts - (ts - 604800000) // 3600000 * 3600000 PRECEDING AND 1 PRECEDING) AS impressions_7d
  FROM (
    SELECT user_id, item_id, ts, type, FALSE AS q FROM ev WHERE type IN ('play', 'impression') AND item_id IS NOT NULL
    UNION ALL
    SELECT DISTINCT user_id, item_id, ts, NULL, TRUE FROM spine
  )
)
WHERE q;
CREATE TEMP TABLE watch_at AS
  SELECT user_id, item_id, ts, arg_max(wf, event_id) AS wf FROM ev
  WHERE type IN ('pause', 'complete') AND wf IS NOT NULL AND item_id IS NOT NULL GROUP BY user_id, item_id, ts;

-- Everything per spine row, defaults filled, request-time crosses in SQL, in spine order.
COPY (
  WITH rows AS (
    SELECT s.r, s.user_id, s.item_id, s.ts, s.label,
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
      coalesce(u.short_at_anchor * pow(2.0, (getvariable('anchor') - s.ts) / 86400000.0), 0) AS user_engagement__engagement_short,
      coalesce(u.long_at_anchor * pow(2.0, (getvariable('anchor') - s.ts) / 2592000000.0), 0) AS user_engagement__engagement_long,
      coalesce(u.play_items_30d, 0) AS user_engagement__play_item_id_count_distinct_30d,
      coalesce(rp.recent_plays, CAST([] AS VARCHAR[])) AS user_engagement__recent_plays,
      d.device AS user_engagement__last_device,
      CASE WHEN fe.ts < s.ts THEN fe.type END AS user_engagement__first_event_type,
      CASE WHEN coalesce(u.play_count_30d, 0) <> 0 THEN coalesce(u.complete_count_30d, 0) / u.play_count_30d END AS user_engagement__completion_rate_30d,
      coalesce(g.genre_affinity, MAP {}::MAP(VARCHAR, DOUBLE)) AS user_genre_taste__genre_affinity,
      coalesce(g.top_genres, CAST([] AS VARCHAR[])) AS user_genre_taste__top_genres,
      coalesce(n.ignored_1d, 0) AS user_negatives__ignored_1d,
      coalesce(n.ignored_7d, 0) AS user_negatives__ignored_7d,
      coalesce(ri.recently_ignored, CAST([] AS VARCHAR[])) AS user_negatives__recently_ignored,
      coalesce(u.abandons_7d, 0) AS user_abandons__abandons_7d,
      coalesce(u.abandons_30d, 0) AS user_abandons__abandons_30d,
      coalesce(se.session_event_count, 0) AS user_session__session_event_count,
      coalesce(se.session_item_count, 0) AS user_session__session_item_count,
      se.session_length_ms AS user_session__session_length_ms,
      se.session_age_ms AS user_session__session_age_ms,
      coalesce(dp.play_count_30d, 0) AS user_daypart__play_count_30d,
      coalesce(i.play_count_1d, 0) AS item_popularity__play_count_1d,
      coalesce(i.play_count_7d, 0) AS item_popularity__play_count_7d,
      coalesce(i.play_count_30d, 0) AS item_popularity__play_count_30d,
      coalesce(i.impression_count_7d, 0) AS item_popularity__impression_count_7d,
      coalesce(i.complete_count_7d, 0) AS item_popularity__complete_count_7d,
      coalesce(i.play_users_7d, 0) AS item_popularity__play_user_id_count_distinct_7d,
      i.wf_mean_30d AS item_popularity__pause_complete_watch_fraction_mean_30d,
      CASE WHEN coalesce(i.impression_count_7d, 0) <> 0 THEN coalesce(i.play_count_7d, 0) / i.impression_count_7d END AS item_popularity__play_rate_7d,
      CASE WHEN coalesce(i.play_count_30d, 0) <> 0 THEN coalesce(i.play_count_1d, 0) / i.play_count_30d END AS item_popularity__trend_1d_30d,
      coalesce(ui.plays, 0) AS user_item__plays,
      coalesce(ui.impressions_7d, 0) AS user_item__impressions_7d,
      wa.wf AS user_item__last_watch_fraction,
      coalesce(it.genres, CAST([] AS VARCHAR[])) AS item_meta__genres,
      it.year AS item_meta__year,
      it.duration AS item_meta__duration,
      it.release_ts AS item_meta__release_ts,
      us.country AS user_meta__country
    FROM spine AS s
    LEFT JOIN f_user AS u ON u.user_id = s.user_id AND u.t = s.ts
    LEFT JOIN f_recent_plays AS rp ON rp.user_id = s.user_id AND rp.t = s.ts
    ASOF LEFT JOIN device_at AS d ON d.user_id = s.user_id AND s.ts > d.ts
    LEFT JOIN first_event AS fe ON fe.user_id = s.user_id
    LEFT JOIN f_genre AS g ON g.user_id = s.user_id AND g.t = s.ts
    LEFT JOIN f_neg AS n ON n.user_id = s.user_id AND n.t = s.ts
    LEFT JOIN f_recently_ignored AS ri ON ri.user_id = s.user_id AND ri.t = s.ts
    LEFT JOIN f_session AS se ON se.user_id = s.user_id AND se.t = s.ts
    LEFT JOIN f_daypart AS dp ON dp.user_id = s.user_id AND dp.hb = hour_bucket(s.ts) AND dp.t = s.ts
    LEFT JOIN f_item AS i ON i.item_id = s.item_id AND i.t = s.ts
    LEFT JOIN f_user_item AS ui ON ui.user_id = s.user_id AND ui.item_id = s.item_id AND ui.t = s.ts
    ASOF LEFT JOIN watch_at AS wa ON wa.user_id = s.user_id AND wa.item_id = s.item_id AND s.ts > wa.ts
    LEFT JOIN read_parquet('{{items}}') AS it ON it.item_id = s.item_id
    LEFT JOIN read_parquet('{{users}}') AS us ON us.user_id = s.user_id
  )
  SELECT * EXCLUDE (r),
    -- request-time crosses (the same functions as the feature set's requestFeature fns)
    CASE WHEN list_sum(list_transform(map_values(user_genre_taste__genre_affinity), x -> greatest(x, 0))) > 0
      THEN coalesce(list_sum(list_transform(item_meta__genres, g -> greatest(coalesce(user_genre_taste__genre_affinity[g], 0), 0))), 0)
        / list_sum(list_transform(map_values(user_genre_taste__genre_affinity), x -> greatest(x, 0)))
      ELSE 0 END AS genre_match,
    (ts - item_meta__release_ts) / 86400000.0 AS item_age_days,
    CAST(list_contains(user_negatives__recently_ignored, item_id) AS INTEGER) AS recently_ignored_item
  FROM rows ORDER BY r
) TO '{{out}}' (FORMAT parquet);
