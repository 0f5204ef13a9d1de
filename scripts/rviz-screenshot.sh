#!/usr/bin/env bash
# rviz-screenshot.sh [OUT_DIR] runs the simulated system (launch/sim.launch rviz:=true) under
# Xvfb with a private ROS master and saves screenshots of the screen, one every 0.5 s after a
# warm-up, as OUT_DIR/rviz-NN.png (default OUT_DIR: out/rviz). It checks by eye what RViz
# draws from launch/catch.rviz: the robot (robot_description and /tf), the ball estimate,
# the forecast and the plan. Needs bin/catch (make build) and Debian's rviz and xvfb
# (apt-get install rviz xvfb; not part of scripts/deps.sh, the tests do not need them).
#
# Environment: WARMUP (seconds before the first shot, default 20), SHOTS (default 12),
# RVIZ_DISPLAY (X display number, default 77).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${1:-out/rviz}"
WARMUP="${WARMUP:-20}"
SHOTS="${SHOTS:-12}"
DISP="${RVIZ_DISPLAY:-77}"
for b in Xvfb roslaunch rviz; do
  command -v "$b" >/dev/null || { echo "rviz-screenshot: $b not found (apt-get install rviz xvfb; make deps)" >&2; exit 2; }
done
[ -x bin/catch ] || { echo "rviz-screenshot: bin/catch missing (make build)" >&2; exit 2; }
mkdir -p "$OUT"
fb="$(mktemp -d)"
Xvfb ":$DISP" -screen 0 1280x800x24 -fbdir "$fb" -nolisten tcp >/dev/null 2>&1 &
xpid=$!
export DISPLAY=":$DISP" ROS_PACKAGE_PATH="$ROOT" ROS_IP=127.0.0.1 ROS_HOSTNAME=127.0.0.1 ROS_HOME="$ROOT/.deps/ros"
export ROSMASTER_NAME="rosmaster-rviz-$$"
rl=""
cleanup() {
  if [ -n "$rl" ]; then kill -INT "$rl" 2>/dev/null || true; wait "$rl" 2>/dev/null || true; fi
  scripts/rosmaster.sh stop >/dev/null 2>&1 || true
  kill "$xpid" 2>/dev/null || true
  rm -rf "$fb"
}
trap cleanup EXIT
ROS_MASTER_URI="$(scripts/rosmaster.sh start)"
export ROS_MASTER_URI
roslaunch launch/sim.launch rviz:=true pause:=0.2 >"$OUT/roslaunch.log" 2>&1 &
rl=$!
go build -o "$fb/xwd2png" ./scripts/xwd2png
sleep "$WARMUP"
for i in $(seq -w 1 "$SHOTS"); do
  cp "$fb/Xvfb_screen0" "$fb/shot-$i.xwd"
  sleep 0.5
done
for i in $(seq -w 1 "$SHOTS"); do
  "$fb/xwd2png" "$fb/shot-$i.xwd" "$OUT/rviz-$i.png"
done
echo "rviz-screenshot: $SHOTS screenshots in $OUT (roslaunch log: $OUT/roslaunch.log)"
