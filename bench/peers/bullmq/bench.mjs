// Ferry's bench/queue measurements, taken on BullMQ + Redis.
//
//   node bench.mjs --redis redis://127.0.0.1:PORT
//                  [--jobs N] [--single N] [--latency N] [--workers W] [--rounds R]
//                  [--remove-on-complete]
//
// Per round, on a flushed Redis (mirrors bench/queue.cpp step by step): bulk enqueue
// of N no-op jobs with Queue.addBulk (BullMQ sends it as one pipeline, not a MULTI
// transaction); processing of the N jobs by one Worker with concurrency W, timed from
// creating the Worker until its N-th "completed" event (emitted once the job has been
// moved to completed in Redis); enqueue-to-start latency over --latency jobs added one
// at a time with Queue.add while the worker waits idle (~0.5 ms between samples);
// then, with the worker closed, --single jobs added with one Queue.add each.
// Prints one JSON line per round and a final line with the medians, keys as Ferry's.
//
// Finished jobs are kept (BullMQ's default, and what Ferry's bench does with
// retention 0); --remove-on-complete deletes them instead.
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

const { values: opts } = parseArgs({
  options: {
    redis: { type: 'string', default: process.env.PEER_REDIS_URL ?? '' },
    jobs: { type: 'string', default: '100000' },
    single: { type: 'string', default: '20000' },
    latency: { type: 'string', default: '1000' },
    workers: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    'remove-on-complete': { type: 'boolean', default: false },
  },
});
if (!opts.redis) {
  console.error('bench.mjs: --redis redis://host:port is required');
  process.exit(2);
}
const jobs = Number(opts.jobs);
const singles = Number(opts.single);
const latencyJobs = Number(opts.latency);
const workers = Number(opts.workers);
const rounds = Math.max(1, Number(opts.rounds));
const removeOnComplete = opts['remove-on-complete'];
const queueName = 'ferry-bench';

const version = (name) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url))).version;

// BullMQ's ESM build cannot load ioredis itself ("pass an already-constructed client
// instance"); workers need maxRetriesPerRequest: null (BullMQ's connection docs).
const connect = () => new Redis(opts.redis, { maxRetriesPerRequest: null });

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

async function runRound() {
  const admin = connect();
  await admin.flushall();
  const queueConnection = connect();
  const workerConnection = connect();
  const queue = new Queue(queueName, {
    connection: queueConnection,
    defaultJobOptions: removeOnComplete ? { removeOnComplete: true } : {},
  });
  await queue.waitUntilReady();
  const result = {};
  let worker = null;
  try {
    // Bulk enqueue: N jobs, one addBulk call.
    let t0 = performance.now();
    await queue.addBulk(Array.from({ length: jobs }, () => ({ name: 'noop', data: {} })));
    result.bulkEnqueuePerSec = jobs / ((performance.now() - t0) / 1000);

    // Processing: the N jobs with concurrency W.
    let done = 0;
    let allDone;
    const allDonePromise = new Promise((resolve) => (allDone = resolve));
    let probeStarted = null;
    t0 = performance.now();
    worker = new Worker(
      queueName,
      async (job) => {
        if (job.name === 'probe') probeStarted?.(performance.now());
      },
      { connection: workerConnection, concurrency: workers },
    );
    worker.on('completed', () => {
      if (++done === jobs) allDone();
    });
    worker.on('error', (error) => console.error(`bullmq worker error: ${error.message}`));
    await allDonePromise;
    result.processPerSec = jobs / ((performance.now() - t0) / 1000);

    // Latency: one job at a time while the worker waits.
    const latenciesMs = [];
    for (let i = 0; i < latencyJobs; ++i) {
      const started = new Promise((resolve) => (probeStarted = resolve));
      const start = performance.now();
      await queue.add('probe', {});
      const startedAt = await started;
      latenciesMs.push(startedAt - start);
      await settle(0.5);
    }
    probeStarted = null;
    result.latencyP50Ms = percentile(latenciesMs, 0.5);
    result.latencyP99Ms = percentile(latenciesMs, 0.99);
    await worker.close();
    worker = null;

    // Single enqueue: one Queue.add each, while nothing runs.
    t0 = performance.now();
    for (let i = 0; i < singles; ++i) await queue.add('noop', {});
    result.singleEnqueuePerSec = singles / ((performance.now() - t0) / 1000);
  } finally {
    if (worker) await worker.close().catch(() => {});
    await queue.close();
    for (const connection of [queueConnection, workerConnection]) connection.disconnect();
    await admin.quit();
  }
  return result;
}

const info = connect();
const serverInfo = await info.info('server');
await info.quit();
const redisVersion = /redis_version:(\S+)/.exec(serverInfo)?.[1] ?? 'unknown';
const samples = {};
for (let round = 0; round < rounds; ++round) {
  const result = await runRound();
  for (const [key, value] of Object.entries(result)) (samples[key] ??= []).push(value);
  console.log(JSON.stringify(sortedKeys({ ...result, round: round + 1 })));
}

const summary = {
  bench: 'bullmq',
  version: version('bullmq'),
  ioredis: version('ioredis'),
  node: process.versions.node,
  store: `redis-${redisVersion}`,
  persistence: 'none',
  removeOnComplete,
  jobs,
  singles,
  latencySamples: latencyJobs,
  workers,
  rounds,
};
for (const [key, values] of Object.entries(samples)) summary[`median_${key}`] = median(values);
console.log(JSON.stringify(sortedKeys(summary)));
