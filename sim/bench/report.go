package bench

import (
	"fmt"
	"strings"
)

// paper holds the seed paper's success rates where it reports one
// (Abeyruwan et al., L4DC 2023; docs/architecture.md §1, §8).
var paper = map[[2]string]string{
	{"mpc", "nominal"}:  "≈84% sim, ≈79% real",
	{"es", "nominal"}:   "≈90% sim, ≈86% real",
	{"mpc", "hand-lob"}: "68.9% real",
	{"es", "hand-lob"}:  "2.0% real",
}

// paperCompute is the paper's compute time per solve or action.
var paperCompute = map[string]string{"mpc": "43 ± 21 ms / solve", "es": "7.3 ms / action"}

// Report renders report.md.
func Report(r *Results, plots []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Catching benchmark: %s\n\n", strings.Join(controllersOf(r), " vs "))
	fmt.Fprintf(&b, "%d simulated throws per controller and scenario, seed %d, state-fidelity perception. "+
		"Success is over catchable throws (throws no robot configuration can meet are reported and excluded), "+
		"with exact 95%% Clopper–Pearson intervals. The paper's numbers are from Abeyruwan et al. (L4DC 2023).\n\n", r.Trials, r.Seed)
	b.WriteString(Table(r))
	b.WriteString("\nCompute is the controller's own time per 250 Hz step, including any synchronous re-plan; ")
	for _, c := range controllersOf(r) {
		if pc, ok := paperCompute[c]; ok {
			fmt.Fprintf(&b, "paper %s: %s; ", c, pc)
		}
	}
	b.WriteString("limit violations count commands outside the joint limits before any clamping. " +
		"results.json holds the deterministic results; compute times are machine-dependent and sit in timing.json.\n\n")
	for _, p := range plots {
		fmt.Fprintf(&b, "![%s](%s)\n\n", strings.TrimSuffix(p, ".png"), p)
	}
	return b.String()
}

// Table is the Markdown table of all pairs.
func Table(r *Results) string {
	var b strings.Builder
	b.WriteString("| controller | scenario | success | 95% CI | paper | caught / catchable | miss p50 / p95 (m) | compute p50 / p99 (ms) | limit violations | left / right |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, e := range r.Entries {
		pp := paper[[2]string{e.Controller, e.Scenario}]
		if pp == "" {
			pp = "—"
		}
		fmt.Fprintf(&b, "| %s | %s | %.1f%% | %.1f–%.1f%% | %s | %d / %d | %.3f / %.3f | %.3f / %.3f | %d | %d / %d |\n",
			e.Controller, e.Scenario, 100*e.SuccessRate, 100*e.CI95[0], 100*e.CI95[1], pp, e.Caught, e.Catchable,
			e.MissDistanceM.P50, e.MissDistanceM.P95, e.ComputeMS.P50, e.ComputeMS.P99, e.LimitViolations,
			e.Modality.Left, e.Modality.Right)
	}
	return b.String()
}
