package qp

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// tight asks for near-exact answers so closed forms can be compared at 1e-6.
var tight = Settings{EpsAbs: 1e-8, EpsRel: 1e-8}

// randomQP returns a strictly convex QP (P = MᵀM + 0.1·I) with m constraints,
// the first nEq of them equalities, all consistent with a random point.
func randomQP(rng *rand.Rand, n, m, nEq int) *Problem {
	p := &Problem{N: n, M: m, P: make([]float64, n*n), Q: make([]float64, n), A: make([]float64, m*n),
		L: make([]float64, m), U: make([]float64, m)}
	mm := make([]float64, n*n)
	for k := range mm {
		mm[k] = rng.NormFloat64() / math.Sqrt(float64(n))
	}
	for i := range n {
		for j := range n {
			v := 0.0
			for k := range n {
				v += mm[k*n+i] * mm[k*n+j]
			}
			p.P[i*n+j] = v
		}
		p.P[i*n+i] += 0.1
		p.Q[i] = rng.NormFloat64()
	}
	x0 := make([]float64, n)
	for j := range x0 {
		x0[j] = rng.NormFloat64()
	}
	for i := range m {
		ax := 0.0
		for j := range n {
			p.A[i*n+j] = rng.NormFloat64()
			ax += p.A[i*n+j] * x0[j]
		}
		if i < nEq {
			p.L[i], p.U[i] = ax, ax
			continue
		}
		p.L[i], p.U[i] = ax-rng.Float64(), ax+rng.Float64()
		if i%7 == 3 {
			p.L[i] = -Infinity
		}
	}
	return p
}

// kktViolation returns the worst of stationarity ‖Px+q+Aᵀy‖∞, bound violation
// of Ax, and complementarity (y_i ≠ 0 only where Ax hits the matching bound,
// measured as |y_i|·distance to that bound), all unscaled.
func kktViolation(p *Problem, x, y []float64) (stat, feas, comp float64) {
	n, m := p.N, p.M
	for j := range n {
		g := p.Q[j]
		for k := range n {
			g += p.P[j*n+k] * x[k]
		}
		for i := range m {
			g += p.A[i*n+j] * y[i]
		}
		stat = math.Max(stat, math.Abs(g))
	}
	for i := range m {
		ax := 0.0
		for j := range n {
			ax += p.A[i*n+j] * x[j]
		}
		feas = math.Max(feas, math.Max(p.L[i]-ax, ax-p.U[i]))
		switch {
		case y[i] > 0:
			comp = math.Max(comp, y[i]*math.Abs(p.U[i]-ax))
		case y[i] < 0:
			comp = math.Max(comp, -y[i]*math.Abs(ax-p.L[i]))
		}
	}
	return stat, feas, comp
}

func solve(t *testing.T, p *Problem, s Settings) Result {
	t.Helper()
	sv, err := New(p, s)
	require.NoError(t, err)
	return sv.Solve()
}

func TestUnconstrained(t *testing.T) { checkUnconstrained(t, 1, tight) }

// checkUnconstrained solves random unconstrained QPs with set and compares x with −P⁻¹q
// from gonum.
func checkUnconstrained(t *testing.T, seed uint64, set Settings) {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	for _, n := range []int{1, 5, 30} {
		p := randomQP(rng, n, 0, 0)
		res := solve(t, p, set)
		require.Equal(t, Solved, res.Status)
		require.Equal(t, set.Method == MethodIPM, res.Method == MethodIPM)
		var want mat.VecDense
		require.NoError(t, want.SolveVec(mat.NewDense(n, n, p.P), mat.NewVecDense(n, p.Q)))
		for j := range n {
			// P has eigenvalues ≥ 0.1, so a 1e-8 gradient bounds x's error by 1e-7; 1e-6 leaves room.
			require.InDelta(t, -want.AtVec(j), res.X[j], 1e-6, "x[%d], n=%d", j, n)
		}
	}
}

