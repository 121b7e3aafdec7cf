"""The baseline of `tally-bench rfm`: DuckDB computing the same RFM measures, scores and named
segments, and the same four dynamic segments, from the same purchases, in memory.

    python rfm.py DIR RUNS

reads DIR/purchases.csv into an in-memory table (not timed), runs the query RUNS times (best
time), writes DIR/theirs.csv, compares it with DIR/ours.csv member by member and prints one JSON
line: seconds, members, differing rows (with the first few).

Scores use the same mid-rank rule as Tally (crates/tally-analytics/src/rfm.rs): score =
1 + floor(5 · (2·worse + equal) / (2·n)), where `worse` counts members with a strictly worse value
and `equal` those with the same value. Written as an aggregate over the distinct values joined
back, which DuckDB runs several times faster than the same rule with window functions
(rank() and count() over partitions) on this data.
"""
import csv
import json
import sys
import time

import duckdb

AS_OF = 729
directory, runs = sys.argv[1], int(sys.argv[2])
con = duckdb.connect()
con.execute(
    "CREATE TABLE purchases AS SELECT * FROM read_csv(?, header = true, "
    "columns = {'member': 'BIGINT', 'day': 'BIGINT', 'amount_minor': 'BIGINT'})",
    [f"{directory}/purchases.csv"],
)


def score(column, worse_first):
    """One row per distinct value of `column` with its score (`worse_first`: the sort order that
    puts the worse values first)."""
    return f"""(SELECT {column} AS v,
        1 + (5 * (2 * (sum(count(*)) OVER (ORDER BY {column} {worse_first}) - count(*)) + count(*)))
            // (2 * (SELECT count(*) FROM per_member)) AS score
      FROM per_member GROUP BY {column})"""


QUERY = f"""
WITH per_member AS (
  SELECT member,
         {AS_OF} - max(day) AS recency_days,
         count(DISTINCT day) AS frequency,
         sum(amount_minor) AS monetary_minor,
         count(*) FILTER (WHERE {AS_OF} - day < 60) AS orders_60,
         count(*) FILTER (WHERE {AS_OF} - day < 90) AS orders_90,
         count(*) FILTER (WHERE {AS_OF} - day < 180) AS orders_180,
         coalesce(sum(amount_minor) FILTER (WHERE {AS_OF} - day < 180), 0) AS spend_180,
         coalesce(sum(amount_minor) FILTER (WHERE {AS_OF} - day < 365), 0) AS spend_365
  FROM purchases WHERE day <= {AS_OF} GROUP BY member
), scored AS (
  SELECT p.*, r.score AS r, f.score AS f, m.score AS m, (f.score + m.score + 1) // 2 AS fm
  FROM per_member p
  JOIN {score('recency_days', 'DESC')} r ON r.v = p.recency_days
  JOIN {score('frequency', 'ASC')} f ON f.v = p.frequency
  JOIN {score('monetary_minor', 'ASC')} m ON m.v = p.monetary_minor
), named AS (
  SELECT *, CASE
      WHEN r = 5 THEN CASE WHEN fm = 1 THEN 'new' WHEN fm <= 3 THEN 'potential_loyalist' ELSE 'champions' END
      WHEN r = 4 THEN CASE WHEN fm = 1 THEN 'promising' WHEN fm <= 3 THEN 'potential_loyalist' ELSE 'loyal' END
      WHEN r = 3 THEN CASE WHEN fm <= 2 THEN 'about_to_sleep' WHEN fm = 3 THEN 'need_attention' ELSE 'loyal' END
      WHEN r = 2 THEN CASE WHEN fm <= 2 THEN 'hibernating' WHEN fm <= 4 THEN 'at_risk' ELSE 'cant_lose_them' END
      ELSE CASE WHEN fm <= 2 THEN 'lost' WHEN fm <= 4 THEN 'at_risk' ELSE 'cant_lose_them' END
    END AS segment
  FROM scored
)
SELECT member, recency_days, frequency, monetary_minor, r, f, m, fm, segment,
  (orders_90 >= 3 AND spend_365 >= 20000)::INT AS regulars,
  (recency_days > 180 AND monetary_minor >= 50000)::INT AS lapsed_big_spenders,
  (orders_180 > 0 AND spend_180 / orders_180 > 15000)::INT AS big_baskets,
  (segment IN ('at_risk', 'cant_lose_them') AND orders_60 = 0)::INT AS at_risk_valuable
FROM named
"""

best = float("inf")
for _ in range(runs):
    started = time.perf_counter()
    con.execute("CREATE OR REPLACE TABLE answer AS " + QUERY)
    best = min(best, time.perf_counter() - started)

con.execute(f"COPY (SELECT * FROM answer ORDER BY member) TO '{directory}/theirs.csv' (HEADER)")
with open(f"{directory}/ours.csv") as ours_file, open(f"{directory}/theirs.csv") as theirs_file:
    ours, theirs = list(csv.reader(ours_file)), list(csv.reader(theirs_file))
differing = [(a, b) for a, b in zip(ours, theirs) if a != b]
if len(ours) != len(theirs):
    differing.append((f"{len(ours) - 1} rows", f"{len(theirs) - 1} rows"))
print(json.dumps({
    "seconds": best,
    "members": len(theirs) - 1,
    "differing_rows": len(differing),
    "first_differences": differing[:5],
    "duckdb": duckdb.__version__,
    "threads": con.execute("SELECT current_setting('threads')").fetchone()[0],
}))
