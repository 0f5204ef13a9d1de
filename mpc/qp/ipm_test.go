package qp

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

var ipmTight = Settings{Method: MethodIPM, EpsAbs: 1e-8, EpsRel: 1e-8}

func TestIPMUnconstrained(t *testing.T) { checkUnconstrained(t, 21, ipmTight) }

func TestIPMBoxKnownActiveSet(t *testing.T) {
	p := &Problem{N: 3, M: 3, P: []float64{1, 0, 0, 0, 1, 0, 0, 0, 1}, Q: []float64{-2, -0.5, 3}, R: 1,
		A: []float64{1, 0, 0, 0, 1, 0, 0, 0, 1}, L: []float64{-1, -1, -1}, U: []float64{1, 1, 1}}
	for _, polish := range []bool{false, true} {
		res := solve(t, p, Settings{Method: MethodIPM, DisablePolish: !polish})
		require.Equal(t, Solved, res.Status)
		want := []float64{1, 0.5, -1}
		wantY := []float64{1, 0, -2}
		// Unpolished: the gap tolerance 1e-7 leaves x and y within ~1e-6;
		// polished: exact to rounding.
		tol := 1e-5
		if polish {
			require.True(t, res.Polished)
			tol = 1e-9
		}
		for j := range 3 {
			require.InDelta(t, want[j], res.X[j], tol)
			require.InDelta(t, wantY[j], res.Y[j], tol)
		}
		require.InDelta(t, 1.125-5.25+1, res.Objective, tol)
	}
}

// Equalities only: one Newton step is exact, so agreement is ~1e-10.
func TestIPMEqualityConstrainedMatchesKKT(t *testing.T) {
	checkEqualityKKT(t, 23, Settings{Method: MethodIPM, EpsAbs: 1e-8, EpsRel: 1e-8, DisablePolish: true})
}

func TestIPMRandomKKT(t *testing.T) {
	checkRandomKKT(t, 25, Settings{Method: MethodIPM, EpsAbs: 1e-6, EpsRel: 1e-6, DisablePolish: true}, func(res Result, trial int) {
		require.Less(t, res.IPMIterations, 40, "trial %d", trial) // Mehrotra: typically 8–20
	})
}

// randomLP returns min cᵀx s.t. −1 ≤ x ≤ 1 (as rows), Gx ≤ h with h > 0
// (x = 0 strictly feasible) and one equality row through 0: P = 0, bounded.
func randomLP(rng *rand.Rand, n, mg int) *Problem {
	m := n + mg + 1
	p := &Problem{N: n, M: m, P: make([]float64, n*n), Q: make([]float64, n), A: make([]float64, m*n),
		L: make([]float64, m), U: make([]float64, m)}
	for j := range n {
		p.Q[j] = rng.NormFloat64()
		p.A[j*n+j] = 1
		p.L[j], p.U[j] = -1, 1
	}
	for i := n; i < m; i++ {
		for j := range n {
			p.A[i*n+j] = rng.NormFloat64()
		}
		p.L[i], p.U[i] = -Infinity, 0.5+rng.Float64()
	}
	p.L[m-1], p.U[m-1] = 0, 0
	return p
}