func TestBoxKnownActiveSet(t *testing.T) {
	// min ½‖x − t‖² on [−1, 1]³ with t = (2, 0.5, −3): x = clip(t), y = t − x.
	p := &Problem{N: 3, M: 3, P: []float64{1, 0, 0, 0, 1, 0, 0, 0, 1}, Q: []float64{-2, -0.5, 3}, R: 1,
		A: []float64{1, 0, 0, 0, 1, 0, 0, 0, 1}, L: []float64{-1, -1, -1}, U: []float64{1, 1, 1}}
	res := solve(t, p, Settings{})
	require.Equal(t, Solved, res.Status)
	require.True(t, res.Polished, "a clean active set must polish")
	want := []float64{1, 0.5, -1}
	wantY := []float64{1, 0, -2}
	for j := range 3 {
		// polishing solves the active-set system exactly up to refinement (≈1e-12)
		require.InDelta(t, want[j], res.X[j], 1e-9)
		require.InDelta(t, wantY[j], res.Y[j], 1e-9)
	}
	// ½(1+0.25+1) − 2 − 0.25 − 3 + 1
	require.InDelta(t, 1.125-5.25+1, res.Objective, 1e-9)
}

func TestEqualityConstrainedMatchesKKT(t *testing.T) { checkEqualityKKT(t, 3, tight) }

// checkEqualityKKT solves random equality-constrained QPs with set and compares x and y
// with the KKT system solved by gonum in double precision (agreement ~1e-9 or better;
// 1e-6 is loose).
func checkEqualityKKT(t *testing.T, seed uint64, set Settings) {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	for _, c := range []struct{ n, mEq int }{{4, 1}, {10, 3}, {30, 12}} {
		p := randomQP(rng, c.n, c.mEq, c.mEq)
		n, m := c.n, c.mEq
		k := mat.NewDense(n+m, n+m, nil)
		rhs := mat.NewVecDense(n+m, nil)
		for i := range n {
			for j := range n {
				k.Set(i, j, p.P[i*n+j])
			}
			rhs.SetVec(i, -p.Q[i])
		}
		for i := range m {
			for j := range n {
				k.Set(n+i, j, p.A[i*n+j])
				k.Set(j, n+i, p.A[i*n+j])
			}
			rhs.SetVec(n+i, p.L[i])
		}
		var sol mat.VecDense
		require.NoError(t, sol.SolveVec(k, rhs))
		res := solve(t, p, set)
		require.Equal(t, Solved, res.Status)
		for j := range n {
			require.InDelta(t, sol.AtVec(j), res.X[j], 1e-6, "x[%d]", j)
		}
		for i := range m {
			require.InDelta(t, sol.AtVec(n+i), res.Y[i], 1e-6, "y[%d]", i)
		}
	}
}

