package forecast

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// plotLoss writes the loss curves (means over 50-step blocks, log scale) as a PNG.
func plotLoss(path string, drift, flow []float64) (err error) {
	defer func() {
		if r := recover(); r != nil { // gonum/plot panics on degenerate axes
			err = fmt.Errorf("forecast: loss plot: %v", r)
		}
	}()
	p := plot.New()
	p.Title.Text = "forecast training loss"
	p.X.Label.Text = "step"
	p.Y.Label.Text = "mean square error (normalised)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{}
	add := func(name string, x []float64) error {
		blk := max(1, min(50, len(x)/20))
		var pts plotter.XYs
		for i := 0; i+blk <= len(x); i += blk {
			var s float64
			for _, v := range x[i : i+blk] {
				s += v
			}
			if m := s / float64(blk); m > 0 && !math.IsInf(m, 0) {
				pts = append(pts, plotter.XY{X: float64(i) + float64(blk)/2, Y: m})
			}
		}
		if len(pts) == 0 {
			return nil
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		if name == "flow map" {
			l.Color = plotColor(1)
		}
		p.Add(l)
		p.Legend.Add(name, l)
		return nil
	}
	if err := add("drift", drift); err != nil {
		return err
	}
	if err := add("flow map", flow); err != nil {
		return err
	}
	if err := p.Save(8*vg.Inch, 5*vg.Inch, path); err != nil {
		return fmt.Errorf("forecast: loss plot: %w", err)
	}
	return nil
}

func plotColor(i int) color.Color {
	return []color.Color{color.RGBA{R: 31, G: 119, B: 180, A: 255}, color.RGBA{R: 214, G: 39, B: 40, A: 255}}[i%2]
}
