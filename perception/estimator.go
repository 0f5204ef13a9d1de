package perception

import (
	"fmt"
	"math"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/internal/dense"
)

// covStep is the longest interval over which the state-transition matrix is
// taken from one Jacobian (third-order Taylor series). Over 10 ms the drag
// Jacobian changes by ~1 %, which only perturbs the gain.
const covStep = 0.01

type obs struct {
	t float64
	p ball.Vec
}

// EstimatorStats counts what the Estimator did with its observations since
// NewEstimator (Reset does not clear them).
type EstimatorStats struct {
	Accepted   int // used in a track
	Rejected   int // gated out as outliers
	OutOfOrder int // not later than the previous observation
	Invalid    int // NaN or infinite values
	Tracks     int // tracks started
}

// Estimator is an extended Kalman filter for the ball's flight; see the
// package documentation. Create it with NewEstimator.
type Estimator struct {
	cfg       EstimatorConfig // defaults applied
	props     ball.Props
	kd, kl, g float64
	n         int     // state dimension: 6 (p, v) or 9 (p, v, ω)
	r         float64 // σ², m²
	q, qw     float64 // process noise densities

	tracking bool          // filter initialised; x, cov, t valid
	x        ball.State    // filtered state at t
	cov      [9][9]float64 // its covariance
	t        float64       // time of x, s
	nobs     int           // observations in the current track
	tAcc     float64       // time of the last accepted observation
	tSeen    float64       // time of the last observation passed in
	seen     bool

	buf  [maxBuf]obs // start-up observations while !tracking
	nbuf int
	rej  [maxBuf]obs // consecutive rejected observations
	nrej int

	stats EstimatorStats
}

// NewEstimator returns an Estimator for a ball with the given properties.
func NewEstimator(cfg EstimatorConfig, props ball.Props) (*Estimator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := props.Validate(); err != nil {
		return nil, fmt.Errorf("perception: estimator: %w", err)
	}
	cfg = cfg.WithDefaults()
	e := &Estimator{cfg: cfg, props: props, n: 6}
	if cfg.EstimateSpin {
		e.n = 9
	}
	e.kd, e.kl, e.g = props.Coeffs()
	e.r = cfg.NoiseStd * cfg.NoiseStd
	e.q = cfg.ProcessNoise * cfg.ProcessNoise
	e.qw = cfg.SpinProcessNoise * cfg.SpinProcessNoise
	return e, nil
}

// Config returns the configuration in use, defaults applied.
func (e *Estimator) Config() EstimatorConfig { return e.cfg }

// Stats returns the observation counters.
func (e *Estimator) Stats() EstimatorStats { return e.stats }

// Reset drops the track; the next observation starts a new one.
func (e *Estimator) Reset() {
	e.tracking = false
	e.nobs, e.nbuf, e.nrej = 0, 0, 0
	e.seen = false
}

// Observe feeds one observed ball position p (m, world frame) captured at
// time t (s, trial clock). It returns false when the observation is not used:
// not later than the previous one, not finite, or gated out as an outlier.
// While a track starts, observations are accepted provisionally; if the first
// MinObs do not fit one flight, the oldest is dropped. An observation that
// ends the track (after a gap longer than MaxGap, or the MaxRejects-th
// rejection in a row) starts a new one and returns true.
func (e *Estimator) Observe(t float64, p [3]float64) bool {
	if !finite(t) || !finite(p[0]) || !finite(p[1]) || !finite(p[2]) {
		e.stats.Invalid++
		return false
	}
	if e.seen && t <= e.tSeen {
		e.stats.OutOfOrder++
		return false
	}
	e.seen, e.tSeen = true, t
	o := obs{t: t, p: p}

	if (e.tracking || e.nbuf > 0) && t-e.tAcc > e.cfg.MaxGap {
		e.tracking, e.nobs, e.nbuf, e.nrej = false, 0, 0, 0
	}
	if !e.tracking {
		e.buf[e.nbuf] = o
		e.nbuf++
		e.tAcc = t
		e.stats.Accepted++
		e.tryStart()
		return true
	}

	e.predict(&e.x, &e.cov, e.t, t)
	e.t = t
	if !e.update(p) {
		e.stats.Rejected++
		e.rej[e.nrej] = o
		e.nrej++
		if e.nrej < e.cfg.MaxRejects {
			return false
		}
		// The rejected observations are now the likelier flight.
		e.stats.Rejected--
		e.stats.Accepted++
		e.tracking, e.nobs = false, 0
		e.nbuf = copy(e.buf[:], e.rej[:e.nrej])
		e.nrej = 0
		e.tAcc = t
		e.tryStart()
		return true
	}
	e.nrej = 0
	e.nobs++
	e.tAcc = t
	e.stats.Accepted++
	return true
}

