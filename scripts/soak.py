#!/usr/bin/env python3
"""Soak test of Ferry (issue 13): real `ferry --headless` nodes under mixed load and faults.

    scripts/soak.py [--build build] [--seconds 600] [--phases sqlite,cluster] [--clients 8]

Two phases, each --seconds/2 long (so the whole load lasts --seconds; draining and checking add
a minute or two per phase):

  sqlite   one headless node on SQLite, its data directory on a tmpfs of its own;
  cluster  two headless nodes on one throwaway PostgreSQL (scripts/pg-test-server.sh), each with
           its own data directory (tmpfs) and port; clients spread over both nodes.

Load, from many client threads, each with its own client address (X-Forwarded-For, the nodes
trusting 127.0.0.1 as their proxy, so that the per-IP rate limit tells the clients apart):
uploads of CSV, TSV, NDJSON and JSON arrays from a few rows to a few MiB (raw, gzip, multipart,
multipart with a gzip file, tus with an interrupted PATCH resumed from HEAD's offset), each with
an Idempotency-Key so that a retry after a dropped connection cannot queue it twice; long polls
(?wait=) until each job ends; cancels, and retries of cancelled jobs; dataset exports (NDJSON,
CSV, JSON pages); clients that pass the rate limit (--rate-limit 100 per 10 s); hostile clients
(slow headers, a huge Content-Length refused or admitted and then dropped, bodies aborted
half-way, chunked bodies aborted, garbage).

Faults: kill -9 of a node and restart (sqlite: once, at 20% of the phase; cluster: node 2 at 15%,
45% and 80%), a PostgreSQL restart (cluster, at 35%: stopped for 5 s), the free-disk floor crossed
for 13-15% of the phase (a ballast file fills the node's tmpfs below --min-free-disk-mb; needs
root to mount the tmpfs, and is skipped, saying so, without it).

Invariants, checked after the load stops and the queue drains; the script exits 1 when any fails:
  - every upload answered 202 ends in a terminal job; none of them failed/dead; none pending or
    running at the end (`ferry status`), and no job the clients did not see accepted;
  - every completed import's rows are in its dataset exactly once (an NDJSON export of every
    dataset, counted by the rows' unique ids against the rows sent), an import that did not
    complete left none, and every export taken during the load held each row once;
  - the surviving node's RSS, open descriptors and threads stay flat after warm-up (the
    median of the last 10% of the phase against the median of a window after warm-up, within
    the margins printed);
  - p99 of GET /api/v1/health (10 a second, from a thread of its own, outside the fault windows)
    under --health-p99-ms, and no failed health check outside them;
  - clients that passed the rate limit got 429 rate_limited; the others never did; aborted and
    refused uploads left no quota used; every node stopped cleanly on SIGTERM at the end.
Python standard library only.
"""

import argparse
import base64
import csv
import gzip
import http.client
import io
import json
import os
import random
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TERMINAL = {"completed", "failed", "cancelled", "dead"}
FLOOR_MB = 64  # --min-free-disk-mb of every node
RATE_LIMIT, RATE_WINDOW = 100, 10  # 10 requests/s sustained per client, bursts of 100

# Margins of the flatness check: last window's median against the post-warm-up window's median.
RSS_FACTOR, RSS_SLACK_MIB = 1.25, 24
FD_SLACK = 24
THREAD_SLACK = 8


def log(msg):
    print(time.strftime("%H:%M:%S ") + msg, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ------------------------------------------------------------------------------------------------
# Bookkeeping shared by the threads


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.notes = []  # unexpected answers, kept for the report (first 200)

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n

    def note(self, text):
        with self.lock:
            self.counts["unexpected"] = self.counts.get("unexpected", 0) + 1
            if len(self.notes) < 200:
                self.notes.append(time.strftime("%H:%M:%S ") + text)

    def get(self, key):
        with self.lock:
            return self.counts.get(key, 0)


class Upload:
    """One logical upload: its rows are identified by uid = '<tag>-<n>'."""

    def __init__(self, user, dataset, keyed, fmt, transport, rows):
        self.tag = uuid.uuid4().hex[:12]
        self.user, self.dataset, self.keyed = user, dataset, keyed
        self.fmt, self.transport, self.rows = fmt, transport, rows
        self.job = None
        self.node = None
        self.cancel_asked = False
        self.retried = False
        self.final = None
        self.result = None
        self.error = None
        self.size = 0


# ------------------------------------------------------------------------------------------------
# Nodes


class Node:
    def __init__(self, name, ferry, data_dir, port, scratch, db=None):
        self.name, self.ferry, self.data_dir, self.port = name, ferry, data_dir, port
        self.db = db
        self.scratch = scratch
        self.proc = None
        self.down = True  # set while the soak has it stopped (its health samples do not count)
        self.incarnation = 0
        self.killed = 0
        self.log_path = os.path.join(scratch, f"{name}.log")
        self.mounted = False
        self.extra = []

    def common(self):
        args = ["--data-dir", self.data_dir]
        if self.db:
            args += ["--db", self.db]
        return args

    def cli(self, *args):
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
                   XDG_DATA_HOME=os.path.join(self.scratch, "xdg"))
        out = subprocess.run([self.ferry, *args, *self.common()], env=env, capture_output=True,
                             text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"ferry {' '.join(args)}: exit {out.returncode}: {out.stderr}")
        return out.stdout

    def start(self):
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
                   XDG_DATA_HOME=os.path.join(self.scratch, "xdg"))
        args = [self.ferry, "--headless", *self.common(), "--listen", f"127.0.0.1:{self.port}",
                "--access-log", "off", "--trust-proxy", "127.0.0.1",
                "--rate-limit", str(RATE_LIMIT), "--rate-window-seconds", str(RATE_WINDOW),
                "--min-free-disk-mb", str(FLOOR_MB), *self.extra]
        logf = open(self.log_path, "ab")
        logf.write(f"\n==== start {self.incarnation + 1} at {time.strftime('%H:%M:%S')}\n".encode())
        logf.flush()
        self.proc = subprocess.Popen(args, env=env, stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        self.incarnation += 1
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} at start; "
                                   f"see {self.log_path}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/api/v1/health")
                if c.getresponse().status == 200:
                    c.close()
                    self.started_at = time.monotonic()
                    self.down = False
                    return
                c.close()
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer /api/v1/health within 90 s")

    @property
    def pid(self):
        return self.proc.pid if self.proc and self.proc.poll() is None else None

    def kill9(self):
        self.down = True
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.killed += 1

    def terminate(self, timeout=60):
        """SIGTERM; the exit code (None when it had to be killed)."""
        self.down = True
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


def mount_tmpfs(path, size_mb):
    os.makedirs(path, exist_ok=True)
    if os.geteuid() != 0:
        return False
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", path],
                       capture_output=True)
    return r.returncode == 0


def umount(path):
    subprocess.run(["umount", "-l", path], capture_output=True)


