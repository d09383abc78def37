-- A quota reservation lives as long as what owns it (engine/store/store.h,
-- releaseOrphanedQuotaReservations): "node:<node id>", a request in flight on that node, released
-- when the node is gone from `nodes` (dead per the cluster registry) or, on an exclusive store, at
-- the next engine start; "tus:<upload id>", a resumable upload, which survives restarts and is
-- released when its row is gone (expired, terminated). '' (made before this migration): released
-- by the next sweep.
ALTER TABLE quota_reservations ADD COLUMN owner TEXT NOT NULL DEFAULT '';
