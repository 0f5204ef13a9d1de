#!/usr/bin/env bash
# qp-maros.sh — quality benchmark of mpc/qp on the Maros–Meszaros set.
#
# Usage: [QP_MAROS_TIMEOUT=SECONDS] scripts/qp-maros.sh DIR [extra 'catch qp solve' flags...]
#   DIR holds NAME.json problems with optimal_objective_osqp_benchmarks
#   (symlinks are fine).
#   QP_MAROS_TIMEOUT kills a solve after that many seconds (default 0: never);
#   it counts as a failure with that time. Pass --time-limit for a soft limit
#   the solver honours itself, e.g. --time-limit 120s.
# Prints one line per problem (name, status, method, relative objective error,
# iterations, ms) and a summary: how many reach |f − f*| ≤ 1e-4·max(1, |f*|),
# median/max time. Needs go, python3 and coreutils timeout.
set -euo pipefail
dir=${1:?usage: qp-maros.sh DIR [flags...]}
shift
bin=$(mktemp -d)/catch
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./cmd/catch
limit=${QP_MAROS_TIMEOUT:-0}
for f in "$dir"/*.json; do
	t0=$(date +%s.%N)
	if out=$(timeout "$limit" "$bin" qp solve --json "$@" "$f" 2>&1); then
		:
	elif [ $? -eq 124 ]; then
		ms=$(python3 -c "import time; print((time.time() - $t0) * 1e3)")
		out="{\"status\": \"killed\", \"solve_ms\": $ms}"
	else
		out="{\"status\": \"error: ${out//\"/\'}\"}"
	fi
	printf '%s\t%s\n' "$f" "$out"
done | python3 -c '
import json, sys, statistics
ok, times, fails = 0, [], []
for line in sys.stdin:
    path, out = line.rstrip("\n").split("\t", 1)
    ref = json.load(open(path)).get("optimal_objective_osqp_benchmarks")
    name = path.rsplit("/", 1)[-1][:-5]
    r = json.loads(out)
    f = r.get("objective")
    err = abs(f - ref) / max(1.0, abs(ref)) if f is not None and ref is not None else float("inf")
    good = r["status"] in ("solved", "solved_inaccurate") and err <= 1e-4
    ok += good
    ms = r.get("solve_ms", float("nan"))
    times.append(ms)
    if not good:
        fails.append(name)
    st, it, meth = r["status"], r.get("iterations", 0), r.get("method", "-")
    print("%-10s %-18s %-4s relerr %9.2e iters %6d %10.1f ms %s" % (name, st, meth, err, it, ms, "" if good else "FAIL"), flush=True)
print(f"reached 1e-4: {ok}/{len(times)}  median {statistics.median(times):.1f} ms  max {max(times):.1f} ms")
print("failures:", " ".join(fails) if fails else "none")
'
