#!/usr/bin/env bash
# deps.sh installs everything the build and the tests need on a Debian 12 machine:
#
#   - Debian packages: OpenCV 4.6 development files (for gocv v0.31.0), MuJoCo 2.2.2
#     (libmujoco-dev, for sim/mujoco), pkg-config, a C/C++
#     compiler for cgo, Debian's ROS 1 master/launch/topic tools and the ROS message packages
#     the project uses, Chromium (the viewer's browser test), and Node.js/npm only when npm is
#     missing.
#   - ONNX Runtime: the CPU shared library is taken from the npm package onnxruntime-node
#     (ORT_VERSION below), unpacked into .deps/onnxruntime/lib/ (ignored by git).
#   - Go modules: go mod download.
#
# It is idempotent and fast when everything is already there: it only checks (dpkg-query, file
# existence) and runs `apt-get update` once, only when a Debian package is missing.
#
# Environment:
#   CATCH_DEPS_DIR  where to keep downloaded artefacts (default: <repo>/.deps)
#   ORT_VERSION     onnxruntime-node version to unpack (default: 1.24.1, which matches the
#                   C API version 24 that onnxruntime_go v1.27.0 is built against)
#   DEPS_SKIP_APT=1 skip the Debian package step (e.g. on a non-Debian machine set up by hand)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS_DIR="${CATCH_DEPS_DIR:-$ROOT/.deps}"
ORT_VERSION="${ORT_VERSION:-1.24.1}"
export DEBIAN_FRONTEND=noninteractive

log() { printf 'deps: %s\n' "$*" >&2; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }

# Run as root directly, otherwise through sudo when it exists.
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -E)
  fi
fi

mkdir -p "$DEPS_DIR"
# Serialise concurrent runs (two make invocations at once) on one lock file.
exec 9>"$DEPS_DIR/.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
fi

# ---------------------------------------------------------------------------------------------
# Debian packages.
APT_PACKAGES=(
  pkg-config
  gcc
  g++
  libopencv-dev
  # MuJoCo 2.2.2 (headless physics, C API) for the MuJoCo engine, sim/mujoco.
  libmujoco-dev
  # OpenCV's sample data: the stereo chessboard images the calibration tests use
  # (/usr/share/doc/opencv-doc/examples/data/left01.jpg … right14.jpg).
  opencv-doc
  # ROS 1 (Debian's own build of ROS Noetic's core): master, roslaunch, rostopic.
  python3-rosmaster
  python3-roslaunch
  python3-rostopic
  python3-rosnode
  # ROS message definitions (Python side, used by rostopic and roslaunch tooling).
  python3-std-msgs
  python3-sensor-msgs
  python3-geometry-msgs
  python3-trajectory-msgs
  python3-nav-msgs
  python3-visualization-msgs
  python3-diagnostic-msgs
  python3-rosgraph-msgs
  python3-tf2-msgs
  # Headless Chromium: the trial viewer's test loads the page, screenshots it and checks it.
  chromium
)

missing_packages() {
  local pkg status
  for pkg in "$@"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    if [ "$status" != "install ok installed" ]; then
      printf '%s\n' "$pkg"
    fi
  done
}

apt_install() {
  if [ "$(id -u)" -ne 0 ] && [ ${#SUDO[@]} -eq 0 ]; then
    die "need root (or sudo) to install Debian packages: $*"
  fi
  if [ -z "${APT_UPDATED:-}" ]; then
    log "apt-get update"
    "${SUDO[@]}" apt-get update -qq
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if [ "${DEPS_SKIP_APT:-0}" != 1 ]; then
  command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script expects Debian 12 (set DEPS_SKIP_APT=1 to skip)"
  mapfile -t missing < <(missing_packages "${APT_PACKAGES[@]}")
  if ! command -v npm >/dev/null 2>&1; then
    missing+=(nodejs npm)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}"
  fi
fi

pkg-config --exists opencv4 || die "pkg-config cannot find opencv4 (libopencv-dev missing?)"
[ -e /usr/include/mujoco/mujoco.h ] || die "MuJoCo headers not found at /usr/include/mujoco (libmujoco-dev missing?)"
command -v rosmaster >/dev/null 2>&1 || die "rosmaster not on PATH (python3-rosmaster missing?)"

# ---------------------------------------------------------------------------------------------
# ONNX Runtime shared library, from the npm package onnxruntime-node.
case "$(uname -m)" in
  x86_64 | amd64) ORT_ARCH=x64 ;;
  aarch64 | arm64) ORT_ARCH=arm64 ;;
  *) die "no onnxruntime-node build for architecture $(uname -m)" ;;
esac
ORT_DIR="$DEPS_DIR/onnxruntime"
ORT_LIB="$ORT_DIR/lib/libonnxruntime.so"
ORT_STAMP="$ORT_DIR/VERSION"
if [ ! -e "$ORT_LIB" ] || [ "$(cat "$ORT_STAMP" 2>/dev/null)" != "$ORT_VERSION" ]; then
  command -v npm >/dev/null 2>&1 || die "npm not found; cannot fetch onnxruntime-node"
  log "fetching onnxruntime-node@$ORT_VERSION with npm pack"
  PACK_DIR="$DEPS_DIR/npm"
  mkdir -p "$PACK_DIR"
  tgz="$PACK_DIR/onnxruntime-node-$ORT_VERSION.tgz"
  if [ ! -s "$tgz" ]; then
    (cd "$PACK_DIR" && npm pack --silent --cache "$PACK_DIR/cache" "onnxruntime-node@$ORT_VERSION" >/dev/null)
    rm -rf "$PACK_DIR/cache" # a second copy of the tarball; the .tgz itself is kept
  fi
  [ -s "$tgz" ] || die "npm pack did not produce $tgz"
  tmp="$(mktemp -d "$DEPS_DIR/ort.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  tar -xzf "$tgz" -C "$tmp" --wildcards "package/bin/napi-v6/linux/$ORT_ARCH/libonnxruntime.so.1*" ||
    die "onnxruntime-node@$ORT_VERSION has no bin/napi-v6/linux/$ORT_ARCH/libonnxruntime.so.1*"
  rm -rf "$ORT_DIR"
  mkdir -p "$ORT_DIR/lib"
  cp -P "$tmp"/package/bin/napi-v6/linux/"$ORT_ARCH"/libonnxruntime.so.1* "$ORT_DIR/lib/"
  # The real file is the longest name (libonnxruntime.so.1.24.1); point the plain names at it.
  real=""
  for f in "$ORT_DIR"/lib/libonnxruntime.so.1*; do
    f="${f##*/}"
    if [ ${#f} -gt ${#real} ]; then real="$f"; fi
  done
  [ -n "$real" ] || die "no libonnxruntime.so.1* unpacked"
  (cd "$ORT_DIR/lib" && { [ -e libonnxruntime.so.1 ] || ln -s "$real" libonnxruntime.so.1; } && ln -sf "$real" libonnxruntime.so)
  printf '%s\n' "$ORT_VERSION" >"$ORT_STAMP"
  rm -rf "$tmp"
  trap - EXIT
  log "onnxruntime $ORT_VERSION -> $ORT_LIB"
fi

# ---------------------------------------------------------------------------------------------
# Go modules.
command -v go >/dev/null 2>&1 || die "go not found on PATH (Go $(sed -n 's/^go //p' "$ROOT/go.mod") or newer is needed)"
(cd "$ROOT" && go mod download)

log "ok (ONNXRUNTIME_LIB=$ORT_LIB)"
