#!/usr/bin/env bash
# Serve routes/*.yaml through a real Caddy: start Caddy and two upstreams, apply, curl, stop.
# Run it from anywhere; everything listens on 127.0.0.1 only and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")"
ROUTES=${ROUTES:-routes}
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work" .routes
}
trap cleanup EXIT

echo "== start caddy (admin API on 127.0.0.1:2999) and two upstreams"
XDG_DATA_HOME="$work/data" XDG_CONFIG_HOME="$work/config" \
    caddy run --config caddy.json >"$work/caddy.log" 2>&1 &
pids+=($!)
"$PYTHON" upstream.py shopping-cart 8781 & pids+=($!)
"$PYTHON" upstream.py frontend 8782 & pids+=($!)
for _ in $(seq 100); do
    curl -fs http://127.0.0.1:2999/config/ >/dev/null 2>&1 && break
    sleep 0.1
done

echo "== routes plan"
"$ROUTES" --no-color plan || [ $? -eq 2 ]

echo "== routes apply --auto-approve"
"$ROUTES" --no-color apply --auto-approve

echo "== curl through caddy"
curl -s -H 'Host: shop.example.com' http://127.0.0.1:8780/carts/42
curl -s -H 'Host: shop.example.com' http://127.0.0.1:8780/index.html
curl -s -o /dev/null -w 'preflight %{http_code}\n' -X OPTIONS \
    -H 'Host: shop.example.com' -H 'Origin: https://www.example.com' \
    -H 'Access-Control-Request-Method: POST' http://127.0.0.1:8780/carts/42
curl -s -H 'Host: unknown.example.com' -w '%{http_code}\n' http://127.0.0.1:8780/

echo "== routes drift (nothing drifted)"
"$ROUTES" --no-color drift
echo "== done"
