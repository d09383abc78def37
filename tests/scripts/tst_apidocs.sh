#!/usr/bin/env bash
# Docs that match (issue 15): runs every curl example of docs/api.md against a live engine, in
# order, in one shell, so an example that stops working fails the build instead of a reader.
#
#   tst_apidocs.sh FERRY_BINARY [DOC]          DOC defaults to docs/api.md of this repository
#
# It starts `ferry --headless` on a temporary data directory and a free loopback port, creates a
# user (`ferry user add doctest --json`) and exports what the docs' examples use: TOKEN, H (the
# Authorization header), B (the base URL) and FERRY_DATA_DIR; `ferry` on PATH is the binary under
# test. Then every ```sh / ```bash block that contains curl runs, in document order, in this
# shell (later blocks see variables earlier ones set: JOB=$(curl ... | jq -r .jobId)), in a
# directory holding the files the docs define. A block passes when it exits 0 under
# `set -euo pipefail` and every HTTP status its curls got is allowed: 1xx-3xx by default (what
# `curl --fail-with-body` accepts), or the list of an annotation. The first block that fails
# stops the run: the block, its output and the engine log's tail are printed.
#
# Annotations, HTML comments on the lines right before a fenced block (blank lines between are
# fine; anything else is an error):
#   <!-- doc-test: status 202 409 -->   the statuses the block's curls may get
#   <!-- doc-test: skip REASON -->      a block that cannot run here (a cluster, nginx); printed
#   <!-- doc-test: file NAME -->        the block is the content of the file NAME (people.csv),
#                                       written before any block runs
# A literal job, session or tus upload id in a command (/jobs/42, /sessions/7145d7b5-...) is an
# error: examples use $JOB, $SESSION, $UPLOAD, which earlier blocks set. Comments (# ...) are
# output and may show ids.
#
# The engine runs with --rate-limit 100000: the examples are not a test of the rate limit, and a
# reader runs them over minutes, not in one second.
set -euo pipefail

__dt_ferry=${1:?usage: tst_apidocs.sh FERRY_BINARY [DOC]}
__dt_doc=${2:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/docs/api.md}
__dt_ferry=$(cd "$(dirname "$__dt_ferry")" && pwd)/$(basename "$__dt_ferry")
__dt_doc=$(cd "$(dirname "$__dt_doc")" && pwd)/$(basename "$__dt_doc")
__dt_name=$(basename "$__dt_doc")

__dt_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

[ -x "$__dt_ferry" ] || __dt_fail "no ferry binary at $__dt_ferry"
[ -r "$__dt_doc" ] || __dt_fail "cannot read $__dt_doc"
for __dt_tool in curl jq awk; do
    command -v "$__dt_tool" >/dev/null ||
        __dt_fail "$__dt_tool is not installed (scripts/install-deps.sh installs it)"
done

__dt_work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-apidocs.XXXXXX")
__dt_server_pid=
__dt_current= # the block running now (its number), empty between blocks
__dt_cleanup() {
    if [ -n "$__dt_server_pid" ]; then
        kill -TERM "$__dt_server_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$__dt_server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$__dt_server_pid" 2>/dev/null || true
        wait "$__dt_server_pid" 2>/dev/null || true
    fi
    if [ -z "${FERRY_DOC_TEST_KEEP:-}" ]; then
        rm -rf "$__dt_work"
    else
        echo "kept $__dt_work" >&2
    fi
}

