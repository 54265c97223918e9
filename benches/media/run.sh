#!/usr/bin/env bash
# Media-serving benchmark: aimoviez (axum, in-memory cache) vs nginx (sendfile)
# on the same files, over loopback, with wrk. Prints ratios; never fails on
# timing. See benches/media/README.md.
#
# Two shapes: a whole demo clip, and random RANGE_BYTES ranges of a ~BIG_BYTES
# clip. Media access follows the clips (src/media/access.rs: a file no
# approved clip uses answers 404), so the big clip is a real one: ffmpeg
# makes an 8-second H.264 MP4 of about BIG_BYTES, a user signs up and uploads
# it through POST /api/upload, an admin made with `aimoviez admin create`
# approves it, and both servers serve the file the upload stored.
# Our server runs with its default config, except that the upload cap
# (media.max_upload_mb, 50 MiB by default) is raised through
# AIMOVIEZ_MEDIA_MAX_UPLOAD_MB when BIG_BYTES needs more.
#
# Knobs (environment):
#   DURATION=10s     wrk duration of each measured run
#   CONNECTIONS=64   wrk connections
#   THREADS=2        wrk threads
#   ROUNDS=2         measured runs per server per shape (alternating ours/nginx); best req/s is reported
#   WARMUP=2s        unmeasured wrk run per server per shape before the rounds (0 to skip)
#   RANGE_BYTES=1048576   size of each random range in the range shape
#   BIG_BYTES=5242880     about the size of the uploaded clip the ranges are taken from
#   RANGES=1         0 skips the range shape (and ffmpeg, the upload and the approval)
#   SMALL_TARGET=153600   the whole-file shape uses the demo clip closest to this size
#   NGINX_WORKERS=auto    nginx worker_processes
#   BUILD=1          run `cargo build --release` first (0 to use the existing binary)
#   INSTALL=1        apt-get install wrk/nginx/ffmpeg when missing (0 to never install)
#   KEEP_TMP=0       1 keeps the temp dir (logs, configs) for inspection
#   AIMOVIEZ_BIN=target/release/aimoviez   the binary to benchmark
# Other AIMOVIEZ_* variables reach our server as configuration (e.g.
# AIMOVIEZ_MEDIA_CACHE_MB=0 serves media from disk); AIMOVIEZ_BIN does not
# (the server refuses configuration keys it does not know).
set -euo pipefail

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
ROUNDS="${ROUNDS:-2}"
WARMUP="${WARMUP:-2s}"
RANGE_BYTES="${RANGE_BYTES:-1048576}"
RANGES="${RANGES:-1}"
BIG_BYTES="${BIG_BYTES:-5242880}"
SMALL_TARGET="${SMALL_TARGET:-153600}"
NGINX_WORKERS="${NGINX_WORKERS:-auto}"
BUILD="${BUILD:-1}"
INSTALL="${INSTALL:-1}"
KEEP_TMP="${KEEP_TMP:-0}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${AIMOVIEZ_BIN:-$ROOT/target/release/aimoviez}"
# The server reads every AIMOVIEZ_* variable as a configuration key and
# refuses unknown ones, so an exported AIMOVIEZ_BIN would stop it at start
# ("unknown field `bin`"): it is the script's knob, not the server's.
unset AIMOVIEZ_BIN

log() { printf '[media-bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- 1. tools
need_install=()
command -v wrk >/dev/null 2>&1 || need_install+=(wrk)
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then need_install+=(nginx); fi
command -v curl >/dev/null 2>&1 || need_install+=(curl)
[ "$RANGES" = 0 ] || command -v ffmpeg >/dev/null 2>&1 || need_install+=(ffmpeg)
if [ "${#need_install[@]}" -gt 0 ]; then
    [ "$INSTALL" = 1 ] || die "missing: ${need_install[*]} (INSTALL=0)"
    [ "$(id -u)" = 0 ] || die "missing: ${need_install[*]}; run as root or install them"
    pkgs=()
    for p in "${need_install[@]}"; do
        case "$p" in nginx) pkgs+=(nginx-light) ;; *) pkgs+=("$p") ;; esac
    done
    log "installing ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Other sessions may hold the dpkg lock; wait for it instead of failing.
    apt_opts=(-o DPkg::Lock::Timeout=600 -y -qq)
    apt-get "${apt_opts[@]}" update >/dev/null || true
    # nginx-light is gone from newer Debian; plain nginx is the fallback.
    apt-get "${apt_opts[@]}" install "${pkgs[@]}" >/dev/null \
        || apt-get "${apt_opts[@]}" install "${pkgs[@]/nginx-light/nginx}" >/dev/null
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

