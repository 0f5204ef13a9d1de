package mpc

import "math"

// cholSolveN solves A x = b in place for a symmetric positive definite A
// (k×k row-major, lower triangle used and overwritten); b becomes x.
func cholSolveN(a []float64, k int, b []float64) bool {
	for j := 0; j < k; j++ {
		d := a[j*k+j]
		for m := 0; m < j; m++ {
			d -= a[j*k+m] * a[j*k+m]
		}
		if !(d > 1e-300) {
			return false
		}
		d = math.Sqrt(d)
		a[j*k+j] = d
		for i := j + 1; i < k; i++ {
			v := a[i*k+j]
			for m := 0; m < j; m++ {
				v -= a[i*k+m] * a[j*k+m]
			}
			a[i*k+j] = v / d
		}
	}
	for i := 0; i < k; i++ {
		v := b[i]
		for m := 0; m < i; m++ {
			v -= a[i*k+m] * b[m]
		}
		b[i] = v / a[i*k+i]
	}
	for i := k - 1; i >= 0; i-- {
		v := b[i]
		for m := i + 1; m < k; m++ {
			v -= a[m*k+i] * b[m]
		}
		b[i] = v / a[i*k+i]
	}
	return true
}

func norm3(v [3]float64) float64 { return math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2]) }

func dot3(a, b [3]float64) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }

func cross3(a, b [3]float64) [3]float64 {
	return [3]float64{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }
