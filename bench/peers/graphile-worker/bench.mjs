// Ferry's bench/queue measurements, taken on graphile-worker + PostgreSQL.
//
//   node bench.mjs --pg postgres://postgres@127.0.0.1:PORT/postgres
//                  [--jobs N] [--single N] [--latency N] [--workers W] [--rounds R]
//                  [--local-queue N] [--poll-interval MS] [--synchronous normal|full]
//
// Per round, on a freshly created database (mirrors bench/queue.cpp step by step):
//   bulk enqueue of N no-op jobs with WorkerUtils.addJobs (one add_jobs() statement,
//   so one transaction); processing of the N jobs by a worker with concurrency W,
//   timed from run() until the last completion is committed (the jobs table is
//   empty again); enqueue-to-start latency over --latency jobs added one at a time
//   with addJob while the worker waits idle (~0.5 ms between samples); then, with the
//   worker stopped, --single jobs added one addJob (one transaction) each.
// Prints one JSON line per round and a final line with the medians, keys as Ferry's.
//
// --synchronous is only a label here: the driver (scripts/bench-peers.sh) starts
// PostgreSQL with synchronous_commit=off for "normal" and on for "full".
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';

// graphile-worker logs one line per completed job unless NO_LOG_SUCCESS is set (its
// own perfTest sets it); the flag is read when the module loads, so set it first.
process.env.NO_LOG_SUCCESS = '1';
const { run, makeWorkerUtils, Logger } = await import('graphile-worker');
const pg = (await import('pg')).default;

const { values: opts } = parseArgs({
  options: {
    pg: { type: 'string', default: process.env.PEER_PG_URL ?? '' },
    jobs: { type: 'string', default: '100000' },
    single: { type: 'string', default: '20000' },
    latency: { type: 'string', default: '1000' },
    workers: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    'local-queue': { type: 'string', default: '500' },
    'poll-interval': { type: 'string', default: '100' },
    synchronous: { type: 'string', default: 'normal' },
  },
});
if (!opts.pg) {
  console.error('bench.mjs: --pg postgres://user@host:port/db (an admin database) is required');
  process.exit(2);
}
const jobs = Number(opts.jobs);
const singles = Number(opts.single);
const latencyJobs = Number(opts.latency);
const workers = Number(opts.workers);
const rounds = Math.max(1, Number(opts.rounds));
const localQueueSize = Number(opts['local-queue']);
const pollInterval = Number(opts['poll-interval']);

const version = (name) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url))).version;

// Warnings and errors only: a line per job would measure the console, not the queue.
const logger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') console.error(`graphile-worker ${level}: ${message}`);
});

// Same definitions as bench/queue.cpp.
function median(values) {
  const v = [...values].sort((a, b) => a - b);
  const n = v.length;
  return n === 0 ? 0 : n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
function percentile(values, p) {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return 0;
  return v[Math.min(v.length - 1, Math.floor(p * v.length))];
}
function sortedKeys(object) {
  // QJsonObject (Ferry's output) orders keys alphabetically; do the same.
  return Object.fromEntries(Object.keys(object).sort().map((k) => [k, object[k]]));
}
// ~0.5 ms pause that keeps the event loop turning (the worker shares this thread).
async function settle(ms) {
  const end = performance.now() + ms;
  while (performance.now() < end) await new Promise((resolve) => setImmediate(resolve));
}

function databaseUrl(base, name) {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

async function runRound(admin, round) {
  const dbName = `ferry_peer_${process.pid}_r${round}`;
  await admin.query(`create database ${dbName}`);
  const connectionString = databaseUrl(opts.pg, dbName);
  const utils = await makeWorkerUtils({ connectionString, logger });
  const result = {};
  let runner = null;
  try {
    await utils.migrate();

    // Bulk enqueue: N jobs, one add_jobs() statement.
    let t0 = performance.now();
    await utils.addJobs(Array.from({ length: jobs }, () => ({ identifier: 'noop', payload: {} })));
    result.bulkEnqueuePerSec = jobs / ((performance.now() - t0) / 1000);

    // Processing: the N jobs with W concurrent jobs.
    let done = 0;
    let allDone;
    const allDonePromise = new Promise((resolve) => (allDone = resolve));
    let probeStarted = null;
    const taskList = {
      noop: async () => {
        if (++done === jobs) allDone();
      },
      probe: async () => {
        const now = performance.now();
        probeStarted?.(now);
      },
    };
    t0 = performance.now();
    runner = await run({
      taskList,
      noHandleSignals: true,
      preset: {
        worker: {
          connectionString,
          logger,
          concurrentJobs: workers,
          // Docs: "10 or concurrentJobs + 2, whichever is larger".
          maxPoolSize: Math.max(10, workers + 2),
          pollInterval,
          // Batching, as in the docs' performance configuration.
          localQueue: { size: localQueueSize },
          completeJobBatchDelay: 0,
          failJobBatchDelay: 0,
        },
      },
    });
    await allDonePromise;
    // Completions are batched and written after the handlers return; Ferry counts a
    // job as finished once its outcome is committed, so wait for the table to empty.
    for (;;) {
      const { rows } = await utils.withPgClient((client) =>
        client.query('select count(*)::int as n from graphile_worker.jobs'),
      );
      if (rows[0].n === 0) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    result.processPerSec = jobs / ((performance.now() - t0) / 1000);

    // Latency: one job at a time while the worker waits.
    const latenciesMs = [];
    for (let i = 0; i < latencyJobs; ++i) {
      const started = new Promise((resolve) => (probeStarted = resolve));
      const start = performance.now();
      await utils.addJob('probe', {});
      const startedAt = await started;
      latenciesMs.push(startedAt - start);
      await settle(0.5);
    }
    probeStarted = null;
    result.latencyP50Ms = percentile(latenciesMs, 0.5);
    result.latencyP99Ms = percentile(latenciesMs, 0.99);
    await runner.stop();
    runner = null;

    // Single enqueue: one addJob (one transaction) each, while nothing runs.
    t0 = performance.now();
    for (let i = 0; i < singles; ++i) await utils.addJob('noop', {});
    result.singleEnqueuePerSec = singles / ((performance.now() - t0) / 1000);
  } finally {
    if (runner) await runner.stop().catch(() => {});
    await utils.release();
    await admin.query(`drop database if exists ${dbName}`);
  }
  return result;
}

const admin = new pg.Client({ connectionString: opts.pg });
await admin.connect();
const serverVersion = (await admin.query('show server_version')).rows[0].server_version;
const synchronousCommit = (await admin.query('show synchronous_commit')).rows[0].synchronous_commit;
const samples = {};
for (let round = 0; round < rounds; ++round) {
  const result = await runRound(admin, round + 1);
  for (const [key, value] of Object.entries(result)) (samples[key] ??= []).push(value);
  console.log(JSON.stringify(sortedKeys({ ...result, round: round + 1 })));
}
await admin.end();

const summary = {
  bench: 'graphile-worker',
  version: version('graphile-worker'),
  node: process.versions.node,
  store: `postgresql-${serverVersion.split(' ')[0]}`,
  synchronous: opts.synchronous,
  synchronous_commit: synchronousCommit,
  localQueueSize,
  jobs,
  singles,
  latencySamples: latencyJobs,
  workers,
  rounds,
};
for (const [key, values] of Object.entries(samples)) summary[`median_${key}`] = median(values);
console.log(JSON.stringify(sortedKeys(summary)));
