package forecast

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/ball"
)

// TestPhysicsSpreadScalesDeviations: the spread keeps the samples' mean and scales their
// deviations per world axis exactly (and per heading axis, here along x for a flight in x).
func TestPhysicsSpreadScalesDeviations(t *testing.T) {
	props, err := ball.ByName("tennis")
	require.NoError(t, err)
	est := &ball.Estimate{Valid: true, State: ball.State{P: ball.Vec{3, 0, 1.5}, V: ball.Vec{-5, 0, 2}}}
	for i := 0; i < 6; i++ {
		est.Cov[i*6+i] = 1e-4
	}
	in := &Input{Now: 0, Estimate: est}
	std := func(cfg PhysicsConfig) (mean, sd [3]float64) {
		p, err := NewPhysics(props, cfg)
		require.NoError(t, err)
		buf := NewBuffer(DefaultDt, DefaultH, 64)
		require.NoError(t, p.Forecast(in, rand.New(rand.NewPCG(1, 2)), &buf))
		h := DefaultH - 1
		for k := 0; k < 3; k++ {
			for n := 0; n < buf.N; n++ {
				mean[k] += buf.Pos[n*DefaultH*3+h*3+k] / float64(buf.N)
			}
			for n := 0; n < buf.N; n++ {
				d := buf.Pos[n*DefaultH*3+h*3+k] - mean[k]
				sd[k] += d * d / float64(buf.N)
			}
			sd[k] = math.Sqrt(sd[k])
		}
		return mean, sd
	}
	m0, s0 := std(PhysicsConfig{})
	for _, world := range []bool{true, false} {
		m1, s1 := std(PhysicsConfig{Spread: [3]float64{2, 1, 0.5}, SpreadWorld: world})
		for k, f := range []float64{2, 1, 0.5} {
			require.InDelta(t, m0[k], m1[k], 1e-9, "axis %d", k)
			// the heading frame of a flight toward −x has x′ = −x, y′ = −y: the same scales
			require.InDelta(t, f*s0[k], s1[k], 1e-9, "axis %d (world %v)", k, world)
		}
	}
	_, err = NewPhysics(props, PhysicsConfig{Spread: [3]float64{1, -1, 1}})
	require.ErrorContains(t, err, "spread[1]")
}

// overconfident is a tracker that knows the true state up to an error of σ per coordinate
// but claims σ/3: the baseline's intervals are three times too narrow until calibrated.
type overconfident struct {
	truth map[float64]ball.State // by window time
	rng   *rand.Rand
	sigma float64
	now   float64
}

func (o *overconfident) Reset()                               {}
func (o *overconfident) Observe(t float64, p [3]float64) bool { return true }
func (o *overconfident) Estimate(now float64, dst *ball.Estimate) {
	s := o.truth[now]
	for k := 0; k < 3; k++ {
		s.V[k] += o.sigma * o.rng.NormFloat64()
	}
	*dst = ball.Estimate{Valid: true, T: now, State: s}
	for k := 0; k < 3; k++ {
		dst.Cov[k*6+k] = 1e-12
		dst.Cov[(3+k)*6+3+k] = o.sigma * o.sigma / 9
	}
}

