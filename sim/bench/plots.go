package bench

import (
	"encoding/csv"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/agilecatch/catch/sim"
)

var palette = []color.Color{
	color.RGBA{31, 119, 180, 255}, color.RGBA{214, 39, 40, 255}, color.RGBA{44, 160, 44, 255},
	color.RGBA{148, 103, 189, 255}, color.RGBA{255, 127, 14, 255},
}

// writePlots writes the PNGs and returns their file names in report order.
func writePlots(r *Results, opts Options) ([]string, error) {
	var files []string
	add := func(name string, p *plot.Plot, err error) error {
		if err != nil {
			return fmt.Errorf("plot %s: %w", name, err)
		}
		if p == nil {
			return nil
		}
		if err := p.Save(7*vg.Inch, 4*vg.Inch, filepath.Join(opts.Out, name)); err != nil {
			return fmt.Errorf("plot %s: %w", name, err)
		}
		files = append(files, name)
		return nil
	}
	p, err := successByScenario(r)
	if err := add("success_by_scenario.png", p, err); err != nil {
		return nil, err
	}
	p, err = successBy(r, "thrower yaw (deg)", func(t *sim.TrialResult) float64 { return t.YawDeg }, -10, 10, 1, [2]float64{-6, 6.3})
	if err := add("success_vs_yaw.png", p, err); err != nil {
		return nil, err
	}
	p, err = successBy(r, "horizontal throw speed (m/s)", func(t *sim.TrialResult) float64 { return t.HorizontalSpeed }, 2, 8, 0.2, [2]float64{4.45, 4.55})
	if err := add("success_vs_speed.png", p, err); err != nil {
		return nil, err
	}
	p, err = modality(r)
	if err := add("modality.png", p, err); err != nil {
		return nil, err
	}
	for _, c := range controllersOf(r) {
		p, err = computeHist(r, c)
		if err := add("compute_"+c+".png", p, err); err != nil {
			return nil, err
		}
	}
	if opts.ESLog != "" {
		p, err = esCurve(opts.ESLog)
		if err := add("es_training.png", p, err); err != nil {
			return nil, err
		}
	}
	return files, nil
}

func successByScenario(r *Results) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Catch success by scenario (95% Clopper–Pearson)"
	p.Y.Label.Text = "success rate"
	p.Y.Min, p.Y.Max = 0, 1.02
	scs := scenariosOf(r)
	ctrls := controllersOf(r)
	for ci, c := range ctrls {
		var pts plotter.XYs
		var errs plotter.YErrors
		for si, s := range scs {
			e := entry(r, c, s)
			if e == nil {
				continue
			}
			x := float64(si) + 0.15*(float64(ci)-float64(len(ctrls)-1)/2)
			pts = append(pts, plotter.XY{X: x, Y: e.SuccessRate})
			errs = append(errs, struct{ Low, High float64 }{e.SuccessRate - e.CI95[0], e.CI95[1] - e.SuccessRate})
		}
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, err
		}
		sc.Color = palette[ci%len(palette)]
		eb, err := plotter.NewYErrorBars(struct {
			plotter.XYer
			plotter.YErrorer
		}{pts, errs})
		if err != nil {
			return nil, err
		}
		eb.Color = sc.Color
		p.Add(sc, eb)
		p.Legend.Add(c, sc)
	}
	names := make([]string, len(scs))
	copy(names, scs)
	p.NominalX(names...)
	p.Legend.Top = false
	p.Legend.Left = true
	return p, nil
}