// Estimate writes the estimate at time now (s, trial clock): the filtered
// state propagated with the flight model from the last observation to now,
// which compensates the observation latency. The estimate is valid from the
// MinObs-th observation of a track until MaxAge after its last accepted one.
func (e *Estimator) Estimate(now float64, dst *ball.Estimate) {
	if !e.tracking || now-e.tAcc > e.cfg.MaxAge || !finite(now) {
		*dst = ball.Estimate{T: now, NObs: e.nobs}
		return
	}
	x, cov := e.x, e.cov
	e.predict(&x, &cov, e.t, now)
	dst.Valid = true
	dst.T = now
	dst.State = x
	if e.n < 9 {
		dst.State.W = ball.Vec{}
	}
	for i := 0; i < 6; i++ {
		for j := 0; j < 6; j++ {
			dst.Cov[i*6+j] = cov[i][j]
		}
	}
	dst.CovW, dst.CovXW = [9]float64{}, [18]float64{}
	if e.n == 9 {
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				dst.CovW[i*3+j] = cov[6+i][6+j]
			}
		}
		for i := 0; i < 6; i++ {
			for j := 0; j < 3; j++ {
				dst.CovXW[i*3+j] = cov[i][6+j]
			}
		}
	}
	dst.NObs = e.nobs
}

// tryStart fits the start-up buffer and starts the filter when the fit is
// consistent; otherwise it drops the oldest observation.
func (e *Estimator) tryStart() {
	m := e.nbuf
	if m < e.cfg.MinObs {
		return
	}
	tRef := e.buf[m-1].t
	var s0, s1, s2 float64
	for i := 0; i < m; i++ {
		tau := e.buf[i].t - tRef
		s0++
		s1 += tau
		s2 += tau * tau
	}
	det := s0*s2 - s1*s1
	// Least squares per axis for p(τ) = p₀ + v₀τ + ½aτ² with a known: first
	// gravity alone, then gravity and drag at the fitted velocity. Over the
	// few start-up observations a varies by < 0.1 mm of position.
	acc := ball.Vec{0, 0, -e.g}
	var p0, v0 ball.Vec
	for pass := 0; pass < 2; pass++ {
		for k := 0; k < 3; k++ {
			var sy, sty float64
			for i := 0; i < m; i++ {
				tau := e.buf[i].t - tRef
				y := e.buf[i].p[k] - 0.5*acc[k]*tau*tau
				sy += y
				sty += tau * y
			}
			p0[k] = (s2*sy - s1*sty) / det
			v0[k] = (s0*sty - s1*sy) / det
		}
		acc = e.props.Accel(v0, ball.Vec{})
	}
	// Reject the start when an observation's standardised residual exceeds
	// the gate: r_i ~ N(0, σ²(1−h_ii)) for each axis.
	for i := 0; m > 2 && i < m; i++ {
		tau := e.buf[i].t - tRef
		h := (s2 - 2*tau*s1 + tau*tau*s0) / det
		var d2 float64
		for k := 0; k < 3; k++ {
			r := e.buf[i].p[k] - (p0[k] + v0[k]*tau + 0.5*acc[k]*tau*tau)
			d2 += r * r
		}
		if d2 > e.cfg.Gate*e.cfg.Gate*e.r*math.Max(1-h, 1e-3) {
			copy(e.buf[:], e.buf[1:m])
			e.nbuf--
			return
		}
	}
	e.x = ball.State{P: p0, V: v0}
	e.cov = [9][9]float64{}
	if e.n == 9 && e.cfg.SpinPrior != nil {
		var c [9]float64
		e.cfg.SpinPrior.Spin(p0, v0, &e.x.W, &c)
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				e.cov[6+i][6+j] = c[i*3+j]
			}
		}
	}
	for k := 0; k < 3; k++ {
		e.cov[k][k] = e.r * s2 / det
		e.cov[k][k+3] = -e.r * s1 / det
		e.cov[k+3][k] = e.cov[k][k+3]
		e.cov[k+3][k+3] = e.r * s0 / det
		if e.n == 9 && e.cfg.SpinPrior == nil {
			e.cov[k+6][k+6] = e.cfg.SpinPriorStd * e.cfg.SpinPriorStd
		}
	}
	e.t = tRef
	e.tracking = true
	e.nobs = m
	e.nbuf = 0
	e.stats.Tracks++
}

