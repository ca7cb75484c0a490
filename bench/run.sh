#!/usr/bin/env bash
# authgate load benchmark: sign-in, refresh, subject (the user context),
# authorization decisions, the gateway authorizer and client_credentials on
# SQLite, plus /health latency while sign-in is saturated; then the peers a
# user would pick instead (better-auth on PostgreSQL, oidc-provider), in the
# same run, with the ratios. Bounded: each run lasts BENCH_SECONDS (default
# 10 s) against 127.0.0.1 only.
#
#   bench/run.sh            # prints a report and writes bench/RESULTS.md
#
# Needs wrk (Debian package `wrk`) and a release build with every feature
# (built here). The peers need Node.js and npm, PostgreSQL on 127.0.0.1:5432
# and their folders (BENCH_PEERS, default ../shared/peers); they are copied
# and installed under ~/.cache/authgate-bench-peers, never into the project.
# Without them the report says so and has no ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/authgate-target}"
seconds="${BENCH_SECONDS:-10}"
port="${BENCH_PORT:-18181}"
base="http://127.0.0.1:$port"
out="bench/out"
command -v wrk >/dev/null || { echo "bench: install wrk (apt-get install wrk)" >&2; exit 1; }

cargo build --release -p authgate --all-features -q
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
costs=$(cargo run --release -q -p authgate-embedded --example crypto_costs)
hash_ms=$(echo "$costs" | sed -E 's/^hash_ms=([0-9.]+).*/\1/')
parallel_hashes=$(echo "$costs" | sed -E 's/.*parallel_hashes_per_s=([0-9.]+).*/\1/')
sign_us=$(echo "$costs" | sed -E 's/.* sign_us=([0-9.]+).*/\1/')
rs256_sign_us=$(echo "$costs" | sed -E 's/.*rs256_sign_us=([0-9.]+).*/\1/')
eddsa_sign_us=$(echo "$costs" | sed -E 's/.*eddsa_sign_us=([0-9.]+).*/\1/')
cores=$(nproc)

