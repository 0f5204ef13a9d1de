package perception

import (
	"math"

	"github.com/agilecatch/catch/ball"
)

// SpinFit infers the part of the ball's spin that an estimate lacks (all
// of it when the estimator does not estimate spin) from how the estimated
// velocity changes: over the last spinWindowS the measured acceleration
// minus the model's (drag and gravity, plus the Magnus lift of the
// estimated spin) is, across the velocity, Magnus lift kl·ω×v; the spin
// ω = v×a/(kl·|v|²) that explains it is smoothed and added to the estimate
// a planner predicts from. Only a residual larger than spinMinAcc counts
// (below it, estimator noise dominates), and only once the track is
// spinMinAgeS old. The zero value is ready; it allocates nothing. The MPC
// and the ES policy use it to fly the estimate forward with the spin.
type SpinFit struct {
	t     [spinHist]float64
	v     [spinHist]ball.Vec
	head  int
	k     int
	first float64
	w     ball.Vec
}

const (
	spinHist    = 64
	spinWindowS = 0.1
	spinMinAgeS = 0.15
	spinMinAcc  = 0.8 // m/s²
	spinSmooth  = 0.3
)

// Reset forgets the track (a new ball).
func (s *SpinFit) Reset() { s.head, s.k, s.w = 0, 0, ball.Vec{} }

// Add records a new estimate of the track and returns the extra spin to
// assume, rad/s.
func (s *SpinFit) Add(est *ball.Estimate, props *ball.Props) ball.Vec {
	if s.k == 0 {
		s.first = est.T
	}
	s.t[s.head], s.v[s.head] = est.T, est.State.V
	s.head = (s.head + 1) % spinHist
	if s.k < spinHist {
		s.k++
	}
	if est.T-s.first < spinMinAgeS {
		return ball.Vec{}
	}
	// the newest sample at least spinWindowS older
	old := -1
	for i := 1; i < s.k; i++ {
		j := (s.head - 1 - i + 2*spinHist) % spinHist
		if est.T-s.t[j] >= spinWindowS {
			old = j
			break
		}
	}
	if old < 0 {
		return s.w
	}
	dt := est.T - s.t[old]
	v0, v1 := s.v[old], est.State.V
	vm := ball.Vec{0.5 * (v0[0] + v1[0]), 0.5 * (v0[1] + v1[1]), 0.5 * (v0[2] + v1[2])}
	am := props.Accel(vm, est.State.W)
	var a ball.Vec
	for i := 0; i < 3; i++ {
		a[i] = (v1[i]-v0[i])/dt - am[i]
	}
	v2 := vm[0]*vm[0] + vm[1]*vm[1] + vm[2]*vm[2]
	_, kl, _ := props.Coeffs()
	if v2 < 1 || !(kl > 0) {
		return s.w
	}
	along := (a[0]*vm[0] + a[1]*vm[1] + a[2]*vm[2]) / v2
	for i := 0; i < 3; i++ {
		a[i] -= along * vm[i] // lift acts across the velocity
	}
	var w ball.Vec
	if math.Sqrt(a[0]*a[0]+a[1]*a[1]+a[2]*a[2]) > spinMinAcc {
		c := ball.Vec{vm[1]*a[2] - vm[2]*a[1], vm[2]*a[0] - vm[0]*a[2], vm[0]*a[1] - vm[1]*a[0]}
		for i := 0; i < 3; i++ {
			w[i] = c[i] / (kl * v2)
		}
	}
	for i := 0; i < 3; i++ {
		s.w[i] += spinSmooth * (w[i] - s.w[i])
	}
	return s.w
}
