package forecast

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/control"
)

// constant forecasts every sample at one point (or no condition).
type constant struct {
	h      int
	x      float64
	noCond bool
}

func (c *constant) Horizons() (float64, int) { return DefaultDt, c.h }
func (c *constant) Forecast(in *Input, rng *rand.Rand, dst *control.Forecast) error {
	if c.noCond {
		return ErrNoCondition
	}
	for i := range dst.Pos[:dst.N*c.h*3] {
		dst.Pos[i] = c.x
	}
	dst.T0, dst.Dt, dst.H = in.Now, DefaultDt, c.h
	return nil
}

// TestEnsembleMixesMembers: of N samples each member draws its share, in member order,
// allocation-free after the first call; a member's ErrNoCondition is the ensemble's, and
// members with other horizons or fewer samples than members are refused.
func TestEnsembleMixesMembers(t *testing.T) {
	e := &Ensemble{Members: []Forecaster{&constant{h: 4, x: 1}, &constant{h: 4, x: 2}, &constant{h: 4, x: 3}}}
	rng := rand.New(rand.NewPCG(1, 1))
	in := &Input{Now: 0.5}
	for _, n := range []int{7, 3, 8} {
		buf := NewBuffer(DefaultDt, 4, n)
		require.NoError(t, e.Forecast(in, rng, &buf))
		require.Equal(t, 0.5, buf.T0)
		count := map[float64]int{}
		for s := 0; s < n; s++ {
			j := 0 // member j draws samples ⌊jn/3⌋ … ⌊(j+1)n/3⌋−1
			for (j+1)*n/3 <= s {
				j++
			}
			want := float64(j + 1)
			for _, v := range buf.Pos[s*12 : (s+1)*12] {
				require.Equal(t, want, v, "n %d, sample %d", n, s)
			}
			count[want]++
		}
		require.LessOrEqual(t, count[1]-count[3], 1, "n %d: equal shares", n)
		require.Zero(t, testing.AllocsPerRun(5, func() { _ = e.Forecast(in, rng, &buf) }))
	}
	buf := NewBuffer(DefaultDt, 4, 2)
	require.ErrorContains(t, e.Forecast(in, rng, &buf), "2 samples for 3 members")
	e.Members[1] = &constant{h: 4, noCond: true}
	buf = NewBuffer(DefaultDt, 4, 6)
	require.ErrorIs(t, e.Forecast(in, rng, &buf), ErrNoCondition)
	e.Members[1] = &constant{h: 5, x: 2}
	require.ErrorContains(t, e.Forecast(in, rng, &buf), "member 1")
}