if [ "$BUILD" = 1 ]; then
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release --quiet)
fi
[ -x "$BIN" ] || die "no binary at $BIN"

# ---------------------------------------------------------------- 2. temp dir, cleanup
TMP="$(mktemp -d "${TMPDIR:-/tmp}/aimoviez-media-bench.XXXXXX")"
OURS_PID=""
NGINX_PID=""
cleanup() {
    local status=$?
    set +e
    if [ -n "$OURS_PID" ] && kill -0 "$OURS_PID" 2>/dev/null; then
        kill -TERM "$OURS_PID" 2>/dev/null
        wait "$OURS_PID" 2>/dev/null
    fi
    if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill -TERM "$NGINX_PID" 2>/dev/null # fast shutdown of the master and its workers
        wait "$NGINX_PID" 2>/dev/null
    fi
    if [ "$KEEP_TMP" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A loopback port nobody listens on (nothing answers a connect).
free_port() {
    local port
    for _ in $(seq 200); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    die "no free port found"
}

wait_http() { # url pid name
    for _ in $(seq 150); do
        if curl -s -o /dev/null "$1"; then return 0; fi
        if ! kill -0 "$2" 2>/dev/null; then
            # The temp dir goes on exit (unless KEEP_TMP=1): show why here.
            log "$3 exited during start; the end of its log:"
            tail -n 20 "$TMP/$3.log" >&2
            die "$3 exited during start"
        fi
        sleep 0.2
    done
    die "$3 did not answer $1 within 30 s"
}

# ---------------------------------------------------------------- 2a. the big clip's video
# An 8-second H.264 MP4 (the default media.max_duration_ms is 8.5 s) at the
# bitrate that makes it about BIG_BYTES; per-frame noise keeps x264 from
# coming in under the bitrate. Faststart, so the upload stores it as made.
if [ "$RANGES" != 0 ]; then
    big_kbps=$((BIG_BYTES / 1000))
    log "ffmpeg: 8 s 1280x720 H.264 clip at $big_kbps kbit/s (~$BIG_BYTES bytes)"
    ffmpeg -hide_banner -loglevel error -nostdin -y \
        -f lavfi -i "testsrc2=size=1280x720:rate=25" -t 8 -vf "noise=alls=60:allf=t+u" \
        -c:v libx264 -preset ultrafast -pix_fmt yuv420p \
        -b:v "${big_kbps}k" -maxrate "${big_kbps}k" -bufsize "$((big_kbps / 2))k" \
        -movflags +faststart "$TMP/big.mp4" >"$TMP/ffmpeg.log" 2>&1 \
        || { tail -n 20 "$TMP/ffmpeg.log" >&2; die "ffmpeg could not make the big clip"; }
    # The upload cap (media.max_upload_mb) is 50 MiB by default; raise it only
    # when the clip (plus the multipart framing) needs more.
    upload_mb=$(($(stat -c %s "$TMP/big.mp4") / 1048576 + 2))
    if [ "$upload_mb" -gt 50 ]; then
        export AIMOVIEZ_MEDIA_MAX_UPLOAD_MB="$upload_mb"
        log "raising the upload cap to $upload_mb MiB for the big clip"
    fi
fi

# ---------------------------------------------------------------- 2b. our server + files
DATA="$TMP/data"
mkdir -p "$DATA"
OURS_PORT="$(free_port)"
log "starting aimoviez on 127.0.0.1:$OURS_PORT"
RUST_LOG=warn "$BIN" serve --demo --listen "127.0.0.1:$OURS_PORT" --data "$DATA" >"$TMP/aimoviez.log" 2>&1 &
OURS_PID=$!
OURS="http://127.0.0.1:$OURS_PORT"
wait_http "$OURS/api/health" "$OURS_PID" aimoviez

# The demo clips, as the API lists them; the whole-file shape uses the one
# closest to SMALL_TARGET bytes.
mapfile -t clip_urls < <(curl -sf "$OURS/api/vote?limit=20" | grep -o '"videoUrl":"[^"]*"' | cut -d'"' -f4 | sort -u)
[ "${#clip_urls[@]}" -gt 0 ] || die "the demo season lists no clips"
SMALL_URL=""
best_diff=""
for url in "${clip_urls[@]}"; do
    file="$DATA$url" # /media/ab/<hash>.mp4 lives at DATA/media/ab/<hash>.mp4
    [ -f "$file" ] || die "clip $url is not at $file"
    size=$(stat -c %s "$file")
    diff=$((size > SMALL_TARGET ? size - SMALL_TARGET : SMALL_TARGET - size))
    if [ -z "$best_diff" ] || [ "$diff" -lt "$best_diff" ]; then best_diff=$diff; SMALL_URL=$url; fi
done
SMALL_FILE="$DATA$SMALL_URL"
SMALL_SIZE=$(stat -c %s "$SMALL_FILE")
log "demo clips: ${#clip_urls[@]}; whole-file shape uses $SMALL_URL ($SMALL_SIZE bytes)"

# The big clip, uploaded and approved through the real API (media access
# follows the clips: our server answers 404 for a file no approved clip uses).
# A user signs up (no captcha on sign-up; curl sends no Origin, so the
# cross-site check lets it through) and uploads; an admin made with
# `aimoviez admin create` (through the running server's local socket) logs
# in and approves; the clip's videoUrl names the file the upload stored.
# api JAR METHOD PATH [curl args] -> the body; dies on anything but 2xx.
api() {
    local jar="$1" method="$2" path="$3" out="$TMP/api.body" code
    shift 3
    code=$(curl -s -o "$out" -w '%{http_code}' -b "$jar" -c "$jar" -X "$method" "$@" "$OURS$path") \
        || die "$method $path: curl failed"
    case "$code" in
        2??) cat "$out" ;;
        *) die "$method $path answered $code: $(head -c 300 "$out")" ;;
    esac
}
BIG_URL=""
BIG_FILE=""
BIG_SIZE=0
if [ "$RANGES" != 0 ]; then
    password="media bench password"
    json=(-H "Content-Type: application/json")
    api "$TMP/creator.jar" POST /api/auth/register "${json[@]}" \
        --data "{\"username\":\"bench_creator\",\"password\":\"$password\"}" >/dev/null
    upload=$(api "$TMP/creator.jar" POST /api/upload -F "title=Range bench" -F "description=media bench clip" \
        -F "genre=sci-fi" -F "file=@$TMP/big.mp4;type=video/mp4")
    clip_id=$(grep -o '"clipId":[0-9]*' <<<"$upload" | cut -d: -f2 || true)
    [ -n "$clip_id" ] || die "the upload answered no clipId: $upload"
    printf '%s\n' "$password" | "$BIN" admin create --username bench_admin --password-stdin --data "$DATA" \
        >"$TMP/admin.log" 2>&1 || { cat "$TMP/admin.log" >&2; die "aimoviez admin create failed"; }
    api "$TMP/admin.jar" POST /api/auth/login "${json[@]}" \
        --data "{\"username\":\"bench_admin\",\"password\":\"$password\"}" >/dev/null
    api "$TMP/admin.jar" POST "/api/admin/clips/$clip_id/approve" --data "" >/dev/null
    clip=$(api "$TMP/anonymous.jar" GET "/api/clips/$clip_id")
    BIG_URL=$(grep -o '"videoUrl":"[^"]*"' <<<"$clip" | cut -d'"' -f4 || true)
    case "$BIG_URL" in /media/*) ;; *) die "clip $clip_id has no /media/ videoUrl: $clip" ;; esac
    BIG_FILE="$DATA$BIG_URL"
    [ -f "$BIG_FILE" ] || die "clip $BIG_URL is not at $BIG_FILE"
    BIG_SIZE=$(stat -c %s "$BIG_FILE")
    [ "$RANGE_BYTES" -le "$BIG_SIZE" ] || die "RANGE_BYTES ($RANGE_BYTES) > the big clip's $BIG_SIZE bytes"
    log "big clip: #$clip_id approved, $BIG_URL ($BIG_SIZE bytes)"
fi

# ---------------------------------------------------------------- 3. nginx
NGINX_PORT="$(free_port)"
while [ "$NGINX_PORT" = "$OURS_PORT" ]; do NGINX_PORT="$(free_port)"; done
mkdir -p "$TMP/nginx/logs" "$TMP/nginx/tmp"
# Media files are written 0600, so as root the workers must stay root to read
# them (nginx would otherwise drop them to nobody).
user_line=""
[ "$(id -u)" = 0 ] && user_line="user root;"
cat >"$TMP/nginx/nginx.conf" <<EOF
# Generated by benches/media/run.sh
$user_line
worker_processes $NGINX_WORKERS;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    # nginx closes a keep-alive connection after 1000 requests by default;
    # hyper never does, so lift the limit to keep connections equal.
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path $TMP/nginx/tmp/body;
    proxy_temp_path $TMP/nginx/tmp/proxy;
    fastcgi_temp_path $TMP/nginx/tmp/fastcgi;
    uwsgi_temp_path $TMP/nginx/tmp/uwsgi;
    scgi_temp_path $TMP/nginx/tmp/scgi;
    types { video/mp4 mp4; image/jpeg jpg; }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location /media/ {
            alias $DATA/media/;
            add_header Cache-Control "public, max-age=31536000, immutable";
        }
    }
}
EOF
log "starting nginx ($NGINX_WORKERS workers, sendfile) on 127.0.0.1:$NGINX_PORT"
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/logs/error.log" >"$TMP/nginx.log" 2>&1 &
NGINX_PID=$!
NGX="http://127.0.0.1:$NGINX_PORT"
wait_http "$NGX/" "$NGINX_PID" nginx

# ---------------------------------------------------------------- 7. same bytes from both
# Before anything is timed, each shape is checked on both servers: status,
# length headers and the exact bytes, so a broken shape (a 404, a 200 for a
# range) stops the script here instead of printing a ratio of errors.
# header FILE NAME -> the value of the header NAME in the dumped headers FILE
header() { tr -d '\r' <"$1" | sed -n "s/^$2: *//Ip" | tail -1; }
verify_whole() { # base url file
    local out="$TMP/verify.body" code size
    size=$(stat -c %s "$3")
    code=$(curl -s -D "$TMP/verify.headers" -o "$out" -w '%{http_code}' "$1$2")
    [ "$code" = 200 ] || die "$1$2 answered $code, not 200"
    [ "$(header "$TMP/verify.headers" content-length)" = "$size" ] \
        || die "$1$2 sent Content-Length $(header "$TMP/verify.headers" content-length), not $size"
    cmp -s "$out" "$3" || die "$1$2 did not return the file's bytes"
}
verify_range() { # base url file start end
    local out="$TMP/verify.body" code len=$(($5 - $4 + 1)) want
    want="bytes $4-$5/$(stat -c %s "$3")"
    code=$(curl -s -D "$TMP/verify.headers" -o "$out" -w '%{http_code}' -H "Range: bytes=$4-$5" "$1$2")
    [ "$code" = 206 ] || die "$1$2 answered $code to a range, not 206"
    [ "$(header "$TMP/verify.headers" content-range)" = "$want" ] \
        || die "$1$2 sent Content-Range '$(header "$TMP/verify.headers" content-range)', not '$want'"
    [ "$(header "$TMP/verify.headers" content-length)" = "$len" ] \
        || die "$1$2 sent Content-Length $(header "$TMP/verify.headers" content-length) for bytes=$4-$5"
    [ "$(stat -c %s "$out")" = "$len" ] || die "$1$2 returned $(stat -c %s "$out") bytes for bytes=$4-$5"
    cmp -s -i "0:$4" -n "$len" "$out" "$3" || die "$1$2 returned the wrong bytes for bytes=$4-$5"
}
for base in "$OURS" "$NGX"; do
    verify_whole "$base" "$SMALL_URL" "$SMALL_FILE"
    [ "$RANGES" = 0 ] && continue
    verify_whole "$base" "$BIG_URL" "$BIG_FILE"
    verify_range "$base" "$BIG_URL" "$BIG_FILE" 0 $((RANGE_BYTES - 1))
    verify_range "$base" "$BIG_URL" "$BIG_FILE" 12345 $((12345 + RANGE_BYTES - 1))
    verify_range "$base" "$BIG_URL" "$BIG_FILE" $((BIG_SIZE - RANGE_BYTES)) $((BIG_SIZE - 1))
