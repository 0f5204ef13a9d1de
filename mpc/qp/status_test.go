package qp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// knownOptimumQP builds a convex QP whose optimum x* and multipliers y* are
// chosen first: rows are active at the lower or upper bound (y* < 0 / > 0),
// equalities, or inactive with a random margin; q = −Px* − Aᵀy*. P is
// rank-deficient when rankP < n (LP-like directions), and every matrix entry
// and bound is multiplied by a random power of ten up to ±spread decades, the
// bad scaling that made ADMM claim "solved" with a wrong answer. offset is
// added to r and subtracted from the objective so that f* = 0 is reached only
// through cancellation, like HS268.
//
// big > 1 adds a last variable and row: x*ₙ₋₁ = big held by an equality with
// multiplier big. It inflates ‖Ax‖∞ and ‖Aᵀy‖∞, and with them the relative
// residual tolerances, as PRIMALC1's bounds do; the residuals alone then admit
// points with a wrong objective.
func knownOptimumQP(rng *rand.Rand, n, m, rankP int, spread, offset, big float64) (p *Problem, fStar float64) {
	p = &Problem{N: n, M: m, P: make([]float64, n*n), Q: make([]float64, n), A: make([]float64, m*n),
		L: make([]float64, m), U: make([]float64, m)}
	colScale := make([]float64, n)
	for j := range colScale {
		colScale[j] = math.Pow(10, spread*(2*rng.Float64()-1)/2)
	}
	for range rankP {
		v := make([]float64, n)
		for j := range v {
			v[j] = rng.NormFloat64() * colScale[j]
		}
		w := math.Pow(10, spread*(2*rng.Float64()-1)/2)
		for i := range n {
			for j := range n {
				p.P[i*n+j] += w * v[i] * v[j]
			}
		}
	}
	x := make([]float64, n)
	for j := range x {
		x[j] = rng.NormFloat64() / colScale[j]
	}
	y := make([]float64, m)
	rows := m
	if big > 1 {
		rows--
		p.A[rows*n+n-1] = 1
		x[n-1] = big
		y[rows] = big
		p.L[rows], p.U[rows] = big, big
	}
	for i := range rows {
		rs := math.Pow(10, spread*(2*rng.Float64()-1)/2)
		ax := 0.0
		for j := range n {
			if rng.Float64() < 0.6 {
				p.A[i*n+j] = rs * rng.NormFloat64() * colScale[j]
			}
			ax += p.A[i*n+j] * x[j]
		}
		gapL, gapU := rs*(0.1+rng.Float64()), rs*(0.1+rng.Float64())
		switch rng.IntN(5) {
		case 0: // active lower
			y[i] = -(0.1 + rng.Float64()) / rs
			p.L[i], p.U[i] = ax, ax+gapU
		case 1: // active upper, no lower bound
			y[i] = (0.1 + rng.Float64()) / rs
			p.L[i], p.U[i] = -Infinity, ax
		case 2: // equality
			y[i] = rng.NormFloat64() / rs
			p.L[i], p.U[i] = ax, ax
		default: // inactive
			p.L[i], p.U[i] = ax-gapL, ax+gapU
			if rng.IntN(3) == 0 {
				p.U[i] = Infinity
			}
		}
	}
	for j := range n {
		g := 0.0
		for k := range n {
			g += p.P[j*n+k] * x[k]
		}
		for i := range m {
			g += p.A[i*n+j] * y[i]
		}
		p.Q[j] = -g
	}
	f := 0.0
	for j := range n {
		px := 0.0
		for k := range n {
			px += p.P[j*n+k] * x[k]
		}
		f += x[j] * (0.5*px + p.Q[j])
	}
	p.R = offset - f
	return p, offset
}