# ------------------------------------------------------------------------------------------------
# HTTP


class Api:
    """A client's connections (one per node, kept alive) and its identity."""

    def __init__(self, cluster, token, xff, stats):
        self.cluster, self.token, self.xff, self.stats = cluster, token, xff, stats
        self.conns = {}

    def node(self, prefer=None):
        nodes = self.cluster.nodes
        if prefer is not None:
            return prefer
        return random.choice(nodes)

    def request(self, method, path, body=None, headers=None, node=None, timeout=90):
        """(status, headers, body); raises OSError / HTTPException on a dropped connection."""
        node = node or self.node()
        h = {"Authorization": f"Bearer {self.token}", "X-Forwarded-For": self.xff}
        if headers:
            h.update(headers)
        conn = self.conns.get(node.port)
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=timeout)
            self.conns[node.port] = conn
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        try:
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            self.conns.pop(node.port, None)
            raise
        status = resp.status
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        if status == 429 and b"rate_limited" in data:
            self.stats.add("rate_limited_429")
        return status, hdrs, data

    def call(self, method, path, body=None, headers=None, ok=(200,), deadline=120, node=None,
             timeout=90):
        """request() with retries on dropped connections and 503s (another node in a cluster)."""
        end = time.monotonic() + deadline
        attempt = 0
        while True:
            attempt += 1
            target = node if (node is not None and attempt == 1) else None
            try:
                st, h, b = self.request(method, path, body, headers, node=target, timeout=timeout)
                if st in ok:
                    return st, h, b
                if st != 503 or time.monotonic() > end:
                    return st, h, b
                self.stats.add("retry_503")
            except (OSError, http.client.HTTPException):
                self.stats.add("retry_connection")
                if time.monotonic() > end:
                    return None, {}, b""
            time.sleep(min(2.0, 0.2 * attempt))

    def close(self):
        for c in self.conns.values():
            c.close()
        self.conns.clear()


class Cluster:
    def __init__(self, nodes):
        self.nodes = nodes


# ------------------------------------------------------------------------------------------------
# Data


NAMES = ["Ada", "Bjørn", "Chloé", "Dmitri", "Eun-ji", "Fatima", "Grüße", "Hiro", "Ingrid", "José"]


def make_rows(tag, n):
    rows = []
    for i in range(n):
        rows.append({"uid": f"{tag}-{i}", "src": tag, "n": i,
                     "name": NAMES[i % len(NAMES)] + f" {i}",
                     "score": round((i * 7919 % 1000) / 7.0, 3),
                     "city": "Oslo, \"Sentrum\"" if i % 17 == 0 else "Bergen"})
    return rows


def encode(fmt, rows):
    if fmt in ("csv", "tsv"):
        out = io.StringIO()
        delim = "," if fmt == "csv" else "\t"
        cols = ["uid", "src", "n", "name", "score", "city"]
        if fmt == "csv":
            w = csv.writer(out, lineterminator="\n")
            w.writerow(cols)
            for r in rows:
                w.writerow([r[c] for c in cols])
        else:
            out.write(delim.join(cols) + "\n")
            for r in rows:
                out.write(delim.join(str(r[c]).replace('"', "'") for c in cols) + "\n")
        return out.getvalue().encode()
    if fmt == "ndjson":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    return json.dumps(rows, ensure_ascii=False).encode()


CONTENT_TYPES = {"csv": "text/csv", "tsv": "text/tab-separated-values",
                 "ndjson": "application/x-ndjson", "json": "application/json"}
EXT = {"csv": ".csv", "tsv": ".tsv", "ndjson": ".ndjson", "json": ".json"}


