# The two set-up commands on a fresh Debian 12 machine are `make demo` and `make test`; both
# install what they need first (scripts/deps.sh: Debian packages, ONNX Runtime, Go modules).
#
# Targets: deps, build, test, bench, demo, vet, clean, distclean.
# Variables: PKGS (packages to test/bench, default ./...), GOTESTFLAGS, BENCHTIME, BENCHCOUNT,
# DEMO_ARGS, DEMO_VIEW_ARGS. With CI=true tests run with -count=1 (no cached results).

SHELL := /bin/bash
.DEFAULT_GOAL := build

ROOT     := $(CURDIR)
DEPS_DIR := $(ROOT)/.deps
BIN      := $(ROOT)/bin/catch
PKGS     ?= ./...

# ONNX Runtime is loaded at run time from this file (forecast/ort); scripts/deps.sh puts it
# there. Set ONNXRUNTIME_LIB yourself to use another build.
ONNXRUNTIME_LIB ?= $(DEPS_DIR)/onnxruntime/lib/libonnxruntime.so
export ONNXRUNTIME_LIB
# gocv and onnxruntime_go are cgo packages (OpenCV is found through pkg-config).
export CGO_ENABLED := 1
# ROS 1 nodes started by the tests and the binary talk over loopback; ROS_MASTER_URI is set
# per run by the test and bench targets (scripts/rosmaster.sh starts a private master).
export ROS_IP       := 127.0.0.1
export ROS_HOSTNAME := 127.0.0.1
export ROS_HOME     := $(DEPS_DIR)/ros
# package.xml at the repository root makes this checkout the ROS package `catch`.
export ROS_PACKAGE_PATH := $(ROOT)$(if $(ROS_PACKAGE_PATH),:$(ROS_PACKAGE_PATH))

GOTESTFLAGS ?=
ifeq ($(CI),true)
GOTESTFLAGS += -count=1
endif
BENCHTIME  ?= 500ms
BENCHCOUNT ?= 1
DEMO_ARGS  ?= bench --scenarios nominal,hand-lob --trials 300 --seed 1 --out out/demo

# with_master runs $(1) with ROS_MASTER_URI pointing at a fresh rosmaster on a free loopback
# port, stops that master afterwards whatever happened (also on Ctrl-C), and exits with the
# status of $(1). Each run gets its own state files, so concurrent runs do not share a master.
define with_master
	@name=rosmaster-make-$$$$; \
	export ROSMASTER_NAME=$$name; \
	uri=$$(scripts/rosmaster.sh start) || exit 1; \
	trap 'scripts/rosmaster.sh stop; exit 130' INT TERM HUP; \
	echo "ROS_MASTER_URI=$$uri ONNXRUNTIME_LIB=$(ONNXRUNTIME_LIB)"; \
	ROS_MASTER_URI=$$uri $(1); rc=$$?; \
	scripts/rosmaster.sh stop; \
	if [ $$rc -eq 0 ]; then rm -f "$(DEPS_DIR)/$$name.log"; \
	else echo "rosmaster log kept in $(DEPS_DIR)/$$name.log" >&2; fi; \
	exit $$rc
endef

.PHONY: deps build test bench demo vet clean distclean

deps:
	@scripts/deps.sh

# The binary records its git revision (catch --version and every output's provenance) even
# where the go command does not stamp VCS information (GOFLAGS=-buildvcs=false, worktrees).
PROV_PKG := github.com/agilecatch/catch/internal/provenance
GIT_REV  := $(shell git rev-parse HEAD 2>/dev/null)
GIT_TIME := $(shell git log -1 --format=%cI 2>/dev/null)
GIT_MOD  := $(shell if [ -n "$$(git status --porcelain 2>/dev/null)" ]; then echo true; else echo false; fi)
BUILD_LDFLAGS := -X $(PROV_PKG).revision=$(GIT_REV) -X $(PROV_PKG).modified=$(GIT_MOD) -X $(PROV_PKG).vcsTime=$(GIT_TIME)

# bin/catch is the pure-Go front end (cmd/catch/front, static: it starts in milliseconds); it runs
# kin and qp itself and execs bin/catch-full, the program linked with OpenCV and MuJoCo, for the rest.
build: deps
	go build -ldflags "$(BUILD_LDFLAGS)" -o $(BIN)-full ./cmd/catch
	CGO_ENABLED=0 go build -ldflags "$(BUILD_LDFLAGS)" -o $(BIN) ./cmd/catch/front

test: deps
	$(call with_master,go test $(GOTESTFLAGS) $(PKGS))

bench: deps
	$(call with_master,go test -run '^$$' -bench . -benchmem -benchtime=$(BENCHTIME) -count=$(BENCHCOUNT) $(PKGS))

# The demo also traces 40 MPC hand lobs and writes one trial viewer page of them.
DEMO_VIEW_ARGS ?= sim --controller mpc --scenario hand-lob --trials 40 --seed 1 --trace out/demo/traces

demo: build
	$(BIN) $(DEMO_ARGS)
	rm -rf out/demo/traces
	$(BIN) $(DEMO_VIEW_ARGS)
	$(BIN) view out/demo/traces --out out/demo/viewer.html

vet: deps
	go vet $(PKGS)

clean:
	rm -rf bin

# distclean also drops the downloaded ONNX Runtime and the master's state; Debian packages and
# the Go module cache stay installed.
distclean: clean
	rm -rf $(DEPS_DIR)