// TestNoFalseSolved fails on any "solved" whose point misses the tolerances
// when measured independently on the problem's data (Problem.Optimality), for
// every method, at the loose tolerances where false claims used to appear.
// It also requires that most problems are solved, so that the check cannot
// pass vacuously, and that a solved objective is close to the known optimum.
func TestNoFalseSolved(t *testing.T) {
	rng := rand.New(rand.NewPCG(20, 1))
	type tc struct {
		name              string
		n, m, rankP       int
		spread, offs, big float64
	}
	var cases []tc
	for k := range 12 {
		n := 4 + rng.IntN(20)
		cases = append(cases, tc{fmt.Sprintf("case%d", k), n, n/2 + rng.IntN(2*n), 1 + rng.IntN(n),
			[]float64{0, 2, 4}[k%3], []float64{0, 1e4}[k%2], []float64{0, 0, 1e4, 1e6}[k%4]})
	}
	for _, method := range []Method{MethodADMM, MethodIPM, MethodAuto, MethodActiveSet} {
		for _, eps := range []float64{1e-3, 1e-4} {
			solved := 0
			for _, c := range cases {
				p, fStar := knownOptimumQP(rand.New(rand.NewPCG(uint64(c.n), uint64(c.m))), c.n, c.m, c.rankP, c.spread, c.offs, c.big)
				// A small iteration cap makes ADMM stop early on the badly
				// scaled cases: its status must then not be "solved".
				s, err := New(p, Settings{Method: method, EpsAbs: eps, EpsRel: eps, MaxIter: 400})
				require.NoError(t, err)
				res := s.Solve()
				if res.Status != Solved {
					continue
				}
				solved++
				o := p.Optimality(res.X, res.Y, eps, eps)
				// 1% slack: the solver measures the same quantities on scaled data.
				require.Truef(t, o.Met(1.01), "%v eps %g %s: false solved: primal %g/%g dual %g/%g gap %g/%g",
					method, eps, c.name, o.Primal, o.EpsPrimal, o.Dual, o.EpsDual, o.Gap, o.EpsGap)
				// Same formula, different summation order: rounding relative to r.
				require.InDeltaf(t, res.Objective, o.Objective, 1e-12*math.Max(1, math.Abs(p.R)), "%s objective", c.name)
				// The solver's ‖Ax − z‖ bounds ‖Ax − Π(Ax)‖ from above.
				require.LessOrEqualf(t, o.Primal, res.PrimalResidual+0.01*o.EpsPrimal, "%s primal residual", c.name)
				// The objective error of a point meeting the tolerances is
				// bounded by the gap plus residuals times the iterate's size;
				// 1e3·eps relative to the terms' magnitude is a loose form.
				scale := math.Max(1, math.Abs(p.R)+math.Abs(fStar))
				require.LessOrEqualf(t, math.Abs(res.Objective-fStar), 1e3*eps*scale, "%v eps %g %s objective", method, eps, c.name)
			}
			require.GreaterOrEqualf(t, solved, len(cases)/2, "%v eps %g: only %d of %d solved", method, eps, solved, len(cases))
		}
	}
}

// TestAutoKeepsBestPoint: MethodAuto never returns a point farther from
// meeting the tolerances than the ADMM answer it started from.
func TestAutoKeepsBestPoint(t *testing.T) {
	for seed := range uint64(6) {
		p, _ := knownOptimumQP(rand.New(rand.NewPCG(seed, 7)), 15, 25, 5, 4, 0, 0)
		base := Settings{EpsAbs: 1e-6, EpsRel: 1e-6, MaxIter: 50, IPMMaxIter: 3}
		admm := base
		admm.Method = MethodADMM
		auto := base
		auto.Method = MethodAuto
		ra := solve(t, p, admm)
		oa := p.Optimality(ra.X, ra.Y, 1e-6, 1e-6)
		s, err := New(p, auto)
		require.NoError(t, err)
		r := s.Solve()
		o := p.Optimality(r.X, r.Y, 1e-6, 1e-6)
		worst := func(o Optimality) float64 {
			return math.Max(o.Primal/o.EpsPrimal, math.Max(o.Dual/o.EpsDual, math.Abs(o.Gap)/o.EpsGap))
		}
		require.LessOrEqualf(t, worst(o), worst(oa)*1.01+1e-12, "seed %d: auto %v worse than admm %v", seed, r.Status, ra.Status)
		if r.Status == Solved {
			require.True(t, o.Met(1.01), "seed %d", seed)
		}
	}
}

func TestOptimalityAtKnownOptimum(t *testing.T) {
	p, fStar := knownOptimumQP(rand.New(rand.NewPCG(3, 3)), 8, 12, 3, 2, 5, 0)
	res := solve(t, p, Settings{Method: MethodIPM, EpsAbs: 1e-9, EpsRel: 1e-9})
	require.Equal(t, Solved, res.Status)
	o := p.Optimality(res.X, res.Y, 1e-9, 1e-9)
	require.Truef(t, o.Met(1.01), "%+v", o)
	require.InDelta(t, fStar, o.Objective, 1e-6)
	// A multiplier of the wrong sign on an absent side is no dual point.
	y := append([]float64(nil), res.Y...)
	changed := false
	for i := range p.M {
		if p.U[i] >= Infinity {
			y[i], changed = 1, true
		} else if p.L[i] <= -Infinity {
			y[i], changed = -1, true
		}
	}
	require.True(t, changed, "the problem has an absent side")
	require.True(t, math.IsInf(p.Optimality(res.X, y, 1e-9, 1e-9).Gap, 1))
}
