package policy

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// CSVHeader is the first line of the training CSV.
// success_rate and eval_reward are the latest eval on the eval scenario
// (nominal by default), mix_success and mix_reward the latest eval over the
// training scenarios (the best-policy criterion).
const CSVHeader = "iteration,episodes,eval_episodes,mean_reward,max_reward,catch_rate,success_rate,eval_reward,mix_success,mix_reward,evaluated,wall_s"

// CSVLine formats one iteration for the training CSV (eval columns are
// the latest eval, empty before the first).
func (s IterStats) CSVLine() string {
	f := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
	return fmt.Sprintf("%d,%d,%d,%s,%s,%s,%s,%s,%s,%s,%t,%s", s.Iteration, s.Episodes, s.EvalEpisode, f(s.MeanReward), f(s.MaxReward),
		f(s.CatchRate), f(s.EvalSuccess), f(s.EvalReward), f(s.MixSuccess), f(s.MixReward), s.Evaluated, f(s.WallS))
}

// WriteCSV writes the whole history as a CSV file (atomically), so a
// resumed run's CSV is complete. Preamble lines (e.g. "# provenance: …")
// go before the header; readers skip them with '#' as comment character.
func WriteCSV(path string, hist []IterStats, preamble ...string) error {
	var b bytes.Buffer
	for _, p := range preamble {
		b.WriteString(p)
	}
	b.WriteString(CSVHeader + "\n")
	for _, s := range hist {
		b.WriteString(s.CSVLine() + "\n")
	}
	return writeAtomic(path, b.Bytes())
}

// WritePlot draws the training curve as a PNG: the unperturbed policy's
// eval success rate (top) and the mean rollout reward (bottom) against
// training episodes.
func WritePlot(path string, hist []IterStats) error {
	succ, mix, rew := plotter.XYs{}, plotter.XYs{}, plotter.XYs{}
	for _, s := range hist {
		if s.Evaluated {
			succ = append(succ, plotter.XY{X: float64(s.Episodes), Y: s.EvalSuccess})
			mix = append(mix, plotter.XY{X: float64(s.Episodes), Y: s.MixSuccess})
		}
		rew = append(rew, plotter.XY{X: float64(s.Episodes), Y: s.MeanReward})
	}
	top := plot.New()
	top.Title.Text = "ES (BGS) training"
	top.Y.Label.Text = "eval success rate"
	top.Y.Min, top.Y.Max = 0, 1
	bot := plot.New()
	bot.X.Label.Text = "training episodes"
	bot.Y.Label.Text = "mean reward"
	top.Add(plotter.NewGrid())
	bot.Add(plotter.NewGrid())
	for _, x := range []struct {
		p     *plot.Plot
		xys   plotter.XYs
		name  string
		color int
	}{{top, succ, "eval scenario (nominal)", 0}, {top, mix, "training mix (selects the best)", 1}, {bot, rew, "", 0}} {
		if len(x.xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(x.xys)
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(x.color)
		x.p.Add(l)
		if x.name != "" {
			x.p.Legend.Add(x.name, l)
		}
	}
	const w, h = 8 * vg.Inch, 6 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadX: vg.Points(4), PadY: vg.Points(8)}
	canv := plot.Align([][]*plot.Plot{{top}, {bot}}, tiles, dc)
	top.Draw(canv[0][0])
	bot.Draw(canv[1][0])
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if err := writeAtomic(path, buf.Bytes()); err != nil {
		return err
	}
	return nil
}

var _ = os.Remove
