#!/usr/bin/env bash
# The full-screen client as people use it: two TUIs and one line client on
# loopback, each in its own tmux window, driven by keystrokes and checked
# by what `tmux capture-pane` shows.
#
#   * ada completes the first-run wizard (new room, nick) and sees the
#     identity popup with the room code; bob joins by typing that code into
#     his wizard; carol runs the line client with --room;
#   * ada and bob chat both ways;
#   * carol (line client) creates a poll; bob votes with a key in the polls
#     view; ada's polls view shows the live tally;
#   * carol creates a queue; ada joins it from the queues view and sees
#     "you're next";
#   * Ctrl-C ends ada's TUI within 2 s with the terminal restored (stty
#     shows canonical mode and echo again);
#   * ada's same command starts straight in the same room (no wizard), with
#     her nick and the room's history.
#
# Exits non-zero on the first failed check, printing the screen it saw.
# Usage: scripts/demo-tui.sh   (FLASHMESH_BIN overrides the binary)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${FLASHMESH_BIN:-target/release/flashmesh}
BIN=$(realpath "$BIN")
[ -x "$BIN" ] || { echo "demo-tui: no binary at $BIN (cargo build --release)" >&2; exit 2; }
command -v tmux >/dev/null || { echo "demo-tui: tmux is needed (apt-get install tmux)" >&2; exit 2; }

