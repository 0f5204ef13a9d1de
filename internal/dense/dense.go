package dense

import "math"

// minPivot is the smallest pivot Factor uses: a non-positive (or tinier)
// one is raised to it.
const minPivot = 1e-300

// Factor factorises the symmetric positive definite n×n A, whose lower
// triangle is in a (row-major), in place into its Cholesky factor L
// (A = L·Lᵀ, in the lower triangle). It returns false when A is not
// positive definite to working precision; the factor is then that of A
// with its failing pivots raised to 1e-300.
func Factor(a []float64, n int) bool {
	ok := true
	for j := 0; j < n; j++ {
		d := a[j*n+j]
		for k := 0; k < j; k++ {
			d -= a[j*n+k] * a[j*n+k]
		}
		if !(d > minPivot) {
			ok = false
			d = minPivot
		}
		d = math.Sqrt(d)
		a[j*n+j] = d
		for i := j + 1; i < n; i++ {
			v := a[i*n+j]
			for k := 0; k < j; k++ {
				v -= a[i*n+k] * a[j*n+k]
			}
			a[i*n+j] = v / d
		}
	}
	return ok
}

// Solve solves L·Lᵀ x = b with the factor from Factor; x and b may be the
// same slice.
func Solve(l []float64, n int, b, x []float64) {
	for i := 0; i < n; i++ { // L y = b
		v := b[i]
		for k := 0; k < i; k++ {
			v -= l[i*n+k] * x[k]
		}
		x[i] = v / l[i*n+i]
	}
	for i := n - 1; i >= 0; i-- { // Lᵀ x = y
		v := x[i]
		for k := i + 1; k < n; k++ {
			v -= l[k*n+i] * x[k]
		}
		x[i] = v / l[i*n+i]
	}
}

// Inv3 returns the inverse of m; ok is false when m is singular (|det| ≤
// 1e-300) or not finite.
func Inv3(m *[3][3]float64) (out [3][3]float64, ok bool) {
	c00 := m[1][1]*m[2][2] - m[1][2]*m[2][1]
	c01 := m[1][2]*m[2][0] - m[1][0]*m[2][2]
	c02 := m[1][0]*m[2][1] - m[1][1]*m[2][0]
	det := m[0][0]*c00 + m[0][1]*c01 + m[0][2]*c02
	if !(math.Abs(det) > minPivot) || math.IsInf(det, 0) {
		return out, false
	}
	id := 1 / det
	out[0][0] = c00 * id
	out[1][0] = c01 * id
	out[2][0] = c02 * id
	out[0][1] = (m[0][2]*m[2][1] - m[0][1]*m[2][2]) * id
	out[1][1] = (m[0][0]*m[2][2] - m[0][2]*m[2][0]) * id
	out[2][1] = (m[0][1]*m[2][0] - m[0][0]*m[2][1]) * id
	out[0][2] = (m[0][1]*m[1][2] - m[0][2]*m[1][1]) * id
	out[1][2] = (m[0][2]*m[1][0] - m[0][0]*m[1][2]) * id
	out[2][2] = (m[0][0]*m[1][1] - m[0][1]*m[1][0]) * id
	return out, true
}