// successBy plots success against a throw parameter over all trials of each
// controller, with a shaded band (e.g. the training range).
func successBy(r *Results, label string, key func(*sim.TrialResult) float64, lo, hi, w float64, band [2]float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Catch success against " + label
	p.X.Label.Text = label
	p.Y.Label.Text = "success rate"
	p.Y.Min, p.Y.Max = 0, 1.02
	poly, err := plotter.NewPolygon(plotter.XYs{{X: band[0], Y: 0}, {X: band[1], Y: 0}, {X: band[1], Y: 1.02}, {X: band[0], Y: 1.02}})
	if err != nil {
		return nil, err
	}
	poly.Color = color.RGBA{220, 220, 220, 255}
	poly.LineStyle.Width = 0
	p.Add(poly)
	p.Legend.Add("training / nominal range", poly)
	any := false
	for ci, c := range controllersOf(r) {
		var all []sim.TrialResult
		for _, e := range r.Entries {
			if e.Controller == c {
				all = append(all, e.results...)
			}
		}
		bs := bins(all, key, lo, hi, w)
		var pts plotter.XYs
		for _, b := range bs {
			if b.Catchable >= 3 {
				pts = append(pts, plotter.XY{X: b.Center, Y: b.Rate})
			}
		}
		if len(pts) == 0 {
			continue
		}
		any = true
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, err
		}
		l.Color, s.Color = palette[ci%len(palette)], palette[ci%len(palette)]
		p.Add(l, s)
		p.Legend.Add(c, l)
	}
	if !any {
		return nil, nil
	}
	p.Legend.Top = false
	return p, nil
}

func modality(r *Results) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Catches left and right of the rail carriage (all scenarios)"
	p.Y.Label.Text = "catches"
	ctrls := controllersOf(r)
	var left, right plotter.Values
	for _, c := range ctrls {
		var l, rr int
		for _, e := range r.Entries {
			if e.Controller == c {
				l += e.Modality.Left
				rr += e.Modality.Right
			}
		}
		left = append(left, float64(l))
		right = append(right, float64(rr))
	}
	w := vg.Points(20)
	bl, err := plotter.NewBarChart(left, w)
	if err != nil {
		return nil, err
	}
	bl.Color = palette[0]
	bl.Offset = -w / 2
	br, err := plotter.NewBarChart(right, w)
	if err != nil {
		return nil, err
	}
	br.Color = palette[1]
	br.Offset = w / 2
	p.Add(bl, br)
	p.Legend.Add("left", bl)
	p.Legend.Add("right", br)
	p.NominalX(ctrls...)
	return p, nil
}

func computeHist(r *Results, c string) (*plot.Plot, error) {
	var v plotter.Values
	for _, e := range r.Entries {
		if e.Controller == c {
			for _, ms := range e.stepMS {
				// log10 of µs keeps decode ticks and re-plans on one axis
				v = append(v, math.Log10(math.Max(ms*1000, 0.01)))
			}
		}
	}
	if len(v) == 0 {
		return nil, nil
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: compute time per controller step", c)
	p.X.Label.Text = "log10(compute time / µs)"
	p.Y.Label.Text = "steps"
	h, err := plotter.NewHist(v, 40)
	if err != nil {
		return nil, err
	}
	h.FillColor = palette[0]
	p.Add(h)
	return p, nil
}

// esCurve plots success rate and mean reward against episodes from an ES
// training log (CSV with a header holding "episodes" and "success_rate"
// and/or "mean_reward").
func esCurve(path string) (*plot.Plot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--es-log: %w", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("--es-log %s: %w", path, err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("--es-log %s: no data rows", path)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[strings.TrimSpace(h)] = i
	}
	ei, ok := col["episodes"]
	if !ok {
		return nil, fmt.Errorf("--es-log %s: no 'episodes' column (have %s)", path, strings.Join(rows[0], ","))
	}
	p := plot.New()
	p.Title.Text = "ES training"
	p.X.Label.Text = "episodes"
	for k, name := range []string{"success_rate", "eval_success", "mean_reward"} {
		ci, ok := col[name]
		if !ok {
			continue
		}
		var pts plotter.XYs
		for _, row := range rows[1:] {
			if ci >= len(row) || ei >= len(row) {
				continue
			}
			x, err1 := strconv.ParseFloat(row[ei], 64)
			y, err2 := strconv.ParseFloat(row[ci], 64)
			if err1 == nil && err2 == nil {
				pts = append(pts, plotter.XY{X: x, Y: y})
			}
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.Color = palette[k%len(palette)]
		p.Add(l)
		p.Legend.Add(name, l)
	}
	return p, nil
}
