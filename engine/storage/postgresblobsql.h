#pragma once
// The database server's clock in SQL, for leases and touch times: nodes' clocks may disagree,
// the server's is one for all of them.

#define FERRY_PG_NOW_MS "(extract(epoch from clock_timestamp()) * 1000)::bigint"
#define FERRY_PG_NOW_US "(extract(epoch from clock_timestamp()) * 1000000)::bigint"