func TestPrimalInfeasible(t *testing.T) {
	// x1 + x2 ≥ 3 and x1 + x2 ≤ 1 cannot both hold.
	p := &Problem{N: 2, M: 3, P: []float64{1, 0, 0, 1}, Q: []float64{1, 1},
		A: []float64{1, 1, 1, 1, 1, -1}, L: []float64{3, -Infinity, -5}, U: []float64{Infinity, 1, 5}}
	res := solve(t, p, Settings{})
	require.Equal(t, PrimalInfeasible, res.Status)
	require.True(t, math.IsNaN(res.Objective))
	// Certificate: Aᵀy ≈ 0 and uᵀy₊ + lᵀy₋ < 0 (y normalised to ‖y‖∞ = 1).
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

func TestDualInfeasible(t *testing.T) {
	// min x1² − x2 with x2 ≥ 0 only: unbounded along +x2.
	p := &Problem{N: 2, M: 2, P: []float64{2, 0, 0, 0}, Q: []float64{0, -1},
		A: []float64{0, 1, 1, 0}, L: []float64{0, -10}, U: []float64{Infinity, 10}}
	res := solve(t, p, Settings{})
	require.Equal(t, DualInfeasible, res.Status)
	// Direction: Pd ≈ 0, qᵀd < 0, Ad within the recession cone (d2 ≥ 0, d1 ≈ 0).
	require.Less(t, math.Abs(2*res.X[0]), 1e-4)
	require.Less(t, -res.X[1], 0.0)
	require.Greater(t, res.X[1], 0.5) // normalised to ‖d‖∞ = 1
}

func TestRandomKKT(t *testing.T) {
	checkRandomKKT(t, 5, Settings{EpsAbs: 1e-6, EpsRel: 1e-6}, func(res Result, trial int) {
		require.LessOrEqual(t, res.DualResidual, 1e-5, "trial %d", trial)
	})
}

// checkRandomKKT solves 20 random QPs with set: each KKT condition holds to 1e-5 (data are
// O(1) and the tolerances 1e-6, so with margin); more checks each result.
func checkRandomKKT(t *testing.T, seed uint64, set Settings, more func(res Result, trial int)) {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	for trial := range 20 {
		n := 5 + rng.IntN(40)
		m := n + rng.IntN(2*n)
		p := randomQP(rng, n, m, rng.IntN(n/2+1))
		res := solve(t, p, set)
		require.Equal(t, Solved, res.Status, "trial %d", trial)
		stat, feas, comp := kktViolation(p, res.X, res.Y)
		require.Less(t, stat, 1e-5, "stationarity, trial %d", trial)
		require.Less(t, feas, 1e-5, "feasibility, trial %d", trial)
		require.Less(t, comp, 1e-5, "complementarity, trial %d", trial)
		more(res, trial)
	}
}

func TestWarmStartReducesIterations(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	p := randomQP(rng, 30, 60, 5)
	set := Settings{DisablePolish: true}
	sv, err := New(p, set)
	require.NoError(t, err)
	first := sv.Solve()
	require.Equal(t, Solved, first.Status)
	x := append([]float64(nil), first.X...)
	y := append([]float64(nil), first.Y...)
	q := append([]float64(nil), p.Q...)
	for j := range q {
		q[j] += 0.01 * rng.NormFloat64() // a small SQP-like change
	}
	p.Q = q
	cold := solve(t, p, set)
	require.Equal(t, Solved, cold.Status)
	warm, err := New(p, set)
	require.NoError(t, err)
	require.NoError(t, warm.WarmStart(x, y))
	wr := warm.Solve()
	require.Equal(t, Solved, wr.Status)
	require.Less(t, wr.Iterations, cold.Iterations)
}

// After Reset a solver that has solved (and adapted rho on) one problem
// solves the next exactly as a fresh solver given the same updates does.
func TestResetMatchesFreshSolver(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	p := randomQP(rng, 20, 40, 4)
	q := append([]float64(nil), p.Q...)
	for j := range q {
		q[j] += rng.NormFloat64()
	}
	set := Settings{}
	used, err := New(p, set)
	require.NoError(t, err)
	first := used.Solve()
	require.Equal(t, Solved, first.Status)
	def, err := set.withDefaults()
	require.NoError(t, err)
	require.NotEqual(t, def.Rho, first.Rho, "the first solve adapts rho")
	fresh, err := New(p, set)
	require.NoError(t, err)
	for _, sv := range []*Solver{used, fresh} {
		require.NoError(t, sv.UpdateQ(q))
	}
	require.NoError(t, used.Reset())
	got, want := used.Solve(), fresh.Solve()
	require.Equal(t, want.Status, got.Status)
	require.Equal(t, want.Iterations, got.Iterations)
	require.Equal(t, want.X, got.X)
}

func TestUpdatesMatchFreshSetup(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	p := randomQP(rng, 20, 40, 3)
	sv, err := New(p, tight)
	require.NoError(t, err)
	require.Equal(t, Solved, sv.Solve().Status)

	p2 := randomQP(rng, 20, 40, 3)
	steps := []struct {
		name  string
		apply func() error
	}{
		{"q", func() error { p.Q = p2.Q; return sv.UpdateQ(p2.Q) }},
		{"bounds", func() error {
			// widen the inequalities: stays feasible, changes the active set
			l, u := append([]float64(nil), p.L...), append([]float64(nil), p.U...)
			for i := range l {
				if l[i] < u[i] {
					l[i] -= 0.3
					u[i] -= 0.2
				}
			}
			p.L, p.U = l, u
			return sv.UpdateBounds(l, u)
		}},
		{"P", func() error { p.P = p2.P; return sv.UpdateP(p2.P) }},
		{"A and bounds", func() error {
			// p2's bounds are consistent with p2's A only, so change both
			p.A, p.L, p.U = p2.A, p2.L, p2.U
			if err := sv.UpdateA(p2.A); err != nil {
				return err
			}
			return sv.UpdateBounds(p2.L, p2.U)
		}},
	}
	for _, st := range steps {
		require.NoError(t, st.apply(), st.name)
		got := sv.Solve()
		want := solve(t, p, tight)
		require.Equal(t, Solved, got.Status, st.name)
		require.Equal(t, Solved, want.Status, st.name)
		// Both meet 1e-8 residuals on a strictly convex problem: x agrees to ~1e-7.
		for j := range p.N {
			require.InDelta(t, want.X[j], got.X[j], 1e-6, "%s: x[%d]", st.name, j)
		}
		require.InDelta(t, want.Objective, got.Objective, 1e-6*math.Max(1, math.Abs(want.Objective)), st.name)
	}
}

func TestLimits(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	p := randomQP(rng, 40, 80, 5)
	for _, c := range []struct {
		name string
		set  Settings
		want Status
	}{
		{"iterations", Settings{MaxIter: 3, EpsAbs: 1e-10, EpsRel: 1e-10}, IterationLimit},
		{"time", Settings{TimeLimit: time.Nanosecond, EpsAbs: 1e-10, EpsRel: 1e-10}, TimeLimit},
	} {
		res := solve(t, p, c.set)
		require.Equal(t, c.want, res.Status, c.name)
		require.Equal(t, c.want.String(), res.Status.String())
		require.Len(t, res.X, p.N)
	}
}

func TestObjectiveIncludesR(t *testing.T) {
	// min ½x² − x + 7: x = 1, f = 6.5.
	p := &Problem{N: 1, P: []float64{1}, Q: []float64{-1}, R: 7, A: []float64{}, L: []float64{}, U: []float64{}}
	res := solve(t, p, Settings{})
	require.Equal(t, Solved, res.Status)
	require.InDelta(t, 6.5, res.Objective, 1e-8) // dual residual ≤ 1e-4·… → |x−1| tiny after polish
}

func TestMalformed(t *testing.T) {
	good := func() *Problem {
		return &Problem{N: 2, M: 1, P: []float64{1, 0, 0, 1}, Q: []float64{0, 0},
			A: []float64{1, 1}, L: []float64{0}, U: []float64{1}}
	}
	for _, c := range []struct {
		name, want string
		edit       func(p *Problem)
	}{
		{"P length", "P has", func(p *Problem) { p.P = p.P[:3] }},
		{"q length", "q has length", func(p *Problem) { p.Q = []float64{1} }},
		{"A length", "A has", func(p *Problem) { p.A = []float64{1} }},
		{"l length", "l has length", func(p *Problem) { p.L = nil }},
		{"u length", "u has length", func(p *Problem) { p.U = []float64{1, 2} }},
		{"NaN in P", "P[1]", func(p *Problem) { p.P[1] = math.NaN() }},
		{"NaN in q", "q[0]", func(p *Problem) { p.Q[0] = math.NaN() }},
		{"NaN in l", "l[0] is NaN", func(p *Problem) { p.L[0] = math.NaN() }},
		{"l > u", "l[0] = 2 > u[0] = 1", func(p *Problem) { p.L[0] = 2 }},
		{"asymmetric", "P not symmetric", func(p *Problem) { p.P[1] = 0.5 }},
		{"indefinite", "not positive semidefinite", func(p *Problem) { p.P[3] = -1 }},
		{"n", "n = 0", func(p *Problem) { p.N = 0 }},
	} {
		p := good()
		c.edit(p)
		_, err := New(p, Settings{})
		require.ErrorContains(t, err, c.want, c.name)
	}
	_, err := New(good(), Settings{Alpha: 3})
	require.ErrorContains(t, err, "Alpha")

	sv, err := New(good(), Settings{})
	require.NoError(t, err)
	require.ErrorContains(t, sv.UpdateQ([]float64{1}), "q has length")
	require.ErrorContains(t, sv.UpdateBounds([]float64{2}, []float64{1}), "l[0] = 2 > u[0] = 1")
	require.ErrorContains(t, sv.UpdateP([]float64{1, 2, 3, 4}), "not symmetric")
	require.ErrorContains(t, sv.UpdateA([]float64{math.NaN(), 0}), "A[0]")
	require.ErrorContains(t, sv.UpdateA([]float64{0, math.Inf(-1)}), "A[1] = -Inf")
	require.ErrorContains(t, sv.UpdateQ([]float64{1, 2, 3, 4, 5, math.Inf(1)}[4:]), "q[1] = +Inf")
	require.ErrorContains(t, sv.WarmStart([]float64{1}, nil), "x has length")
	// An indefinite P after setup: the update reports it and Solve says NonConvex.
	require.ErrorContains(t, sv.UpdateP([]float64{1, 0, 0, -1}), "not positive semidefinite")
	require.Equal(t, NonConvex, sv.Solve().Status)
	require.NoError(t, sv.UpdateP([]float64{1, 0, 0, 1}))
	require.Equal(t, Solved, sv.Solve().Status)
}

func TestJSONRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	p := randomQP(rng, 6, 9, 2)
	p.Name, p.R = "rt", 3.5
	ref := 1.25
	p.OptimalObjective = &ref
	var buf bytes.Buffer
	require.NoError(t, p.WriteJSON(&buf))
	got, err := ReadJSON(&buf)
	require.NoError(t, err)
	require.Equal(t, p.Name, got.Name)
	require.Equal(t, p.P, got.P) // JSON float encoding round-trips exactly
	require.Equal(t, p.A, got.A)
	require.Equal(t, p.Q, got.Q)
	require.Equal(t, p.R, got.R)
	require.Equal(t, p.U, got.U)
	require.Equal(t, p.L, got.L) // -Infinity stays -1e20
	require.Equal(t, ref, *got.OptimalObjective)
}

