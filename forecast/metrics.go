package forecast

import (
	"math"
	"sort"
)

// EnergyScore is the sample estimate of E‖X−y‖ − ½E‖X−X′‖ for n samples of dimension d
// (x row-major n×d) against the outcome y; lower is better, and it equals the mean absolute
// error for a point forecast. The pair term uses all n(n−1) distinct pairs (the unbiased
// estimator).
func EnergyScore(x []float64, n, d int, y []float64) float64 {
	return energyScore(x, n, d, d, y)
}

// energyScore scores the first d values of each sample row of length stride.
func energyScore(x []float64, n, stride, d int, y []float64) float64 {
	y = y[:d]
	var a float64
	for i := 0; i < n; i++ {
		a += dist(x[i*stride:i*stride+d], y)
	}
	a /= float64(n)
	if n < 2 {
		return a
	}
	var b float64
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			b += dist(x[i*stride:i*stride+d], x[j*stride:j*stride+d])
		}
	}
	b /= float64(n * (n - 1) / 2)
	return a - 0.5*b
}

func dist(a, b []float64) float64 {
	var s float64
	for i := range b {
		d := a[i] - b[i]
		s += d * d
	}
	return math.Sqrt(s)
}

// CRPS is the sample continuous ranked probability score of the values v against y (the
// energy score in one dimension), computed in O(n log n) from the sorted samples. v is
// sorted in place.
func CRPS(v []float64, y float64) float64 {
	n := len(v)
	sort.Float64s(v)
	var a, b float64
	for i, x := range v {
		a += math.Abs(x - y)
		// Σ_{i<j}|x_j − x_i| = Σ_i x_i·(2i − n + 1) for sorted x
		b += x * float64(2*i-n+1)
	}
	a /= float64(n)
	if n < 2 {
		return a
	}
	return a - b/float64(n*(n-1)/2)*0.5
}

// Quantile returns the p-quantile of sorted values (linear interpolation).
func Quantile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 1 {
		return sorted[0]
	}
	x := p * float64(n-1)
	i := int(math.Floor(x))
	if i >= n-1 {
		return sorted[n-1]
	}
	f := x - float64(i)
	return sorted[i] + f*(sorted[i+1]-sorted[i])
}
