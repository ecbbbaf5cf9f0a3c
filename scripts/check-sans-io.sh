#!/usr/bin/env bash
# Engines and applets are pure state machines: no tokio, no sockets, no
# clock, no global RNG. Time and randomness come in as inputs. An applet's
# line-client commands (src/applets/<name>/line.rs) run against a live node
# and are not part of the fold, so they are not checked.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for d in src/proto src/applets; do
  [ -d "$d" ] || continue
  if hits=$(grep -rnE --exclude=line.rs 'tokio::|std::net::|Instant::now\(|SystemTime::now\(|thread_rng\(|rand::rng\(' "$d" | grep -vE '^\S+:[0-9]+:\s*//'); then
    echo "IO, clock or global RNG inside $d:" >&2
    echo "$hits" >&2
    status=1
  fi
done
[ "$status" -eq 0 ] && echo "sans-io check: ok"
exit "$status"