func TestReadJSONErrors(t *testing.T) {
	const ok = `{"n": 2, "m": 1, "P": {"rows": [0, 1], "cols": [0, 1], "vals": [1, 1], "shape": [2, 2]},
		"q": [0, 0], "r": 0, "A": {"rows": [0], "cols": [1], "vals": [1], "shape": [1, 2]}, "l": [0], "u": [1e20]}`
	p, err := ReadJSON(strings.NewReader(ok))
	require.NoError(t, err)
	require.True(t, math.IsInf(solveOK(t, p).Y[0], 0) == false)
	for _, c := range []struct{ name, in, want string }{
		{"not JSON", "{", "decoding"},
		{"missing P", strings.Replace(ok, `"P"`, `"X"`, 1), `missing field "P"`},
		{"missing u", strings.Replace(ok, `"u"`, `"v"`, 1), `missing field "u"`},
		{"wrong q length", strings.Replace(ok, `"q": [0, 0]`, `"q": [0]`, 1), "q has length 1"},
		{"index out of range", strings.Replace(ok, `"cols": [1]`, `"cols": [2]`, 1), "A entry 0 at (0, 2) outside"},
		{"bad shape", strings.Replace(ok, `"shape": [1, 2]`, `"shape": [2, 2]`, 1), "A.shape"},
		{"NaN", strings.Replace(ok, `"vals": [1]`, `"vals": [NaN]`, 1), "decoding"},
		{"ragged COO", strings.Replace(ok, `"vals": [1, 1]`, `"vals": [1]`, 1), "equal lengths"},
		{"l > u", strings.Replace(ok, `"l": [0]`, `"l": [2e20]`, 1), "l[0]"},
	} {
		_, err := ReadJSON(strings.NewReader(c.in))
		require.ErrorContains(t, err, c.want, c.name)
	}
}

