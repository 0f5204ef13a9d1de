package forecast

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
)

// DefaultProcessNoise is the physics baseline's white acceleration density, m/s²/√Hz: the
// estimator's default (perception.DefaultProcessNoise), so the baseline's samples spread as
// the estimator's own covariance prediction would.
const DefaultProcessNoise = 0.1

// PhysicsConfig configures the physics baseline. The zero value means the defaults.
type PhysicsConfig struct {
	Horizons Horizons `yaml:"horizons"`
	// ProcessNoise is the white acceleration density added along each sample's flight,
	// m/s²/√Hz; default 0.1. A negative value means none.
	ProcessNoise float64 `yaml:"process_noise_mps2_rthz"`
	// Spread scales the samples' deviations from their mean at every horizon, per axis of
	// the estimate's heading frame (Frame: along the horizontal velocity, across it, up);
	// 0 means 1. Recorded flights err most along the track (time-stamp errors, drag) and
	// least across it, so the estimator's covariance, right on one axis, is wrong on the
	// others; CalibrateSpread picks the factors on training flights.
	Spread [3]float64 `yaml:"spread"`
	// SpreadWorld takes Spread per world axis (x, y, z) instead: for throws from one
	// direction, where the coverage that matters is the world axes'.
	SpreadWorld bool `yaml:"spread_world"`
}

// Physics is the baseline forecaster: it draws initial states from the estimate's Gaussian
// (position and velocity, and the spin when the estimator tracks it: Estimate.CovW) and
// flies each with
// the drag/Magnus model of package ball, adding the process noise. It reads Input.Estimate
// only. After NewPhysics, Forecast does not allocate.
type Physics struct {
	props  ball.Props
	h      Horizons
	q      float64
	spread [3]float64
	scaled bool // spread ≠ (1, 1, 1)
	world  bool
}

// NewPhysics returns the baseline for a ball.
func NewPhysics(props ball.Props, cfg PhysicsConfig) (*Physics, error) {
	if err := props.Validate(); err != nil {
		return nil, fmt.Errorf("forecast: physics: %w", err)
	}
	if err := cfg.Horizons.Validate(); err != nil {
		return nil, err
	}
	q := cfg.ProcessNoise
	switch {
	case q == 0:
		q = DefaultProcessNoise
	case q < 0:
		q = 0
	}
	p := &Physics{props: props, h: cfg.Horizons.WithDefaults(), q: q, world: cfg.SpreadWorld}
	for k, f := range cfg.Spread {
		switch {
		case f == 0:
			f = 1
		case !(f > 0 && f <= 100):
			return nil, fmt.Errorf("forecast: physics spread[%d] = %v, want (0, 100] (0: 1)", k, f)
		}
		p.spread[k] = f
		p.scaled = p.scaled || f != 1
	}
	return p, nil
}

// Horizons implements Forecaster.
func (p *Physics) Horizons() (float64, int) { return p.h.Dt, p.h.H }

// Forecast implements Forecaster.
func (p *Physics) Forecast(in *Input, rng *rand.Rand, dst *control.Forecast) error {
	if err := checkDst(dst, p.h.H); err != nil {
		return err
	}
	if in.Estimate == nil || !in.Estimate.Valid {
		return ErrNoCondition
	}
	est := in.Estimate
	// The full Gaussian of (P, V) and, when the estimator tracks it, the spin: a spin known
	// only to ±σ bends the samples apart as the truth may bend.
	var c [9][9]float64
	nd := 6
	for i := 0; i < 6; i++ {
		for j := 0; j < 6; j++ {
			c[i][j] = est.Cov[i*6+j]
		}
	}
	if est.CovW != ([9]float64{}) {
		nd = 9
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				c[6+i][6+j] = est.CovW[i*3+j]
			}
		}
		for i := 0; i < 6; i++ {
			for j := 0; j < 3; j++ {
				c[i][6+j] = est.CovXW[i*3+j]
				c[6+j][i] = est.CovXW[i*3+j]
			}
		}
	}
	var l [9][9]float64
	cholesky(&c, &l, nd)
	dst.T0, dst.Dt, dst.H = in.Now, p.h.Dt, p.h.H
	// Substeps of at most propStep; the process noise enters as a velocity kick per substep.
	sub := int(math.Ceil(p.h.Dt/propStep - 1e-9))
	hs := p.h.Dt / float64(sub)
	kick := p.q * math.Sqrt(hs)
	// The estimate refers to est.T; fly it to Now first (normally est.T == Now).
	lead := in.Now - est.T
	for n := 0; n < dst.N; n++ {
		var z [9]float64
		for i := 0; i < nd; i++ {
			z[i] = rng.NormFloat64()
		}
		s := est.State
		for i := 0; i < nd; i++ {
			var d float64
			for j := 0; j <= i; j++ {
				d += l[i][j] * z[j]
			}
			switch {
			case i < 3:
				s.P[i] += d
			case i < 6:
				s.V[i-3] += d
			default:
				s.W[i-6] += d
			}
		}
		stepTo(&p.props, &s, 0, lead)
		out := dst.Pos[n*p.h.H*3:]
		for h := 0; h < p.h.H; h++ {
			for j := 0; j < sub; j++ {
				p.props.Step(&s, hs)
				if kick > 0 {
					s.V[0] += kick * rng.NormFloat64()
					s.V[1] += kick * rng.NormFloat64()
					s.V[2] += kick * rng.NormFloat64()
				}
			}
			copy(out[h*3:h*3+3], s.P[:])
		}
	}
	if p.scaled {
		fr := NewFrame(est.State.V)
		if p.world {
			fr = Frame{C: 1}
		}
		scaleSpread(dst, p.h.H, fr, p.spread)
	}
	return nil
}

// scaleSpread multiplies the samples' deviations from their mean by spread, per axis of fr.
func scaleSpread(dst *control.Forecast, h int, fr Frame, spread [3]float64) {
	for j := 0; j < h; j++ {
		var m ball.Vec
		for n := 0; n < dst.N; n++ {
			x := dst.Pos[n*h*3+j*3:]
			m[0] += x[0]
			m[1] += x[1]
			m[2] += x[2]
		}
		for k := range m {
			m[k] /= float64(dst.N)
		}
		for n := 0; n < dst.N; n++ {
			x := dst.Pos[n*h*3+j*3:]
			d := fr.ToLocal(ball.Vec{x[0] - m[0], x[1] - m[1], x[2] - m[2]})
			d = fr.ToWorld(ball.Vec{d[0] * spread[0], d[1] * spread[1], d[2] * spread[2]})
			x[0], x[1], x[2] = m[0]+d[0], m[1]+d[1], m[2]+d[2]
		}
	}
}

// cholesky writes the lower factor of the leading n×n block of a covariance; a
// non-positive pivot (a singular or slightly indefinite covariance) gets a zero column
// instead of failing.
func cholesky(c *[9][9]float64, l *[9][9]float64, n int) {
	for i := 0; i < n; i++ {
		for j := 0; j <= i; j++ {
			s := c[i][j]
			for k := 0; k < j; k++ {
				s -= l[i][k] * l[j][k]
			}
			if i == j {
				if s > 0 {
					l[i][i] = math.Sqrt(s)
				}
			} else if l[j][j] > 0 {
				l[i][j] = s / l[j][j]
			}
		}
	}
}
