package qp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestActiveSetKnownOptimum: on strictly convex problems with a chosen
// optimum (every row kind: active lower/upper, equality, inactive, one-sided)
// the active-set method ends Solved at the optimum, to far tighter
// tolerances than the ADMM or interior point reach in the same time.
func TestActiveSetKnownOptimum(t *testing.T) {
	for k := range 40 {
		rng := rand.New(rand.NewPCG(uint64(k), 11))
		n := 2 + rng.IntN(25)
		m := rng.IntN(3 * n)
		spread := []float64{0, 1, 2}[k%3]
		p, fStar := knownOptimumQP(rng, n, m, n, spread, 0, 0)
		name := fmt.Sprintf("case %d (n %d, m %d, spread %g)", k, n, m, spread)
		res := solve(t, p, Settings{Method: MethodActiveSet, EpsAbs: 1e-9, EpsRel: 1e-9})
		require.Equal(t, Solved, res.Status, name)
		require.Equal(t, MethodActiveSet, res.Method)
		o := p.Optimality(res.X, res.Y, 1e-9, 1e-9)
		require.Truef(t, o.Met(1.01), "%s: %+v", name, o)
		// Exact up to rounding: the objective agrees with f* to 1e-8 relative.
		require.InDeltaf(t, fStar, res.Objective, 1e-8*math.Max(1, math.Abs(fStar)), name)
	}
}

// TestActiveSetInfeasible: two rows that cannot both hold (x₀ + x₁ ≥ 2 and
// x₀ + x₁ ≤ 1 written as different rows) end PrimalInfeasible with a
// certificate, not as a solved or stalled point.
func TestActiveSetInfeasible(t *testing.T) {
	p := &Problem{N: 2, M: 3, P: []float64{1, 0, 0, 1}, Q: []float64{1, -1},
		A: []float64{1, 1, 2, 2, 1, 0}, L: []float64{2, -Infinity, -5}, U: []float64{Infinity, 2, 5}}
	res := solve(t, p, Settings{Method: MethodActiveSet})
	require.Equal(t, PrimalInfeasible, res.Status)
	// The certificate: Aᵀy = 0 with uᵀy⁺ + lᵀy⁻ < 0.
	require.InDelta(t, 0, res.Y[0]+2*res.Y[1]+res.Y[2], 1e-9)
	require.Less(t, res.Y[0]*2+res.Y[1]*2, 0.0)
}

// TestActiveSetUpdates: after UpdateP, UpdateA, UpdateQ and UpdateBounds the
// method solves the new problem (it keeps nothing from the previous Solve
// but the buffers), allocating nothing.
func TestActiveSetUpdates(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	p1, _ := knownOptimumQP(rng, 16, 40, 16, 1, 0, 0)
	p2, f2 := knownOptimumQP(rng, 16, 40, 16, 1, 0, 0)
	s, err := New(p1, Settings{Method: MethodActiveSet, EpsAbs: 1e-9, EpsRel: 1e-9})
	require.NoError(t, err)
	require.Equal(t, Solved, s.Solve().Status)
	require.NoError(t, s.UpdateP(p2.P))
	require.NoError(t, s.UpdateA(p2.A))
	require.NoError(t, s.UpdateQ(p2.Q))
	require.NoError(t, s.UpdateBounds(p2.L, p2.U))
	res := s.Solve()
	require.Equal(t, Solved, res.Status)
	// The solver keeps p1's constant r; f* of p2 is reached with p2.R.
	require.InDelta(t, f2, res.Objective-p1.R+p2.R, 1e-8*math.Max(1, math.Abs(p2.R)))
	allocs := testing.AllocsPerRun(5, func() { s.Solve() })
	require.Zero(t, allocs)
}
