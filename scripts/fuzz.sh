#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets of tests/fuzz (clang, ASan, UBSan) in build-fuzz and
# runs each for FUZZ_SECONDS (default 60) over its corpus (tests/fuzz/corpus/<name>) with its
# dictionary (tests/fuzz/<name>.dict, when there is one). New inputs that reach new code are
# merged into the corpus (-merge=1, so it stays small); commit them. A crash or a broken property
# leaves its input in build-fuzz/artifacts and makes this fail: turn it into a regression (see
# README, "Fuzzing").
#
# FUZZ_TARGETS="csvreader http" runs only those; FUZZ_BUILD_DIR moves the build; JOBS builds.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-60}
jobs=${JOBS:-$(nproc)}
if [ -n "${FUZZ_TARGETS:-}" ]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    targets=()
    for source in "$root"/tests/fuzz/fuzz_*.cpp; do
        name=$(basename "$source" .cpp)
        targets+=("${name#fuzz_}")
    done
fi

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DFERRY_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFERRY_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target "${targets[@]/#/fuzz_}"

artifacts=$build/artifacts
mkdir -p "$artifacts"
summary=$build/fuzz-summary.txt
: >"$summary"
failed=()
for name in "${targets[@]}"; do
    binary=$build/tests/fuzz/fuzz_$name
    corpus=$root/tests/fuzz/corpus/$name
    fresh=$build/fuzz-new/$name
    log=$build/fuzz-$name.log
    rm -rf "$fresh"
    mkdir -p "$corpus" "$fresh"
    args=(-max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -malloc_limit_mb=1024
        -max_len=8192 -print_final_stats=1 -artifact_prefix="$artifacts/$name-")
    if [ -f "$root/tests/fuzz/$name.dict" ]; then
        args+=(-dict="$root/tests/fuzz/$name.dict")
    fi
    echo "ferry: fuzzing $name for ${seconds}s"
    started=$SECONDS
    # New inputs land in $fresh (the first directory); the corpus is only read.
    if ! "$binary" "${args[@]}" "$fresh" "$corpus" >"$log" 2>&1; then
        failed+=("$name")
        grep -E "property violated|ERROR: |SUMMARY" "$log" | head -5 || true
    fi
    elapsed=$((SECONDS - started))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    # The corpus becomes the smallest set of inputs that covers what corpus and new inputs
    # cover. Hand-named files (seeds from the tests, regression-*) always stay; the fuzzer's own
    # (named by the SHA-1 of their content) are replaced by that set.
    merged=$build/fuzz-merged/$name
    rm -rf "$merged"
    mkdir -p "$merged"
    if "$binary" -merge=1 "$merged" "$corpus" "$fresh" >>"$log" 2>&1; then
        declare -A named=()
        for file in "$corpus"/*; do
            [ -f "$file" ] || continue
            if [[ ! $(basename "$file") =~ ^[0-9a-f]{40}$ ]]; then
                named[$(sha1sum <"$file" | cut -c1-40)]=1
            fi
        done
        find "$corpus" -type f -regextype posix-extended -regex '.*/[0-9a-f]{40}' -delete
        for file in "$merged"/*; do
            [ -f "$file" ] || continue
            [ -n "${named[$(basename "$file")]:-}" ] || cp "$file" "$corpus/"
        done
        unset named
    fi
    line="$name: ran ${elapsed}s, ${runs:-?} runs, ${rate:-?} exec/s, corpus $(find "$corpus" -type f | wc -l) files"
    echo "ferry: $line"
    echo "$line" >>"$summary"
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "ferry: fuzzing found problems in: ${failed[*]} (inputs in $artifacts, logs in $build/fuzz-*.log)" >&2
    exit 1
fi
echo "ferry: no crash or broken property found (summary in $summary)"
