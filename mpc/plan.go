package mpc

import "math"

// maxStages bounds Config.Stages so that plan arrays are fixed-size.
const maxStages = 4

// Plan is a whole-body catch trajectory in joint space: from the reference
// state (Q0, Qd0) at time T0 (trial clock, the time the reference is
// executed by the arm), N bang-off stages end at the catch time TCatch;
// the cradle follows. In stage k every joint j accelerates at ±Acc[j] until
// its velocity has changed by Dq[k·n+j] (|Dq|/Acc ≤ Dt[k]), then cruises.
// In the cradle each joint's velocity falls linearly to zero over Slow
// seconds while the wrist adds the net-up offset NetUp with a smooth step
// over 2·Slow. A plan without a catch (a brake or a hold) ends with its
// stages and then holds.
//
// A published Plan is immutable; Decode allocates nothing and may be called
// from any goroutine.
type Plan struct {
	n, N     int
	T0       float64
	Dt       [maxStages]float64
	Dq       []float64 // N×n
	Acc      []float64 // n, planning accelerations (limits × margin)
	HasCatch bool
	TCatch   float64
	Slow     float64
	NetUp    []float64 // n
	// derived by finalize: stage-start states (N+1)×n; row N is the catch.
	Qs, Vs []float64
	// Catch point and ball velocity the plan was built for.
	BallP, BallV [3]float64
	Cost         float64
	Side         int // +1 head left of the carriage at the catch, −1 right, 0 unknown
}

func newPlan(n, N int) *Plan {
	return &Plan{
		n: n, N: N,
		Dq: make([]float64, N*n), Acc: make([]float64, n), NetUp: make([]float64, n),
		Qs: make([]float64, (N+1)*n), Vs: make([]float64, (N+1)*n),
	}
}

// copyFrom makes p a deep copy of o (same sizes).
func (p *Plan) copyFrom(o *Plan) {
	dq, acc, nu, qs, vs := p.Dq, p.Acc, p.NetUp, p.Qs, p.Vs
	*p = *o
	p.Dq, p.Acc, p.NetUp, p.Qs, p.Vs = dq[:len(o.Dq)], acc, nu, qs[:len(o.Qs)], vs[:len(o.Vs)]
	copy(p.Dq, o.Dq)
	copy(p.Acc, o.Acc)
	copy(p.NetUp, o.NetUp)
	copy(p.Qs, o.Qs)
	copy(p.Vs, o.Vs)
}

// Start returns the plan's start time and writes its start state.
func (p *Plan) Duration() float64 {
	var d float64
	for k := 0; k < p.N; k++ {
		d += p.Dt[k]
	}
	return d
}

// finalize computes the stage-start states and the catch time from
// (Q0, Qd0) = Qs[0:n], Vs[0:n] and the stage controls.
func (p *Plan) finalize() {
	n := p.n
	for k := 0; k < p.N; k++ {
		dt := p.Dt[k]
		for j := 0; j < n; j++ {
			q, v, d := p.Qs[k*n+j], p.Vs[k*n+j], p.Dq[k*n+j]
			tb := math.Abs(d) / p.Acc[j]
			p.Qs[(k+1)*n+j] = q + v*dt + d*(dt-tb/2)
			p.Vs[(k+1)*n+j] = v + d
		}
	}
	p.TCatch = p.T0 + p.Duration()
}

// Decode writes the reference (q, q̇) at time t into q and qd (length n).
// Before T0 it returns the start state. It allocates nothing.
func (p *Plan) Decode(t float64, q, qd []float64) {
	n := p.n
	tau := t - p.T0
	if tau <= 0 {
		copy(q, p.Qs[:n])
		copy(qd, p.Vs[:n])
		return
	}
	for k := 0; k < p.N; k++ {
		dt := p.Dt[k]
		if tau < dt {
			for j := 0; j < n; j++ {
				qs, vs, d, a := p.Qs[k*n+j], p.Vs[k*n+j], p.Dq[k*n+j], p.Acc[j]
				tb := math.Abs(d) / a
				if tau <= tb {
					s := math.Copysign(a, d)
					q[j] = qs + vs*tau + 0.5*s*tau*tau
					qd[j] = vs + s*tau
				} else {
					q[j] = qs + vs*tau + d*(tau-tb/2)
					qd[j] = vs + d
				}
			}
			return
		}
		tau -= dt
	}
	qc, vc := p.Qs[p.N*n:], p.Vs[p.N*n:]
	if !p.HasCatch {
		for j := 0; j < n; j++ {
			q[j] = qc[j] + vc[j]*tau
			qd[j] = vc[j]
		}
		return
	}
	s := p.Slow
	ts := math.Min(tau, s)
	f := ts - ts*ts/(2*s)
	g := 1 - ts/s
	// net-up smooth step 3u²−2u³ over 2·Slow
	d := 2 * s
	u := math.Min(tau/d, 1)
	h := u * u * (3 - 2*u)
	hd := 6 * u * (1 - u) / d
	for j := 0; j < n; j++ {
		q[j] = qc[j] + vc[j]*f + p.NetUp[j]*h
		qd[j] = vc[j]*g + p.NetUp[j]*hd
	}
}