func TestCalibrateSpreadCoversNinety(t *testing.T) {
	props, err := ball.ByName("tennis")
	require.NoError(t, err)
	const at = 0.3
	windows := func(n int, seed uint64) ([]Window, map[float64]ball.State) {
		rng := rand.New(rand.NewPCG(seed, 9))
		truth := map[float64]ball.State{}
		var ws []Window
		for i := 0; i < n; i++ {
			now := float64(i) + float64(seed)*1e-3
			s := ball.State{P: ball.Vec{3, rng.NormFloat64() * 0.2, 1.5}, V: ball.Vec{-5 + 0.3*rng.NormFloat64(), 0.3 * rng.NormFloat64(), 2}}
			truth[now] = s
			w := Window{Now: now, Truth: make([]float64, 15*3)}
			for h := 0; h < 15; h++ {
				props.Propagate(&s, DefaultDt, 0)
				copy(w.Truth[h*3:], s.P[:])
			}
			ws = append(ws, w)
		}
		return ws, truth
	}
	train, tt := windows(400, 1)
	tr := &overconfident{truth: tt, rng: rand.New(rand.NewPCG(3, 4)), sigma: 0.05}
	base := PhysicsConfig{Horizons: Horizons{H: 15}, ProcessNoise: -1, SpreadWorld: true}
	raw, err := NewPhysics(props, base)
	require.NoError(t, err)
	sp, err := CalibrateSpread(raw, tr, train, at, 128, 7, true)
	require.NoError(t, err)
	for k := 0; k < 3; k++ {
		// z: the velocity error alone, 3× too narrow; x, y the same
		require.InDelta(t, 3, sp[k], 0.5, "axis %d: %v", k, sp)
	}
	test, te := windows(400, 2)
	tr.truth = te
	base.Spread = sp
	p, err := NewPhysics(props, base)
	require.NoError(t, err)
	tr.rng = rand.New(rand.NewPCG(6, 6))
	sc, err := Evaluate("physics", p, tr, test, EvalConfig{Samples: 128, Seed: 5, AtS: at})
	require.NoError(t, err)
	for k := 0; k < 3; k++ {
		require.InDelta(t, 0.9, sc.Cover90[k], 0.05, "held-out coverage, axis %d", k)
	}
	// the wrapper scales any forecaster the same way
	tr.rng = rand.New(rand.NewPCG(6, 6))
	sw, err := Evaluate("spread", &Spread{F: raw, Factor: sp, World: true}, tr, test, EvalConfig{Samples: 128, Seed: 5, AtS: at})
	require.NoError(t, err)
	require.Equal(t, sc.Cover90, sw.Cover90)
	sc, err = Evaluate("physics", raw, tr, test, EvalConfig{Samples: 128, Seed: 5, AtS: at})
	require.NoError(t, err)
	require.Less(t, sc.Cov90, 0.6, "uncalibrated, the intervals are too narrow")
}

// TestCompleteWindowsFillsPastTheEnd: a flight cut short (at a bounce) gives windows whose
// horizons past its end are NaN; CompleteWindows fills them with the fitted flight, close
// to where the ball would have flown, and leaves the recorded part alone.
func TestCompleteWindowsFillsPastTheEnd(t *testing.T) {
	props, err := ball.ByName("table-tennis")
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(4, 5))
	s := ball.State{P: ball.Vec{0, 3, 1.4}, V: ball.Vec{0.8, -4.3, 0.5}, W: ball.Vec{10, 0, 30}}
	const dt = 1.0 / 180
	var full Flight
	full.Name = "f.csv:0"
	for i := 0; i < 180; i++ { // 1 s
		full.T = append(full.T, float64(i)*dt)
		full.P = append(full.P, ball.Vec{s.P[0] + 1e-3*rng.NormFloat64(), s.P[1] + 1e-3*rng.NormFloat64(), s.P[2] + 1e-3*rng.NormFloat64()})
		props.Step(&s, dt)
	}
	cut := Flight{Name: full.Name, T: full.T[:72], P: full.P[:72]} // 0.4 s
	wc := WindowConfig{}
	ws := FlightWindows([]Flight{cut}, 0, 0.02, 0.1, wc)
	require.NotEmpty(t, ws)
	ref := FlightWindows([]Flight{full}, 0, 0.02, 0.1, wc)
	out, completed, dropped := CompleteWindows(props, []Flight{cut}, ws, DefaultDt)
	require.Equal(t, len(ws), len(out))
	require.Zero(t, dropped)
	require.Positive(t, completed)
	var worst float64
	for i, w := range out {
		for k, v := range w.Truth {
			require.False(t, math.IsNaN(v))
			if !math.IsNaN(ws[i].Truth[k]) {
				require.Equal(t, ws[i].Truth[k], v, "the recorded part is kept")
			}
			worst = math.Max(worst, math.Abs(v-ref[i].Truth[k]))
		}
	}
	// up to 0.5 s past the cut, with the spin fitted from 0.4 s of 1 mm noise
	require.Less(t, worst, 0.03)
}

// priorTracker is a Tracker that only remembers its spin prior.
type priorTracker struct{ prior ball.SpinPrior }

func (p *priorTracker) Reset()                                   {}
func (p *priorTracker) Observe(t float64, x [3]float64) bool     { return true }
func (p *priorTracker) Estimate(now float64, dst *ball.Estimate) {}