# ---- Parse: the document into numbered blocks and an index (number, line, mode, argument).
mkdir -p "$__dt_work/blocks" "$__dt_work/files" "$__dt_work/bin" "$__dt_work/data"
if ! awk -v dir="$__dt_work/blocks" -v name="$__dt_name" '
function problem(line, msg) {
    printf "%s:%d: %s\n", name, line, msg > "/dev/stderr"
    errors++
}
function runnable() {
    return (lang == "sh" || lang == "bash" || lang == "shell") && body ~ /(^|[^A-Za-z0-9_.-])curl[ \t\\]/
}
function finish(   n_ann, i, a, word, rest, mode, arg, lines, j, l, status) {
    mode = runnable() ? "run" : ""
    arg = ""
    n_ann = split(ann, anns, "\n")
    for (i = 1; i <= n_ann; i++) {
        a = anns[i]
        if (a == "")
            continue
        word = a; sub(/[ \t].*$/, "", word)
        rest = a; sub(/^[^ \t]*[ \t]*/, "", rest)
        if (word == "file") {
            if (rest == "" || rest ~ /[\/ \t]/ || rest ~ /^\./)
                problem(start, "doc-test: file needs a plain file name, not \"" rest "\"")
            mode = "file"; arg = rest
        } else if (word == "skip") {
            if (mode != "run")
                problem(start, "doc-test: skip on a block that would not run (no curl in a sh/bash block)")
            if (rest == "")
                problem(start, "doc-test: skip needs a reason")
            mode = "skip"; arg = rest
        } else if (word == "status") {
            if (mode != "run")
                problem(start, "doc-test: status on a block that does not run")
            if (rest !~ /^[1-5][0-9][0-9]([ \t]+[1-5][0-9][0-9])*$/)
                problem(start, "doc-test: status takes HTTP status codes, not \"" rest "\"")
            arg = rest
        } else {
            problem(start, "unknown doc-test annotation \"" a "\" (status, skip or file)")
        }
    }
    if (mode == "run" || mode == "skip") {
        # Ids come from earlier blocks: a literal one works only on the author'\''s machine.
        lines = split(body, bl, "\n")
        for (j = 1; j <= lines; j++) {
            l = bl[j]
            if (l ~ /^[ \t]*#/)
                continue
            sub(/[ \t]#.*$/, "", l)
            if (l ~ /\/(jobs|sessions|tus)\/[0-9A-Za-z]/)
                problem(start + j, "a literal id in an example: use $JOB, $SESSION or $UPLOAD: " bl[j])
        }
    }
    if (mode == "") {
        ann = ""
        return
    }
    count++
    printf "%s", body > (dir "/" count ".body")
    close(dir "/" count ".body")
    printf "%d\t%d\t%s\t%s\n", count, start, mode, arg > (dir "/index")
    ann = ""
}
{
    if (inblock) {
        if ($0 ~ /^```[ \t]*$/) {
            inblock = 0
            finish()
        } else {
            body = body $0 "\n"
        }
        next
    }
    if ($0 ~ /^<!--[ \t]*doc-test:/) {
        if ($0 !~ /-->[ \t]*$/) {
            problem(FNR, "a doc-test annotation is one line: <!-- doc-test: ... -->")
            next
        }
        a = $0
        sub(/^<!--[ \t]*doc-test:[ \t]*/, "", a)
        sub(/[ \t]*-->[ \t]*$/, "", a)
        pending = pending a "\n"
        pending_line = FNR
        next
    }
    if ($0 ~ /^```/) {
        inblock = 1
        lang = $0
        sub(/^```[ \t]*/, "", lang)
        sub(/[ \t].*$/, "", lang)
        start = FNR
        body = ""
        ann = pending
        pending = ""
        next
    }
    if ($0 ~ /^[ \t]*$/)
        next
    if (pending != "") {
        problem(pending_line, "a doc-test annotation that is not right before a code block")
        pending = ""
    }
}
END {
    if (inblock)
        problem(start, "a code block that never ends")
    if (pending != "")
        problem(pending_line, "a doc-test annotation at the end of the document")
    if (!count)
        printf "" > (dir "/index")
    exit errors ? 1 : 0
}' "$__dt_doc"; then
    rm -rf "$__dt_work"
    __dt_fail "$__dt_name has the problems above"
fi
trap __dt_cleanup EXIT

# The files the examples read, from the document (written before any block runs).
__dt_files=0
while IFS=$'\t' read -r __dt_n __dt_line __dt_mode __dt_arg; do
    [ "$__dt_mode" = file ] || continue
    if [ -e "$__dt_work/files/$__dt_arg" ] &&
        ! cmp -s "$__dt_work/blocks/$__dt_n.body" "$__dt_work/files/$__dt_arg"; then
        __dt_fail "$__dt_name:$__dt_line: file $__dt_arg is defined twice, differently"
    fi
    cp "$__dt_work/blocks/$__dt_n.body" "$__dt_work/files/$__dt_arg"
    __dt_files=$((__dt_files + 1))
done <"$__dt_work/blocks/index"

# ---- The engine, on a free loopback port (port 0: it picks one and logs it).
ln -s "$__dt_ferry" "$__dt_work/bin/ferry"
export PATH="$__dt_work/bin:$PATH"
export FERRY_DATA_DIR="$__dt_work/data"
export XDG_RUNTIME_DIR="$__dt_work"
__dt_log="$__dt_work/server.log"
ferry --headless --listen 127.0.0.1:0 --rate-limit 100000 >"$__dt_log" 2>&1 </dev/null &
__dt_server_pid=$!
__dt_port=
for _ in $(seq 1 600); do
    __dt_port=$(sed -n 's|.*HTTP endpoint on http://127\.0\.0\.1:\([0-9]*\)/api/v1/.*|\1|p' "$__dt_log" | head -n 1)
    [ -n "$__dt_port" ] && break
    if ! kill -0 "$__dt_server_pid" 2>/dev/null; then
        tail -n 40 "$__dt_log" >&2
        __dt_fail "the engine stopped before it listened (log above)"
    fi
    sleep 0.1
done
[ -n "$__dt_port" ] || { tail -n 40 "$__dt_log" >&2; __dt_fail "the engine did not listen within 60 s"; }

export B="http://127.0.0.1:$__dt_port"
TOKEN=$(ferry user add doctest --json | jq -r .token)
export TOKEN
export H="Authorization: Bearer $TOKEN"
echo "engine on $B (log: $__dt_log), user doctest; $__dt_files file(s) from $__dt_name"

# Every curl of a block reports its status on its own line of standard error, which the wrapper
# takes out again: the examples' own output stays as it is (an example's own --write-out would
# be replaced, so examples show statuses with -i instead). No progress meter: the output is a
# file here, where curl would draw one; a reader's terminal shows none either.
__dt_statuses="$__dt_work/statuses"
curl() {
    local __dt_err __dt_rc=0
    __dt_err=$(mktemp "$__dt_work/curl-stderr.XXXXXX")
    command curl --no-progress-meter "$@" --write-out '%{stderr}\n@@doc-test-status %{http_code}\n' 2>"$__dt_err" ||
        __dt_rc=$?
    sed -n 's/^@@doc-test-status //p' "$__dt_err" >>"$__dt_statuses"
    grep -av -e '^@@doc-test-status ' -e '^$' "$__dt_err" >&2 || true
    rm -f "$__dt_err"
    return "$__dt_rc"
}

__dt_show() { awk '{ print "    | " $0 }' "$1"; }
__dt_report() { # why, for the block running now
    echo
    echo "FAIL: $__dt_name:$__dt_current_line (block $__dt_current): $*"
    echo "  the block:"
    __dt_show "$__dt_work/blocks/$__dt_current.body"
    echo "  its output:"
    __dt_show "$__dt_work/output"
    echo "  HTTP statuses: $(tr '\n' ' ' <"$__dt_statuses")"
    echo "  the engine's log (last 30 lines):"
    tail -n 30 "$__dt_log" | sed 's/^/    | /'
}
exec {__dt_stdout}>&1 {__dt_stderr}>&2
__dt_on_exit() {
    local rc=$?
    # A block that failed under set -e exits the shell inside its own redirection to its
    # output file: the report goes to where this script's output goes.
    exec 1>&"$__dt_stdout" 2>&"$__dt_stderr"
    if [ -n "$__dt_current" ]; then
        __dt_report "it stopped with exit status $rc (a command failed, or it called exit)"
        rc=1
    fi
    __dt_current=
    __dt_cleanup
    exit "$rc"
}
trap __dt_on_exit EXIT

# ---- Run, in this shell, with the strictness a reader's script would want.
cd "$__dt_work/files"
__dt_ran=0
__dt_skipped=0
__dt_requests=0
exec {__dt_index}<"$__dt_work/blocks/index"
set -euo pipefail
shopt -s inherit_errexit
while IFS=$'\t' read -r -u "$__dt_index" __dt_n __dt_line __dt_mode __dt_arg; do
    case $__dt_mode in
    file) continue ;;
    skip)
        echo "--- $__dt_name:$__dt_line: skipped: $__dt_arg"
        __dt_skipped=$((__dt_skipped + 1))
        continue
        ;;
    esac
    echo "--- $__dt_name:$__dt_line${__dt_arg:+ (status $__dt_arg)}"
    __dt_show "$__dt_work/blocks/$__dt_n.body"
    : >"$__dt_statuses"
    __dt_current=$__dt_n
    __dt_current_line=$__dt_line
    __dt_allowed=$__dt_arg
    # shellcheck disable=SC1090 # the block is the document's
    source "$__dt_work/blocks/$__dt_n.body" >"$__dt_work/output" 2>&1 </dev/null
    __dt_current=
    __dt_seen=$(wc -l <"$__dt_statuses")
    if [ "$__dt_seen" -eq 0 ]; then
        __dt_current=$__dt_n
        __dt_report "no curl request was made (every curl of an example must run)"
        __dt_current=
        exit 1
    fi
    while read -r __dt_status; do
        __dt_ok=
        if [ -n "$__dt_allowed" ]; then
            case " $__dt_allowed " in *" $__dt_status "*) __dt_ok=1 ;; esac
        else
            case $__dt_status in [123][0-9][0-9]) __dt_ok=1 ;; esac
        fi
        if [ -z "$__dt_ok" ]; then
            __dt_current=$__dt_n
            __dt_report "HTTP $__dt_status is not what the docs say (allowed: ${__dt_allowed:-1xx-3xx}; annotate <!-- doc-test: status ... --> if the docs mean it)"
            __dt_current=
            exit 1
        fi
    done <"$__dt_statuses"
    __dt_show "$__dt_work/output"
    echo "    ok: HTTP $(tr '\n' ' ' <"$__dt_statuses")"
    __dt_ran=$((__dt_ran + 1))
    __dt_requests=$((__dt_requests + __dt_seen))
done
set +e
echo "=== $__dt_name: $__dt_ran block(s) ran ($__dt_requests HTTP requests), $__dt_skipped skipped, $__dt_files file(s) written: all passed"
