package mpc

import (
	"math"

	"github.com/agilecatch/catch/ball"
)

// Predictor tabulates the predicted ball flight from one estimate at a fixed
// spacing and interpolates it. Fill allocates nothing once the table has
// grown to its horizon.
type Predictor struct {
	t0, dt float64
	n      int
	p, v   []ball.Vec
	a      []ball.Vec
}

// Fill propagates s (the state at time t0, trial clock) with props for
// horizon seconds at spacing dt (RK4 sub-steps of at most ball.MaxStep·5),
// stopping early once the ball is below the floor or well behind the robot.
func (pr *Predictor) Fill(props *ball.Props, s ball.State, t0, dt, horizon float64) {
	pr.t0, pr.dt = t0, dt
	need := int(horizon/dt) + 2
	if cap(pr.p) < need {
		pr.p = make([]ball.Vec, need)
		pr.v = make([]ball.Vec, need)
		pr.a = make([]ball.Vec, need)
	}
	pr.p, pr.v, pr.a = pr.p[:need], pr.v[:need], pr.a[:need]
	sub := int(math.Ceil(dt/0.005 - 1e-9))
	h := dt / float64(sub)
	pr.n = 0
	for k := 0; k < need; k++ {
		pr.p[k], pr.v[k] = s.P, s.V
		pr.a[k] = props.Accel(s.V, s.W)
		pr.n++
		if s.P[2] < -0.5 || s.P[0] < -2 {
			break
		}
		for i := 0; i < sub; i++ {
			props.Step(&s, h)
		}
	}
}

// Len returns the number of tabulated samples.
func (pr *Predictor) Len() int { return pr.n }

// T0 returns the time of the first sample, s.
func (pr *Predictor) T0() float64 { return pr.t0 }

// End returns the time of the last sample, s.
func (pr *Predictor) End() float64 { return pr.t0 + float64(pr.n-1)*pr.dt }

// At returns the predicted position, velocity and acceleration at time t
// (clamped to the table), by cubic Hermite interpolation of the position.
func (pr *Predictor) At(t float64) (p, v, a ball.Vec) {
	if pr.n == 0 {
		return
	}
	u := (t - pr.t0) / pr.dt
	if u <= 0 {
		return pr.p[0], pr.v[0], pr.a[0]
	}
	k := int(u)
	if k >= pr.n-1 {
		k = pr.n - 1
		return pr.p[k], pr.v[k], pr.a[k]
	}
	s := u - float64(k)
	h := pr.dt
	p0, p1, v0, v1 := pr.p[k], pr.p[k+1], pr.v[k], pr.v[k+1]
	s2, s3 := s*s, s*s*s
	h00, h10, h01, h11 := 2*s3-3*s2+1, s3-2*s2+s, -2*s3+3*s2, s3-s2
	d00, d10, d01, d11 := (6*s2-6*s)/h, 3*s2-4*s+1, (-6*s2+6*s)/h, 3*s2-2*s
	for i := 0; i < 3; i++ {
		p[i] = h00*p0[i] + h10*h*v0[i] + h01*p1[i] + h11*h*v1[i]
		v[i] = d00*p0[i] + d10*v0[i] + d01*p1[i] + d11*v1[i]
		a[i] = (1-s)*pr.a[k][i] + s*pr.a[k+1][i]
	}
	return p, v, a
}

// CrossX returns the first time after tMin at which the predicted ball
// crosses the plane x = x0 moving toward −x, and whether it does.
func (pr *Predictor) CrossX(x0, tMin float64) (float64, bool) {
	for k := 1; k < pr.n; k++ {
		a, b := pr.p[k-1][0], pr.p[k][0]
		if a >= x0 && b < x0 {
			t := pr.t0 + (float64(k-1)+(a-x0)/(a-b))*pr.dt
			if t >= tMin {
				return t, true
			}
		}
	}
	return 0, false
}
