package mpc

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/sim"
)

// TestFitComputeModel: plans whose times are an exact linear function of
// their work give back the coefficients and unit ratios; a spread of
// multiplicative noise comes back as ratios with its quantiles.
func TestFitComputeModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	truth := ComputeModel{PlanUS: 80, StartUS: 5, SQPIterUS: 60, QPSolveUS: 30, QPIterUS: 2}
	var exact, noisy []PlanSample
	for i := 0; i < 500; i++ {
		w := PlanWork{Starts: 2 + rng.IntN(8), SQPIters: rng.IntN(6), QPSolves: rng.IntN(10), QPIters: rng.IntN(400)}
		us := truth.LinearUS(w)
		exact = append(exact, PlanSample{Work: w, US: us})
		noisy = append(noisy, PlanSample{Work: w, US: us * math.Exp(0.3*rng.NormFloat64())})
	}
	m, err := FitComputeModel(exact, []float64{3, 5}, "test")
	require.NoError(t, err)
	// 1e-6 µs: an exactly determined least-squares problem, solved by QR.
	require.InDelta(t, 80, m.PlanUS, 1e-6)
	require.InDelta(t, 5, m.StartUS, 1e-6)
	require.InDelta(t, 60, m.SQPIterUS, 1e-6)
	require.InDelta(t, 30, m.QPSolveUS, 1e-6)
	require.InDelta(t, 2, m.QPIterUS, 1e-8)
	require.Equal(t, 4.0, m.StepUS)
	require.Len(t, m.Ratios, len(RatioLevels))
	require.InDelta(t, 1, m.Ratios[0], 1e-9)
	require.InDelta(t, 1, m.Ratios[len(RatioLevels)-1], 1e-9)

	mn, err := FitComputeModel(noisy, nil, "test")
	require.NoError(t, err)
	// The median ratio (level 0.5) is near e^0 = 1 and the 95th percentile
	// near e^(0.3·1.645) ≈ 1.64; 500 samples put both within ±0.15.
	require.Equal(t, 0.5, RatioLevels[10])
	require.InDelta(t, 1, mn.Ratios[10], 0.15)
	require.Equal(t, 0.95, RatioLevels[19])
	require.InDelta(t, 1.64, mn.Ratios[19], 0.15)
	require.True(t, sort.Float64sAreSorted(mn.Ratios))

	// The modelled times of many requests reproduce the measured spread,
	// and the same key always gives the same time.
	w := PlanWork{Starts: 4, SQPIters: 2, QPSolves: 4, QPIters: 100}
	lin := mn.LinearUS(w)
	var r []float64
	for k := uint64(0); k < 4000; k++ {
		d := mn.PlanTime(w, PlanKey(float64(k)*0.004, w))
		require.Equal(t, d, mn.PlanTime(w, PlanKey(float64(k)*0.004, w)))
		r = append(r, float64(d.Nanoseconds())/1e3/lin)
	}
	sort.Float64s(r)
	require.InDelta(t, mn.Ratios[10], r[2000], 0.05)
	require.InDelta(t, mn.Ratios[19], r[3800], 0.05)

	require.NoError(t, FittedComputeModel.Validate(), "the shipped model")
	_, err = FitComputeModel(exact[:10], nil, "test")
	require.ErrorContains(t, err, "10 plans, want at least 20")
	bad := ComputeModel{QPIterUS: math.NaN()}
	require.ErrorContains(t, bad.Validate(), "qp_iter_us")
	bad = ComputeModel{Ratios: []float64{1, 0.5}}
	require.ErrorContains(t, bad.Validate(), "ratios", "one value per level")
	bad = ComputeModel{Ratios: append(make([]float64, len(RatioLevels)-1), -1)}
	require.ErrorContains(t, bad.Validate(), "ratios", "decreasing")
}

// TestComputeModelSync: with a model, a step that re-plans is charged the
// model's plan time and one that does not only StepUS.
func TestComputeModelSync(t *testing.T) {
	rob := testRobot(t)
	c, err := New(Config{}, rob, sim.DefaultReadyQ)
	require.NoError(t, err)
	m := ComputeModel{StepUS: 7, PlanUS: 1000, QPIterUS: 1}
	require.NoError(t, c.SetComputeModel(&m))
	arm := control.ArmState{Q: append([]float64(nil), sim.DefaultReadyQ...), Qd: make([]float64, 7)}
	require.NoError(t, c.Reset(arm))
	out := control.NewCommand(7)
	_, err = c.Step(&control.Input{Arm: arm}, &out)
	require.NoError(t, err)
	require.Equal(t, 7*time.Microsecond, c.ModelledCompute(), "no ball: no plan")
	_, _, ok := c.LastWork()
	require.False(t, ok)

	req, props := nominalRequest(t, "nominal", 2, 0.2)
	in := control.Input{Now: 200 * time.Millisecond, Arm: arm, Ball: req.Est, Props: &props}
	_, err = c.Step(&in, &out)
	require.NoError(t, err)
	w, _, ok := c.LastWork()
	require.True(t, ok)
	require.Positive(t, w.QPIters)
	want := time.Duration((7+1000+float64(w.QPIters))*1e3) * time.Nanosecond
	require.Equal(t, want, c.ModelledCompute())
}

// TestComputeModelAsync: on the modelled clock the asynchronous controller
// adopts a plan only when its modelled time fits the planner's two-tick
// head start; with plans slower than that it never tracks one, and the
// results are the same on every run (no goroutine races the sim).
func TestComputeModelAsync(t *testing.T) {
	rob := testRobot(t)
	sc, err := sim.Lookup("nominal")
	require.NoError(t, err)
	w, err := sim.NewWorld(sim.Config{}, rob, sc)
	require.NoError(t, err)
	run := func(m ComputeModel) []sim.TrialResult {
		c, err := New(Config{Async: true}, rob, sim.DefaultReadyQ)
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.SetComputeModel(&m))
		var out []sim.TrialResult
		for i := 0; i < 3; i++ {
			var res sim.TrialResult
			require.NoError(t, sim.RunTrial(w, c, sc, 5, i, &res))
			out = append(out, res)
		}
		require.Positive(t, c.Stats().Plans)
		return out
	}
	fast := ComputeModel{StepUS: 20, PlanUS: 1000}
	a, b := run(fast), run(fast)
	require.Equal(t, a, b, "deterministic on the modelled clock")
	caught := 0
	for _, r := range a {
		if r.Caught {
			caught++
		}
	}
	require.Positive(t, caught, "1 ms plans arrive within the 8 ms head start")
	// A controller that has flown other trials flies trial 0 as a fresh
	// one does (results must not depend on how trials fall on workers).
	used, err := New(Config{Async: true}, rob, sim.DefaultReadyQ)
	require.NoError(t, err)
	defer used.Close()
	require.NoError(t, used.SetComputeModel(&fast))
	for _, i := range []int{2, 1, 0} {
		var res sim.TrialResult
		require.NoError(t, sim.RunTrial(w, used, sc, 5, i, &res))
		require.Equal(t, a[i], res, "trial %d after others", i)
	}
	for _, r := range run(ComputeModel{StepUS: 20, PlanUS: 20000}) {
		require.False(t, r.Caught, "20 ms plans always miss the 8–12 ms window: nothing is adopted")
		require.Zero(t, r.SkippedTicks, "the loop itself never waits for the planner")
	}
}
