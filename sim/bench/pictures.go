package bench

import (
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/sim"
)

// pictureTrials is the number of caught and of missed throws drawn per
// scenario.
const pictureTrials = 3

// pathRecorder is a sim.Tracer that keeps the ball's and the head's
// positions of one trial.
type pathRecorder struct {
	ball, head [][3]float64
	catchAt    int // index of the catch tick, -1 when not caught
}

func (p *pathRecorder) Begin(*sim.Throw, *sim.TrialResult) error {
	p.ball, p.head, p.catchAt = p.ball[:0], p.head[:0], -1
	return nil
}

func (p *pathRecorder) Tick(tk *sim.Tick) {
	p.ball = append(p.ball, tk.Ball.P)
	p.head = append(p.head, tk.Head.O)
	if tk.Caught && p.catchAt < 0 {
		p.catchAt = len(p.ball) - 1
	}
}

func (p *pathRecorder) End(*sim.TrialResult) error { return nil }

// pictureTrial is a trial drawn in a 3-D picture.
type pictureTrial struct {
	controller string
	index      int
	res        sim.TrialResult
	rec        pathRecorder
}

// pickForPicture chooses up to n caught and n missed catchable trials of a
// scenario, alternating between controllers, in trial order.
func pickForPicture(r *Results, sc string, n int) []pictureTrial {
	var caught, missed []pictureTrial
	for k := 0; len(caught) < n || len(missed) < n; k++ {
		more := false
		for _, c := range controllersOf(r) {
			e := entry(r, c, sc)
			if e == nil || k >= len(e.results) {
				continue
			}
			more = true
			t := &e.results[k]
			switch {
			case !t.Catchable:
			case t.Caught && len(caught) < n:
				caught = append(caught, pictureTrial{controller: c, index: k, res: *t})
			case !t.Caught && len(missed) < n:
				missed = append(missed, pictureTrial{controller: c, index: k, res: *t})
			}
		}
		if !more {
			break
		}
	}
	return append(caught, missed...)
}

// view3D projects world points (x toward the thrower, y left, z up) onto
// the picture plane of a camera looking from the robot's right front.
type view3D struct{ ca, sa, ce, se float64 }

func newView3D(azDeg, elDeg float64) view3D {
	a, e := azDeg*math.Pi/180, elDeg*math.Pi/180
	return view3D{math.Cos(a), math.Sin(a), math.Cos(e), math.Sin(e)}
}

func (v view3D) project(p [3]float64) plotter.XY {
	// Camera azimuth a about z (measured from +x), elevation e.
	u := -v.sa*p[0] + v.ca*p[1]
	w := -v.se*(v.ca*p[0]+v.sa*p[1]) + v.ce*p[2]
	return plotter.XY{X: u, Y: w}
}

