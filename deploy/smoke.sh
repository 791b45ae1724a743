#!/usr/bin/env bash
# The docker-compose deployment without Docker: REPLICAS gunicorn replicas on loopback ports
# (the image's own command and settings) behind nginx running a rendered copy of
# deploy/nginx.conf (upstreams -> 127.0.0.1:<port>, logs and temp files -> a scratch dir).
#
#   deploy/smoke.sh                   # 3 replicas, 60 requests; exits non-zero on any failure
#   REPLICAS=2 REQUESTS=100 DESCENTLAB_WARMUP=0 deploy/smoke.sh
#
# Checks: every request through nginx answers 200 with the right JSON; every replica served
# some (balancing); a body over the app's limit gets the app's JSON 413, one over nginx's gets
# nginx's JSON 413; a long request line and a huge header get JSON 414 and 431; a repeated POST is
# answered from nginx's cache; a client sending its headers a byte a second, and one that never
# reads a 37 MB answer, do not delay anyone else; with one replica stopped every request still
# succeeds (failover); last, with the rate rendered down to 1 r/s (burst 2), a client over it gets
# JSON 429 with Retry-After while /healthz stays unlimited.
# Only 127.0.0.1 is used. Everything started here is stopped on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
GUNICORN="$(dirname "$PY")/gunicorn"
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
REPLICAS="${REPLICAS:-3}"
REQUESTS="${REQUESTS:-60}"
READY_TIMEOUT="${READY_TIMEOUT:-300}"  # seconds; an empty numba cache compiles every kernel first
export DESCENTLAB_WARMUP="${DESCENTLAB_WARMUP:-1}"

[ -x "$NGINX" ] || { echo "smoke: nginx not found (apt-get install -y nginx)" >&2; exit 77; }
[ -x "$GUNICORN" ] || { echo "smoke: $GUNICORN not found (make venv)" >&2; exit 1; }
[ "$REPLICAS" -le 3 ] || { echo "smoke: deploy/nginx.conf names 3 upstreams" >&2; exit 1; }

TMP="$(mktemp -d)"
declare -a PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

# REPLICAS + 1 free loopback ports
read -r -a PORTS <<<"$("$PY" - "$((REPLICAS + 1))" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)"
NGINX_PORT="${PORTS[$REPLICAS]}"

wait_ready() {  # url seconds
    local t=0
    until curl -fsS -o /dev/null "$1" 2>/dev/null; do
        sleep 0.2; t=$((t + 1))
        if [ "$t" -ge $(($2 * 5)) ]; then echo "smoke: $1 not ready after $2 s" >&2; return 1; fi
    done
}

echo "smoke: starting $REPLICAS replicas on ports ${PORTS[*]:0:$REPLICAS} (warm-up=$DESCENTLAB_WARMUP)"
for i in $(seq 1 "$REPLICAS"); do
    HOST=127.0.0.1 PORT="${PORTS[$((i - 1))]}" WEB_CONCURRENCY=1 NUMBA_NUM_THREADS=1 GUNICORN_ACCESS_LOG=off \
        "$GUNICORN" -c service/gunicorn_conf.py 'service:create_app()' >"$TMP/api$i.log" 2>&1 &
    PIDS+=($!)
done
for i in $(seq 1 "$REPLICAS"); do
    wait_ready "http://127.0.0.1:${PORTS[$((i - 1))]}/healthz" "$READY_TIMEOUT" || { cat "$TMP/api$i.log" >&2; exit 1; }
done

# Render the loopback copy of deploy/nginx.conf.
SED=(-e "s#listen 8080;#listen 127.0.0.1:$NGINX_PORT;#"
     -e "s#access_log /dev/stdout#access_log $TMP/access.log#"
     -e "s#proxy_cache_path /var/cache/nginx/descentlab#proxy_cache_path $TMP/cache#"
     -e "s#^http {#http {\n    client_body_temp_path $TMP/body; proxy_temp_path $TMP/proxy; fastcgi_temp_path $TMP/fastcgi; uwsgi_temp_path $TMP/uwsgi; scgi_temp_path $TMP/scgi;#")
for i in 1 2 3; do
    if [ "$i" -le "$REPLICAS" ]; then
        SED+=(-e "s#server api$i:8000#server 127.0.0.1:${PORTS[$((i - 1))]}#")
    else
        SED+=(-e "/server api$i:8000/d")
    fi
