# Sourced by scripts that start a `ferry --headless --listen 127.0.0.1:0` node with its log in a
# file (scripts/check-package.sh, tests/scripts/tst_install.sh).
#
# wait_for_health LOG: reads the port the node announces in LOG ("HTTP endpoint on
# http://127.0.0.1:PORT/api/v1/"), then polls GET /api/v1/health until it answers, for up to
# 30 s. Prints the health body, or nothing if the node never answered.
wait_for_health() {
    local log=$1 port= health=
    for _ in $(seq 1 300); do
        port=$(sed -n 's|.*HTTP endpoint on http://127\.0\.0\.1:\([0-9]*\)/api/v1/.*|\1|p' "$log" | head -n 1)
        if [ -n "$port" ]; then
            health=$(curl -fsS "http://127.0.0.1:$port/api/v1/health" || true)
            [ -n "$health" ] && break
        fi
        sleep 0.1
    done
    printf '%s' "$health"
}
