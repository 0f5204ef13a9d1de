package forecast

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/agilecatch/catch/control"
)

// Ensemble is the equal-weight mixture of forecasters with the same horizons: of N samples,
// member j of K draws samples ⌊jN/K⌋ … ⌊(j+1)N/K⌋−1, so the samples stay independent draws
// of the mixture. Models trained on different files or seeds err differently; their mixture
// has a steadier mean. A member's ErrNoCondition (or any error) is the ensemble's. After the
// first Forecast at a sample count it allocates nothing beyond its members.
type Ensemble struct {
	Members []Forecaster
	bufs    []control.Forecast
}

// Horizons implements Forecaster (the first member's).
func (e *Ensemble) Horizons() (float64, int) { return e.Members[0].Horizons() }

// Forecast implements Forecaster.
func (e *Ensemble) Forecast(in *Input, rng *rand.Rand, dst *control.Forecast) error {
	k := len(e.Members)
	if k == 0 {
		return errors.New("forecast: ensemble: no members")
	}
	dt, h := e.Horizons()
	if err := checkDst(dst, h); err != nil {
		return err
	}
	if dst.N < k {
		return fmt.Errorf("forecast: ensemble: %d samples for %d members, want at least one each", dst.N, k)
	}
	if len(e.bufs) != k || !e.sized(dst.N) {
		e.size(dt, h, dst.N)
	}
	for j, f := range e.Members {
		if d2, h2 := f.Horizons(); d2 != dt || h2 != h {
			return fmt.Errorf("forecast: ensemble: member %d forecasts %d × %g s, member 0 %d × %g s", j, h2, d2, h, dt)
		}
		if err := f.Forecast(in, rng, &e.bufs[j]); err != nil {
			return err
		}
		lo := j * dst.N / k
		copy(dst.Pos[lo*h*3:], e.bufs[j].Pos[:e.bufs[j].N*h*3])
	}
	dst.T0, dst.Dt, dst.H = e.bufs[0].T0, dt, h
	return nil
}

// sized reports whether the member buffers split n samples.
func (e *Ensemble) sized(n int) bool {
	k := len(e.bufs)
	for j := range e.bufs {
		if e.bufs[j].N != (j+1)*n/k-j*n/k {
			return false
		}
	}
	return true
}

func (e *Ensemble) size(dt float64, h, n int) {
	k := len(e.Members)
	e.bufs = make([]control.Forecast, k)
	for j := range e.bufs {
		e.bufs[j] = NewBuffer(dt, h, (j+1)*n/k-j*n/k)
	}
}
