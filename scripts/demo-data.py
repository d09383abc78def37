#!/usr/bin/env python3
"""Fills a data directory with real work, through the real HTTP API: users who upload real CSV,
TSV, NDJSON and JSON files (raw bodies naming their file, forms, gzip), some with rows that are
rejected and some that fail, so the console has something true to show (issue 16: the console
with real data, the README's screenshots).

    scripts/demo-data.py --ferry build/app/ferry --data-dir /tmp/ferry-demo [--users 100]
                         [--uploads 1000] [--port PORT [--pace SECONDS]]

It starts `ferry --headless` on the data directory (SQLite), creates the users with
`ferry user add`, uploads from 8 threads, waits until every job has ended, and stops the node.
With --port, a node already runs on the data directory and listens there (the console, for
pictures of it at work: scripts/screenshots.sh LIVE_SECONDS): the users are added to it and the
uploads go to it, each thread resting --pace seconds between uploads; it is neither started nor
stopped. Python's standard library only.
"""

import argparse
import gzip
import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid

FIRST = ["Ada", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Alan",
         "Radia", "Edsger", "Hedy", "Donald", "Karen", "John", "Sophie", "Tim", "Lynn"]
LAST = ["Lovelace", "Hopper", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Allen",
        "Turing", "Perlman", "Dijkstra", "Lamarr", "Knuth", "Jones", "Backus", "Wilson"]
CITIES = ["Lisbon", "Oslo", "Kyoto", "Austin", "Nairobi", "Lyon", "Porto", "Quito", "Turku"]
PRODUCTS = ["widget", "gadget", "sprocket", "flange", "gizmo", "doohickey", "bracket"]


def people_csv(rnd, rows, bad_share):
    lines = ["id,name,email,age,city,joined"]
    for i in range(1, rows + 1):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        age = str(rnd.randint(18, 90))
        if rnd.random() < bad_share:
            age = rnd.choice(["unknown", "-", "forty"])  # rejected by the typed mapping
        lines.append(f"{i},{first} {last},{first.lower()}.{last.lower()}{i}@example.com,{age},"
                     f"{rnd.choice(CITIES)},2026-{rnd.randint(1, 11):02d}-{rnd.randint(1, 28):02d}")
    return ("\n".join(lines) + "\n").encode()


def orders_tsv(rnd, rows):
    lines = ["order\tproduct\tquantity\tprice"]
    for i in range(1, rows + 1):
        lines.append(f"{1000 + i}\t{rnd.choice(PRODUCTS)}\t{rnd.randint(1, 40)}\t"
                     f"{rnd.randint(100, 99999) / 100:.2f}")
    return ("\n".join(lines) + "\n").encode()


def events_ndjson(rnd, rows):
    out = []
    for i in range(rows):
        out.append(json.dumps({"id": i + 1, "kind": rnd.choice(["click", "view", "buy"]),
                               "ms": rnd.randint(1, 5000),
                               "tags": rnd.sample(["a", "b", "c", "d"], rnd.randint(0, 3))}))
    return ("\n".join(out) + "\n").encode()


def sensors_json(rnd, rows):
    return json.dumps([{"sensor": f"s{rnd.randint(1, 40)}", "reading": round(rnd.uniform(-20, 45), 2),
                        "ok": rnd.random() > 0.05} for _ in range(rows)]).encode()


PEOPLE_MAPPING = json.dumps({"fields": [{"name": "id", "type": "integer", "required": True},
                                        {"name": "name"}, {"name": "email", "required": True},
                                        {"name": "age", "type": "integer"}, {"name": "city"},
                                        {"name": "joined", "type": "date"}], "key": "id"})


class Node:
    def __init__(self, ferry, data_dir):
        self.ferry = ferry
        self.data_dir = data_dir
        self.port = None
        self.proc = None

    def cli(self, *args):
        return subprocess.run([self.ferry, *args, "--data-dir", self.data_dir], check=True,
                              capture_output=True, text=True,
                              env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}).stdout

    def start(self):
        log = open(os.path.join(self.data_dir, "demo-node.log"), "w")
        self.proc = subprocess.Popen([self.ferry, "--headless", "--data-dir", self.data_dir,
                                      "--listen", "127.0.0.1:0", "--rate-limit", "1000000",
                                      "--max-concurrency", "4"],
                                     stdout=log, stderr=subprocess.STDOUT)
        for _ in range(600):
            with open(os.path.join(self.data_dir, "demo-node.log")) as f:
                m = re.search(r"HTTP endpoint on http://127\.0\.0\.1:(\d+)/api/v1/", f.read())
            if m:
                self.port = int(m.group(1))
                return
            time.sleep(0.1)
        sys.exit("demo-data: the node did not start; see demo-node.log")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)


