package bench

import (
	"fmt"
	"strings"

	"gonum.org/v1/plot"
)

// Gap is the sim-to-sim gap of one (controller, scenario) pair: its success
// in the reference engine (Results.Engines[0]) and in another engine, on the
// same throws.
type Gap struct {
	Controller string     `json:"controller"`
	Scenario   string     `json:"scenario"`
	Reference  string     `json:"reference_engine"`
	Engine     string     `json:"engine"`
	RefRate    float64    `json:"reference_success_rate"`
	RefCI95    [2]float64 `json:"reference_ci95"`
	Rate       float64    `json:"success_rate"`
	CI95       [2]float64 `json:"ci95"`
	// GapPP is Rate − RefRate in percentage points (negative: the other
	// engine catches fewer).
	GapPP float64 `json:"gap_pp"`
	// Both and Flipped count the catchable throws caught in both engines
	// and those caught in exactly one (the paired view of the same throws).
	Both    int `json:"caught_in_both"`
	Flipped int `json:"caught_in_one"`
}

// engine returns the results of one engine alone (a copy sharing the
// entries' data).
func (r *Results) engine(name string) *Results {
	out := *r
	out.Entries = nil
	out.Engines, out.Gaps = nil, nil
	for _, e := range r.Entries {
		if e.Engine == name {
			out.Entries = append(out.Entries, e)
		}
	}
	return &out
}

func findEntry(r *Results, engine, c, s string) *Entry {
	for i := range r.Entries {
		e := &r.Entries[i]
		if e.Engine == engine && e.Controller == c && e.Scenario == s {
			return e
		}
	}
	return nil
}

// gaps compares every pair of every engine with the reference engine.
func gaps(r *Results) []Gap {
	var out []Gap
	ref := r.Engines[0]
	for _, eng := range r.Engines[1:] {
		for _, c := range controllersOf(r) {
			for _, s := range scenariosOf(r) {
				a, b := findEntry(r, ref, c, s), findEntry(r, eng, c, s)
				if a == nil || b == nil {
					continue
				}
				g := Gap{Controller: c, Scenario: s, Reference: ref, Engine: eng,
					RefRate: a.SuccessRate, RefCI95: a.CI95, Rate: b.SuccessRate, CI95: b.CI95,
					GapPP: 100 * (b.SuccessRate - a.SuccessRate)}
				if len(a.results) == len(b.results) {
					for i := range a.results {
						x, y := &a.results[i], &b.results[i]
						if !x.Catchable {
							continue
						}
						switch {
						case x.Caught && y.Caught:
							g.Both++
						case x.Caught != y.Caught:
							g.Flipped++
						}
					}
				}
				out = append(out, g)
			}
		}
	}
	return out
}

// GapSection renders the sim-to-sim gap of report.md: per controller and
// scenario, success in each engine with its 95% interval and the gap, then
// the other engines' full tables.
func GapSection(r *Results, plotFile string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Sim-to-sim gap: %s\n\n", strings.Join(r.Engines, " vs "))
	fmt.Fprintf(&b, "The tables above are the %s engine. Here every pair ran in each engine on the same throws "+
		"(same seed); the gap is the other engine's success minus the reference's, in percentage points. "+
		"\"Caught in one\" counts catchable throws caught by exactly one engine.\n\n", r.Engines[0])
	b.WriteString("| controller | scenario | engine | success (95% CI) | reference success (95% CI) | gap (pp) | caught in both | caught in one |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, g := range r.Gaps {
		fmt.Fprintf(&b, "| %s | %s | %s | %.1f%% (%.1f–%.1f%%) | %.1f%% (%.1f–%.1f%%) | %+.1f | %d | %d |\n",
			g.Controller, g.Scenario, g.Engine, 100*g.Rate, 100*g.CI95[0], 100*g.CI95[1],
			100*g.RefRate, 100*g.RefCI95[0], 100*g.RefCI95[1], g.GapPP, g.Both, g.Flipped)
	}
	if plotFile != "" {
		fmt.Fprintf(&b, "\n![sim-to-sim gap](%s)\n", plotFile)
	}
	for _, eng := range r.Engines[1:] {
		sub := r.engine(eng)
		fmt.Fprintf(&b, "\n### %s engine\n\n", eng)
		b.WriteString(Table(sub))
		b.WriteString("\n")
		b.WriteString(FailureTable(sub))
		b.WriteString("\n")
		b.WriteString(ViolationTable(sub))
	}
	return b.String()
}

// gapPlot draws success per scenario for every controller in every engine,
// with the 95% intervals.
func gapPlot(r *Results) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Success by engine (95% Clopper–Pearson): " + strings.Join(r.Engines, " vs ")
	p.Y.Label.Text = "success rate"
	p.Y.Min, p.Y.Max = 0, 1.02
	scs, ctrls := scenariosOf(r), controllersOf(r)
	series := len(ctrls) * len(r.Engines)
	k := 0
	for _, c := range ctrls {
		for _, eng := range r.Engines {
			off := 0.12 * (float64(k) - float64(series-1)/2)
			if err := addSuccessSeries(p, scs, func(s string) *Entry { return findEntry(r, eng, c, s) }, off, palette[k%len(palette)], c+" / "+eng); err != nil {
				return nil, err
			}
			k++
		}
	}
	p.NominalX(scs...)
	p.Legend.Top = false
	p.Legend.Left = true
	return p, nil
}
