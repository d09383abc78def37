-- Issue 17: fair ranks stay exact when nodes enqueue for one user at once. The last rank handed
-- to each user at each priority, upserted by every enqueue (PostgresStore::reserveFairRanks):
-- the row's lock makes one user's concurrent enqueues take turns, and ON CONFLICT DO UPDATE
-- reads the row as last committed, so the second enqueue ranks after the first one's jobs,
-- which its snapshot cannot see. (SQLite has one writer: its ranks were always exact.)
CREATE TABLE user_fair_ranks (
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  priority INTEGER NOT NULL,
  last BIGINT NOT NULL,
  PRIMARY KEY (user_id, priority)
);

INSERT INTO user_fair_ranks (user_id, priority, last)
SELECT user_id, priority, max(fair_rank) FROM jobs WHERE status = 'pending'
GROUP BY user_id, priority;