done
if [ "$RANGES" = 0 ]; then
    log "verified: both servers return the whole clip's bytes (200, Content-Length)"
else
    log "verified: both servers return identical bytes (200 whole; 206 ranges with Content-Range and length)"
fi

# ---------------------------------------------------------------- 4. wrk scripts
# done() prints exact numbers, so nothing depends on wrk's unit formatting.
cat >"$TMP/report.lua" <<'EOF'
done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "BENCH requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d err_connect=%d err_read=%d err_write=%d err_timeout=%d err_status=%d\n",
        summary.requests, summary.duration, summary.bytes,
        latency:percentile(50), latency:percentile(99),
        e.connect, e.read, e.write, e.timeout, e.status))
end
EOF
cp "$TMP/report.lua" "$TMP/plain.lua"
# A random RANGE_BYTES window anywhere in the file (any offset, not aligned),
# a new one for every request; each thread seeds its own generator.
cat >"$TMP/range.lua" <<EOF
local size = $BIG_SIZE
local span = $RANGE_BYTES
local counter = 0
setup = function(thread)
    counter = counter + 1
    thread:set("id", counter)
end
init = function(args)
    math.randomseed(os.time() * 1000 + (id or 0) * 7919)
end
request = function()
    local start = math.random(0, size - span)
    return wrk.format("GET", nil, { ["Range"] = "bytes=" .. start .. "-" .. (start + span - 1) })