func TestIPMLinearProgram(t *testing.T) {
	// min cᵀx over the simplex: x = e_k for the smallest c_k.
	c := []float64{3, -1, 2, -0.5}
	p := &Problem{N: 4, M: 5, Q: c, A: []float64{
		1, 1, 1, 1,
		1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, L: []float64{1, 0, 0, 0, 0},
		U: []float64{1, Infinity, Infinity, Infinity, Infinity}}
	res := solve(t, p, Settings{Method: MethodIPM, EpsAbs: 1e-9, EpsRel: 1e-9})
	require.Equal(t, Solved, res.Status)
	require.InDeltaSlice(t, []float64{0, 1, 0, 0}, res.X, 1e-7)
	require.InDelta(t, -1, res.Objective, 1e-8)

	rng := rand.New(rand.NewPCG(27, 28))
	for trial := range 10 {
		p := randomLP(rng, 10+rng.IntN(30), 5+rng.IntN(30))
		res := solve(t, p, Settings{Method: MethodIPM, EpsAbs: 1e-7, EpsRel: 1e-7})
		require.Equal(t, Solved, res.Status, "trial %d", trial)
		stat, feas, comp := kktViolation(p, res.X, res.Y)
		// LP vertices: polishing or a 1e-7 gap leave every condition ≤ 1e-5.
		require.Less(t, stat, 1e-5, "stationarity, trial %d", trial)
		require.Less(t, feas, 1e-5, "feasibility, trial %d", trial)
		require.Less(t, comp, 1e-5, "complementarity, trial %d", trial)
	}
}

func TestIPMPrimalInfeasible(t *testing.T) {
	p := &Problem{N: 2, M: 3, P: []float64{1, 0, 0, 1}, Q: []float64{1, 1},
		A: []float64{1, 1, 1, 1, 1, -1}, L: []float64{3, -Infinity, -5}, U: []float64{Infinity, 1, 5}}
	res := solve(t, p, Settings{Method: MethodIPM})
	require.Equal(t, PrimalInfeasible, res.Status)
	require.True(t, math.IsNaN(res.Objective))
	aty := [2]float64{}
	lhs := 0.0
	for i, y := range res.Y {
		aty[0] += p.A[2*i] * y
		aty[1] += p.A[2*i+1] * y
		if y > 0 {
			lhs += p.U[i] * y
		} else if y < 0 {
			lhs += p.L[i] * y
		}
	}
	require.Less(t, math.Abs(aty[0])+math.Abs(aty[1]), 1e-4) // EpsPrimalInfeasible scale
	require.Less(t, lhs, 0.0)
}

func TestIPMDualInfeasible(t *testing.T) {
	p := &Problem{N: 2, M: 2, P: []float64{2, 0, 0, 0}, Q: []float64{0, -1},
		A: []float64{0, 1, 1, 0}, L: []float64{0, -10}, U: []float64{Infinity, 10}}
	res := solve(t, p, Settings{Method: MethodIPM})
	require.Equal(t, DualInfeasible, res.Status)
	require.Less(t, math.Abs(2*res.X[0]), 1e-4)
	require.Greater(t, res.X[1], 0.5)
}

func TestAutoFallsBack(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	p := randomQP(rng, 20, 40, 3)
	// Three ADMM iterations cannot converge: the interior point takes over.
	res := solve(t, p, Settings{Method: MethodAuto, MaxIter: 3})
	require.Equal(t, Solved, res.Status)
	require.Equal(t, MethodIPM, res.Method)
	require.Positive(t, res.IPMIterations)
	require.Equal(t, 3+res.IPMIterations, res.Iterations)
	stat, feas, comp := kktViolation(p, res.X, res.Y)
	require.Less(t, math.Max(stat, math.Max(feas, comp)), 1e-3) // default eps 1e-4, O(1) data

	// A problem ADMM solves and polishes stays on ADMM.
	res = solve(t, p, Settings{Method: MethodAuto})
	require.Equal(t, Solved, res.Status)
	require.Equal(t, MethodADMM, res.Method)
	require.Zero(t, res.IPMIterations)
	require.True(t, res.Polished)

	// The LP-like case: ADMM with no polish retries and a small budget.
	lp := randomLP(rng, 30, 20)
	res = solve(t, lp, Settings{Method: MethodAuto, MaxIter: 50, PolishRetries: -1})
	require.Equal(t, Solved, res.Status)
	require.Equal(t, MethodIPM, res.Method)

	// Infeasible: ADMM's certificate is final, no fallback.
	inf := &Problem{N: 2, M: 2, P: []float64{1, 0, 0, 1}, Q: []float64{1, 1},
		A: []float64{1, 1, 1, 1}, L: []float64{3, -Infinity}, U: []float64{Infinity, 1}}
	res = solve(t, inf, Settings{Method: MethodAuto})
	require.Equal(t, PrimalInfeasible, res.Status)
}

func TestIPMIsUsableAsWarmStart(t *testing.T) {
	// After an IPM Solve the iterate is the IPM answer; an ADMM solver warm
	// started from it converges at once.
	rng := rand.New(rand.NewPCG(31, 32))
	p := randomQP(rng, 15, 30, 2)
	ipm := solve(t, p, Settings{Method: MethodIPM, EpsAbs: 1e-8, EpsRel: 1e-8})
	require.Equal(t, Solved, ipm.Status)
	sv, err := New(p, Settings{DisablePolish: true})
	require.NoError(t, err)
	require.NoError(t, sv.WarmStart(ipm.X, ipm.Y))
	res := sv.Solve()
	require.Equal(t, Solved, res.Status)
	require.LessOrEqual(t, res.Iterations, 20)
}

func TestMethodSettings(t *testing.T) {
	for _, m := range []Method{MethodADMM, MethodIPM, MethodAuto, MethodActiveSet} {
		got, err := ParseMethod(m.String())
		require.NoError(t, err)
		require.Equal(t, m, got)
	}
	_, err := ParseMethod("simplex")
	require.ErrorContains(t, err, "want admm, ipm, auto or active-set")
	p := randomQP(rand.New(rand.NewPCG(1, 1)), 3, 2, 0)
	_, err = New(p, Settings{Method: 7})
	require.ErrorContains(t, err, "Method")
	_, err = New(p, Settings{Method: MethodActiveSet, Linear: LinearSparse})
	require.ErrorContains(t, err, "dense")
	_, err = New(p, Settings{IPMMaxIter: -1})
	require.ErrorContains(t, err, "IPMMaxIter")
	_, err = New(p, Settings{EpsGap: -1})
	require.ErrorContains(t, err, "EpsGap")
}

func TestIPMAllocatesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	p := randomQP(rng, 30, 60, 5)
	ipm, err := New(p, Settings{Method: MethodIPM})
	require.NoError(t, err)
	auto, err := New(p, Settings{Method: MethodAuto, MaxIter: 5}) // always falls back
	require.NoError(t, err)
	q := append([]float64(nil), p.Q...)
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"ipm", func() { _ = ipm.Solve() }},
		{"ipm update q", func() { q[0] += 1e-3; _ = ipm.UpdateQ(q); _ = ipm.Solve() }},
		// Cold, since warm from the last answer ADMM converges in 5 iterations.
		{"auto fallback", func() { auto.ColdStart(); _ = auto.Solve() }},
	} {
		require.Zero(t, testing.AllocsPerRun(10, c.f), c.name)
	}
	auto.ColdStart()
	require.Equal(t, MethodIPM, auto.Solve().Method)
}

func BenchmarkSolveN30M60IPM(b *testing.B) {
	rng := rand.New(rand.NewPCG(17, 18))
	p := randomQP(rng, 30, 60, 5)
	sv, err := New(p, Settings{Method: MethodIPM})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if sv.Solve().Status != Solved {
			b.Fatal("not solved")
		}
	}
}