// picture3D draws the chosen trials of a scenario: the ball's true path
// (green caught, red missed), the head's path (grey), the catch or the
// closest approach (a dot), the floor grid and the rail.
func picture3D(sc string, trials []pictureTrial) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: caught (green) and missed (red) throws; ball paths, head paths (grey)", sc)
	p.HideAxes()
	v := newView3D(-60, 18)
	faint := color.RGBA{215, 218, 222, 255}
	addLine := func(pts [][3]float64, c color.Color, w vg.Length, dashed bool) error {
		var xy plotter.XYs
		for _, q := range pts {
			xy = append(xy, v.project(q))
		}
		if len(xy) < 2 {
			return nil
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return err
		}
		l.Color, l.Width = c, w
		if dashed {
			l.Dashes = []vg.Length{vg.Points(3), vg.Points(2)}
		}
		p.Add(l)
		return nil
	}
	for x := -0.5; x <= 4.01; x += 0.5 {
		if err := addLine([][3]float64{{x, -1.5, 0}, {x, 1.5, 0}}, faint, vg.Points(0.5), false); err != nil {
			return nil, err
		}
	}
	for y := -1.5; y <= 1.51; y += 0.5 {
		if err := addLine([][3]float64{{-0.5, y, 0}, {4, y, 0}}, faint, vg.Points(0.5), false); err != nil {
			return nil, err
		}
	}
	grey := color.RGBA{110, 114, 120, 255}
	// The rail beam and its posts, and the arm's base.
	for _, seg := range [][][3]float64{{{0, -1, 0.72}, {0, 1, 0.72}}, {{0, -0.95, 0}, {0, -0.95, 0.66}}, {{0, 0.95, 0}, {0, 0.95, 0.66}}, {{0, 0, 0.72}, {0, 0, 0.8}}} {
		if err := addLine(seg, grey, vg.Points(3), false); err != nil {
			return nil, err
		}
	}
	green, red := color.RGBA{44, 160, 44, 255}, color.RGBA{214, 39, 40, 255}
	headC := color.RGBA{127, 127, 127, 255}
	for _, t := range trials {
		c := red
		if t.res.Caught {
			c = green
		}
		if err := addLine(t.rec.ball, c, vg.Points(1.2), false); err != nil {
			return nil, err
		}
		if err := addLine(t.rec.head, headC, vg.Points(1), true); err != nil {
			return nil, err
		}
		// The catch, or the closest approach of a miss.
		k := t.rec.catchAt
		if k < 0 {
			best := math.Inf(1)
			for i := range t.rec.ball {
				b, h := t.rec.ball[i], t.rec.head[i]
				if d := math.Hypot(math.Hypot(b[0]-h[0], b[1]-h[1]), b[2]-h[2]); d < best {
					best, k = d, i
				}
			}
		}
		if k >= 0 && k < len(t.rec.ball) {
			s, err := plotter.NewScatter(plotter.XYs{v.project(t.rec.ball[k])})
			if err != nil {
				return nil, err
			}
			s.Color = c
			s.Shape = draw.CircleGlyph{}
			s.Radius = vg.Points(3)
			p.Add(s)
			lab := fmt.Sprintf("%s #%d", t.controller, t.index)
			if !t.res.Caught {
				lab += " " + t.res.FailureReason()
			}
			l, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{v.project(t.rec.ball[k])}, Labels: []string{lab}})
			if err != nil {
				return nil, err
			}
			for i := range l.TextStyle {
				l.TextStyle[i].Font.Size = vg.Points(7)
				l.TextStyle[i].Color = c
			}
			l.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(2)}
			p.Add(l)
		}
	}
	return p, nil
}

// tracePictures re-flies the chosen trials of every scenario with a path
// recorder (a trial is deterministic for its seed and index) and returns
// them by scenario.
func tracePictures(r *Results, opts Options, scs []*sim.Scenario, n int) (map[string][]pictureTrial, error) {
	out := map[string][]pictureTrial{}
	worlds := map[string]*sim.World{}
	ctrls := map[string]control.Controller{}
	for _, sc := range scs {
		picks := pickForPicture(r, sc.Name, n)
		for i := range picks {
			t := &picks[i]
			w := worlds[sc.Name]
			if w == nil {
				var err error
				var eng sim.Engine // the reference engine, whose results r holds
				if len(opts.Engines) > 0 {
					eng = opts.Engines[0]
				}
				if w, err = sim.NewWorldEngine(opts.Sim, opts.Robot, sc, eng); err != nil {
					return nil, err
				}
				worlds[sc.Name] = w
			}
			c := ctrls[t.controller]
			if c == nil {
				var err error
				var eng string // the reference engine's, as the world's
				if len(opts.Engines) > 0 {
					eng = opts.Engines[0].Name()
				}
				if c, err = opts.NewController(t.controller, eng); err != nil {
					return nil, err
				}
				ctrls[t.controller] = c
			}
			w.SetTracer(&t.rec)
			var res sim.TrialResult
			if err := sim.RunTrial(w, c, sc, opts.Seed, t.index, &res); err != nil {
				return nil, fmt.Errorf("picture of %s trial %d: %w", sc.Name, t.index, err)
			}
			if res.Caught != t.res.Caught || res.MissDistanceM != t.res.MissDistanceM {
				return nil, fmt.Errorf("picture of %s trial %d: the re-run differs from the benchmark's (caught %v, miss %.4f m; was %v, %.4f m): the controller is not deterministic",
					sc.Name, t.index, res.Caught, res.MissDistanceM, t.res.Caught, t.res.MissDistanceM)
			}
			w.SetTracer(nil)
		}
		out[sc.Name] = picks
	}
	for _, w := range worlds {
		_ = w.Close()
	}
	for _, c := range ctrls {
		if cl, ok := c.(io.Closer); ok {
			_ = cl.Close()
		}
	}
	return out, nil
}