end
EOF
cat "$TMP/report.lua" >>"$TMP/range.lua"

# run_wrk NAME DURATION SCRIPT URL -> prints "reqps bytesps p99_us errors"
run_wrk() {
    local out="$TMP/wrk.$1.out" line requests dur bytes p99 errs
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$2" --timeout 10s --latency -s "$3" "$4" >"$out" 2>&1 \
        || { log "wrk failed: $(tail -3 "$out")"; echo "0 0 0 -1"; return 0; }
    line=$(grep '^BENCH ' "$out" | tail -1)
    [ -n "$line" ] || { log "wrk printed no result: $(tail -3 "$out")"; echo "0 0 0 -1"; return 0; }
    field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$line"; }
    requests=$(field requests); dur=$(field duration_us); bytes=$(field bytes); p99=$(field p99_us)
    errs=$(($(field err_connect) + $(field err_read) + $(field err_write) + $(field err_timeout) + $(field err_status)))
    awk -v r="$requests" -v d="$dur" -v b="$bytes" -v p="$p99" -v e="$errs" \
        'BEGIN { printf "%.1f %.0f %d %d\n", r * 1e6 / d, b * 1e6 / d, p, e }'
}

size_label() {
    awk -v b="$1" 'BEGIN {
        if (b % 1048576 == 0) printf "%d MiB", b / 1048576
        else if (b >= 1048576) printf "%.1f MiB", b / 1048576
        else printf "%.0f KiB", b / 1024
    }'
}
fmt_ms() { awk -v us="$1" 'BEGIN { printf "%.2f ms", us / 1000 }'; }
fmt_mb() { awk -v b="$1" 'BEGIN { printf "%.0f MB/s", b / 1e6 }'; }

