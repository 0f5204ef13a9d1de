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

	"github.com/agilecatch/catch/internal/provenance"
)

var palette = []color.Color{
	color.RGBA{31, 119, 180, 255}, color.RGBA{214, 39, 40, 255}, color.RGBA{44, 160, 44, 255},
	color.RGBA{148, 103, 189, 255}, color.RGBA{255, 127, 14, 255},
}

// writePlots writes the PNGs (each stamped with the run's provenance) and
// returns their file names in report order.
func writePlots(r *Results, opts Options, pics map[string][]pictureTrial) ([]string, error) {
	var files []string
	add := func(name string, p *plot.Plot, err error) error {
		if err != nil {
			return fmt.Errorf("plot %s: %w", name, err)
		}
		if p == nil {
			return nil
		}
		path := filepath.Join(opts.Out, name)
		if err := p.Save(7*vg.Inch, 4*vg.Inch, path); err != nil {
			return fmt.Errorf("plot %s: %w", name, err)
		}
		if err := provenance.StampPNG(path, r.Provenance); err != nil {
			return fmt.Errorf("plot %s: %w", name, err)
		}
		files = append(files, name)
		return nil
	}
	p, err := successByScenario(r)
	if err := add("success_by_scenario.png", p, err); err != nil {
		return nil, err
	}
	for _, sc := range scenariosOf(r) {
		p, err = successBy(r, sc, "thrower yaw (deg)", func(e *Entry) []Bin { return e.ByYaw }, yawBinDeg)
		if err := add("success_vs_yaw_"+sc+".png", p, err); err != nil {
			return nil, err
		}
		p, err = successBy(r, sc, "horizontal throw speed (m/s)", func(e *Entry) []Bin { return e.BySpeed }, speedBinMPS)
		if err := add("success_vs_speed_"+sc+".png", p, err); err != nil {
			return nil, err
		}
		if len(pics[sc]) > 0 {
			p, err = picture3D(sc, pics[sc])
			if err := add("trials_3d_"+sc+".png", p, err); err != nil {
				return nil, err
			}
		}
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
		off := 0.15 * (float64(ci) - float64(len(ctrls)-1)/2)
		if err := addSuccessSeries(p, scs, func(s string) *Entry { return entry(r, c, s) }, off, palette[ci%len(palette)], c); err != nil {
			return nil, err
		}
	}
	names := make([]string, len(scs))
	copy(names, scs)
	p.NominalX(names...)
	p.Legend.Top = false
	p.Legend.Left = true
	return p, nil
}

// successBy plots one scenario's success against a binned throw parameter:
// each controller's rate with its 95% Clopper–Pearson interval, and above
// each bin the number of catchable throws in it (the same throws for every
// controller, since they share the seed).
func successBy(r *Results, sc, label string, binsOf func(*Entry) []Bin, w float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: success against %s (95%% CI; n = catchable throws)", sc, label)
	p.X.Label.Text = label
	p.Y.Label.Text = "success rate"
	p.Y.Min, p.Y.Max = 0, 1.15
	ctrls := controllersOf(r)
	var counts plotter.XYLabels
	seen := map[float64]bool{}
	any := false
	for ci, c := range ctrls {
		e := entry(r, c, sc)
		if e == nil {
			continue
		}
		var pts plotter.XYs
		var errs plotter.YErrors
		for _, b := range binsOf(e) {
			x := b.Center + 0.12*w*(float64(ci)-float64(len(ctrls)-1)/2)
			pts = append(pts, plotter.XY{X: x, Y: b.Rate})
			errs = append(errs, struct{ Low, High float64 }{b.Rate - b.CI95[0], b.CI95[1] - b.Rate})
			if !seen[b.Center] {
				seen[b.Center] = true
				counts.XYs = append(counts.XYs, plotter.XY{X: b.Center, Y: 1.07})
				counts.Labels = append(counts.Labels, strconv.Itoa(b.Catchable))
			}
		}
		if len(pts) == 0 {
			continue
		}
		any = true
		col := palette[ci%len(palette)]
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, err
		}
		l.Color, s.Color = col, col
		l.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		eb, err := plotter.NewYErrorBars(struct {
			plotter.XYer
			plotter.YErrorer
		}{pts, errs})
		if err != nil {
			return nil, err
		}
		eb.Color = col
		p.Add(l, s, eb)
		p.Legend.Add(c, s)
	}
	if !any {
		return nil, nil
	}
	lab, err := plotter.NewLabels(counts)
	if err != nil {
		return nil, err
	}
	for i := range lab.TextStyle {
		lab.TextStyle[i].XAlign = -0.5
		lab.TextStyle[i].Font.Size = vg.Points(7)
	}
	p.Add(lab)
	p.Legend.Top = false
	p.Legend.Left = true
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
	// Headroom above the tallest bar keeps the legend off the bars.
	top := 0.0
	for i := range left {
		top = math.Max(top, math.Max(left[i], right[i]))
	}
	p.Y.Min, p.Y.Max = 0, math.Max(1, top*1.35)
	p.Legend.Top = true
	p.Legend.Left = true
	return p, nil
}

