#!/usr/bin/env bash
# Schema-driven API fuzzing (issue #18): runs Schemathesis against
# GET /api/openapi.json of a real `aimoviez serve --demo` on a free loopback
# port with a throw-away data dir, three times: anonymous, signed in as a
# user, signed in as an admin. Fails (exit 1) on any 5xx, any response that
# breaks its documented schema, content type or headers, and any status code
# the operation does not document.
#
# Usage: scripts/schemathesis.sh [extra `st run` options...]
#   AIMOVIEZ_BIN      binary to test (default: target/release/aimoviez, else target/debug/aimoviez)
#   ST_MAX_EXAMPLES   generated cases per operation and phase (default 25; CI keeps it bounded)
#   ST_CHECKS         schemathesis checks (default: the ten in `checks=` below; `all` also
#                     judges how precise the schema is, for exploration)
#   ST_PHASES         default examples,coverage,fuzzing,stateful
#   ST_MODE           positive | negative | all (default all)
#   ST_SEED           hypothesis seed (default 18, so a CI failure reproduces)
#   ST_VENV           virtualenv holding schemathesis (default target/schemathesis-venv,
#                     so `cargo clean` removes it and git ignores it); created with
#                     the pinned version from PyPI when missing, after which the
#                     run itself needs no network.
#   ST_REPORT_DIR     where JUnit/NDJSON reports go (default target/schemathesis)
#   ST_KEEP           1 keeps the data dir and the server log for inspection
set -euo pipefail

ST_VERSION=4.32.5
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${AIMOVIEZ_BIN:-}
if [[ -z $bin ]]; then
    if [[ -x $root/target/release/aimoviez ]]; then bin=$root/target/release/aimoviez; else bin=$root/target/debug/aimoviez; fi
fi
[[ -x $bin ]] || { echo "schemathesis.sh: no aimoviez binary at $bin (cargo build first)" >&2; exit 2; }
max_examples=${ST_MAX_EXAMPLES:-25}
checks=${ST_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,ignored_auth,use_after_free,ensure_resource_availability,unsupported_method,allow_header_conformance}
mode=${ST_MODE:-all}
seed=${ST_SEED:-18}
venv=${ST_VENV:-$root/target/schemathesis-venv}
report_dir=${ST_REPORT_DIR:-$root/target/schemathesis}

if [[ ! -x $venv/bin/st ]]; then
    python3 -c 'import ensurepip' 2>/dev/null || { echo "schemathesis.sh: python3 cannot make a virtualenv (on Debian: apt-get install python3-venv)" >&2; exit 2; }
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "schemathesis==$ST_VERSION"
fi
"$venv/bin/st" --version | grep -q "$ST_VERSION" || echo "schemathesis.sh: warning: $venv holds $("$venv/bin/st" --version), not $ST_VERSION" >&2

