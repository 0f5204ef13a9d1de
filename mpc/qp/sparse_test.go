package qp

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSparseMatchesDense solves the same problems with both linear
// algebras and every method: statuses agree and solutions match to the
// tolerance (both are polished, so to rounding in practice).
func TestSparseMatchesDense(t *testing.T) {
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 11))
		n := 5 + rng.IntN(30)
		p, fStar := knownOptimumQP(rng, n, n/2+rng.IntN(2*n), 1+rng.IntN(n), 1, 0, 0)
		for _, method := range []Method{MethodADMM, MethodIPM, MethodAuto} {
			set := Settings{Method: method, EpsAbs: 1e-7, EpsRel: 1e-7}
			set.Linear = LinearDense
			rd := solve(t, p, set)
			xd := append([]float64(nil), rd.X...)
			set.Linear = LinearSparse
			rs := solve(t, p, set)
			require.Equalf(t, rd.Status, rs.Status, "seed %d %v", seed, method)
			if rs.Status == Solved {
				require.InDeltaf(t, fStar, rs.Objective, 1e-4*math.Max(1, math.Abs(fStar)), "seed %d %v", seed, method)
				for j := range xd {
					require.InDeltaf(t, xd[j], rs.X[j], 1e-4*math.Max(1, math.Abs(xd[j])), "seed %d %v x[%d]", seed, method, j)
				}
			}
		}
	}
}

// TestSparseUpdates: UpdateP/UpdateA on sparse storage keep the pattern and
// refuse entries outside it.
func TestSparseUpdates(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	p := randomQP(rng, 12, 20, 3)
	s, err := New(p, Settings{Linear: LinearSparse, EpsAbs: 1e-8, EpsRel: 1e-8})
	require.NoError(t, err)
	require.Equal(t, Solved, s.Solve().Status)
	p2 := randomQP(rand.New(rand.NewPCG(6, 6)), 12, 20, 3)
	require.NoError(t, s.UpdateP(p2.P))
	require.NoError(t, s.UpdateA(p2.A))
	require.NoError(t, s.UpdateQ(p2.Q))
	require.NoError(t, s.UpdateBounds(p2.L, p2.U))
	r := s.Solve()
	require.Equal(t, Solved, r.Status)
	fresh := solve(t, p2, Settings{Linear: LinearDense, EpsAbs: 1e-8, EpsRel: 1e-8})
	require.InDeltaSlice(t, fresh.X, r.X, 1e-5)

	// A sparse A with an entry added outside the pattern.
	q := randomQP(rng, 6, 4, 0)
	q.A[0] = 0
	sq, err := New(q, Settings{Linear: LinearSparse})
	require.NoError(t, err)
	a := append([]float64(nil), q.A...)
	a[0] = 1
	require.ErrorContains(t, sq.UpdateA(a), "outside the sparsity pattern")
}

// TestSparseJSON: a problem too large for dense JSON storage comes back
// sparse, validates, round-trips and solves like its dense twin.
func TestSparseJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	p, fStar := knownOptimumQP(rng, 200, 300, 50, 1, 0, 0)
	var buf bytes.Buffer
	require.NoError(t, p.WriteJSON(&buf))
	q, err := ReadJSON(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	require.NotNil(t, q.SparseP)
	require.Nil(t, q.P)
	var buf2 bytes.Buffer
	require.NoError(t, q.WriteJSON(&buf2))
	require.Equal(t, buf.String(), buf2.String())
	r := solve(t, q, Settings{Method: MethodIPM})
	require.Equal(t, Solved, r.Status)
	require.InDelta(t, fStar, r.Objective, 1e-3*math.Max(1, math.Abs(fStar)))
	require.True(t, q.Optimality(r.X, r.Y, 1e-4, 1e-4).Met(1.01))

	bad := *q
	bad.P = make([]float64, q.N*q.N)
	require.ErrorContains(t, bad.Validate(), "not both")
	asym := *q
	asym.SparseP = q.SparseP.clone()
	asym.SparseP.Val[0] += 1
	if asym.SparseP.RowIdx[0] != 0 { // an off-diagonal entry: now asymmetric
		require.ErrorContains(t, asym.Validate(), "not symmetric")
	}
}

// TestMinDegreeReducesFill: on an arrow matrix (dense last row and column)
// the natural order fills nothing but the reversed one fills everything; the
// ordering must find a fill-free order.
func TestMinDegreeReducesFill(t *testing.T) {
	const n = 60
	// Upper triangle of the arrow with the dense vertex first.
	cp := []int{0}
	var ri []int
	for j := range n {
		if j > 0 {
			ri = append(ri, 0)
		}
		ri = append(ri, j)
		cp = append(cp, len(ri))
	}
	f, src := newLDL(n, cp, ri)
	require.Equal(t, n-1, f.lp[n], "nonzeros of L")
	for k := range ri {
		if ri[k] == 0 && k > 0 && src[k] >= 0 {
			f.cv[src[k]] = 1
		} else {
			f.cv[src[k]] = float64(n)
		}
	}
	want := make([]int8, n)
	require.True(t, f.factor(want))
	b := make([]float64, n)
	for i := range b {
		b[i] = float64(i)
	}
	x := append([]float64(nil), b...)
	f.solve(x)
	// Residual of K·x = b with K the arrow matrix.
	for i := range n {
		r := float64(n) * x[i]
		if i == 0 {
			for j := 1; j < n; j++ {
				r += x[j]
			}
		} else {
			r += x[0]
		}
		require.InDelta(t, b[i], r, 1e-9)
	}
}

// TestDenseTooLarge: 16000×16000 is read sparsely (no dense allocation);
// asking for dense storage is refused before any allocation, naming the size.
func TestDenseTooLarge(t *testing.T) {
	const n = 16000
	in := fmt.Sprintf(`{"n": %d, "m": %d, "P": {"rows": [0], "cols": [0], "vals": [1], "shape": [%d, %d]}, "q": [%s],
		"A": {"rows": [0], "cols": [0], "vals": [1], "shape": [%d, %d]}, "l": [%s], "u": [%s]}`,
		n, n, n, n, strings.TrimSuffix(strings.Repeat("0,", n), ","), n, n,
		strings.TrimSuffix(strings.Repeat("0,", n), ","), strings.TrimSuffix(strings.Repeat("1,", n), ","))
	p, err := ReadJSON(strings.NewReader(in))
	require.NoError(t, err)
	require.NotNil(t, p.SparseP)
	_, err = New(p, Settings{Linear: LinearDense})
	require.ErrorContains(t, err, "too large for the dense solver")
	s, err := New(p, Settings{})
	require.NoError(t, err)
	require.Equal(t, Solved, s.Solve().Status)
}