// TestCVTrackerLeavesOwnFileOut: on the training windows the baseline's spin table leaves
// the window's own file out, as the fold's table leaves out the fold's files; a launch seen
// in one file only then gets the broad prior on that file's windows, and the table's own on
// another file's. The prior's σ is scaled by the grid's scale.
func TestCVTrackerLeavesOwnFileOut(t *testing.T) {
	props, err := ball.ByName("table-tennis")
	require.NoError(t, err)
	var fits []ball.TrackFit
	for i := 0; i < 8; i++ {
		p, v, w := ball.Vec{0.15, 2.4, 1.5}, ball.Vec{1, -4.4, 0}, ball.Vec{-5, 15, float64(i % 2)}
		if i < 3 { // a launch only a.csv has
			p, v, w = ball.Vec{0.5, 0.9, 0.8}, ball.Vec{0.6, -2, 3.4}, ball.Vec{-30, 40, -35}
		}
		file := "a.csv"
		if i >= 4 {
			file = "b.csv"
		}
		fits = append(fits, ball.TrackFit{Name: file + ":" + string(rune('0'+i)), Init: ball.State{P: p, V: v}, Heading: w, N: 60})
	}
	table, err := ball.NewSpinTable(fits, ball.SpinTableConfig{})
	require.NoError(t, err)
	mk := func(_ ball.Props, _, _ float64, prior ball.SpinPrior) (Tracker, error) {
		return &priorTracker{prior: prior}, nil
	}
	tr, err := newCVTracker(mk, props, 0.3, 40, table, 2, []string{"a.csv", "b.csv"})
	require.NoError(t, err)
	ft, ok := tr.(flightTracker)
	require.True(t, ok)
	spinZ := func(file string) (mean, sigma float64) {
		ft.ForFlight(file + ":0")
		var m ball.Vec
		var c [9]float64
		tr.(*looTracker).cur.(*priorTracker).prior.Spin(ball.Vec{0.5, 0.9, 0.8}, ball.Vec{0.6, -2, 3.4}, &m, &c)
		return m[2], math.Sqrt(c[8])
	}
	ownM, ownS := spinZ("a.csv")
	otherM, otherS := spinZ("b.csv")
	// from b.csv's windows the launch is known from a.csv's three flights (−35 rad/s, the
	// overall mean −13 entering with weight 0.5 of 3.5); from a.csv's own windows only the
	// overall distribution is left
	require.InDelta(t, -32, otherM, 2)
	require.InDelta(t, -13, ownM, 3)
	require.Greater(t, ownS, 1.5*otherS) // 17 vs 10 rad/s before the scale 2
	// the fold's tracker (no files to leave out) has the whole table
	full, err := newCVTracker(mk, props, 0.3, 40, table, 1, nil)
	require.NoError(t, err)
	var m ball.Vec
	var c [9]float64
	full.(*priorTracker).prior.Spin(ball.Vec{0.5, 0.9, 0.8}, ball.Vec{0.6, -2, 3.4}, &m, &c)
	require.InDelta(t, -32, m[2], 2)
	// b.csv's flights are far from this launch: the whole table at scale 1 is b's view at 2, halved
	require.InDelta(t, otherS/2, math.Sqrt(c[8]), 0.1)
	// without a table, the flat σ and no prior
	flat, err := newCVTracker(mk, props, 0.3, 40, nil, 0, []string{"a.csv"})
	require.NoError(t, err)
	require.Nil(t, flat.(*priorTracker).prior)
}

// TestInnerSplitPartitionsByFile: the inner folds split the training files round-robin;
// each inner fold's flights are exactly those of its files, and the folds partition them.
func TestInnerSplitPartitionsByFile(t *testing.T) {
	files := []string{"a.csv", "b.csv", "c.csv", "d.csv", "e.csv"}
	var fl []Flight
	for i, f := range files {
		for s := 0; s <= i%2; s++ {
			fl = append(fl, Flight{Name: fmt.Sprintf("%s:%d", f, s)})
		}
	}
	seen := map[string]int{}
	for j := 0; j < 3; j++ {
		rest, held, restFiles, heldFiles := innerSplit(fl, files, 3, j)
		require.Len(t, rest, len(fl)-len(held))
		require.Equal(t, len(files), len(restFiles)+len(heldFiles))
		for i, f := range files {
			require.Equal(t, i%3 == j, slices.Contains(heldFiles, f), "file %s, inner fold %d", f, j)
			require.NotEqual(t, slices.Contains(heldFiles, f), slices.Contains(restFiles, f))
		}
		for _, f := range held {
			name, _, _ := strings.Cut(f.Name, ":")
			require.Contains(t, heldFiles, name)
			seen[f.Name]++
		}
		for _, f := range rest {
			name, _, _ := strings.Cut(f.Name, ":")
			require.Contains(t, restFiles, name)
		}
	}
	require.Len(t, seen, len(fl))
	for name, n := range seen {
		require.Equal(t, 1, n, "flight %s held out once", name)
	}
}

