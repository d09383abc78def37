#!/usr/bin/env bash
# Tests tst_apidocs.sh itself on small documents: one whose examples work passes (variables carry
# from block to block, files come from the document, skips are printed); a block answered with a
# status the docs do not allow, a block that exits non-zero, a literal job id and a stray
# annotation each fail it, and a failure stops the run at that block, showing the block, its
# output and the engine's log.
#
#   tst_apidocs_selftest.sh FERRY_BINARY
set -euo pipefail
ferry=${1:?usage: tst_apidocs_selftest.sh FERRY_BINARY}
runner="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tst_apidocs.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-apidocs-selftest.XXXXXX")
trap 'rm -rf "$work"' EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# run NAME: runs the runner on $work/NAME.md; its output in $work/NAME.out, its status in $rc.
run() {
    rc=0
    "$runner" "$ferry" "$work/$1.md" >"$work/$1.out" 2>&1 || rc=$?
}
expect_pass() {
    run "$1"
    [ "$rc" -eq 0 ] || { cat "$work/$1.out" >&2; fail "$1: should pass, exit status $rc"; }
}
expect_fail() { # NAME TEXT...: fails, and its output says each TEXT
    local name=$1
    shift
    run "$name"
    [ "$rc" -ne 0 ] || { cat "$work/$name.out" >&2; fail "$name: should fail, passed"; }
    for text in "$@"; do
        grep -qF -- "$text" "$work/$name.out" ||
            { cat "$work/$name.out" >&2; fail "$name: output lacks \"$text\""; }
    done
}

cat >"$work/good.md" <<'EOF'
# A document whose examples work

<!-- doc-test: file rows.csv -->
```
id,name
1,a
```

```sh
JOB=$(curl -s -H "$H" -H 'Content-Type: text/csv' --data-binary @rows.csv \
     "$B/api/v1/uploads?dataset=rows" | jq -r .jobId)
```

Prose between the blocks.

```bash
curl -s -H "$H" "$B/api/v1/jobs/$JOB?wait=5" | jq -e --arg job "$JOB" '.job.id == $job' >/dev/null
# a comment may show an id: /api/v1/jobs/1
```

<!-- doc-test: status 404 -->
```sh
curl -s -H "$H" "$B/api/v1/datasets/none/records"
```

<!-- doc-test: skip needs three nodes behind nginx -->
```sh
curl -s "$B/api/v1/health"
```

```json
{"not": "run"}
```
EOF
expect_pass good
grep -qF "skipped: needs three nodes behind nginx" "$work/good.out" || fail "good: the skip's reason is not printed"
grep -qF "3 block(s) ran" "$work/good.out" || { cat "$work/good.out" >&2; fail "good: not 3 blocks run"; }

cat >"$work/badstatus.md" <<'EOF'
```sh
curl -s "$B/api/v1/health"
```

```sh
echo before-the-failing-request
curl -s -H "$H" "$B/api/v1/datasets/none/records"
```

```sh
touch "$B-must-not-run"; curl -s "$B/api/v1/health"
```
EOF
expect_fail badstatus "HTTP 404 is not what the docs say" "badstatus.md:5" \
    'curl -s -H "$H" "$B/api/v1/datasets/none/records"' "before-the-failing-request" \
    "the engine's log" "HTTP endpoint on"
grep -qF -- "1 block(s) ran" "$work/badstatus.out" && fail "badstatus: printed a summary"
grep -qF -- "must-not-run" "$work/badstatus.out" && fail "badstatus: ran the block after the failure"

cat >"$work/badexit.md" <<'EOF'
```sh
curl -s "$B/api/v1/health" | jq -e .nothing
```
EOF
expect_fail badexit "badexit.md:1" "exit status"

cat >"$work/literal.md" <<'EOF'
```sh
curl -s -H "$H" "$B/api/v1/jobs/42?wait=60"
```
EOF
expect_fail literal "literal id" "literal.md:2"

cat >"$work/stray.md" <<'EOF'
<!-- doc-test: status 200 -->
Some prose.

```sh
curl -s "$B/api/v1/health"
```
EOF
expect_fail stray "not right before a code block"

cat >"$work/nocurl.md" <<'EOF'
```sh
echo "curl is only mentioned" >/dev/null; true curl x
```
EOF
expect_fail nocurl "no curl request was made"

echo "tst_apidocs_selftest: all cases behaved"
