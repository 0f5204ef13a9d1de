package bench

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/agilecatch/catch/sim"
)

// paper holds the seed paper's success rates where it reports one
// (Abeyruwan et al., L4DC 2023; docs/architecture.md §1, §8).
var paper = map[[2]string]string{
	{"mpc", "nominal"}:  "≈84% sim, ≈79% real",
	{"es", "nominal"}:   "≈90% sim, ≈86% real",
	{"mpc", "hand-lob"}: "68.9% real",
	{"es", "hand-lob"}:  "2.0% real",
	// The paper's ES policy was learned from scratch: es-paper is its class.
	{"es-paper", "nominal"}:  "≈90% sim, ≈86% real",
	{"es-paper", "hand-lob"}: "2.0% real",
}

// paperCompute is the paper's compute time per solve or action.
var paperCompute = map[string]string{"mpc": "43 ± 21 ms / solve", "es": "7.3 ms / action", "es-paper": "7.3 ms / action"}

// paperNote says why the paper's numbers and ours are not the same
// measurement; the report prints it beside the table.
const paperNote = `**How this differs from the paper.** The paper's column is not a like-for-like baseline.
Its simulated rates (≈84% MPC, ≈90% ES on the nominal thrower) come from the authors' own simulator,
robot model and perception, which we do not have; its "real" rates (≈79% / ≈86% nominal, and 68.9% / 2.0%
on hand-thrown lobs) were measured on the physical ABB arm with real cameras, latencies and a human
thrower. Our numbers are from this project's simulator only: our ball physics, our model of the arm's
tracking and latencies, state-fidelity perception (3-D observations with Gaussian noise and dropouts),
our pocket-contact model and our catch judge, and our ` + "`hand-lob`" + ` scenario is a synthetic distribution,
not recorded human throws. Our compute times are CPU time on this machine per 250 Hz step (an SQP
re-plan is spread over ticks), while the paper's are per solve or per action on its hardware at 75 Hz.
A higher rate here says the controller works in this simulator, not that it would beat the paper on
the real arm.
`

// Report renders report.md.
func Report(r *Results, plots []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Catching benchmark: %s\n\n", strings.Join(controllersOf(r), " vs "))
	fmt.Fprintf(&b, "%d simulated throws per controller and scenario, seed %d, state-fidelity perception. "+
		"Success is over catchable throws (throws no robot configuration can meet are reported and excluded), "+
		"with exact 95%% Clopper–Pearson intervals. The paper's numbers are from Abeyruwan et al. (L4DC 2023).\n\n", r.Trials, r.Seed)
	b.WriteString(r.Provenance.Markdown())
	for _, n := range r.Notes {
		b.WriteString("\n" + n + "\n")
	}
	b.WriteString("\n")
	b.WriteString(Table(r))
	b.WriteString("\n")
	b.WriteString(paperNote)
	b.WriteString("\n## Why throws were missed\n\n")
	b.WriteString(FailureTable(r))
	fmt.Fprintf(&b, "\nReasons, tested in this order: `physics_unstable` the engine's physics went unstable (MuJoCo); "+
		"`controller_error` the controller returned no safe command; "+
		"`uncatchable` no robot configuration meets the throw (excluded from success); `dropped` the ball came to rest in the pocket (cradled) and left it; "+
		"`bounced_out` it entered the pocket and left before coming to rest; `hit_arm` it struck the arm or the rail and never entered the pocket (MuJoCo); "+
		"`rim` it hit the rim or frame and never entered the pocket; `missed` the head never came within %.2f m of the ball; "+
		"`not_held` the head came that close but the ball never entered the pocket (net not facing it, or late).\n", sim.MissRadiusM)
	b.WriteString("\n## Limit violations by kind\n\n")
	b.WriteString(ViolationTable(r))
	b.WriteString(violationNote)
	b.WriteString("\n## Compute per control step\n\n")
	b.WriteString(ComputeTable(r))
	fmt.Fprintf(&b, "\nCompute is the controller's own CPU time per %.0f ms step (the tick budget), including any synchronous re-plan; ", r.TickMS)
	for _, c := range controllersOf(r) {
		if pc, ok := paperCompute[c]; ok {
			fmt.Fprintf(&b, "paper %s: %s; ", c, pc)
		}
	}
	b.WriteString("limit violations count commands outside the joint limits before any clamping, plus, in an engine with dynamics, control periods in which the arm hit a torque limit or touched itself, the rail or the floor (by kind above; docs/limits.md); " +
		"max step / limit is the largest commanded position step per tick over what the velocity limit allows (≤ 1: within the limits); " +
		"colliding commands braked / sent: the controller's commands whose pose came within the safety layer's 0.01 m collision margin (each replaced by a brake) / commands sent after the filter that still did (want 0). " +
		"results.json holds the deterministic results; compute times are machine-dependent and sit in timing.json. " +
		"trials.csv has one row per trial (columns documented in package sim/bench, TrialColumns).\n\n")
	for _, sc := range scenariosOf(r) {
		fmt.Fprintf(&b, "## %s: success by yaw and by speed, and a few throws in 3-D\n\n", sc)
		b.WriteString(BinTable(r, sc, "yaw (deg)", func(e *Entry) []Bin { return e.ByYaw }, yawBinDeg))
		b.WriteString("\n")
		b.WriteString(BinTable(r, sc, "horizontal speed (m/s)", func(e *Entry) []Bin { return e.BySpeed }, speedBinMPS))
		b.WriteString("\n")
		for _, p := range plots {
			if p == "success_vs_yaw_"+sc+".png" || p == "success_vs_speed_"+sc+".png" || p == "trials_3d_"+sc+".png" {
				fmt.Fprintf(&b, "![%s](%s)\n\n", strings.TrimSuffix(p, ".png"), p)
			}
		}
	}
	b.WriteString("## Plots\n\n")
	for _, p := range plots {
		if strings.HasPrefix(p, "success_vs_") || strings.HasPrefix(p, "trials_3d_") {
			continue
		}
		fmt.Fprintf(&b, "![%s](%s)\n\n", strings.TrimSuffix(p, ".png"), p)
	}
	return b.String()
}