rm -rf "$out" && mkdir -p "$out"
server=""
trap '[ -n "$server" ] && kill $server 2>/dev/null || true' EXIT
# start_server NAME [VAR=value...]: authgate on the data dir $out/NAME (the
# log beside it), ready, with the bench user signed up and confirmed.
start_server() {
  local name=$1; shift
  data="$out/$name"
  env AUTHGATE_LISTEN="127.0.0.1:$port" AUTHGATE_DATA_DIR="$data" AUTHGATE_LOG=warn \
    AUTHGATE_RATE_LIMITS=off AUTHGATE_FORWARD_RULES='GET /api/t/{tenant}/** data:read' "$@" \
    "$CARGO_TARGET_DIR/release/authgate" serve > "$out/$name.log" 2>&1 &
  server=$!
  for _ in $(seq 1 50); do curl -sf "$base/health/ready" >/dev/null && break; sleep 0.2; done
  json /v1/auth/sign-up "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\"}" >/dev/null
  sleep 0.5
  code=$(grep -h '^Code:' "$data"/outbox/*.eml | tr -d '\r' | awk '{print $2}' | head -1)
  json /v1/auth/sign-up/confirm "{\"email\":\"$BENCH_EMAIL\",\"code\":\"$code\"}" >/dev/null
}
stop_server() { kill "$server"; wait "$server" 2>/dev/null || true; server=""; }
export BENCH_EMAIL="bench@example.com" BENCH_PASSWORD="Bench-Password-123!"
json() { curl -sf -H 'content-type: application/json' -d "$2" "$base$1"; }
start_server data
rss_mib() { awk -v key="$1" '$1 == key":" {printf "%.0f", $2 / 1024}' "/proc/$server/status"; }
idle_rss=$(rss_mib VmRSS)

field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
session=$(json /v1/auth/sign-in "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\"}")
export BENCH_ACCESS_TOKEN=$(echo "$session" | field accessToken)
export BENCH_TENANT=$(curl -sf -H 'content-type: application/json' -H "authorization: Bearer $BENCH_ACCESS_TOKEN" \
  -d '{"name":"Bench"}' "$base/v1/tenants" | field id)
refresh_tokens() { # 16 fresh sessions: one refresh chain each
  local tokens="" t
  for _ in $(seq 1 16); do
    t=$(json /v1/auth/sign-in "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\"}" | field refreshToken)
    tokens="$tokens,$t"
  done
  echo "${tokens#,}"
}
export BENCH_REFRESH_TOKENS=$(refresh_tokens)

run() { # name, wrk args...
  local name=$1; shift
  wrk --latency -d "${RUN_SECONDS:-$seconds}s" "$@" > "$out/$name.txt" 2>&1
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$out/$name.txt")
  p50=$(awk '$1=="50%" {print $2}' "$out/$name.txt")
  p99=$(awk '$1=="99%" {print $2}' "$out/$name.txt")
  non2xx=$(awk '/Non-2xx/ {print $4}' "$out/$name.txt")
  printf '| %s | %s | %s | %s | %s |\n' "$name" "$rps" "$p50" "$p99" "${non2xx:-0}"
}

rows=()
rows+=("$(run subject -t2 -c32 -s bench/lua/bearer.lua "$base/v1/auth/subject")")
rows+=("$(run authz-check -t2 -c32 -s bench/lua/check.lua "$base/v1/authz/check")")
rows+=("$(run forward -t2 -c32 -s bench/lua/forward.lua "$base/v1/authz/forward")")
chains="${BENCH_REFRESH_CHAINS:-16}"
# Two wrk threads (as for every scenario: wrk shares the two cores with the
# server), each with half of the chains as its pool (bench/lua/refresh.lua).
export BENCH_REFRESH_THREADS="${BENCH_REFRESH_THREADS:-2}"
refresh_threads=$BENCH_REFRESH_THREADS
rows+=("$(run refresh -t"$refresh_threads" -c"$chains" -s bench/lua/refresh.lua "$base/v1/auth/token/refresh")")
client=$(AUTHGATE_DATA_DIR="$out/data" AUTHGATE_LOG=warn "$CARGO_TARGET_DIR/release/authgate" \
  admin create-client --name bench --scopes api:read 2>/dev/null)
client_id=$(echo "$client" | sed -n 's/^client_id=//p')
client_secret=$(echo "$client" | sed -n 's/^client_secret=//p')
export BENCH_CLIENT_BASIC=$(printf '%s:%s' "$client_id" "$client_secret" | base64 -w0)
rows+=("$(run client-credentials -t2 -c8 -s bench/lua/client_credentials.lua "$base/oauth2/token")")
rows+=("$(run sign-in -t2 -c16 -s bench/lua/sign_in.lua "$base/v1/auth/sign-in")")
# /health while sign-in is saturated.
wrk -d "${seconds}s" -t1 -c16 -s bench/lua/sign_in.lua "$base/v1/auth/sign-in" > "$out/sign-in-background.txt" 2>&1 &
background=$!
sleep 1
rows+=("$(RUN_SECONDS=$((seconds - 2)) run health-under-sign-in-load -t1 -c1 "$base/health/live")")
wait $background
peak_rss=$(rss_mib VmHWM)

stop_server
# Memory under sign-in load alone (the target's measure): a fresh server,
# sign-in saturated for the whole run.
start_server sign-in-memory
signin_idle_rss=$(rss_mib VmRSS)
wrk -d "${seconds}s" -t2 -c16 -s bench/lua/sign_in.lua "$base/v1/auth/sign-in" > "$out/sign-in-memory.txt" 2>&1
signin_peak_rss=$(rss_mib VmHWM)
stop_server

# The cost of abuse protection: sign-in and refresh with limits off, then
# with every budget on but too large to refuse (so each request runs the
# counters) in this process, then shared through Redis (127.0.0.1:6379, or
# BENCH_REDIS_URL); each on a fresh database, so the three compare alike.
redis_url="${BENCH_REDIS_URL:-redis://127.0.0.1:6379}"
huge='sign-in=1000000000/1s,sign-up=1000000000/1s,recovery=1000000000/1s,token=1000000000/1s,mail=1000000000/1s,account=1000000000/1s'
protection_rows=()
for mode in off local redis; do
  case $mode in
    off) start_server "limits-$mode" ;;
    local) start_server "limits-$mode" AUTHGATE_RATE_LIMITS="$huge" ;;
    redis)
      start_server "limits-$mode" AUTHGATE_RATE_LIMITS="$huge" AUTHGATE_REDIS_URL="$redis_url"
      curl -sf "$base/health/ready" | grep -q '"redis":"up"' || { echo "bench: Redis at $redis_url is not up" >&2; exit 1; }
      ;;
  esac
  export BENCH_REFRESH_TOKENS=$(refresh_tokens)
  protection_rows+=("$(run "refresh-limits-$mode" -t"$refresh_threads" -c"$chains" -s bench/lua/refresh.lua "$base/v1/auth/token/refresh")")
  protection_rows+=("$(run "sign-in-limits-$mode" -t2 -c16 -s bench/lua/sign_in.lua "$base/v1/auth/sign-in")")
  stop_server
done
# The signing algorithm: the protected request (verification, with the
# guard's memory of verified tokens) and refresh (two signatures) under each,
# each on a fresh database whose first key has that algorithm.
alg_rows=()
for alg in ES256 RS256 EdDSA; do
  start_server "alg-$alg" AUTHGATE_SIGNING_ALG="$alg"
  BENCH_ACCESS_TOKEN=$(json /v1/auth/sign-in "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\"}" | field accessToken)
  export BENCH_ACCESS_TOKEN
  export BENCH_REFRESH_TOKENS=$(refresh_tokens)
  alg_rows+=("$(run "subject-$alg" -t2 -c32 -s bench/lua/bearer.lua "$base/v1/auth/subject")")
  alg_rows+=("$(run "refresh-$alg" -t"$refresh_threads" -c"$chains" -s bench/lua/refresh.lua "$base/v1/auth/token/refresh")")
  stop_server
done
# The peers, on the same machine, minutes after authgate: better-auth
# (email and password on PostgreSQL) and oidc-provider (client_credentials,
# ES256 JWT access tokens), with the same wrk arguments as authgate's
# matching scenario.
peers_src="${BENCH_PEERS:-../shared/peers}"
out_abs="$(pwd)/$out"
peer_rows=()
peers_note=""
peer=""
trap '[ -n "$server" ] && kill $server 2>/dev/null; [ -n "$peer" ] && kill $peer 2>/dev/null || true' EXIT
wait_for() { for _ in $(seq 1 100); do curl -sf "$1" >/dev/null && return 0; sleep 0.2; done; return 1; }
if [ -d "$peers_src/better-auth" ] && [ -d "$peers_src/oidc-provider" ] && command -v npm >/dev/null; then
  peers_dir="$HOME/.cache/authgate-bench-peers"
  mkdir -p "$peers_dir"
  for name in better-auth oidc-provider; do
    if ! cmp -s "$peers_src/$name/package-lock.json" "$peers_dir/$name/package-lock.json" \
      || [ ! -d "$peers_dir/$name/node_modules" ]; then
      rm -rf "${peers_dir:?}/$name" && cp -r "$peers_src/$name" "$peers_dir/$name"
      (cd "$peers_dir/$name" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    fi
  done
  psql -h 127.0.0.1 -U postgres -qtc "SELECT 1 FROM pg_roles WHERE rolname = 'bench'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -qc "CREATE ROLE bench LOGIN PASSWORD 'bench'"
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS betterauth" >/dev/null
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE betterauth OWNER bench"
  (cd "$peers_dir/better-auth" && NODE_ENV=production PORT=3000 exec node server.mjs > "$out_abs/better-auth.log" 2>&1) &
  peer=$!
  wait_for http://127.0.0.1:3000/healthz
  ba_json() { curl -sf -H 'content-type: application/json' -H 'origin: http://127.0.0.1:3000' "$@"; }
  ba_json -d "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\",\"name\":\"Bench\"}" \
    http://127.0.0.1:3000/api/auth/sign-up/email >/dev/null
  SESSION_COOKIE=$(ba_json -D - -o /dev/null -d "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\"}" \
    http://127.0.0.1:3000/api/auth/sign-in/email | tr -d '\r' \
    | sed -n 's/^set-cookie: better-auth.session_token=\([^;]*\).*/\1/ip')
  export SESSION_COOKIE ORIGIN=http://127.0.0.1:3000
  peer_rows+=("$(run better-auth-get-session -t2 -c32 -s "$peers_dir/better-auth/getsession.lua" http://127.0.0.1:3000/api/auth/get-session)")
  peer_rows+=("$(run better-auth-sign-in -t2 -c16 -s "$peers_dir/better-auth/signin.lua" http://127.0.0.1:3000/api/auth/sign-in/email)")
  kill "$peer"; wait "$peer" 2>/dev/null || true; peer=""
  (cd "$peers_dir/oidc-provider" && NODE_ENV=production PORT=3001 exec node server.mjs > "$out_abs/oidc-provider.log" 2>&1) &
  peer=$!
  wait_for http://127.0.0.1:3001/jwks
  peer_rows+=("$(run oidc-provider-client-credentials -t2 -c8 -s "$peers_dir/oidc-provider/token.lua" http://127.0.0.1:3001/token)")
  kill "$peer"; wait "$peer" 2>/dev/null || true; peer=""
else
  peers_note="The peers were not run: their folders ($peers_src), Node.js or npm are missing."
fi

# PostgreSQL (the machine's, on loopback; a fresh database): the protected
# request and refresh, where every statement is a network round trip.
pg_rows=()
pg_db="${BENCH_PG_DATABASE:-authgate_bench}"
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $pg_db" >/dev/null
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $pg_db"
start_server postgres AUTHGATE_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$pg_db" \
  AUTHGATE_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)"
BENCH_ACCESS_TOKEN=$(json /v1/auth/sign-in "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\"}" | field accessToken)
export BENCH_ACCESS_TOKEN
export BENCH_REFRESH_TOKENS=$(refresh_tokens)
pg_rows+=("$(run subject-postgres -t2 -c32 -s bench/lua/bearer.lua "$base/v1/auth/subject")")
pg_rows+=("$(run refresh-postgres -t"$refresh_threads" -c"$chains" -s bench/lua/refresh.lua "$base/v1/auth/token/refresh")")
stop_server
load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)

rps_of() { awk '/Requests\/sec/ {print $2}' "$out/$1.txt"; }
ratio() { python3 -c "print(f'{$(rps_of "$1") / $(rps_of "$2"):.2f}')"; }

ratio_rows=""
if [ ${#peer_rows[@]} -gt 0 ]; then
  ratio_rows=$(cat <<ROWS
| scenario | authgate req/s | peer | peer req/s | ratio | target |
|---|---|---|---|---|---|
| user context, c=32 | $(rps_of subject) | better-auth get-session | $(rps_of better-auth-get-session) | $(ratio subject better-auth-get-session) | ≥ 20 and ≥ 10,000 req/s |
| sign-in, c=16 | $(rps_of sign-in) | better-auth sign-in | $(rps_of better-auth-sign-in) | $(ratio sign-in better-auth-sign-in) | ≥ 90 % of the argon2id ceiling |
| client_credentials, c=8 | $(rps_of client-credentials) | oidc-provider | $(rps_of oidc-provider-client-credentials) | $(ratio client-credentials oidc-provider-client-credentials) | ≥ 4 |
ROWS
)
fi
ceiling=$(python3 -c "print(f'{$cores / ($hash_ms / 1000):.0f}')")
signin_of_ceiling=$(python3 -c "print(f'{100 * $(rps_of sign-in) / ($cores / ($hash_ms / 1000)):.0f}')")
signin_of_capacity=$(python3 -c "print(f'{100 * $(rps_of sign-in) / $parallel_hashes:.0f}')")
refresh_ceiling=$(python3 -c "print(f'{$cores / (2 * $sign_us / 1e6):.0f}')")
report=$(cat <<TXT
# authgate benchmark results

Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; SQLite (WAL); embedded provider; release build
with every feature. Load from wrk on the same machine (it shares the cores with the server).
Machine load (1, 5, 15 min averages): ${load_at_start} at the start, ${load_at_end} at the end.
Date: $(date -u +%Y-%m-%dT%H:%MZ). Each run: ${seconds} s.

One argon2id hash (m=19456 KiB, t=2, p=1): ${hash_ms} ms, so the sign-in ceiling is
cores ÷ hash time = ${ceiling} req/s. With every core hashing at once (the hash pool as
sign-in saturates it) the cores sustain ${parallel_hashes} hashes/s: the hashes share the
caches and memory bandwidth. Sign-in below: ${signin_of_ceiling} % of the ceiling,
${signin_of_capacity} % of what the cores sustain.
One signature with the parsed key: ES256 (the default) ${sign_us} µs, RS256 (2048-bit)
${rs256_sign_us} µs, EdDSA ${eddsa_sign_us} µs. Every sign-in and
refresh signs two tokens (access and id), so refresh cannot pass
cores ÷ (2 × signature time) = ${refresh_ceiling} req/s, before any I/O.

| scenario | req/s | p50 | p99 | non-2xx |
|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")

Memory of that server: ${idle_rss} MiB resident at start, ${peak_rss} MiB at its peak (after
every scenario above, sign-in saturated last). Under sign-in load alone (a fresh server,
sign-in saturated for the run): ${signin_idle_rss} MiB at start, ${signin_peak_rss} MiB at its peak; the
target is 64 MiB + hash concurrency (${cores}, one per core) × 19 MiB = $((64 + cores * 19)) MiB.

Abuse protection: limits off, then on (every budget on, too large to refuse) with local
counters, then with counters in Redis; each on a fresh database:

| scenario | req/s | p50 | p99 | non-2xx |
|---|---|---|---|---|
$(printf '%s\n' "${protection_rows[@]}")

Ratios to limits off: refresh $(ratio refresh-limits-local refresh-limits-off) (local counters),
$(ratio refresh-limits-redis refresh-limits-off) (Redis); sign-in $(ratio sign-in-limits-local sign-in-limits-off) (local),
$(ratio sign-in-limits-redis sign-in-limits-off) (Redis). Redis is the machine's, on loopback.

Signing algorithm (AUTHGATE_SIGNING_ALG), each on a fresh database; the default is ES256:

| scenario | req/s | p50 | p99 | non-2xx |
|---|---|---|---|---|
$(printf '%s\n' "${alg_rows[@]}")

On PostgreSQL (the machine's server on loopback, a fresh database):

| scenario | req/s | p50 | p99 | non-2xx |
|---|---|---|---|---|
$(printf '%s\n' "${pg_rows[@]}")

Against the peers, in this run (better-auth on PostgreSQL, oidc-provider with ES256 JWTs; the same wrk
arguments as authgate's scenario):

| scenario | req/s | p50 | p99 | non-2xx |
|---|---|---|---|---|
$(printf '%s\n' "${peer_rows[@]}")

${ratio_rows}
${peers_note}

Raw wrk output is in bench/out/ after a run. How to read these figures: bench/README.md.
TXT
)
echo "$report"
echo "$report" > bench/RESULTS.md
