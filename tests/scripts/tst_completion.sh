#!/usr/bin/env bash
# The bash completion (resources/completion/ferry.bash) completes commands, actions, option names
# (read from the real `ferry --help`) and option values, skipping options' values on the way.
# Usage: tst_completion.sh FERRY_BINARY COMPLETION_FILE
set -uo pipefail
ferry_dir=$(cd "$(dirname "$1")" && pwd)
source /usr/share/bash-completion/bash_completion || { echo "bash-completion is not installed"; exit 1; }
source "$2"
PATH=$ferry_dir:$PATH
export QT_QPA_PLATFORM=offscreen
failures=0
expect() {
    local want=$1
    shift
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE="${COMP_WORDS[*]}"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _ferry
    local got="${COMPREPLY[*]}"
    if [ "$got" != "$want" ]; then
        echo "FAIL: '$*' completed to '$got', expected '$want'"
        failures=$((failures + 1))
    fi
}
expect "user quota enqueue import export dataset job status pause resume" ferry ""
expect "user" ferry us
expect "add list disable enable token" ferry user ""
expect "set show list reset" ferry --data-dir /tmp quota ""
expect "show" ferry --listen 127.0.0.1:9 dataset s
expect "--max-concurrency" ferry --max-con
expect "--max-concurrency" ferry status --max-con
expect "csv tsv ndjson json" ferry import --format ""
expect "free standard premium" ferry user add alice --tier ""
expect "" ferry user add ""
[ "$failures" -eq 0 ] || exit 1
echo "PASS: bash completion"