// Table is the Markdown table of all pairs.
func Table(r *Results) string {
	var b strings.Builder
	b.WriteString("| controller | scenario | success | 95% CI | paper | caught / catchable | miss p50 / p95 (m) | compute p50 / p99 / max (ms) | limit violations | max step / limit | colliding commands braked / sent | left / right |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, e := range r.Entries {
		pp := paper[[2]string{e.Controller, e.Scenario}]
		if pp == "" {
			pp = "—"
		}
		fmt.Fprintf(&b, "| %s | %s | %.1f%% | %.1f–%.1f%% | %s | %d / %d | %.3f / %.3f | %.3f / %.3f / %.2f | %d | %.2f | %d / %d | %d / %d |\n",
			e.Controller, e.Scenario, 100*e.SuccessRate, 100*e.CI95[0], 100*e.CI95[1], pp, e.Caught, e.Catchable,
			e.MissDistanceM.P50, e.MissDistanceM.P95, e.ComputeMS.P50, e.ComputeMS.P99, e.ComputeMS.Max, e.LimitViolations,
			e.MaxStepRatio, e.CommandCollisions, e.SentCollisions, e.Modality.Left, e.Modality.Right)
	}
	return b.String()
}

// violationNote explains ViolationTable's columns.
const violationNote = "\nLimit violations = commands outside a limit (the safety filter fixed each; " +
	"by the limit broken: position, velocity, acceleration, workspace, lead, non-finite) + control periods at a physical limit " +
	"(engines with dynamics: a servo at its torque limit, or the arm touching itself, the rail or the floor). " +
	"Saturated steps are 1 ms physics steps with any servo at its limit, per joint in the next column; " +
	"\"after hard stops\" are those within 10 control periods after a command beyond the acceleration limit " +
	"(the safety filter's stop before a collision, harder than the limits allow), \"by the ball\" those while the ball touched the robot or within 10 control periods after " +
	"(the servos holding against its impact; a step can count under both), \"other\" those near neither (the servo catching up with a command it lagged). docs/limits.md says what each count means.\n"