def upload(port, token, rnd, index):
    kind = index % 4
    rows = rnd.choice([20, 50, 200, 1000, 5000])
    headers = {"Authorization": f"Bearer {token}"}
    query = "/api/v1/uploads?dataset="
    if kind == 0:  # people: a typed mapping; some rows rejected, a few files mostly bad (fail)
        bad = 0.6 if rnd.random() < 0.04 else rnd.choice([0, 0, 0.002, 0.01])
        body = people_csv(rnd, 5000 if bad > 0.5 else rows, bad)  # past 1,000 rejected: fails
        name = f"people-{index}.csv"
        boundary = "demo" + uuid.uuid4().hex
        parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"dataset\"\r\n\r\n"
                 f"people\r\n",
                 f"--{boundary}\r\nContent-Disposition: form-data; name=\"mapping\"\r\n\r\n"
                 f"{PEOPLE_MAPPING}\r\n",
                 f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                 f"filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n"]
        body = "".join(parts).encode() + body + f"\r\n--{boundary}--\r\n".encode()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        target = "/api/v1/uploads"
    elif kind == 1:  # orders: raw TSV naming its file
        body = orders_tsv(rnd, rows)
        headers["Content-Type"] = "text/tab-separated-values"
        headers["Content-Disposition"] = f"attachment; filename=\"orders-{index}.tsv\""
        target = query + "orders"
    elif kind == 2:  # events: gzip NDJSON
        body = gzip.compress(events_ndjson(rnd, rows))
        headers["Content-Type"] = "application/x-ndjson"
        headers["Content-Encoding"] = "gzip"
        headers["Content-Disposition"] = f"attachment; filename=\"events-{index}.ndjson.gz\""
        target = query + "events"
    else:  # sensors: a JSON array
        body = sensors_json(rnd, rows)
        headers["Content-Type"] = "application/json"
        headers["Content-Disposition"] = f"attachment; filename=\"sensors-{index}.json\""
        target = query + "sensors"
    for _ in range(5):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request("POST", target, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status == 202:
                return True
            if response.status not in (429, 503):
                print(f"demo-data: upload {index}: {response.status}", file=sys.stderr)
                return False
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(1)
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ferry", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--uploads", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port", type=int, help="upload to the node already listening here")
    parser.add_argument("--pace", type=float, default=0.0,
                        help="seconds each thread rests between uploads")
    args = parser.parse_args()
    os.makedirs(args.data_dir, exist_ok=True)
    node = Node(os.path.abspath(args.ferry), os.path.abspath(args.data_dir))
    tokens = []
    for i in range(args.users):
        name = f"{random.Random(i).choice(FIRST).lower()}{i}"
        tokens.append(json.loads(node.cli("user", "add", name, "--json"))["token"])
        node.cli("quota", "set", name, "--uploads", "unlimited", "--bytes", "unlimited")
    if args.port:
        node.port = args.port
    else:
        node.start()
    counter = iter(range(args.uploads))
    lock = threading.Lock()
    accepted = [0]

    def worker(seed):
        rnd = random.Random(seed)
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            if upload(node.port, tokens[index % len(tokens)], rnd, index):
                with lock:
                    accepted[0] += 1
            time.sleep(args.pace)

    threads = [threading.Thread(target=worker, args=(args.seed * 100 + t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"demo-data: {accepted[0]} of {args.uploads} uploads accepted; waiting for the jobs")
    if args.port:
        return
    for _ in range(1200):
        status = json.loads(node.cli("status", "--json"))
        counts = status.get("counts", status)
        if counts.get("pending", 0) == 0 and counts.get("running", 0) == 0:
            break
        time.sleep(1)
    print(f"demo-data: {json.dumps(counts)}")
    node.stop()


if __name__ == "__main__":
    main()
