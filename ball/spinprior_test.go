package ball

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// spinFits are fitted flights from two launchers with their own spins (heading frame) and
// launch states, in files of four flights each.
func spinFits(seed uint64) []TrackFit {
	rng := rand.New(rand.NewPCG(seed, 1))
	var out []TrackFit
	for i := 0; i < 40; i++ {
		p, v, w := Vec{0.15, 2.4, 1.5}, Vec{1, -4.4, 0}, Vec{-5, 15, 0} // launcher A
		if i%2 == 1 {
			p, v, w = Vec{0.5, 0.86, 0.79}, Vec{0.6, -2, 3.4}, Vec{-20, 40, -30} // launcher B
		}
		for k := 0; k < 3; k++ {
			p[k] += 0.02 * rng.NormFloat64()
			v[k] += 0.05 * rng.NormFloat64()
			w[k] += 2 * rng.NormFloat64()
		}
		out = append(out, TrackFit{Name: fmt.Sprintf("f%02d.csv:%d", i/4, i%4), Init: State{P: p, V: v, W: WorldSpin(v, w)}, Heading: w, N: 60})
	}
	return out
}

// The table gives each launcher's spin, in the world frame, with a σ near the launcher's
// own spread; a flight unlike both gets the broad overall distribution; Without drops a
// file's flights; Spin does not allocate.
func TestSpinTable(t *testing.T) {
	fits := spinFits(1)
	tab, err := NewSpinTable(fits, SpinTableConfig{})
	require.NoError(t, err)
	require.Equal(t, 40, tab.Len())
	var m Vec
	var c [9]float64
	for _, q := range []struct {
		p, v, w Vec
	}{
		{Vec{0.15, 2.4, 1.5}, Vec{1, -4.4, 0}, Vec{-5, 15, 0}},
		{Vec{0.5, 0.86, 0.79}, Vec{0.6, -2, 3.4}, Vec{-20, 40, -30}},
	} {
		tab.Spin(q.p, q.v, &m, &c)
		want := WorldSpin(q.v, q.w)
		for k := 0; k < 3; k++ {
			// 20 flights of σ 2 rad/s, the overall mean entering with weight 0.5 of ~10
			require.InDelta(t, want[k], m[k], 2.5, "%v: mean %v", q.w, m)
			require.Less(t, math.Sqrt(c[k*3+k]), 6.0, "σ² %v", c)
		}
		// the covariance is the heading-frame diagonal turned about z: symmetric, and its
		// trace is the sum of the three variances
		require.InDelta(t, c[1], c[3], 1e-12)
		require.Zero(t, c[2])
		require.Zero(t, c[5])
	}
	// far from both launchers: the overall distribution (the launchers' spins differ by
	// 15–30 rad/s, so σ ≥ 7 on every component)
	tab.Spin(Vec{3, 0, 1}, Vec{-5, 0, 2}, &m, &c)
	for k := 0; k < 3; k++ {
		require.Greater(t, math.Sqrt(c[k*3+k]), 7.0, "σ² %v", c)
	}
	// Without: a table of one file's flights without that file is the overall prior
	one, err := NewSpinTable(fits[:4], SpinTableConfig{})
	require.NoError(t, err)
	var m1, m2 Vec
	var c1, c2 [9]float64
	one.Spin(Vec{0.15, 2.4, 1.5}, Vec{1, -4.4, 0}, &m1, &c1)
	one.Without("f00.csv").Spin(Vec{0.15, 2.4, 1.5}, Vec{1, -4.4, 0}, &m2, &c2)
	require.Greater(t, c2[8], 2*c1[8], "without its own file the prior is broad")
	allocs := testing.AllocsPerRun(100, func() { tab.Spin(Vec{0.15, 2.4, 1.5}, Vec{1, -4.4, 0}, &m, &c) })
	require.Zero(t, allocs)
	_, err = NewSpinTable(fits[:1], SpinTableConfig{})
	require.ErrorContains(t, err, "want ≥ 2")
	_, err = NewSpinTable(fits, SpinTableConfig{PosScale: -1})
	require.ErrorContains(t, err, "must be > 0")
}