done
sed "${SED[@]}" deploy/nginx.conf >"$TMP/nginx.conf"
cp /etc/nginx/mime.types "$TMP/" 2>/dev/null || echo 'types { application/json json; }' >"$TMP/mime.types"
GLOBAL="pid $TMP/nginx.pid; error_log $TMP/error.log warn;"
[ "$(id -u)" -eq 0 ] && GLOBAL="$GLOBAL user root;"  # workers must write $TMP
"$NGINX" -t -q -p "$TMP" -c "$TMP/nginx.conf" -g "$GLOBAL"
"$NGINX" -p "$TMP" -c "$TMP/nginx.conf" -g "$GLOBAL daemon off;" &
PIDS+=($!)
BASE="http://127.0.0.1:$NGINX_PORT"
wait_ready "$BASE/healthz" 30

fail=0
check() {  # name expected-status expected-substring curl-args...
    local name="$1" want="$2" needle="$3"; shift 3
    local out code
    out="$(curl -sS -o "$TMP/resp" -w '%{http_code}' "$@")" || out="curl-error"
    code="$out"
    if [ "$code" != "$want" ] || ! grep -q -- "$needle" "$TMP/resp"; then
        echo "smoke: FAIL $name: status $code (want $want), body: $(head -c 300 "$TMP/resp")" >&2
        fail=1
    fi
}

# The round's requests carry round=<n> in their query (a new catalog URI each time: not from the cache), so
# only they are counted: nginx may log wait_ready's last /healthz after curl already has its answer.
for n in $(seq 1 "$REQUESTS"); do
    if [ $((n % 2)) -eq 0 ]; then
        check catalog 200 '"limits"' "$BASE/api/v1/catalog?round=$n"
    else
        check healthz 200 '"ready":true' "$BASE/healthz?round=$n"
    fi
done
sleep 0.3  # let nginx flush its log
grep -E '"GET /[^ "]*[?&]round=[0-9]+ ' "$TMP/access.log" >"$TMP/round.log" || true
echo "smoke: $REQUESTS requests through nginx -> replica:"
grep -o 'upstream=[0-9.:]*' "$TMP/round.log" | sort | uniq -c | sed 's/^/smoke:   /'
for i in $(seq 1 "$REPLICAS"); do
    got="$(grep -c "upstream=127.0.0.1:${PORTS[$((i - 1))]}\$\|upstream=127.0.0.1:${PORTS[$((i - 1))]} " "$TMP/round.log" || true)"
    if [ "$got" -lt $((REQUESTS / (2 * REPLICAS))) ]; then
        echo "smoke: FAIL replica $i served $got of $REQUESTS (unbalanced)" >&2; fail=1
    fi
done

# Body limits: the app's JSON 413 (app limit < body <= nginx's), nginx's JSON 413 beyond.
APP_LIMIT="$("$PY" -c 'from service.config import Config; print(Config.MAX_CONTENT_LENGTH)')"
PROXY_LIMIT=$(( $(sed -n 's/.*client_max_body_size \([0-9]*\)m;.*/\1/p' deploy/nginx.conf) * 1024 * 1024 ))
POST_PATH="$(curl -fsS "$BASE/openapi.json" | "$PY" -c 'import json, sys
print(next((p for p, ops in sorted(json.load(sys.stdin)["paths"].items()) if "post" in ops), ""))')"
if [ -n "$POST_PATH" ]; then
    head -c $((APP_LIMIT + 10)) /dev/zero | tr '\0' ' ' >"$TMP/big"
    check "app 413" 413 'max_body_bytes=' -X POST -H 'Content-Type: application/json' --data-binary @"$TMP/big" "$BASE$POST_PATH"
    echo "smoke: POST $POST_PATH with a body of max_body_bytes + 10 -> the app's JSON 413"
else
    echo "smoke: no POST operation yet; app 413 check skipped"
fi
head -c $((PROXY_LIMIT + 1024)) /dev/zero | tr '\0' ' ' >"$TMP/huge"
check "nginx 413" 413 'max_body_bytes at the proxy' -X POST -H 'Content-Type: application/json' --data-binary @"$TMP/huge" "$BASE/api/v1/catalog"