// fileRecorder is a flightTracker that records the file of every window it is asked to
// estimate, in order.
type fileRecorder struct {
	Tracker
	files []string
}

func (r *fileRecorder) ForFlight(name string) {
	f, _, _ := strings.Cut(name, ":")
	r.files = append(r.files, f)
}

// TestTrainInnerOutOfFold: each inner model is trained on its training files' windows and
// then forecasts the windows of the files it left out, and nothing else: the estimator is
// asked, in order, for inner model j's training windows (only from its TrainFiles) and then
// its calibration windows (only from its CalibFiles). A model that trained on a file it
// calibrates on fails the order; every file calibrates exactly once.
func TestTrainInnerOutOfFold(t *testing.T) {
	props, err := ball.ByName("tennis")
	require.NoError(t, err)
	var fl []Flight
	var files []string
	for i := 0; i < 6; i++ {
		name := fmt.Sprintf("f%d.csv", i)
		files = append(files, name)
		s := ball.State{P: ball.Vec{4, 0.1 * float64(i), 0.8}, V: ball.Vec{-5 - 0.2*float64(i), 0.2, 3.5}, W: ball.Vec{0, 20, 0}}
		f := Flight{Name: name + ":0"}
		for n := 0; n < 125; n++ {
			f.T = append(f.T, float64(n)*0.008)
			f.P = append(f.P, s.P)
			props.Step(&s, 0.008)
		}
		fl = append(fl, f)
	}
	rec := &fileRecorder{Tracker: &exactTracker{props: props}}
	cfg := CVConfig{Samples: 16, Seed: 5, InnerFolds: 3, Residual: true,
		Train: &TrainConfig{Steps: 20, DistillSteps: 10, DistillConds: 8, ValConds: 16, Batch: 32, Hidden: []int{16}, EMSteps: 4, TeacherSteps: 12}}
	cfg.withDefaults()
	fd := CVFold{TrainFiles: files}
	members, err := trainInner(props, fl, &fd, cfg, 0, rec, func(string, ...any) {})
	require.NoError(t, err)
	require.Len(t, members, 3)
	require.Len(t, fd.Inner, 3)
	calibrated := map[string]int{}
	i := 0
	for j, in := range fd.Inner {
		require.Len(t, in.CalibFiles, 2)
		require.Len(t, in.TrainFiles, 4)
		for _, f := range in.CalibFiles {
			require.NotContains(t, in.TrainFiles, f)
			calibrated[f]++
		}
		train, calib := 0, 0
		for ; i < len(rec.files) && slices.Contains(in.TrainFiles, rec.files[i]); i++ {
			train++
		}
		// the next model's training windows may start with these files: stop at the count
		for ; i < len(rec.files) && calib < in.Windows && slices.Contains(in.CalibFiles, rec.files[i]); i++ {
			calib++
		}
		require.Equal(t, in.Examples, train, "inner model %d: its training windows, from its training files only", j)
		require.Equal(t, in.Windows, calib, "inner model %d: its calibration windows, from the files it left out only", j)
		require.Positive(t, calib)
	}
	require.Equal(t, len(rec.files), i, "nothing else was estimated")
	require.Len(t, calibrated, len(files))
	for f, n := range calibrated {
		require.Equal(t, 1, n, "file %s calibrates once", f)
	}
	for a := 0; a < 3; a++ {
		require.Greater(t, fd.ModelSpread[a], 0.0)
	}
	require.Equal(t, fd.CalibWindows, fd.Inner[0].Windows+fd.Inner[1].Windows+fd.Inner[2].Windows)
}