def multipart(fields, file_name, file_type, content):
    boundary = "soak" + uuid.uuid4().hex
    parts = []
    for k, v in fields.items():
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                     .encode())
    parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                 f"filename=\"{file_name}\"\r\nContent-Type: {file_type}\r\n\r\n".encode())
    parts.append(content)
    parts.append(f"\r\n--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# ------------------------------------------------------------------------------------------------
# The soak of one phase


class Phase:
    def __init__(self, args, name, ferry, scratch):
        self.args, self.name, self.ferry, self.scratch = args, name, ferry, scratch
        self.seconds = args.seconds / len(args.phases)
        self.stats = Stats()
        self.stop = threading.Event()
        self.uploads = []
        self.uploads_lock = threading.Lock()
        self.health = []  # (t, node, ms or None, status)
        self.samples = []  # (t, node, incarnation, rss_kib, fds, threads)
        self.windows = []  # (start, end, label) fault windows: health samples there do not count
        self.nodes = []
        self.users = {}  # name -> token
        self.pg_state = None
        self.t0 = None
        self.faults = []
        self.results = []  # (invariant, value, bound, ok)
        self.dead_nodes = []  # nodes that exited without being told to
        self.export_dupes = 0
        self.exports_done = 0
        self.xff_counter = 0
        self.xff_lock = threading.Lock()
        self.disk_mode = None

    def now(self):
        return time.monotonic() - self.t0

    def xff(self, a, b):
        return f"10.{a}.{b // 250}.{b % 250 + 1}"

    def checker_xff(self):
        with self.xff_lock:
            self.xff_counter += 1
            return self.xff(200, self.xff_counter)

    # -- set-up ----------------------------------------------------------------------------------

    def setup(self):
        base = os.path.join(self.scratch, self.name)
        os.makedirs(base)
        db = None
        if self.name == "cluster":
            self.pg_state = os.path.join(base, "pg")
            out = subprocess.run([os.path.join(ROOT, "scripts/pg-test-server.sh"), "start",
                                  self.pg_state], capture_output=True, text=True)
            if out.returncode != 0:
                raise RuntimeError("pg-test-server.sh start failed: " + out.stderr)
            db = out.stdout.strip()
            log(f"[{self.name}] PostgreSQL at {db}")
        count = 2 if self.name == "cluster" else 1
        size = self.args.tmpfs_mb if self.name == "sqlite" else 256
        for i in range(count):
            data = os.path.join(base, f"node{i + 1}")
            node = Node(f"{self.name}-node{i + 1}", self.ferry, data, free_port(), base, db)
            node.mounted = mount_tmpfs(data, size)
            node.extra = self.args.node_args.split()
            self.nodes.append(node)
        self.disk_mode = "tmpfs" if all(n.mounted for n in self.nodes) else None
        users = [f"user{i}" for i in range(self.args.users)] + ["mallory", "hammer"]
        for u in users:
            out = json.loads(self.nodes[0].cli("user", "add", u, "--json"))
            self.users[u] = out["token"]
            if u != "mallory":
                self.nodes[0].cli("quota", "set", u, "--uploads", "unlimited", "--bytes",
                                  "unlimited")
        for n in self.nodes:
            n.start()
        log(f"[{self.name}] nodes up: " + ", ".join(f"{n.name} :{n.port} pid {n.pid}"
                                                   for n in self.nodes))
        self.cluster = Cluster(self.nodes)

    def teardown(self):
        for n in self.nodes:
            if n.proc and n.proc.poll() is None:
                n.proc.kill()
                n.proc.wait()
            if n.mounted:
                umount(n.data_dir)
                n.mounted = False
        if self.pg_state:
            subprocess.run([os.path.join(ROOT, "scripts/pg-test-server.sh"), "stop",
                            self.pg_state], capture_output=True)
            self.pg_state = None

    # -- load ------------------------------------------------------------------------------------

    def record(self, up):
        with self.uploads_lock:
            self.uploads.append(up)

    def uploader(self, index):
        user = f"user{index % self.args.users}"
        api = Api(self.cluster, self.users[user], self.xff(1, index), self.stats)
        rnd = random.Random(index * 7 + hash(self.name))
        while not self.stop.is_set():
            try:
                self.one_upload(api, rnd, user)
            except Exception as e:  # a bug of the soak itself: say so and go on
                self.stats.note(f"uploader {index}: {type(e).__name__}: {e}")
                time.sleep(1)
        api.close()

    def one_upload(self, api, rnd, user):
        size = rnd.random()
        if size < 0.55:
            n = rnd.randint(1, 300)
        elif size < 0.9:
            n = rnd.randint(2000, 8000)
        else:
            n = rnd.randint(15000, 40000)
        fmt = rnd.choice(["csv", "tsv", "ndjson", "json"])
        keyed = rnd.random() < 0.25
        dataset = "keyed" if keyed else f"plain{rnd.randint(0, 2)}"
        t = rnd.random()
        transport = ("raw" if t < 0.3 else "gzip" if t < 0.45 else "multipart" if t < 0.62 else
                     "multipart-gzip" if t < 0.72 else "tus-interrupted" if t < 0.92 else "tus")
        up = Upload(user, dataset, keyed, fmt, transport, n)
        content = encode(fmt, make_rows(up.tag, n))
        up.size = len(content)
        if transport.startswith("tus"):
            ok = self.tus_upload(api, rnd, up, content)
        else:
            ok = self.plain_upload(api, up, content)
        if not ok:
            return
        self.record(up)
        self.stats.add(f"accepted_{transport}")
        self.stats.add(f"accepted_{fmt}")
        # Cancel some, at once or soon after the 202 (pending or running).
        if rnd.random() < 0.12:
            if rnd.random() < 0.5:
                time.sleep(rnd.random() * 0.5)
            up.cancel_asked = True
            st, _, b = api.call("POST", f"/api/v1/jobs/{up.job}/cancel", ok=(200, 409))
            self.stats.add(f"cancel_{st}")
            if st not in (200, 409):
                self.stats.note(f"cancel of job {up.job}: {st} {b[:200]!r}")
        status = self.follow(api, up)
        if status == "cancelled" and rnd.random() < 0.6 and not self.stop.is_set():
            st, _, b = api.call("POST", f"/api/v1/jobs/{up.job}/retry", ok=(200,))
            self.stats.add(f"retry_{st}")
            if st == 200:
                up.retried = True
                status = self.follow(api, up)
            else:
                self.stats.note(f"retry of cancelled job {up.job}: {st} {b[:200]!r}")
        if status == "completed" and rnd.random() < 0.25:
            self.export(api, rnd, up)
        # Think time: a client's next file comes a moment later.
        self.stop.wait(rnd.uniform(0, 2 * self.args.think))

    def plain_upload(self, api, up, content):
        params = f"dataset={up.dataset}"
        headers = {"Idempotency-Key": "soak-" + up.tag}
        body = content
        if up.transport in ("raw", "gzip"):
            params += f"&format={up.fmt}"
            headers["Content-Type"] = CONTENT_TYPES[up.fmt]
            if up.transport == "gzip":
                body = gzip.compress(content, 6)
                headers["Content-Encoding"] = "gzip"
            if up.keyed:
                params += "&key=uid"
        else:
            fields = {}
            fname = up.tag + EXT[up.fmt]
            if up.transport == "multipart-gzip":
                content = gzip.compress(content, 6)
                fname += ".gz"
                fields["format"] = up.fmt  # the name says .gz; say the format outright
            if up.keyed:
                fields["key"] = "uid"
            body, ctype = multipart(fields, fname, "application/octet-stream", content)
            headers["Content-Type"] = ctype
        end = time.monotonic() + 240
        tries = 0
        while time.monotonic() < end:
            tries += 1
            try:
                node = api.node()
                st, h, b = api.request("POST", f"/api/v1/uploads?{params}", body, headers,
                                       node=node)
            except (OSError, http.client.HTTPException):
                self.stats.add("upload_retry_connection")
                time.sleep(min(3, 0.3 * tries))
                continue
            if st == 202:
                j = json.loads(b)
                up.job, up.node = j["jobId"], node.name
                if h.get("idempotent-replayed"):
                    self.stats.add("upload_replayed")
                return True
            code = self.code(b)
            self.stats.add(f"upload_{st}_{code}")
            if st in (503, 507, 409) or (st == 429 and code == "rate_limited"):
                if st == 429:
                    self.stats.note(f"a normal client was rate limited: {b[:200]!r}")
                time.sleep(min(3, 0.3 * tries) if st != 507 else 2)
                continue
            self.stats.note(f"upload {up.transport}/{up.fmt}: {st} {b[:300]!r}")
            return False
        self.stats.add("upload_abandoned")
        self.stats.note(f"upload {up.tag} abandoned after {tries} tries")
        return False

    @staticmethod
    def code(body):
        try:
            return json.loads(body).get("code", "")
        except ValueError:
            return "?"

    def tus_upload(self, api, rnd, up, content):
        tus = {"Tus-Resumable": "1.0.0"}
        meta = {"dataset": up.dataset, "format": up.fmt, "filename": up.tag + EXT[up.fmt]}
        if up.keyed:
            meta["key"] = "uid"
        md = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())
        location = None
        end = time.monotonic() + 240
        while location is None and time.monotonic() < end:
            st, h, b = api.call("POST", "/api/v1/tus", b"",
                                dict(tus, **{"Upload-Length": str(len(content)),
                                             "Upload-Metadata": md}), ok=(201,))
            if st == 201:
                location = h.get("location")
                break
            self.stats.add(f"tus_create_{st}_{self.code(b)}")
            if st in (507, None, 503):
                time.sleep(2)
                continue
            self.stats.note(f"tus create: {st} {b[:300]!r}")
            return False
        if location is None:
            self.stats.add("upload_abandoned")
            return False
        if up.transport == "tus-interrupted":
            cut = rnd.randint(len(content) // 5, max(len(content) // 5, len(content) * 4 // 5))
            self.interrupted_patch(api, location, content, cut)
        job = None
        tries = 0
        while job is None and time.monotonic() < end:
            tries += 1
            try:
                st, h, b = api.request("HEAD", location, headers=tus)
            except (OSError, http.client.HTTPException):
                time.sleep(0.5)
                continue
            if st != 200:
                if st in (503,):
                    time.sleep(1)
                    continue
                self.stats.note(f"tus HEAD {location}: {st}")
                return False
            if h.get("ferry-job-id"):
                job = h["ferry-job-id"]
                break
            offset = int(h.get("upload-offset", "0"))
            self.stats.add("tus_resume" if offset else "tus_patch_from_zero")
            try:
                st, h, b = api.request("PATCH", location, content[offset:],
                                       dict(tus, **{"Upload-Offset": str(offset),
                                                    "Content-Type":
                                                        "application/offset+octet-stream"}))
            except (OSError, http.client.HTTPException):
                self.stats.add("tus_patch_dropped")
                time.sleep(0.5)
                continue
            if st == 204 and h.get("ferry-job-id"):
                job = h["ferry-job-id"]
                break
            self.stats.add(f"tus_patch_{st}")
            if st in (409, 503, 507, 204):
                time.sleep(0.5 if st != 507 else 2)
                continue
            self.stats.note(f"tus PATCH: {st} {b[:300]!r}")
            return False
        if job is None:
            self.stats.add("upload_abandoned")
            return False
        up.job = job
        return True

    def interrupted_patch(self, api, location, content, cut):
        """A PATCH announcing the whole rest, of which only `cut` bytes go out: a dropped line."""
        node = api.node()
        try:
            s = socket.create_connection(("127.0.0.1", node.port), timeout=10)
            s.sendall((f"PATCH {location} HTTP/1.1\r\nHost: soak\r\nAuthorization: Bearer "
                       f"{api.token}\r\nX-Forwarded-For: {api.xff}\r\nTus-Resumable: 1.0.0\r\n"
                       f"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
                       f"Content-Length: {len(content)}\r\n\r\n").encode())
            s.sendall(content[:cut])
            time.sleep(0.3)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()  # a reset, as a dropped connection
            self.stats.add("tus_interrupted")
        except OSError:
            self.stats.add("tus_interrupt_failed")

    def follow(self, api, up):
        """Long-polls the job until it ends (or the load stops); its last status."""
        status = None
        while True:
            wait = 2 if self.stop.is_set() else 20
            st, _, b = api.call("GET", f"/api/v1/jobs/{up.job}?wait={wait}", deadline=180)
            self.stats.add("long_polls")
            if st != 200:
                self.stats.note(f"follow job {up.job}: {st} {b[:200]!r}")
                return status
            status = json.loads(b)["job"]["status"]
            if status in TERMINAL or self.stop.is_set():
                return status

    def export(self, api, rnd, up):
        """An export taken under load: each row once, and the just-completed upload's all there."""
        kind = rnd.choice(["ndjson", "csv", "json"])
        path = f"/api/v1/datasets/{up.dataset}/records"
        uids = []
        if kind == "json":
            after = None
            for _ in range(5):
                q = f"?format=json&limit=1000" + (f"&after={after}" if after else "")
                st, _, b = api.call("GET", path + q, deadline=60)
                if st != 200:
                    self.stats.add(f"export_json_{st}")
                    return
                page = json.loads(b)
                uids += [r.get("uid") for r in page["records"]]
                after = page.get("next")
                if not after:
                    break
        else:
            st, _, b = api.call("GET", path + f"?format={kind}", deadline=60)
            if st != 200:
                self.stats.add(f"export_{kind}_{st}")
                return
            if kind == "ndjson":
                uids = [json.loads(line).get("uid") for line in b.splitlines() if line]
            else:
                uids = [r.get("uid") for r in csv.DictReader(io.StringIO(b.decode()))]
            got = sum(1 for u in uids if u and u.startswith(up.tag + "-"))
            if got != up.rows:
                self.stats.note(f"export ({kind}) right after job {up.job} completed has {got} of "
                                f"its {up.rows} rows")
                self.stats.add("export_rows_missing")
        self.exports_done += 1
        self.stats.add(f"export_{kind}")
        if len(uids) != len(set(uids)):
            self.export_dupes += 1
            self.stats.note(f"export ({kind}) of {up.dataset} holds {len(uids) - len(set(uids))} "
                            f"duplicate rows")

    def hammer(self, index):
        """A client that goes over the rate limit in bursts (30 requests/s for 15 s, then rests)."""
        api = Api(self.cluster, self.users["hammer"], self.xff(9, index), self.stats)
        while not self.stop.is_set():
            burst_start = time.monotonic()
            burst_end = burst_start + 15
            in_window = 0  # requests this burst sent in its first RATE_WINDOW seconds
            while time.monotonic() < burst_end and not self.stop.is_set():
                if time.monotonic() < burst_start + RATE_WINDOW:
                    in_window += 1
                    self.hammer_peak = max(getattr(self, "hammer_peak", 0), in_window)
                try:
                    st, h, b = api.request("GET", "/api/v1/quota", timeout=10)
                    if st == 429:
                        self.stats.add("hammer_429")
                        if "retry-after" not in h or b"rate_limited" not in b:
                            self.stats.note(f"429 without Retry-After/rate_limited: {h} {b!r}")
                    else:
                        self.stats.add(f"hammer_{st}")
                except (OSError, http.client.HTTPException):
                    self.stats.add("hammer_dropped")
                time.sleep(1 / 30)
            self.stop.wait(15)
        api.close()

    def hostile(self, index):
        """Slow headers, a huge Content-Length, aborted bodies (raw and chunked), garbage."""
        token = self.users["mallory"]
        rnd = random.Random(index)
        # The quota check at the end needs the aborted uploads' node to outlive them: in the
        # cluster, hostile clients talk to node 1, which is never killed.
        node = self.nodes[0]
        xff = self.xff(66, index)

        def conn():
            return socket.create_connection(("127.0.0.1", node.port), timeout=30)

        def head(method, path, extra):
            return (f"{method} {path} HTTP/1.1\r\nHost: soak\r\nAuthorization: Bearer {token}\r\n"
                    f"X-Forwarded-For: {xff}\r\n{extra}\r\n").encode()

        def answer(s, limit=40):
            s.settimeout(limit)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass
            try:
                return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None
            except (ValueError, IndexError):
                return None

        def slow_headers():
            try:
                s = conn()
                s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: soak\r\n")
                start = time.monotonic()
                status = None
                s.settimeout(3)
                while time.monotonic() - start < 25:
                    try:
                        s.sendall(b"X-Slow: 1\r\n")
                    except OSError:
                        break
                    try:
                        data = s.recv(4096)
                        if data.startswith(b"HTTP/1.1 "):
                            status = int(data.split(b" ", 2)[1])
                        break
                    except socket.timeout:
                        continue
                    except OSError:
                        break
                s.close()
                if status is None:
                    status = "closed" if node.down or time.monotonic() - start < 25 else "none"
                self.stats.add(f"hostile_slow_headers_{status}")
            except OSError:
                self.stats.add("hostile_slow_headers_connect_failed")

        while not self.stop.is_set():
            kind = rnd.choice(["slow", "huge", "aborted", "aborted-chunked", "garbage",
                               "continue-huge", "aborted-multipart", "huge-aborted"])
            try:
                if kind == "slow":
                    threads = [threading.Thread(target=slow_headers, daemon=True)
                               for _ in range(3)]
                    for t in threads:
                        t.start()
                    for t in threads:
                        t.join()
                    continue
                s = conn()
                if kind == "huge":
                    s.sendall(head("POST", "/api/v1/uploads?dataset=evil&format=csv",
                                   "Content-Type: text/csv\r\nContent-Length: 99999999999999\r\n"))
                    st = answer(s)
                elif kind == "continue-huge":
                    s.sendall(head("POST", "/api/v1/uploads?dataset=evil&format=csv",
                                   "Content-Type: text/csv\r\nExpect: 100-continue\r\n"
                                   "Content-Length: 5000000000\r\n"))
                    st = answer(s)
                elif kind == "aborted":
                    # Admitted (under --max-upload-mb), then the body stops a third of the way.
                    s.sendall(head("POST", "/api/v1/uploads?dataset=evil&format=csv",
                                   "Content-Type: text/csv\r\nContent-Length: 3000000\r\n"))
                    s.sendall(b"a,b\n" + b"1,2\n" * 250000)
                    time.sleep(rnd.random())
                    st = "aborted"
                elif kind == "huge-aborted":
                    # A huge Content-Length under --max-upload-mb (its quota is reserved from
                    # it), a little of the body, then the line drops.
                    s.sendall(head("POST", "/api/v1/uploads?dataset=evil&format=csv",
                                   "Content-Type: text/csv\r\nContent-Length: 900000000\r\n"))
                    s.sendall(b"a,b\n" + b"1,2\n" * 16384)
                    time.sleep(rnd.random())
                    st = "aborted"
                elif kind == "aborted-multipart":
                    body, ctype = multipart({"dataset": "evil"}, "x.csv", "text/csv",
                                            b"a,b\n" + b"1,2\n" * 200000)
                    s.sendall(head("POST", "/api/v1/uploads", f"Content-Type: {ctype}\r\n"
                                   f"Content-Length: {len(body)}\r\n"))
                    s.sendall(body[: len(body) // 2])
                    time.sleep(rnd.random())
                    st = "aborted"
                elif kind == "aborted-chunked":
                    s.sendall(head("POST", "/api/v1/uploads?dataset=evil&format=csv",
                                   "Content-Type: text/csv\r\nTransfer-Encoding: chunked\r\n"))
                    chunk = b"a,b\n" + b"1,2\n" * 50000
                    for _ in range(3):
                        s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                    s.sendall(b"%x\r\n" % 100000 + b"1,2\n" * 100)  # a chunk cut short
                    time.sleep(rnd.random())
                    st = "aborted"
                else:
                    s.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
                    st = answer(s)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
                self.stats.add(f"hostile_{kind}_{st}")
            except OSError:
                self.stats.add(f"hostile_{kind}_dropped")
            self.stop.wait(rnd.uniform(1, 4))

    # -- observers -------------------------------------------------------------------------------

    def health_sampler(self):
        conns = {}
        i = 0
        next_t = time.monotonic()
        while not self.stop.is_set():
            node = self.nodes[i % len(self.nodes)]
            i += 1
            if not node.down:
                t = self.now()
                start = time.monotonic()
                status = None
                try:
                    c = conns.get(node.port)
                    if c is None:
                        c = conns[node.port] = http.client.HTTPConnection("127.0.0.1", node.port,
                                                                           timeout=10)
                    c.request("GET", "/api/v1/health")
                    r = c.getresponse()
                    r.read()
                    status = r.status
                except (OSError, http.client.HTTPException) as e:
                    status = type(e).__name__
                    conns.pop(node.port, None)
                ms = (time.monotonic() - start) * 1000
                if not node.down:  # a kill during the request does not count
                    self.health.append((t, node.name, ms, status))
            next_t += 0.1
            self.stop.wait(max(0, next_t - time.monotonic()))

    def resource_sampler(self):
        while not self.stop.is_set():
            t = self.now()
            for n in self.nodes:
                pid = n.pid
                if pid is None or n.down:
                    continue
                try:
                    rss = threads = None
                    with open(f"/proc/{pid}/status") as f:
                        for line in f:
                            if line.startswith("VmRSS:"):
                                rss = int(line.split()[1])
                            elif line.startswith("Threads:"):
                                threads = int(line.split()[1])
                    fds = len(os.listdir(f"/proc/{pid}/fd"))
                    self.samples.append((t, n.name, n.incarnation, rss, fds, threads))
                except OSError:
                    pass
                if n.proc.poll() is not None and not n.down:
                    self.dead_nodes.append((n.name, n.proc.returncode, t))
                    self.stats.note(f"{n.name} exited by itself with {n.proc.returncode}")
                    n.down = True
            self.stop.wait(1)

    # -- faults ----------------------------------------------------------------------------------

    def schedule(self):
        T = self.seconds
        if self.name == "sqlite":
            node = self.nodes[0]
            return [(0.20 * T, "kill", node), (0.50 * T, "disk-on", node),
                    (0.65 * T, "disk-off", node)]
        a, b = self.nodes
        return [(0.15 * T, "kill", b), (0.35 * T, "pg-restart", None), (0.45 * T, "kill", b),
                (0.55 * T, "disk-on", a), (0.68 * T, "disk-off", a), (0.80 * T, "kill", b)]

    def fault(self, action, node):
        t = self.now()
        if action == "kill":
            log(f"[{self.name}] t={t:.0f}s kill -9 {node.name} (pid {node.pid})")
            node.kill9()
            time.sleep(3)
            node.start()
            self.windows.append((t - 1, self.now() + 5, f"kill {node.name}"))
            self.faults.append(f"t={t:.0f}s kill -9 {node.name}, back after {self.now() - t:.1f}s")
        elif action == "pg-restart":
            log(f"[{self.name}] t={t:.0f}s PostgreSQL stops for 5 s")
            self.pg_restart()
            self.windows.append((t - 1, self.now() + 10, "pg restart"))
            self.faults.append(f"t={t:.0f}s PostgreSQL restart, down {self.now() - t:.1f}s")
        elif action == "disk-on":
            if self.disk_mode != "tmpfs":
                self.faults.append("disk floor: SKIPPED (mounting a tmpfs needs root)")
                log(f"[{self.name}] disk floor skipped: not root or no tmpfs")
                return
            st = os.statvfs(node.data_dir)
            free = st.f_bavail * st.f_frsize
            ballast = free - (FLOOR_MB << 20) // 2
            self.ballast = os.path.join(node.data_dir, "soak-ballast")
            fd = os.open(self.ballast, os.O_CREAT | os.O_WRONLY, 0o600)
            try:
                os.posix_fallocate(fd, 0, ballast)
            finally:
                os.close(fd)
            st = os.statvfs(node.data_dir)
            left = st.f_bavail * st.f_frsize >> 20
            self.disk_on_at = t
            log(f"[{self.name}] t={t:.0f}s disk floor crossed on {node.name}: {left} MiB free, "
                f"floor {FLOOR_MB} MiB")
            self.faults.append(f"t={t:.0f}s free disk of {node.name} down to {left} MiB "
                               f"(floor {FLOOR_MB} MiB)")
        elif action == "disk-off":
            if self.disk_mode != "tmpfs":
                return
            os.unlink(self.ballast)
            log(f"[{self.name}] t={t:.0f}s disk floor lifted on {node.name}")
            self.faults[-1] += f", for {t - self.disk_on_at:.0f}s"

    def pg_restart(self):
        server = open(os.path.join(self.pg_state, "server")).read().strip()
        port = open(os.path.join(self.pg_state, "port")).read().strip()
        pg_ctl = None
        for d in ["/usr/lib/postgresql/15/bin"] + sorted(
                os.path.join("/usr/lib/postgresql", v, "bin")
                for v in os.listdir("/usr/lib/postgresql")):
            if os.access(os.path.join(d, "pg_ctl"), os.X_OK):
                pg_ctl = os.path.join(d, "pg_ctl")
                break
        wrap = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(wrap + [pg_ctl, "-D", f"{server}/data", "-m", "fast", "-w", "stop"],
                       check=True, capture_output=True)
        time.sleep(5)
        opts = (f"-c listen_addresses=127.0.0.1 -p {port} -k {server} -c fsync=off "
                f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        subprocess.run(wrap + [pg_ctl, "-D", f"{server}/data", "-l", f"{server}/log", "-w",
                               "-t", "30", "-o", opts, "start"], check=True, capture_output=True)

    # -- the run ---------------------------------------------------------------------------------

    def run(self):
        self.setup()
        self.t0 = time.monotonic()
        threads = []
        for i in range(self.args.clients):
            threads.append(threading.Thread(target=self.uploader, args=(i,), daemon=True))
        for i in range(2):
            threads.append(threading.Thread(target=self.hammer, args=(i,), daemon=True))
        for i in range(2):
            threads.append(threading.Thread(target=self.hostile, args=(i,), daemon=True))
        observers = [threading.Thread(target=self.health_sampler, daemon=True),
                     threading.Thread(target=self.resource_sampler, daemon=True)]
        for t in threads + observers:
            t.start()
        log(f"[{self.name}] load for {self.seconds:.0f}s: {self.args.clients} uploaders, "
            f"2 rate-limited, 2 hostile, health 10/s")
        pending = self.schedule()
        next_progress = 30
        while self.now() < self.seconds:
            if pending and self.now() >= pending[0][0]:
                _, action, node = pending.pop(0)
                self.fault(action, node)
            if self.now() >= next_progress:
                self.progress()
                next_progress += 30
            time.sleep(0.2)
        self.load_seconds = self.now()
        log(f"[{self.name}] load stops; {len(self.uploads)} uploads accepted so far")
        self.stop.set()
        for t in threads:
            t.join(200)
        for t in observers:
            t.join(10)
        self.drain()
        self.check()
        codes = {}
        for n in self.nodes:
            codes[n.name] = n.terminate()
        self.results.append(("nodes stop cleanly on SIGTERM", ", ".join(
            f"{k}: exit {v}" for k, v in codes.items()), "exit 0", all(v == 0 for v in codes.values())))

    def progress(self):
        last = [s for s in self.samples[-len(self.nodes) * 2:]]
        res = " ".join(f"{s[1].split('-')[-1]} rss={s[3] >> 10}MiB fds={s[4]} thr={s[5]}"
                       for s in last[-len(self.nodes):])
        log(f"[{self.name}] t={self.now():.0f}s accepted={len(self.uploads)} "
            f"429s(hammer)={self.stats.get('hammer_429')} {res}")

    # -- after the load --------------------------------------------------------------------------

    def all_jobs(self, api):
        jobs = {}
        after = None
        while True:
            q = "/api/v1/jobs?limit=500" + (f"&after={after}" if after else "")
            api.xff = self.checker_xff()
            st, _, b = api.call("GET", q, deadline=120)
            if st != 200:
                raise RuntimeError(f"GET {q}: {st} {b[:200]!r}")
            page = json.loads(b)
            for j in page["jobs"]:
                jobs[j["id"]] = j
            after = page.get("next")
            if not after:
                return jobs

    def drain(self):
        log(f"[{self.name}] draining the queue (at most {self.args.drain}s)")
        apis = {u: Api(self.cluster, tok, "", self.stats) for u, tok in self.users.items()}
        end = time.monotonic() + self.args.drain
        start = time.monotonic()
        while True:
            self.jobs = {}
            for u, api in apis.items():
                for jid, j in self.all_jobs(api).items():
                    self.jobs[(u, jid)] = j
            busy = [j for j in self.jobs.values() if j["status"] not in TERMINAL]
            if not busy or time.monotonic() > end:
                break
            time.sleep(2)
        self.drain_seconds = time.monotonic() - start
        log(f"[{self.name}] drained in {self.drain_seconds:.0f}s; {len(busy)} jobs not finished")
        # A migration that ended without completing is undone by the engine's sweep within
        # seconds: give it those seconds before counting rows.
        time.sleep(6)
        for api in apis.values():
            api.close()
        self.apis = apis

    def export_all(self):
        """uid -> count, per (user, dataset), from an NDJSON export of every dataset."""
        counts = {}
        for u, tok in self.users.items():
            api = Api(self.cluster, tok, self.checker_xff(), self.stats)
            st, _, b = api.call("GET", "/api/v1/datasets", deadline=120)
            if st != 200:
                raise RuntimeError(f"GET /api/v1/datasets: {st}")
            for ds in json.loads(b)["datasets"]:
                api.xff = self.checker_xff()
                st, _, body = api.call("GET", f"/api/v1/datasets/{ds['name']}/records",
                                       deadline=300, timeout=300)
                if st != 200:
                    raise RuntimeError(f"export of {u}/{ds['name']}: {st}")
                c = counts.setdefault((u, ds["name"]), {})
                for line in body.splitlines():
                    if line:
                        uid = json.loads(line).get("uid")
                        c[uid] = c.get(uid, 0) + 1
            api.close()
        return counts

    def check(self):
        R = self.results
        ups = self.uploads
        # 1. Every 202 ends in a terminal job; none failed or dead; none pending or running.
        final = {}
        for up in ups:
            j = self.jobs.get((up.user, str(up.job)))
            up.final = j["status"] if j else "missing"
            up.result = j.get("result") if j else None
            up.error = j.get("error") if j else None
            final[up.final] = final.get(up.final, 0) + 1
        attempts = {}
        for u in ups:
            a = (self.jobs.get((u.user, str(u.job))) or {}).get("attempts", 0)
            attempts[a] = attempts.get(a, 0) + 1
        self.attempts = attempts
        not_terminal = [u for u in ups if u.final not in TERMINAL]
        R.append(("every 202 upload ends in a terminal job",
                  f"{len(ups) - len(not_terminal)} of {len(ups)} "
                  f"({', '.join(f'{k} {v}' for k, v in sorted(final.items()))})",
                  "all", not not_terminal and len(ups) > 0))
        bad = [u for u in ups if u.final in ("failed", "dead")]
        for u in bad[:10]:
            self.stats.note(f"job {u.job} ({u.transport}/{u.fmt}, {u.rows} rows) ended "
                            f"{u.final}: {u.error}")
        R.append(("no accepted upload failed or died", f"{len(bad)} failed/dead", "0", not bad))
        status = json.loads(self.nodes[0].cli("status", "--json"))
        R.append(("no job pending or running after the drain (ferry status)",
                  f"pending {status.get('pending')}, running {status.get('running')} "
                  f"(drained in {self.drain_seconds:.0f}s)", "0, 0",
                  status.get("pending") == 0 and status.get("running") == 0))
        seen = {(u.user, str(u.job)) for u in ups}
        orphans = [k for k, j in self.jobs.items() if k not in seen]
        R.append(("no job the clients did not see accepted", f"{len(orphans)}", "0", not orphans))
        dup_jobs = len(ups) - len(seen)  # two uploads answered with one job
        # 2. Rows exactly once: per dataset, per upload tag, the distinct row ids, the rows
        # holding them, and the highest row number.
        counts = self.export_all()
        tags = {}
        for key, c in counts.items():
            per = tags.setdefault(key, {})
            for uid, k in c.items():
                if not isinstance(uid, str) or "-" not in uid:
                    continue
                tag, n = uid.rsplit("-", 1)
                e = per.setdefault(tag, [0, 0, -1])
                e[0] += 1
                e[1] += k
                e[2] = max(e[2], int(n)) if n.isdigit() else e[2]
        wrong = 0
        for up in ups:
            distinct, held, top = tags.get((up.user, up.dataset), {}).get(up.tag, [0, 0, -1])
            if up.final == "completed":
                imported = (up.result or {}).get("rowsImported")
                if (distinct, held, top) != (up.rows, up.rows, up.rows - 1) or \
                        imported != up.rows:
                    wrong += 1
                    self.stats.note(f"job {up.job} ({up.transport}/{up.fmt}/{up.dataset}) "
                                    f"completed with {up.rows} rows sent, rowsImported "
                                    f"{imported}: the export holds {held} rows of it, "
                                    f"{distinct} distinct")
            elif held:
                wrong += 1
                self.stats.note(f"job {up.job} ended {up.final} but {held} of its rows are "
                                f"in {up.user}/{up.dataset}")
        total_rows = sum(u.rows for u in ups if u.final == "completed")
        dupes = sum(v - 1 for c in counts.values() for v in c.values() if v > 1)
        R.append(("completed imports' rows in their dataset exactly once; others none",
                  f"{wrong} uploads wrong, {dupes} duplicate rows, {total_rows} rows checked",
                  "0, 0", wrong == 0 and dupes == 0 and dup_jobs == 0))
        R.append(("exports under load hold each row once", f"{self.export_dupes} of "
                  f"{self.exports_done} with duplicates, "
                  f"{self.stats.get('export_rows_missing')} missing a completed upload", "0, 0",
                  self.export_dupes == 0 and self.stats.get("export_rows_missing") == 0))
        # 3. Resources of the node that survived.
        self.check_resources()
        # 4. Health.
        self.check_health()
        # 5. Rate limit and quota.
        h429, normal429 = self.stats.get("hammer_429"), (self.stats.get("rate_limited_429") -
                                                         self.stats.get("hammer_429"))
        # A machine too slow for the hammer to send more than the limit in one window cannot
        # show the limit at work: that half of the check is "not exercised" (n/a), not a failure.
        peak = getattr(self, "hammer_peak", 0)
        exercised = peak > RATE_LIMIT
        R.append(("rate-limited clients got 429, the others none",
                  f"hammer {h429} x 429 of {h429 + self.stats.get('hammer_200')} "
                  f"(at most {peak} sent in {RATE_WINDOW} s"
                  f"{'' if exercised else ', under the limit: not exercised'}), "
                  f"others {normal429}", ">0, 0",
                  normal429 == 0 and (h429 > 0 if exercised else None)))
        api = Api(self.cluster, self.users["mallory"], self.checker_xff(), self.stats)
        st, _, b = api.call("GET", "/api/v1/quota", node=self.nodes[0])
        q = json.loads(b)["quota"] if st == 200 else {}
        used = (q.get("uploads", {}).get("used"), q.get("bytes", {}).get("used"))
        R.append(("aborted/refused uploads leave no quota used (mallory)",
                  f"uploads {used[0]}, bytes {used[1]}", "0, 0", used == (0, 0)))
        R.append(("no node exited by itself", f"{len(self.dead_nodes)}", "0",
                  not self.dead_nodes))

    def survivor(self):
        if self.name == "sqlite":
            node = self.nodes[0]
            inc = node.incarnation  # the one started after the kill: it ran to the end
            start = [s[0] for s in self.samples if s[1] == node.name and s[2] == inc]
            begin = min(start) if start else 0
            return node, inc, begin
        return self.nodes[0], 1, 0

    def check_resources(self):
        node, inc, begin = self.survivor()
        mine = [s for s in self.samples if s[1] == node.name and s[2] == inc]
        end = self.load_seconds
        span = end - begin
        warm = begin + 0.2 * self.seconds if self.name == "cluster" else begin + 0.15 * self.seconds
        base_w = (warm, warm + 0.1 * self.seconds)
        last_w = (end - 0.1 * self.seconds, end)
        base = [s for s in mine if base_w[0] <= s[0] < base_w[1]]
        last = [s for s in mine if last_w[0] <= s[0] <= last_w[1]]
        if not base or not last:
            self.results.append(("surviving node's resources flat", "too few samples", "", False))
            return

        def med(rows, i):
            return statistics.median(r[i] for r in rows)

        rss0, rss1 = med(base, 3) / 1024, med(last, 3) / 1024
        fd0, fd1 = med(base, 4), med(last, 4)
        th0, th1 = med(base, 5), med(last, 5)
        peak = max(r[3] for r in mine if r[0] >= warm) / 1024
        self.resources = dict(node=node.name, span=span, rss0=rss0, rss1=rss1, fd0=fd0, fd1=fd1,
                              th0=th0, th1=th1, peak=peak, base_w=base_w, last_w=last_w)
        where = (f"{node.name}, t={base_w[0]:.0f}-{base_w[1]:.0f}s vs "
                 f"t={last_w[0]:.0f}-{last_w[1]:.0f}s")
        rss_bound = rss0 * RSS_FACTOR + RSS_SLACK_MIB
        idle = ""
        try:  # after the drain and the checks: what the node keeps once the load is gone
            with open(f"/proc/{node.pid}/status") as f:
                kib = [int(l.split()[1]) for l in f if l.startswith("VmRSS:")][0]
            idle = f", {kib / 1024:.0f} idle after the drain"
        except (OSError, IndexError, TypeError):
            pass
        self.results.append((f"RSS flat ({where})",
                             f"{rss0:.0f} -> {rss1:.0f} MiB (peak {peak:.0f}{idle})",
                             f"<= {rss_bound:.0f} (x{RSS_FACTOR} + {RSS_SLACK_MIB} MiB)",
                             rss1 <= rss_bound))
        self.results.append(("open descriptors flat", f"{fd0:.0f} -> {fd1:.0f}",
                             f"<= {fd0 + FD_SLACK:.0f} (+{FD_SLACK})", fd1 <= fd0 + FD_SLACK))
        self.results.append(("threads flat", f"{th0:.0f} -> {th1:.0f}",
                             f"<= {th0 + THREAD_SLACK:.0f} (+{THREAD_SLACK})",
                             th1 <= th0 + THREAD_SLACK))

    def in_window(self, t):
        return any(a <= t <= b for a, b, _ in self.windows)

    def check_health(self):
        inside = [h for h in self.health if not self.in_window(h[0])]
        lat = sorted(h[2] for h in inside if h[3] == 200)
        failed = [h for h in inside if h[3] != 200]
        for h in failed[:5]:
            self.stats.note(f"health at t={h[0]:.1f}s on {h[1]}: {h[3]} after {h[2]:.0f} ms")
        if not lat:
            self.results.append(("health p99", "no samples", "", False))
            return
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
        self.health_p = (p(0.5), p(0.99), lat[-1], len(lat))
        # "Throughout": the p99 of each minute (each with at least 100 samples) as well.
        minutes = {}
        for h in inside:
            if h[3] == 200:
                minutes.setdefault(int(h[0] // 60), []).append(h[2])
        worst = max((sorted(v)[min(len(v) - 1, int(0.99 * len(v)))], k)
                    for k, v in minutes.items() if len(v) >= 100) if any(
            len(v) >= 100 for v in minutes.values()) else (p(0.99), 0)
        windowed = [h for h in self.health if self.in_window(h[0])]
        self.results.append((f"GET /api/v1/health p99 ({len(lat)} samples outside faults)",
                             f"p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, max {lat[-1]:.0f} ms; "
                             f"worst minute's p99 {worst[0]:.1f} ms (minute {worst[1] + 1})",
                             f"p99 of every minute < {self.args.health_p99_ms:.0f} ms",
                             worst[0] < self.args.health_p99_ms and
                             p(0.99) < self.args.health_p99_ms))
        self.results.append(("health answers 200 outside fault windows",
                             f"{len(failed)} failed ({len(windowed)} samples in fault windows, "
                             f"{sum(1 for h in windowed if h[3] != 200)} of them not 200)", "0",
                             not failed))

    def report(self):
        # None: not exercised on this run (shown n/a); it fails nothing.
        ok = all(r[3] is not False for r in self.results)
        print()
        print(f"== soak phase {self.name}: {self.load_seconds:.0f}s of load, "
              f"{len(self.uploads)} uploads accepted "
              f"({sum(u.size for u in self.uploads) / 1048576:.1f} MiB, "
              f"{sum(u.rows for u in self.uploads)} rows), "
              f"{sum(1 for u in self.uploads if u.cancel_asked)} cancels asked, "
              f"{sum(1 for u in self.uploads if u.retried)} retried")
        for f in self.faults:
            print(f"   fault: {f}")
        if getattr(self, "attempts", None):
            print("   jobs by attempts: " + ", ".join(f"{k}: {v}" for k, v in
                                                    sorted(self.attempts.items())))
        interesting = sorted((k, v) for k, v in self.stats.counts.items())
        print("   counts: " + ", ".join(f"{k}={v}" for k, v in interesting))
        w = max(len(r[0]) for r in self.results)
        print(f"   {'invariant':<{w}}  {'ok':<4}  measured  [bound]")
        for name, value, bound, good in self.results:
            shown = "n/a" if good is None else "ok" if good else "FAIL"
            print(f"   {name:<{w}}  {shown:<4}  {value}  [{bound}]")
        if self.stats.notes:
            print("   notes (unexpected answers, first 30):")
            for n in self.stats.notes[:30]:
                print("     " + n)
        return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=float, default=600,
                    help="load time of the whole soak, split evenly between the phases")
    ap.add_argument("--phases", default="sqlite,cluster")
    ap.add_argument("--clients", type=int, default=8, help="uploading clients per phase")
    ap.add_argument("--users", type=int, default=4)
    ap.add_argument("--think", type=float, default=1.0,
                    help="mean seconds an uploading client waits between two uploads")
    ap.add_argument("--drain", type=float, default=300, help="seconds to wait for the queue")
    ap.add_argument("--health-p99-ms", type=float, default=250)
    ap.add_argument("--tmpfs-mb", type=int, default=3072, help="the SQLite node's tmpfs")
    ap.add_argument("--node-args", default="", help="more options for every node")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args()
    args.phases = [p for p in args.phases.split(",") if p]
    ferry = os.path.join(args.build, "app", "ferry")
    if not os.access(ferry, os.X_OK):
        sys.exit(f"soak: {ferry} is missing; build it first (make soak does)")
    scratch = tempfile.mkdtemp(prefix="ferry-soak.")
    log(f"soak: {ferry}, {args.seconds:.0f}s of load over phases {', '.join(args.phases)}; "
        f"scratch {scratch}")
    ok = True
    current = [None]

    def on_signal(sig, frame):
        if current[0]:
            current[0].teardown()
        sys.exit(130)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    phases = []
    try:
        for name in args.phases:
            ph = Phase(args, name, ferry, scratch)
            current[0] = ph
            try:
                ph.run()
            except Exception as e:
                ph.results.append((f"phase ran to the end", f"{type(e).__name__}: {e}", "", False))
                if not hasattr(ph, "load_seconds"):
                    ph.load_seconds = ph.now() if ph.t0 else 0
                import traceback
                traceback.print_exc()
            finally:
                ph.stop.set()
                ph.teardown()
            phases.append(ph)
    finally:
        for ph in phases:
            ok = ph.report() and ok
        print()
        print("soak: " + ("all invariants hold" if ok else "INVARIANTS FAILED"))
        if ok and not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            print(f"soak: node logs kept in {scratch}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