data=$(mktemp -d "${TMPDIR:-/tmp}/aimoviez-st.XXXXXX")
log=$data.server.log
config=$data.schemathesis.toml
auth_config=$data.schemathesis-auth.toml
server=
cleanup() {
    if [[ -n $server ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    if [[ ${ST_KEEP:-0} == 1 ]]; then echo "kept: $data (log $log)"; else rm -rf "$data" "$log" "$config" "$auth_config"; fi
}
trap cleanup EXIT

# The fuzzer sends many requests from one address: turn every rate-limit class
# off (the limits themselves have their own tests), and keep stray AIMOVIEZ_*
# variables of the caller out (the config refuses unknown ones).
unset "${!AIMOVIEZ_@}"
for class in VOTE UPLOAD COMMENT API READ AUTH ADMIN; do export "AIMOVIEZ_RATE_LIMITS_$class=0"; done
export AIMOVIEZ_MEDIA_FFMPEG=off RUST_LOG=${RUST_LOG:-warn}

admin_password='schemathesis admin password'
user_password='schemathesis user password'
echo "$admin_password" | "$bin" admin create --username st_admin --password-stdin --data "$data" >/dev/null

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
"$bin" serve --demo --data "$data" --listen "127.0.0.1:$port" >"$log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
    curl -fsS "$base/api/health" >/dev/null 2>&1 && break
    kill -0 "$server" 2>/dev/null || { cat "$log" >&2; exit 2; }
    sleep 0.1
done

# A session cookie for `username`, registering the account when asked to.
session() { # route username password
    curl -fsS -o /dev/null -D - -H 'content-type: application/json' \
        -d "{\"username\":\"$2\",\"password\":\"$3\"}" "$base/api/auth/$1" |
        sed -n 's/^set-cookie: \(aimoviez_session=[^;]*\).*/\1/ip' | tr -d '\r'
}
user_cookie=$(session register st_user "$user_password")
admin_cookie=$(session login st_admin "$admin_password")
[[ -n $user_cookie && -n $admin_cookie ]] || { echo "schemathesis.sh: could not sign in" >&2; exit 2; }

# Values that reach past the 404s: path parameters the schema types only as
# strings (user names, board and list names, admin actions) and the small ids
# the demo season has are drawn from these lists half of the time, fuzzed the
# other half. `/api/live` is an endless event stream: each request reads its
# first event (the snapshot, sent at once) and closes; waiting for a second
# would hold every request until the timeout, as nothing else happens.
cat >"$config" <<'TOML'
max-stream-events = 1

[dictionaries.users]
values = ["st_user", "st_admin", "mira_frames"]
[dictionaries.boards]
values = ["clips", "creators", "voters"]
[dictionaries.lists]
values = ["followers", "following"]
[dictionaries.ids]
values = [1, 2, 3, 4, 5, 6]
[dictionaries.actions]
values = ["ban", "unban", "grant-admin", "revoke-admin", "activate", "finish", "archive", "unlock", "reset-votes", "approve", "reject"]

[parameters]
"path.name" = { dictionary = "users", probability = 0.5 }
"path.board" = { dictionary = "boards", probability = 0.5 }
"path.list" = { dictionary = "lists", probability = 0.5 }
"path.action" = { dictionary = "actions", probability = 0.5 }
"path.id" = { dictionary = "ids", probability = 0.5 }
"path.position" = { dictionary = "ids", probability = 0.5 }
"body.clipId" = { dictionary = "ids", probability = 0.5 }
TOML
# The session cookie goes in through the schema's `session` security scheme,
# so Schemathesis knows which requests are authenticated (and `ignored_auth`
# can check that leaving the cookie out is refused).
{ cat "$config"; printf '\n[auth.openapi.session]\napi_key = "${ST_SESSION}"\n'; } >"$auth_config"

mkdir -p "$report_dir"
report_dir=$(cd "$report_dir" && pwd)
venv=$(cd "$venv" && pwd)
status=0
run() { # name [st options...]
    local name=$1
    shift
    echo "== schemathesis: $name"
    local file=$config
    [[ -n ${ST_SESSION:-} ]] && file=$auth_config
    # Run from the report dir: Schemathesis keeps a cache in `.schemathesis/`
    # of its working directory, which belongs under target/, not the repo.
    (cd "$report_dir" && "$venv/bin/st" --config-file "$file" run "$base/api/openapi.json" \
        --checks "$checks" --mode "$mode" --max-examples "$max_examples" --seed "$seed" \
        --phases "${ST_PHASES:-examples,coverage,fuzzing,stateful}" --workers 1 --no-color \
        --generation-database none --request-timeout 10 --max-redirects 0 \
        --report junit,ndjson --report-junit-path "$report_dir/$name.xml" --report-ndjson-path "$report_dir/$name.ndjson" \
        "$@") || status=1
}
ST_SESSION= run anonymous "$@"
# Signing out or deleting the account would end the session the rest of the
# run uses; both have their own tests.
ST_SESSION=${user_cookie#aimoviez_session=} run user --exclude-path /api/auth/logout --exclude-path /api/account/delete "$@"
ST_SESSION=${admin_cookie#aimoviez_session=} run admin --exclude-path /api/auth/logout --exclude-path /api/account/delete "$@"

if grep -q 'panicked' "$log"; then echo "schemathesis.sh: the server log has a panic:" >&2; grep -A3 panicked "$log" >&2; status=1; fi
exit $status
