package dense

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// randSPD returns a random symmetric positive definite n×n matrix (row-major).
func randSPD(rng *rand.Rand, n int) []float64 {
	b := make([]float64, n*n)
	for i := range b {
		b[i] = rng.NormFloat64()
	}
	a := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			for k := 0; k < n; k++ {
				a[i*n+j] += b[i*n+k] * b[j*n+k]
			}
			if i == j {
				a[i*n+j] += 0.1
			}
		}
	}
	return a
}

// Factor and Solve agree with gonum's solve on random SPD systems, also
// with x aliasing b.
func TestCholeskyMatchesGonum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 6, 7, 12} {
		for trial := 0; trial < 20; trial++ {
			a := randSPD(rng, n)
			b := make([]float64, n)
			for i := range b {
				b[i] = rng.NormFloat64()
			}
			var want mat.VecDense
			require.NoError(t, want.SolveVec(mat.NewDense(n, n, append([]float64(nil), a...)), mat.NewVecDense(n, append([]float64(nil), b...))))
			l := append([]float64(nil), a...)
			require.True(t, Factor(l, n))
			x := make([]float64, n)
			Solve(l, n, b, x)
			Solve(l, n, b, b)
			for i := 0; i < n; i++ {
				tol := 1e-8 * math.Max(1, math.Abs(want.AtVec(i)))
				require.InDelta(t, want.AtVec(i), x[i], tol, "n=%d", n)
				require.Equal(t, x[i], b[i], "aliased solve, n=%d", n)
			}
		}
	}
}

func TestFactorReportsIndefinite(t *testing.T) {
	a := []float64{1, 0, 2, 1} // [[1, 2], [2, 1]] (lower triangle used): eigenvalues 3 and −1
	require.False(t, Factor(a, 2))
	for _, v := range a {
		require.False(t, math.IsNaN(v) || math.IsInf(v, 0), "the regularised factor stays finite")
	}
	require.False(t, Factor([]float64{0}, 1))
	require.True(t, Factor([]float64{4}, 1))
}

func TestInv3(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 50; trial++ {
		var m [3][3]float64
		for i := range m {
			for j := range m[i] {
				m[i][j] = rng.NormFloat64()
			}
		}
		inv, ok := Inv3(&m)
		require.True(t, ok)
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				var v float64
				for k := 0; k < 3; k++ {
					v += m[i][k] * inv[k][j]
				}
				want := 0.0
				if i == j {
					want = 1
				}
				require.InDelta(t, want, v, 1e-9)
			}
		}
	}
	_, ok := Inv3(&[3][3]float64{{1, 2, 3}, {2, 4, 6}, {0, 1, 1}})
	require.False(t, ok, "singular")
	_, ok = Inv3(&[3][3]float64{{math.NaN(), 0, 0}, {0, 1, 0}, {0, 0, 1}})
	require.False(t, ok, "NaN")
	_, ok = Inv3(&[3][3]float64{{math.Inf(1), 0, 0}, {0, 1, 0}, {0, 0, 1}})
	require.False(t, ok, "Inf")
}