// ViolationTable breaks the limit violations of every pair down by kind
// (sim.ViolationKinds).
func ViolationTable(r *Results) string {
	var b strings.Builder
	b.WriteString("| controller | scenario | engine | trials with any | violations | commands (pos / vel / acc / ws / lead / nan) | periods at a physical limit | saturated steps (after hard stops / hard stops; by the ball; other) | saturated steps per joint | collision steps self / rail / floor |\n")
	b.WriteString("|" + strings.Repeat(" --- |", 10) + "\n")
	for _, e := range r.Entries {
		v := &e.ViolationKinds
		joints := "—"
		if len(v.TorqueSaturated) > 0 {
			keys := make([]string, 0, len(v.TorqueSaturated))
			for j := range v.TorqueSaturated {
				keys = append(keys, j)
			}
			sort.Strings(keys)
			joints = ""
			for i, j := range keys {
				if i > 0 {
					joints += ", "
				}
				joints += fmt.Sprintf("%s %d", j, v.TorqueSaturated[j])
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %d (%d / %d / %d / %d / %d / %d) | %d | %d (%d / %d; %d; %d) | %s | %d / %d / %d |\n",
			e.Controller, e.Scenario, e.Engine, e.ViolationTrials, e.LimitViolations,
			v.Commands, v.Position, v.Velocity, v.Accel, v.Workspace, v.Lead, v.NaN, v.EnginePeriods,
			v.SaturatedSteps, v.SaturatedAfterInfeasible, v.InfeasibleCommands, v.SaturatedByBall, v.SaturatedOther, joints,
			v.SelfCollision, v.RailCollision, v.FloorCollision)
	}
	return b.String()
}

// FailureTable counts the trials not caught by reason, per pair.
func FailureTable(r *Results) string {
	var b strings.Builder
	b.WriteString("| controller | scenario | trials | caught |")
	for _, f := range failureOrder {
		fmt.Fprintf(&b, " %s |", f)
	}
	b.WriteString("\n|" + strings.Repeat(" --- |", 4+len(failureOrder)) + "\n")
	for _, e := range r.Entries {
		fmt.Fprintf(&b, "| %s | %s | %d | %d |", e.Controller, e.Scenario, e.Trials, e.Caught+e.CaughtUncatchable)
		for _, f := range failureOrder {
			fmt.Fprintf(&b, " %d |", e.Failures[f])
		}
		b.WriteString("\n")
	}
	return b.String()
}

// ComputeTable lists compute per step per pair and per controller over all
// scenarios: p50, p99, maximum, and the steps over the tick budget.
func ComputeTable(r *Results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| controller | scenario | steps | p50 (ms) | p99 (ms) | max (ms) | steps over the %.0f ms tick |\n", r.TickMS)
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- |\n")
	row := func(c, sc string, ms []float64) {
		st := computeStats(ms)
		over := 0
		for _, v := range ms {
			if v > r.TickMS {
				over++
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %.3f | %.3f | %.2f | %d |\n", c, sc, len(ms), st.P50, st.P99, st.Max, over)
	}
	for _, c := range controllersOf(r) {
		var all []float64
		for _, e := range r.Entries {
			if e.Controller == c {
				row(c, e.Scenario, e.stepMS)
				all = append(all, e.stepMS...)
			}
		}
		row(c, "**all**", all)
	}
	return b.String()
}

// BinTable is one scenario's success by a binned throw parameter: per bin
// the catchable throws and each controller's caught count, rate and 95%
// interval. A total row checks that the bins hold every catchable throw.
func BinTable(r *Results, sc, label string, binsOf func(*Entry) []Bin, w float64) string {
	var b strings.Builder
	ctrls := controllersOf(r)
	fmt.Fprintf(&b, "| %s | catchable |", label)
	for _, c := range ctrls {
		fmt.Fprintf(&b, " %s caught | %s success (95%% CI) |", c, c)
	}
	b.WriteString("\n|" + strings.Repeat(" --- |", 2+2*len(ctrls)) + "\n")
	type cell struct{ caught, n int }
	rows := map[float64]map[string]cell{}
	var centers []float64
	n := map[float64]int{}
	tot := map[string]cell{}
	for _, c := range ctrls {
		e := entry(r, c, sc)
		if e == nil {
			continue
		}
		for _, bin := range binsOf(e) {
			if rows[bin.Center] == nil {
				rows[bin.Center] = map[string]cell{}
				centers = append(centers, bin.Center)
			}
			rows[bin.Center][c] = cell{bin.Caught, bin.Catchable}
			n[bin.Center] = max(n[bin.Center], bin.Catchable)
			t := tot[c]
			tot[c] = cell{t.caught + bin.Caught, t.n + bin.Catchable}
		}
	}
	sort.Float64s(centers)
	for _, x := range centers {
		fmt.Fprintf(&b, "| %.4g to %.4g | %d |", x-w/2, x+w/2, n[x])
		for _, c := range ctrls {
			cl, ok := rows[x][c]
			if !ok {
				b.WriteString(" — | — |")
				continue
			}
			ci := sim.ClopperPearson(cl.caught, cl.n, 0.05)
			fmt.Fprintf(&b, " %d | %.0f%% (%.0f–%.0f%%) |", cl.caught, 100*float64(cl.caught)/float64(cl.n), 100*ci[0], 100*ci[1])
		}
		b.WriteString("\n")
	}
	b.WriteString("| **all** |")
	first := true
	for _, c := range ctrls {
		t := tot[c]
		if first {
			fmt.Fprintf(&b, " %d |", t.n)
			first = false
		}
		fmt.Fprintf(&b, " %d | |", t.caught)
	}
	b.WriteString("\n")
	return b.String()
}

// computeStats is p50, p99 (nearest rank) and the maximum of ms.
func computeStats(ms []float64) sim.ComputeStats {
	if len(ms) == 0 {
		return sim.ComputeStats{}
	}
	s := append([]float64(nil), ms...)
	sort.Float64s(s)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return sim.ComputeStats{P50: q(0.5), P99: q(0.99), Max: s[len(s)-1]}
}
