package robot

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// randomInLimits draws q uniformly inside the limits shrunk by margin (a
// fraction of each range), to keep targets away from the joint stops.
func randomInLimits(rng *rand.Rand, lim Limits, margin float64) []float64 {
	q := make([]float64, len(lim.Lower))
	for i := range q {
		lo, hi := lim.Lower[i], lim.Upper[i]
		d := (hi - lo) * margin
		q[i] = lo + d + (hi-lo-2*d)*rng.Float64()
	}
	return q
}

func TestIKRecoversReachableTargets(t *testing.T) {
	r, err := Default()
	require.NoError(t, err)
	c := r.Chain
	ik := NewIKSolver(c)
	lim := c.Limits()
	// A generic seed: rail centred, elbow up, wrist bent, facing the thrower.
	generic := []float64{0, 0, 0.3, 0.3, 0, 0.5, 0}

	cases := []struct {
		name       string
		withNormal bool
		nearby     bool
		restarts   int
		minRate    float64 // fraction of targets that must be reached
	}{
		// From a seed within ~0.1 rad of the answer LM converges every time.
		{"position, nearby seed", false, true, 0, 1},
		{"position+normal, nearby seed", true, true, 0, 1},
		// From one fixed seed facing +x, targets behind the arm base (x < 0)
		// can need a half turn of joint_1 and stall in a corner of the joint
		// limits: 93% reached for these seeds (measured), so require 90%.
		{"position, generic seed", false, false, 0, 0.90},
		{"position+normal, generic seed", true, false, 0, 0.90},
		// Halton restarts recover those: 100% measured.
		{"position, generic seed, 8 restarts", false, false, 8, 1},
		{"position+normal, generic seed, 8 restarts", true, false, 8, 0.99},
	}
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(ci)))
			const trials = 200
			ok, totalIter := 0, 0
			var worst time.Duration
			dst := make([]float64, c.DOF())
			var want, got Pose
			for trial := 0; trial < trials; trial++ {
				qt := randomInLimits(rng, lim, 0.05)
				c.FK(qt, &want)
				target := IKTarget{Pos: want.P}
				if tc.withNormal {
					target.Normal, target.NormalAxis = want.Axis(1), 1
				}
				seed := generic
				if tc.nearby {
					seed = make([]float64, len(qt))
					for i := range seed {
						seed[i] = qt[i] + 0.1*(2*rng.Float64()-1)
					}
				}
				start := time.Now()
				res := ik.Solve(seed, target, IKOptions{Restarts: tc.restarts}, dst)
				worst = max(worst, time.Since(start))
				totalIter += res.Iter

				require.True(t, lim.Within(dst, 0), "solution within limits: %v", dst)
				c.FK(dst, &got)
				var d float64
				for k := 0; k < 3; k++ {
					d += (got.P[k] - want.P[k]) * (got.P[k] - want.P[k])
				}
				require.InDelta(t, math.Sqrt(d), res.PosErr, 1e-12, "PosErr is the FK distance")
				if !res.OK {
					continue
				}
				ok++
				require.LessOrEqual(t, res.PosErr, 1e-4) // default PosTol
				if tc.withNormal {
					require.LessOrEqual(t, res.AngErr, 1e-3) // default AngTol
					u := got.Axis(1)
					dot := u[0]*target.Normal[0] + u[1]*target.Normal[1] + u[2]*target.Normal[2]
					require.InDelta(t, res.AngErr, math.Acos(math.Min(dot, 1)), 1e-6, "AngErr is the axis angle")
				} else {
					require.Zero(t, res.AngErr)
				}
			}
			rate := float64(ok) / trials
			t.Logf("%s: %.1f%% reached, mean %.1f iterations, slowest solve %v", tc.name, 100*rate,
				float64(totalIter)/trials, worst)
			require.GreaterOrEqual(t, rate, tc.minRate)
		})
	}
}

func TestIKUnreachableTargetIsStatusNotPanic(t *testing.T) {
	r, err := Default()
	require.NoError(t, err)
	ik := NewIKSolver(r.Chain)
	dst := make([]float64, 7)
	res := ik.Solve(make([]float64, 7), IKTarget{Pos: [3]float64{5, 0, 1}}, IKOptions{MaxIter: 50}, dst)
	require.False(t, res.OK)
	require.Greater(t, res.PosErr, 3.0) // the arm reaches well under 1.3 m from its base
	require.True(t, r.Limits.Within(dst, 0))
	// The best effort stretches toward the target: the head moves to +x.
	var p Pose
	r.Chain.FK(dst, &p)
	require.Greater(t, p.P[0], 0.6)

	require.Panics(t, func() { ik.Solve(make([]float64, 6), IKTarget{}, IKOptions{}, dst) })
	require.Panics(t, func() { ik.Solve(make([]float64, 7), IKTarget{NormalAxis: 3}, IKOptions{}, dst) })
}

func TestIKClampsSeedToLimits(t *testing.T) {
	r, err := Default()
	require.NoError(t, err)
	ik := NewIKSolver(r.Chain)
	var want Pose
	qt := []float64{0.79, 0.5, 0.4, -0.5, 0.3, 0.6, 0.2} // rail 1 cm from its stop
	r.Chain.FK(qt, &want)
	seed := []float64{5, 0, 0, 0, 0, 0, 0} // rail far outside its stroke
	dst := make([]float64, 7)
	res := ik.Solve(seed, IKTarget{Pos: want.P}, IKOptions{}, dst)
	require.True(t, res.OK, "%+v", res)
	require.True(t, r.Limits.Within(dst, 0), "%v", dst)
}

func BenchmarkIKSolve7(b *testing.B) {
	r, err := Default()
	require.NoError(b, err)
	ik := NewIKSolver(r.Chain)
	rng := rand.New(rand.NewPCG(9, 9))
	lim := r.Chain.Limits()
	const nt = 64
	targets := make([]IKTarget, nt)
	var p Pose
	for i := range targets {
		r.Chain.FK(randomInLimits(rng, lim, 0.05), &p)
		targets[i] = IKTarget{Pos: p.P, Normal: p.Axis(1), NormalAxis: 1}
	}
	seed := []float64{0, 0, 0.3, 0.3, 0, 0.5, 0}
	dst := make([]float64, 7)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ik.Solve(seed, targets[i%nt], IKOptions{}, dst)
		i++
	}
}