// predict moves x and its covariance from t0 to t1 (either direction).
func (e *Estimator) predict(x *ball.State, cov *[9][9]float64, t0, t1 float64) {
	dt := t1 - t0
	if dt == 0 {
		return
	}
	chunks := int(math.Ceil(math.Abs(dt)/covStep - 1e-9))
	if chunks < 1 {
		chunks = 1
	}
	h := dt / float64(chunks)
	n := e.n
	for c := 0; c < chunks; c++ {
		var a, phi, tmp [9][9]float64
		e.jacobian(x, &a)
		// Φ = I + Ah + (Ah)²/2 + (Ah)³/6, by Horner: I + Ah(I + Ah/2(I + Ah/3)).
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				a[i][j] *= h
			}
		}
		for i := 0; i < n; i++ {
			phi[i][i] = 1
		}
		for _, f := range [...]float64{1.0 / 3, 1.0 / 2, 1} {
			// phi ← I + f·A·phi
			for i := 0; i < n; i++ {
				for j := 0; j < n; j++ {
					var s float64
					for k := 0; k < n; k++ {
						s += a[i][k] * phi[k][j]
					}
					tmp[i][j] = f * s
				}
			}
			for i := 0; i < n; i++ {
				for j := 0; j < n; j++ {
					tmp[i][j] += b2f(i == j)
				}
			}
			phi = tmp
		}
		// cov ← Φ cov Φᵀ + Q
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for k := 0; k < n; k++ {
					s += phi[i][k] * cov[k][j]
				}
				tmp[i][j] = s
			}
		}
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				var s float64
				for k := 0; k < n; k++ {
					s += tmp[i][k] * phi[j][k]
				}
				cov[i][j] = s
				cov[j][i] = s
			}
		}
		ah := math.Abs(h)
		for k := 0; k < 3; k++ {
			cov[k][k] += e.q * ah * ah * ah / 3
			cov[k][k+3] += e.q * ah * ah / 2
			cov[k+3][k] += e.q * ah * ah / 2
			cov[k+3][k+3] += e.q * ah
			if n == 9 {
				cov[k+6][k+6] += e.qw * ah
			}
		}
		if h > 0 {
			e.props.Propagate(x, h, 0)
		} else {
			steps := int(math.Ceil(-h/ball.MaxStep - 1e-9))
			for s := 0; s < steps; s++ {
				e.props.Step(x, h/float64(steps))
			}
		}
	}
}

// jacobian writes ∂ẋ/∂x at x: ṗ = v, v̇ = k_d|v|v + k_l(ω×v) − g ẑ, ω̇ = −cω.
func (e *Estimator) jacobian(x *ball.State, a *[9][9]float64) {
	v, w := x.V, x.W
	s := math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2])
	for k := 0; k < 3; k++ {
		a[k][k+3] = 1
	}
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			d := 0.0
			if s > 0 {
				d = e.kd * v[i] * v[j] / s
			}
			if i == j {
				d += e.kd * s
			}
			a[3+i][3+j] = d
		}
	}
	if e.n < 9 {
		return
	}
	// ∂(ω×v)/∂v = [ω]×, ∂(ω×v)/∂ω = −[v]×.
	wx := skew(w)
	vx := skew(v)
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			a[3+i][3+j] += e.kl * wx[i][j]
			a[3+i][6+j] = -e.kl * vx[i][j]
		}
		a[6+i][6+i] = -e.props.SpinDecay
	}
}

// update applies observation p at the filter time; it returns false, leaving
// the state unchanged, when p is outside the gate.
func (e *Estimator) update(p ball.Vec) bool {
	n := e.n
	var s [3][3]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			s[i][j] = e.cov[i][j]
		}
		s[i][i] += e.r
	}
	si, ok := dense.Inv3(&s)
	if !ok {
		return false
	}
	y := ball.Vec{p[0] - e.x.P[0], p[1] - e.x.P[1], p[2] - e.x.P[2]}
	var d2 float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			d2 += y[i] * si[i][j] * y[j]
		}
	}
	if d2 > e.cfg.Gate*e.cfg.Gate {
		return false
	}
	// K = cov Hᵀ S⁻¹ (n×3); x += K y; cov −= K H cov.
	var k [9][3]float64
	for i := 0; i < n; i++ {
		for j := 0; j < 3; j++ {
			var acc float64
			for l := 0; l < 3; l++ {
				acc += e.cov[i][l] * si[l][j]
			}
			k[i][j] = acc
		}
	}
	var dx [9]float64
	for i := 0; i < n; i++ {
		dx[i] = k[i][0]*y[0] + k[i][1]*y[1] + k[i][2]*y[2]
	}
	for i := 0; i < 3; i++ {
		e.x.P[i] += dx[i]
		e.x.V[i] += dx[3+i]
		if n == 9 {
			e.x.W[i] += dx[6+i]
		}
	}
	var hc [3][9]float64 // H cov: the first three rows
	for i := 0; i < 3; i++ {
		hc[i] = e.cov[i]
	}
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			v := e.cov[i][j] - (k[i][0]*hc[0][j] + k[i][1]*hc[1][j] + k[i][2]*hc[2][j])
			e.cov[i][j] = v
			e.cov[j][i] = v
		}
	}
	return true
}

func skew(v ball.Vec) [3][3]float64 {
	return [3][3]float64{
		{0, -v[2], v[1]},
		{v[2], 0, -v[0]},
		{-v[1], v[0], 0},
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