# Errors nginx answers itself are JSON too.
check "nginx 414" 414 '"code":414' "$BASE/api/v1/catalog?$(head -c 9000 /dev/zero | tr '\0' a)"
check "nginx 431" 431 '"code":431' -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" "$BASE/api/v1/catalog"

# The response cache: the second identical POST is nginx's (X-Cache-Status: HIT), the same bytes.
B='{"loss":"mse","predictions":[0.125,0.5],"targets":[0,1]}'
curl -sS -o "$TMP/c1" -D "$TMP/h1" -X POST -H 'Content-Type: application/json' -d "$B" "$BASE/api/v1/losses/evaluate"
curl -sS -o "$TMP/c2" -D "$TMP/h2" -X POST -H 'Content-Type: application/json' -d "$B" "$BASE/api/v1/losses/evaluate"
if grep -qi '^x-cache-status: HIT' "$TMP/h2" && cmp -s "$TMP/c1" "$TMP/c2"; then
    echo "smoke: repeated POST answered from nginx's cache"
else
    echo "smoke: FAIL nginx cache: $(grep -i x-cache "$TMP/h1" "$TMP/h2" | tr '\n' ' ')" >&2; fail=1
fi

# Slow clients hold nginx, not a replica: a slowloris and a never-reading client, while others are served.
"$PY" - "$NGINX_PORT" <<'EOF' || fail=1
import json, socket, sys, time, urllib.request
port = int(sys.argv[1])
base = f"http://127.0.0.1:{port}"
slow = socket.create_connection(("127.0.0.1", port))
slow.sendall(b"GET /healthz HTTP/1.1\r\n")
grid = json.dumps({"surface": "rosenbrock", "resolution": [1000, 1000], "gradient": True}).encode()
deaf = socket.create_connection(("127.0.0.1", port))
deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
deaf.sendall(b"POST /api/v1/landscapes/grid HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             b"Content-Length: %d\r\n\r\n" % len(grid) + grid)
worst = 0.0
for i in range(6):
    slow.sendall(b"X")
    t0 = time.monotonic()
    urllib.request.urlopen(base + f"/api/v1/catalog?s={i}", timeout=10).read()  # not from the cache
    worst = max(worst, time.monotonic() - t0)
    time.sleep(1)
print(f"smoke: during a slowloris and a never-reading client, the slowest of 6 catalog requests took {worst:.2f} s")
sys.exit(0 if worst < 3 else 1)
EOF

# Failover: stop replica 1; every request must still succeed on the others.
if [ "$REPLICAS" -gt 1 ]; then
    kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true
    for n in $(seq 1 20); do check "failover catalog" 200 '"limits"' "$BASE/api/v1/catalog?f=$n"; done
    echo "smoke: replica 1 stopped; 20 more requests answered by the others"
fi

# Rate limit: render the rate down to 1 r/s (burst 2) and reload; over it, JSON 429 with Retry-After.
sed -e "s#rate=[0-9]*r/s#rate=1r/s#" -e "s#burst=[0-9]*#burst=2#g" "$TMP/nginx.conf" >"$TMP/nginx.slow.conf"
mv "$TMP/nginx.slow.conf" "$TMP/nginx.conf"
"$NGINX" -p "$TMP" -c "$TMP/nginx.conf" -g "$GLOBAL" -s reload
sleep 1
codes=""
for n in $(seq 1 8); do
    codes="$codes $(curl -sS -o "$TMP/r$n" -D "$TMP/rh$n" -w '%{http_code}' "$BASE/api/v1/catalog")"
done
got429=""
for n in $(seq 1 8); do
    if grep -q '"code":429' "$TMP/r$n" && grep -qi '^retry-after:' "$TMP/rh$n"; then got429=$n; fi
done
if [ -n "$got429" ]; then
    echo "smoke: over the rate limit:$codes (JSON 429 with Retry-After)"
else
    echo "smoke: FAIL rate limit: statuses$codes" >&2; fail=1
fi
check "healthz is not rate limited" 200 '"ready":true' "$BASE/healthz"

if [ "$fail" -ne 0 ]; then
    echo "smoke: FAILED (nginx error log follows)" >&2; cat "$TMP/error.log" >&2 || true
    exit 1
fi
echo "smoke: OK"