func solveOK(t *testing.T, p *Problem) Result {
	res := solve(t, p, Settings{})
	require.Equal(t, Solved, res.Status)
	return res
}

func TestSolveAllocatesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	p := randomQP(rng, 30, 60, 5)
	sv, err := New(p, Settings{})
	require.NoError(t, err)
	q := append([]float64(nil), p.Q...)
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"warm", func() { _ = sv.Solve() }},
		{"cold", func() { sv.ColdStart(); _ = sv.Solve() }},
		{"update q", func() { q[0] += 1e-3; _ = sv.UpdateQ(q); _ = sv.Solve() }},
		{"update bounds", func() { _ = sv.UpdateBounds(p.L, p.U); _ = sv.Solve() }},
		{"warm start", func() { _ = sv.WarmStart(p.Q, nil); _ = sv.Solve() }},
	} {
		require.Zero(t, testing.AllocsPerRun(20, c.f), c.name)
	}
}

func benchSolve(b *testing.B, warm bool) {
	rng := rand.New(rand.NewPCG(17, 18))
	p := randomQP(rng, 30, 60, 5)
	sv, err := New(p, Settings{})
	require.NoError(b, err)
	first := sv.Solve()
	x := append([]float64(nil), first.X...)
	y := append([]float64(nil), first.Y...)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if warm {
			_ = sv.WarmStart(x, y)
		} else {
			sv.ColdStart()
		}
		if sv.Solve().Status != Solved {
			b.Fatal("not solved")
		}
	}
}

func BenchmarkSolveN30M60Cold(b *testing.B) { benchSolve(b, false) }
func BenchmarkSolveN30M60Warm(b *testing.B) { benchSolve(b, true) }