# bench SHAPE SCRIPT OURS_URL NGINX_URL -> appends a row to $TMP/rows
bench() {
    local shape="$1" script="$2" url_ours="$3" url_ngx="$4" round server url res
    local best_ours="0 0 0 0" best_ngx="0 0 0 0"
    if [ "$WARMUP" != 0 ]; then
        run_wrk warm "$WARMUP" "$script" "$url_ours" >/dev/null
        run_wrk warm "$WARMUP" "$script" "$url_ngx" >/dev/null
    fi
    for round in $(seq "$ROUNDS"); do
        for server in aimoviez nginx; do
            if [ "$server" = aimoviez ]; then url=$url_ours; else url=$url_ngx; fi
            res=$(run_wrk "$server" "$DURATION" "$script" "$url")
            read -r rps bps p99 errs <<<"$res"
            log "$(printf '%-33s round %d %-8s %10.1f req/s  %s  p99 %s  errors %s' \
                "$shape" "$round" "$server" "$rps" "$(fmt_mb "$bps")" "$(fmt_ms "$p99")" "$errs")"
            if [ "$server" = aimoviez ]; then
                awk -v a="$rps" -v b="${best_ours%% *}" 'BEGIN { exit !(a > b) }' && best_ours="$res"
            else
                awk -v a="$rps" -v b="${best_ngx%% *}" 'BEGIN { exit !(a > b) }' && best_ngx="$res"
            fi
        done
    done
    echo "$shape|$best_ours|$best_ngx" >>"$TMP/rows"
}