WORK=$(mktemp -d)
SOCK="$WORK/tmux.sock"
DISC=$((41000 + RANDOM % 20000))
START=$(date +%s%N)
tm() { tmux -S "$SOCK" "$@"; }
cleanup() {
  tm kill-server 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

ms() { echo $((($(date +%s%N) - START) / 1000000)); }
screen() { tm capture-pane -p -t "$1:"; }
fail() {
  echo "FAIL: $1" >&2
  for w in ada bob carol; do
    echo "----- $w's screen -----" >&2
    screen "$w" >&2 2>/dev/null || true
  done
  exit 1
}

# wait_for WINDOW REGEX WHAT [SECONDS]: polls the window's screen.
wait_for() {
  local win=$1 re=$2 what=$3 secs=${4:-20}
  local deadline=$(($(date +%s) + secs))
  while (($(date +%s) < deadline)); do
    if screen "$win" | grep -Eq -- "$re"; then
      echo "ok: $what ($(ms) ms)"
      return 0
    fi
    sleep 0.2
  done
  fail "$what: /$re/ not on $win's screen within ${secs}s"
}

# The command each person types: their own config and data directories,
# beacons on a private port over loopback, any free TCP port.
person_cmd() {
  local who=$1
  shift
  mkdir -p "$WORK/$who"
  printf 'env HOME=%q XDG_CONFIG_HOME=%q XDG_DATA_HOME=%q %q %s --discovery-port %d --broadcast 127.255.255.255 --port 0' \
    "$WORK/$who" "$WORK/$who/config" "$WORK/$who/data" "$BIN" "$*" "$DISC"
}

# Runs a person's command in their window; after it exits, the window
# shows its exit status and the terminal's modes.
run_in() {
  local win=$1 cmd=$2
  local wrapped="$cmd; echo EXITED=\$?; stty -a | tr ' ;' '\n\n' | grep -Ex -- '-?(icanon|echo)' | tr '\n' ' '; echo; exec sleep 600"
  if tm has-session -t "$win" 2>/dev/null; then
    tm respawn-window -k -t "$win:" "$wrapped"
  else
    tm new-session -d -s "$win" -x 100 -y 30 "$wrapped"
  fi
}

keys() { tm send-keys -t "$1:" "${@:2}"; }

# select_list WINDOW: Esc moves the focus to the view's list. A key sent
# right after Esc would reach the terminal as Alt+key, so the next key
# waits until the list shows it has the focus.
select_list() {
  keys "$1" Escape
  wait_for "$1" "↑↓ select" "$1's list has the focus" 5
}

echo "== ada starts a room with the wizard"
run_in ada "$(person_cmd ada)"
wait_for ada "Start a new room" "ada sees the wizard"
keys ada Enter
wait_for ada "Your nickname" "ada is asked for a nick"
keys ada -l "ada"
keys ada Enter
wait_for ada "room code: [a-z]" "ada sees her room code in the identity popup"
CODE=$(screen ada | grep -o 'room code: [a-z0-9-]*' | head -1 | sed 's/room code: //')
[ -n "$CODE" ] || fail "no room code on ada's screen"
echo "room code: $CODE"
keys ada Escape

echo "== bob joins with the code"
run_in bob "$(person_cmd bob)"
wait_for bob "Join a room" "bob sees the wizard"
keys bob Down Enter
wait_for bob "Room code or join link" "bob is asked for the code"
keys bob -l "$CODE"
keys bob Enter
wait_for bob "Your nickname" "bob is asked for a nick"
keys bob -l "bob"
keys bob Enter
wait_for bob "link\(s\)" "bob is linked" 30
wait_for ada "● bob" "ada sees bob in the members pane" 30

echo "== carol runs the line client"
run_in carol "$(person_cmd carol run --room "$CODE" --nick carol)"
wait_for carol "linked to" "carol is linked" 30

echo "== chat both ways"
keys ada -l "hello from ada"
keys ada Enter
wait_for bob "ada hello from ada" "bob reads ada's line"
keys bob -l "hi ada, bob here"
keys bob Enter
wait_for ada "bob hi ada, bob here" "ada reads bob's line"
wait_for carol "> hi ada, bob here" "carol (line client) reads bob's line"

echo "== a poll from the line client, a vote from bob's TUI, the tally on ada's"
keys carol -l '/vote meta lunch title="Pizza or salad?" options=pizza,salad closes=30m'
keys carol Enter
wait_for carol "poll lunch" "carol created the poll"
keys bob M-4
# The list's row (the activity below it names the poll too).
wait_for bob 'lunch "Pizza or salad\?" · [0-9]+ vote' "bob's polls view lists the poll"
select_list bob
keys bob 1
wait_for bob "pizza +█+ 1 ✓ yours" "bob's vote counts on his screen"
keys ada M-4
wait_for ada "pizza +█+ 1" "ada's polls view shows the live tally"
wait_for ada "1 vote\(s\)" "ada's poll header counts one voter"

echo "== a queue: ada joins from the queues view and is next"
keys carol -l '/queue create help title="Help desk"'
keys carol Enter
wait_for carol "queue help" "carol created the queue"
keys ada M-5
wait_for ada 'help "Help desk" · [0-9]+ waiting' "ada's queues view lists the queue"
select_list ada
keys ada j
wait_for ada "/queue join help label=ada" "the join command is filled in"
keys ada Enter
wait_for ada "you're next" "ada sees she is next"
wait_for carol "joined queue help as ada" "carol's client saw ada join the queue"

echo "== Ctrl-C leaves at once and restores the terminal"
keys ada M-1
t0=$(date +%s%N)
keys ada C-c
wait_for ada "EXITED=0" "ada's TUI exited" 5
t1=$(date +%s%N)
took=$(((t1 - t0) / 1000000))
((took < 2000)) || fail "Ctrl-C took ${took} ms (at most 2000)"
echo "ok: Ctrl-C to exit: ${took} ms"
wait_for ada "^icanon echo" "the terminal is back in canonical mode with echo"

echo "== the same command comes back to the same room"
run_in ada "$(person_cmd ada)"
wait_for ada "ada \(you\)" "ada is back as ada (no wizard)" 30
screen ada | grep -q "first start" && fail "the wizard showed again"
wait_for ada "ada hello from ada" "ada's history is there"
wait_for ada "bob hi ada, bob here" "bob's line is in the history"
wait_for ada "● bob" "ada is back among the members" 30
grep -q "$CODE" "$WORK/ada/data/flashmesh/last.toml" || fail "last.toml does not hold the room code"

keys ada C-c
keys bob C-c
keys carol -l "/quit"
keys carol Enter
wait_for ada "EXITED=0" "ada left" 5
wait_for bob "EXITED=0" "bob left" 5
wait_for carol "EXITED=0" "carol left" 5
echo "PASS: two TUIs and a line client: wizard, chat both ways, a live poll tally, a queue's head, Ctrl-C in ${took} ms, and a restart back in the room"
