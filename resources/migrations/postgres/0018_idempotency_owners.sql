-- An in-progress idempotency key belongs to the request that claimed it, on one node
-- ("node:<node id>", as quota reservations in 0012): when that node is gone (dead per the cluster
-- registry, or, on an exclusive store, at the next engine start) the claim is dropped, so a
-- client retrying after a crash is not refused with 409 until the claim is 10 minutes old
-- (engine/store/uploadstore.h, releaseOrphanedIdempotencyKeys). '' (made before this migration):
-- dropped by the next sweep.
ALTER TABLE idempotency_keys ADD COLUMN owner TEXT NOT NULL DEFAULT '';