: >"$TMP/rows"
log "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds alternating, warm-up $WARMUP"
bench "whole clip ($(size_label "$SMALL_SIZE"))" "$TMP/plain.lua" "$OURS$SMALL_URL" "$NGX$SMALL_URL"
[ "$RANGES" = 0 ] || bench "random $(size_label "$RANGE_BYTES") range of $(size_label "$BIG_SIZE")" \
    "$TMP/range.lua" "$OURS$BIG_URL" "$NGX$BIG_URL"

# Context: the cheapest route of our server, no media.
[ "$WARMUP" != 0 ] && run_wrk warm "$WARMUP" "$TMP/plain.lua" "$OURS/api/health" >/dev/null
health_best="0 0 0 0"
for round in $(seq "$ROUNDS"); do
    res=$(run_wrk health "$DURATION" "$TMP/plain.lua" "$OURS/api/health")
    log "$(printf '%-33s round %d %-8s %10.1f req/s' "GET /api/health" "$round" aimoviez "${res%% *}")"
    awk -v a="${res%% *}" -v b="${health_best%% *}" 'BEGIN { exit !(a > b) }' && health_best="$res"
done

# ---------------------------------------------------------------- 5. table
echo
echo "Media serving, aimoviez vs nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///') (sendfile, worker_processes $NGINX_WORKERS), loopback"
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, best of $ROUNDS alternating rounds; $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); load avg $(cut -d' ' -f1-3 /proc/loadavg)"
echo
ROW='| %-33s | %14s | %11s | %16s | %13s | %10s | %12s | %9s | %6s |\n'
# shellcheck disable=SC2059
printf "$ROW" shape "aimoviez req/s" "nginx req/s" "ratio ours/nginx" "aimoviez MB/s" "nginx MB/s" "aimoviez p99" "nginx p99" errors
printf '|%s|%s:|%s:|%s:|%s:|%s:|%s:|%s:|%s:|\n' "$(printf -- '-%.0s' {1..35})" \
    "$(printf -- '-%.0s' {1..15})" "$(printf -- '-%.0s' {1..12})" "$(printf -- '-%.0s' {1..17})" \
    "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..11})" "$(printf -- '-%.0s' {1..13})" \
    "$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..7})"
warnings=()
while IFS='|' read -r shape ours ngx; do
    read -r o_rps o_bps o_p99 o_err <<<"$ours"
    read -r n_rps n_bps n_p99 n_err <<<"$ngx"
    ratio=$(awk -v a="$o_rps" -v b="$n_rps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
    # shellcheck disable=SC2059
    printf "$ROW" "$shape" "$(printf %.0f "$o_rps")" "$(printf %.0f "$n_rps")" "$ratio" \
        "$(awk -v b="$o_bps" 'BEGIN { printf "%.0f", b / 1e6 }')" "$(awk -v b="$n_bps" 'BEGIN { printf "%.0f", b / 1e6 }')" \
        "$(fmt_ms "$o_p99")" "$(fmt_ms "$n_p99")" "$o_err/$n_err"
    if [ "$o_err" != 0 ] || [ "$n_err" != 0 ]; then
        warnings+=("WARNING: $shape: $o_err/$n_err failed requests (ours/nginx); its ratio is not a clean comparison")
    fi
done <"$TMP/rows"
read -r h_rps _ h_p99 h_err <<<"$health_best"
echo
printf 'context: aimoviez GET /api/health: %.0f req/s, p99 %s, errors %s\n' "$h_rps" "$(fmt_ms "$h_p99")" "$h_err"
echo "(errors = wrk socket errors + non-2xx/3xx responses, ours/nginx; timing never fails this script)"
if [ "${#warnings[@]}" -gt 0 ]; then printf '%s\n' "${warnings[@]}"; fi