// netUpScale returns the largest factor in [0, 1] by which a joint with
// catch velocity v can add the net-up offset b to its cradle and stay
// within the acceleration limit a and the velocity limit vmax, counting the
// signs: a net-up that turns the joint against its own slow-down has the
// slow-down's deceleration to spare. The slow-down's acceleration is
// −v/Slow until Slow and the smooth step's is linear in time, so the ends
// of each piece bound the acceleration; the velocity is checked on a grid.
func (p *Plan) netUpScale(v, b, a, vmax float64) float64 {
	if b == 0 {
		return 1
	}
	s := p.Slow
	d := 2 * s
	scale := 1.0
	// |c + x·B| ≤ lim gives an upper bound on x ≥ 0
	bound := func(c, B, lim float64) {
		switch {
		case math.Abs(c) > lim:
			scale = 0
		case B > 0:
			scale = math.Min(scale, (lim-c)/B)
		case B < 0:
			scale = math.Min(scale, (lim+c)/-B)
		}
	}
	const eps = 1e-9
	for _, tau := range [...]float64{0, s - eps, s + eps, d - eps} {
		c := 0.0
		if tau < s {
			c = -v / s
		}
		u := tau / d
		bound(c, b*6*(1-2*u)/(d*d), a)
	}
	const steps = 32
	for i := 0; i <= steps; i++ {
		tau := d * float64(i) / steps
		g := math.Max(1-tau/s, 0)
		u := tau / d
		bound(v*g, b*6*u*(1-u)/d, vmax)
	}
	return math.Max(scale, 0)
}

// cradleBounds returns, for joint j, the lowest and highest positions the
// cradle reaches after the catch.
func (p *Plan) cradleBounds(j int) (lo, hi float64) {
	n := p.n
	qc, vc := p.Qs[p.N*n+j], p.Vs[p.N*n+j]
	travel := vc * p.Slow / 2
	lo, hi = qc, qc
	for _, d := range [2]float64{travel, p.NetUp[j]} {
		if d < 0 {
			lo += d
		} else {
			hi += d
		}
	}
	return lo, hi
}

// stageExtrema returns the lowest and highest position of joint j within
// stage k (the ends, or where the velocity crosses zero in the bang phase).
func (p *Plan) stageExtrema(k, j int) (lo, hi float64) {
	n := p.n
	q0, q1 := p.Qs[k*n+j], p.Qs[(k+1)*n+j]
	lo, hi = math.Min(q0, q1), math.Max(q0, q1)
	v0, d := p.Vs[k*n+j], p.Dq[k*n+j]
	if v0 != 0 && d != 0 && (v0 > 0) != (d > 0) && math.Abs(d) >= math.Abs(v0) {
		// velocity passes through zero after |v0|/a in the bang phase
		a := p.Acc[j]
		qe := q0 + v0*math.Abs(v0)/(2*a)
		lo, hi = math.Min(lo, qe), math.Max(hi, qe)
	}
	return lo, hi
}

// brake makes p a plan without catch that stops every joint from (q, qd)
// at time t0 at the planning accelerations.
func (p *Plan) brake(t0 float64, q, qd, acc []float64) {
	n := p.n
	p.T0 = t0
	p.HasCatch = false
	p.Side = 0
	copy(p.Qs[:n], q)
	copy(p.Vs[:n], qd)
	copy(p.Acc, acc)
	var dur float64
	for j := 0; j < n; j++ {
		dur = math.Max(dur, math.Abs(qd[j])/acc[j])
		p.NetUp[j] = 0
	}
	for k := 0; k < p.N; k++ {
		p.Dt[k] = 0
		for j := 0; j < n; j++ {
			p.Dq[k*n+j] = 0
		}
	}
	p.Dt[0] = dur + 1e-9
	for j := 0; j < n; j++ {
		p.Dq[j] = -qd[j]
	}
	p.finalize()
	// exact rest at the end
	for j := 0; j < n; j++ {
		p.Vs[p.N*n+j] = 0
	}
}
