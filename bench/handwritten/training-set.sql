-- The demo feature set (examples/streaming/features.ts) as of every spine row, written by hand
-- for DuckDB: what a competent engineer would write instead of using recsignal.
-- Point-in-time: a row at time t sees the events with ts < t. Sawtooth windows start at
-- floor((t - W) / H) * H, hop H = 1h below 12 days, 1d otherwise. Strategy: where partitions are
-- small (a user, a user's item), one window pass over the union of events and query rows, with
-- RANGE frames whose start depends on the row's own t and that end at 1 PRECEDING; where they are
-- large (an item, a user's genre), running totals read by ASOF joins at t and at each window's
-- start; ASOF joins for "latest before t"; and, for the "k most recent distinct" lists, a join on
-- the span during which an event is its item's latest.
-- Query rows are deduplicated per entity and time and named by integer surrogates (qu, qi, qui),
-- so that the final assembly joins on one integer each.
-- Placeholders: {{events}} {{items}} {{users}} {{spine}} {{out}}.

CREATE TEMP TABLE spine AS
  SELECT file_row_number AS r, user_id, item_id, ts, label,
    dense_rank() OVER (ORDER BY user_id, ts) AS qu,
    dense_rank() OVER (ORDER BY item_id, ts) AS qi,
    dense_rank() OVER (ORDER BY user_id, item_id, ts) AS qui
  FROM read_parquet('{{spine}}', file_row_number = true);

SET VARIABLE t_max = (SELECT max(ts) FROM spine);
-- Decay anchor: Σ w·2^((ts−t)/h) = 2^((a−t)/h) · Σ w·2^((ts−a)/h), so one running sum serves every t.
SET VARIABLE anchor = (SELECT min(ts) FROM spine);

CREATE TEMP TABLE ev AS
  SELECT event_id, user_id, item_id, ts, type, value, device,
    CASE WHEN duration > 0 THEN value / duration END AS wf,
    CAST(CASE type WHEN 'complete' THEN 3 WHEN 'play' THEN 1 WHEN 'add_to_list' THEN 2 WHEN 'rating' THEN 1 WHEN 'skip' THEN -1 ELSE 0 END AS DOUBLE) AS weight
  FROM {{events}}
  WHERE ts < getvariable('t_max');

CREATE TEMP TABLE q_user AS SELECT DISTINCT qu, user_id, ts AS t FROM spine;

-- user_engagement and user_abandons: the event types they read (weight 0 adds nothing to a decayed sum).
CREATE TEMP TABLE f_user AS
SELECT * EXCLUDE (q) FROM (
  SELECT qu, q,
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
    SELECT user_id, ts, type, item_id, value, wf, weight, NULL AS qu, FALSE AS q FROM ev
      WHERE type IN ('play', 'complete', 'skip', 'search', 'pause', 'add_to_list', 'rating')
    UNION ALL
    SELECT user_id, t, NULL, NULL, NULL, NULL, NULL, qu, TRUE FROM q_user
  )
  WINDOW
    w1d AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN ts - (ts - 86400000) // 3600000 * 3600000 PRECEDING AND 1 PRECEDING),
    w7d AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN ts - (ts - 604800000) // 3600000 * 3600000 PRECEDING AND 1 PRECEDING),
    w30d AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN ts - (ts - 2592000000) // 86400000 * 86400000 PRECEDING AND 1 PRECEDING),
    wlife AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
)
WHERE q;

-- first_event_type: the user's first event, once it is before t.
CREATE TEMP TABLE first_event AS
  SELECT user_id, min(ts) AS ts, arg_min(type, (ts, event_id)) AS type FROM ev GROUP BY user_id;

-- recent_plays: a play is its item's latest from its ts until the item's next play, so the
-- spans containing t are the distinct items before t, each once; keep the 10 newest (ties: greater id).
CREATE TEMP TABLE play_spans AS
  SELECT user_id, item_id, ts,
    lead(ts) OVER (PARTITION BY user_id, item_id ORDER BY ts) AS next_ts,
    row_number() OVER (PARTITION BY user_id ORDER BY ts, item_id) AS ord
  FROM (SELECT DISTINCT user_id, item_id, ts FROM ev WHERE type = 'play' AND item_id IS NOT NULL);
CREATE TEMP TABLE f_recent_plays AS
  SELECT q.qu, max_by(p.item_id, p.ord, 10) AS recent_plays
  FROM q_user AS q JOIN play_spans AS p ON p.user_id = q.user_id AND p.ts < q.t AND (p.next_ts IS NULL OR p.next_ts >= q.t)
  GROUP BY q.qu;
DROP TABLE play_spans;

-- user_genre_taste: events fanned out to their item's genres, running (count, weight) per
-- (user, genre), read by ASOF at t and at the 7-day window's start, for each genre the user has before t.
CREATE TEMP TABLE ev_genre AS
  SELECT e.user_id, e.ts, g.genre, e.weight
  FROM ev AS e JOIN (SELECT DISTINCT item_id, unnest(genres) AS genre FROM read_parquet('{{items}}')) AS g ON g.item_id = e.item_id;
CREATE TEMP TABLE user_genres AS
  SELECT user_id, genre, min(ts) AS first_ts, row_number() OVER () AS ug FROM ev_genre GROUP BY user_id, genre;
CREATE TEMP TABLE genre_state AS
  SELECT ug, ts, sum(n) OVER w AS n_cum, sum(w) OVER w AS w_cum
  FROM (SELECT g.ug, e.ts, count(*) AS n, sum(e.weight) AS w FROM ev_genre AS e JOIN user_genres AS g USING (user_id, genre) GROUP BY g.ug, e.ts)
  WINDOW w AS (PARTITION BY ug ORDER BY ts ROWS UNBOUNDED PRECEDING);
DROP TABLE ev_genre;
CREATE TEMP TABLE genre_at AS
  SELECT q.qu, g.genre, a.w_cum AS w_life, a.n_cum - coalesce(b.n_cum, 0) AS n_7d, a.w_cum - coalesce(b.w_cum, 0) AS w_7d
  FROM (
    SELECT q.qu, q.t, g.ug, (q.t - 604800000) // 3600000 * 3600000 AS s7d
    FROM q_user AS q JOIN user_genres AS g ON g.user_id = q.user_id AND g.first_ts < q.t
  ) AS q
  JOIN user_genres AS g ON g.ug = q.ug
  ASOF JOIN genre_state AS a ON a.ug = q.ug AND q.t > a.ts
  ASOF LEFT JOIN genre_state AS b ON b.ug = q.ug AND q.s7d > b.ts;
DROP TABLE genre_state;
CREATE TEMP TABLE genre_rank AS SELECT genre, row_number() OVER (ORDER BY genre) AS rank FROM (SELECT DISTINCT genre FROM user_genres);
CREATE TEMP TABLE f_genre AS
  SELECT qu,
    map_from_entries(list_sort(list({'key': genre, 'value': w_life}))) AS genre_affinity,
    -- heaviest first, ties by name: the greatest (weight, -rank of the name)
    max_by(genre, (w_7d, -rank), 3) FILTER (WHERE n_7d > 0) AS top_genres
  FROM genre_at JOIN genre_rank USING (genre)
  GROUP BY qu;
DROP TABLE genre_at;

-- user_negatives: an impression with no play of the item in (ts, ts + 10m] happens at ts + 10m.
CREATE TEMP TABLE neg AS
  SELECT user_id, item_id, ts + 600000 AS ts FROM (
    SELECT user_id, item_id, ts, type,
      count(*) FILTER (WHERE type = 'play') OVER (PARTITION BY user_id, item_id ORDER BY ts RANGE BETWEEN 1 FOLLOWING AND 600000 FOLLOWING) AS played
    FROM ev WHERE type IN ('impression', 'play') AND item_id IS NOT NULL
  )
  WHERE type = 'impression' AND played = 0;
CREATE TEMP TABLE f_neg AS
SELECT qu, ignored_1d, ignored_7d FROM (
  SELECT qu, q,
    count(item_id) OVER w1d AS ignored_1d,
    count(item_id) OVER w7d AS ignored_7d
  FROM (SELECT user_id, item_id, ts, NULL AS qu, FALSE AS q FROM neg UNION ALL SELECT user_id, NULL, t, qu, TRUE FROM q_user)
  WINDOW
    w1d AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN ts - (ts - 86400000) // 3600000 * 3600000 PRECEDING AND 1 PRECEDING),
    w7d AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN ts - (ts - 604800000) // 3600000 * 3600000 PRECEDING AND 1 PRECEDING)
)
WHERE q;
CREATE TEMP TABLE neg_spans AS
  SELECT user_id, item_id, ts,
    lead(ts) OVER (PARTITION BY user_id, item_id ORDER BY ts) AS next_ts,
    row_number() OVER (PARTITION BY user_id ORDER BY ts, item_id) AS ord
  FROM (SELECT DISTINCT user_id, item_id, ts FROM neg);
CREATE TEMP TABLE f_recently_ignored AS
  SELECT q.qu, max_by(n.item_id, n.ord, 20) AS recently_ignored
  FROM q_user AS q JOIN neg_spans AS n ON n.user_id = q.user_id AND n.ts < q.t AND (n.next_ts IS NULL OR n.next_ts >= q.t)
  GROUP BY q.qu;
DROP TABLE neg_spans;
DROP TABLE neg;

-- user_session: sessions split at 30 minutes of silence; running counts per distinct ts, read as
-- of the latest ts < t. The same rows carry last_device: the latest non-null device up to that ts
-- (ties on ts: the greatest event id).
CREATE TEMP TABLE session_at AS
WITH s AS (
  SELECT user_id, ts, item_id, device, event_id,
    sum(CASE WHEN ts - prev_ts < 1800000 THEN 0 ELSE 1 END) OVER (PARTITION BY user_id ORDER BY ts ROWS UNBOUNDED PRECEDING) AS sid
  FROM (SELECT user_id, ts, item_id, device, event_id, lag(ts) OVER (PARTITION BY user_id ORDER BY ts) AS prev_ts FROM ev)
),
per_ts AS (
  SELECT user_id, sid, ts, count(*) AS n, arg_max(device, event_id) FILTER (WHERE device IS NOT NULL) AS device FROM s GROUP BY user_id, sid, ts
),
new_items AS (
  SELECT user_id, ts, count(*) AS k FROM (SELECT user_id, sid, item_id, min(ts) AS ts FROM s WHERE item_id IS NOT NULL GROUP BY ALL) GROUP BY ALL
)
SELECT p.user_id, p.ts,
  min(p.ts) OVER (PARTITION BY p.user_id, p.sid) AS start_ts,
  sum(p.n) OVER (PARTITION BY p.user_id, p.sid ORDER BY p.ts ROWS UNBOUNDED PRECEDING) AS events,
  sum(coalesce(k.k, 0)) OVER (PARTITION BY p.user_id, p.sid ORDER BY p.ts ROWS UNBOUNDED PRECEDING) AS items,
  last_value(p.device IGNORE NULLS) OVER (PARTITION BY p.user_id ORDER BY p.ts ROWS UNBOUNDED PRECEDING) AS device
FROM per_ts AS p LEFT JOIN new_items AS k ON k.user_id = p.user_id AND k.ts = p.ts;
CREATE TEMP TABLE f_session AS
  SELECT q.qu, s.device AS last_device,
    CASE WHEN q.t - s.ts < 1800000 THEN CAST(s.events AS BIGINT) END AS session_event_count,
    CASE WHEN q.t - s.ts < 1800000 THEN CAST(s.items AS BIGINT) END AS session_item_count,
    CASE WHEN q.t - s.ts < 1800000 THEN s.ts - s.start_ts END AS session_length_ms,
    CASE WHEN q.t - s.ts < 1800000 THEN q.t - s.start_ts END AS session_age_ms
  FROM q_user AS q ASOF LEFT JOIN session_at AS s ON s.user_id = q.user_id AND q.t > s.ts;
DROP TABLE session_at;

-- user_daypart: plays in the same UTC part of the day as t.
CREATE TEMP MACRO hour_bucket(x) AS CASE WHEN x // 3600000 % 24 < 6 THEN 'night' WHEN x // 3600000 % 24 < 12 THEN 'morning' WHEN x // 3600000 % 24 < 18 THEN 'afternoon' ELSE 'evening' END;
CREATE TEMP TABLE f_daypart AS
SELECT qu, play_count_30d FROM (
  SELECT qu, q, count(*) FILTER (WHERE NOT q) OVER (PARTITION BY user_id, hb ORDER BY ts RANGE BETWEEN ts - (ts - 2592000000) // 86400000 * 86400000 PRECEDING AND 1 PRECEDING) AS play_count_30d
  FROM (
    SELECT user_id, hour_bucket(ts) AS hb, ts, NULL AS qu, FALSE AS q FROM ev WHERE type = 'play'
    UNION ALL
    SELECT user_id, hour_bucket(t), t, qu, TRUE FROM q_user
  )
)
WHERE q;

-- item_popularity: popular items have hundreds of thousands of events, too many for per-row
-- window frames (DuckDB takes minutes over such partitions). Instead: running totals in one global
-- order of key = item number * 2^41 + ts, read by ASOF at t and at each window's start; a
-- difference of two running totals within one item's key range counts that item's events between.
-- Distinct players in 7 days: the users with a play in the full hours [h - 7d, h) before t's hour h
-- (a running sum of +1/-1 per (item, user) play hour), plus the plays in [h, t) whose user had no
-- play since h - 7d ("fresh" plays, a running count). Watch fractions are summed as DECIMAL so
-- that differences of running sums stay exact.
CREATE TEMP TABLE item_ids AS
  SELECT item_id, row_number() OVER (ORDER BY item_id) AS iid
  FROM (SELECT item_id FROM ev WHERE item_id IS NOT NULL UNION SELECT item_id FROM spine WHERE item_id IS NOT NULL);
CREATE TEMP TABLE item_state AS
  SELECT k,
    sum(plays) OVER w AS plays, sum(impressions) OVER w AS impressions, sum(completes) OVER w AS completes,
    sum(wf_n) OVER w AS wf_n, sum(wf_sum) OVER w AS wf_sum, sum(fresh) OVER w AS fresh
  FROM (
    SELECT i.iid * 2199023255552 + x.ts AS k,
      count(*) FILTER (WHERE type = 'play') AS plays,
      count(*) FILTER (WHERE type = 'impression') AS impressions,
      count(*) FILTER (WHERE type = 'complete') AS completes,
      count(wf) FILTER (WHERE type IN ('pause', 'complete')) AS wf_n,
      sum(CAST(wf AS DECIMAL(18, 15))) FILTER (WHERE type IN ('pause', 'complete')) AS wf_sum,
      sum(fresh) AS fresh
    FROM (
      SELECT item_id, ts, type, wf, 0 AS fresh FROM ev WHERE item_id IS NOT NULL AND type IN ('play', 'impression', 'complete', 'pause')
      UNION ALL
      SELECT item_id, ts, NULL, NULL, CASE WHEN prev IS NULL OR prev < ts // 3600000 * 3600000 - 604800000 THEN 1 ELSE 0 END
      FROM (
        SELECT item_id, ts, lag(ts) OVER (PARTITION BY item_id, user_id ORDER BY ts) AS prev
        FROM (SELECT DISTINCT item_id, user_id, ts FROM ev WHERE type = 'play' AND item_id IS NOT NULL)
      )
    ) AS x JOIN item_ids AS i ON i.item_id = x.item_id
    GROUP BY k
  )
  WINDOW w AS (ORDER BY k ROWS UNBOUNDED PRECEDING);
CREATE TEMP TABLE item_hourly_users AS
  WITH ph AS (
    SELECT iid, x, coalesce(lead(x) OVER (PARTITION BY iid, user_id ORDER BY x), 4611686018427387904) AS nx
    FROM (SELECT DISTINCT i.iid, e.user_id, e.ts // 3600000 AS x FROM ev AS e JOIN item_ids AS i ON i.item_id = e.item_id WHERE e.type = 'play')
  )
  -- every +1 has its -1 inside the same item's key range, so the global running sum restarts at 0 for each item
  SELECT k, sum(delta) OVER (ORDER BY k ROWS UNBOUNDED PRECEDING) AS users
  FROM (
    SELECT k, sum(delta) AS delta FROM (
      SELECT iid * 2199023255552 + x + 1 AS k, 1 AS delta FROM ph
      UNION ALL
      SELECT iid * 2199023255552 + least(nx, x + 168) + 1, -1 FROM ph
    ) GROUP BY k
  );
CREATE TEMP TABLE f_item AS
  SELECT q.qi,
    coalesce(a.plays, 0) - coalesce(d1.plays, 0) AS play_count_1d,
    coalesce(a.plays, 0) - coalesce(d7.plays, 0) AS play_count_7d,
    coalesce(a.plays, 0) - coalesce(d30.plays, 0) AS play_count_30d,
    coalesce(a.impressions, 0) - coalesce(d7.impressions, 0) AS impression_count_7d,
    coalesce(a.completes, 0) - coalesce(d7.completes, 0) AS complete_count_7d,
    coalesce(hu.users, 0) + coalesce(a.fresh, 0) - coalesce(hh.fresh, 0) AS play_users_7d,
    CASE WHEN coalesce(a.wf_n, 0) - coalesce(d30.wf_n, 0) > 0
      THEN CAST(coalesce(a.wf_sum, 0) - coalesce(d30.wf_sum, 0) AS DOUBLE) / (coalesce(a.wf_n, 0) - coalesce(d30.wf_n, 0)) END AS wf_mean_30d
  FROM (
    SELECT DISTINCT s.qi, i.iid * 2199023255552 AS base, s.ts AS t,
      (s.ts - 86400000) // 3600000 * 3600000 AS s1d, (s.ts - 604800000) // 3600000 * 3600000 AS s7d,
      (s.ts - 2592000000) // 86400000 * 86400000 AS s30d, s.ts // 3600000 AS hour
    FROM spine AS s JOIN item_ids AS i ON i.item_id = s.item_id
  ) AS q
  ASOF LEFT JOIN item_state AS a ON q.base + q.t > a.k
  ASOF LEFT JOIN item_state AS d1 ON q.base + q.s1d > d1.k
  ASOF LEFT JOIN item_state AS d7 ON q.base + q.s7d > d7.k
  ASOF LEFT JOIN item_state AS d30 ON q.base + q.s30d > d30.k
  ASOF LEFT JOIN item_state AS hh ON q.base + q.hour * 3600000 > hh.k
  ASOF LEFT JOIN item_hourly_users AS hu ON q.base + q.hour >= hu.k;
DROP TABLE item_state;
DROP TABLE item_hourly_users;

-- user_item: plays ever, impressions in 7 days, the last watch fraction of a pause or complete
-- (the greatest (ts, event id) before t).
CREATE TEMP TABLE f_user_item AS
SELECT qui, plays, impressions_7d, last_watch_fraction FROM (
  SELECT qui, q,
    count(*) FILTER (WHERE type = 'play') OVER wlife AS plays,
    count(*) FILTER (WHERE type = 'impression') OVER (PARTITION BY user_id, item_id ORDER BY ts RANGE BETWEEN ts - (ts - 604800000) // 3600000 * 3600000 PRECEDING AND 1 PRECEDING) AS impressions_7d,
    arg_max(wf, (ts, event_id)) FILTER (WHERE type IN ('pause', 'complete') AND wf IS NOT NULL) OVER wlife AS last_watch_fraction
  FROM (
    SELECT user_id, item_id, ts, type, wf, event_id, NULL AS qui, FALSE AS q FROM ev WHERE type IN ('play', 'impression', 'pause', 'complete') AND item_id IS NOT NULL
    UNION ALL
    SELECT DISTINCT user_id, item_id, ts, NULL, NULL, NULL, qui, TRUE FROM spine
  )
  WINDOW wlife AS (PARTITION BY user_id, item_id ORDER BY ts RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
)
WHERE q;
DROP TABLE ev;

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
      se.last_device AS user_engagement__last_device,
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
      ui.last_watch_fraction AS user_item__last_watch_fraction,
      coalesce(it.genres, CAST([] AS VARCHAR[])) AS item_meta__genres,
      it.year AS item_meta__year,
      it.duration AS item_meta__duration,
      it.release_ts AS item_meta__release_ts,
      us.country AS user_meta__country
    FROM spine AS s
    LEFT JOIN f_user AS u ON u.qu = s.qu
    LEFT JOIN f_recent_plays AS rp ON rp.qu = s.qu
    LEFT JOIN f_genre AS g ON g.qu = s.qu
    LEFT JOIN f_neg AS n ON n.qu = s.qu
    LEFT JOIN f_recently_ignored AS ri ON ri.qu = s.qu
    LEFT JOIN f_session AS se ON se.qu = s.qu
    LEFT JOIN f_daypart AS dp ON dp.qu = s.qu
    LEFT JOIN f_item AS i ON i.qi = s.qi
    LEFT JOIN f_user_item AS ui ON ui.qui = s.qui
    LEFT JOIN first_event AS fe ON fe.user_id = s.user_id
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