func computeHist(r *Results, c string) (*plot.Plot, error) {
	var v plotter.Values
	var all []float64
	for _, e := range r.Entries {
		if e.Controller == c {
			all = append(all, e.stepMS...)
			for _, ms := range e.stepMS {
				// log10 of µs keeps decode ticks and re-plans on one axis
				v = append(v, math.Log10(math.Max(ms*1000, 0.01)))
			}
		}
	}
	if len(v) == 0 {
		return nil, nil
	}
	st := computeStats(all)
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: compute per step (p50 %.3f, p99 %.3f, max %.2f ms; tick %.0f ms)", c, st.P50, st.P99, st.Max, r.TickMS)
	p.X.Label.Text = "log10(compute time / µs)"
	p.Y.Label.Text = "steps"
	h, err := plotter.NewHist(v, 40)
	if err != nil {
		return nil, err
	}
	h.FillColor = palette[0]
	p.Add(h)
	top := 0.0
	for _, b := range h.Bins {
		top = math.Max(top, b.Weight)
	}
	budget := math.Log10(r.TickMS * 1000)
	line, err := plotter.NewLine(plotter.XYs{{X: budget, Y: 0}, {X: budget, Y: top * 1.05}})
	if err != nil {
		return nil, err
	}
	line.Color = palette[1]
	line.Width = vg.Points(1.5)
	line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(line)
	p.Legend.Add(fmt.Sprintf("tick budget %.0f ms", r.TickMS), line)
	p.Legend.Top = true
	p.Legend.Left = true
	if p.X.Max < budget+0.2 {
		p.X.Max = budget + 0.2
	}
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
	cr := csv.NewReader(f)
	cr.Comment = '#' // provenance lines
	rows, err := cr.ReadAll()
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

// addSuccessSeries draws one series of success rates with their 95%
// intervals, one point per scenario at x = scenario index + off (pick
// returns nil where the series has no entry).
func addSuccessSeries(p *plot.Plot, scs []string, pick func(s string) *Entry, off float64, col color.Color, label string) error {
	var pts plotter.XYs
	var errs plotter.YErrors
	for si, s := range scs {
		e := pick(s)
		if e == nil {
			continue
		}
		pts = append(pts, plotter.XY{X: float64(si) + off, Y: e.SuccessRate})
		errs = append(errs, struct{ Low, High float64 }{e.SuccessRate - e.CI95[0], e.CI95[1] - e.SuccessRate})
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return err
	}
	sc.Color = col
	eb, err := plotter.NewYErrorBars(struct {
		plotter.XYer
		plotter.YErrorer
	}{pts, errs})
	if err != nil {
		return err
	}
	eb.Color = col
	p.Add(sc, eb)
	p.Legend.Add(label, sc)
	return nil
}
