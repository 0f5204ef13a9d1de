package mpc

import "math"

// Latency estimation. The command sent at time t is executed from
// t + L; the controller decodes its plan at now + L so that the arm follows
// the plan in time. L comes from action_latency_s; unless fixed_latency is
// set, the controller also estimates it during a throw from its own command
// history and the measured joint positions, and adopts the estimate when it
// differs from the configured value by more than latAdoptS: the arm
// position measured now matches the command sent L earlier (the arm's PD
// loop tracks with velocity and acceleration feed-forward, so its own lag
// is small and counts as latency, which is what the decode should lead by).
//
// Candidate lags are 0, latStepS, …, latMaxS; for each, the squared
// velocity-limit-normalised difference between the measured position and
// the command sent that long ago (linearly interpolated between ticks) is
// accumulated with forgetting. The estimate is the minimum (refined by a
// parabola through its neighbours), trusted once the residual at the
// configured latency is several times the minimum. The decode lead then
// moves toward the estimate (Controller.moveLead) at up to latFastRate
// seconds per second when the commanded velocity change that results stays
// within the acceleration limits, and otherwise at latRate: the plan
// sampled on a clock running at most 10% fast or slow has its accelerations
// scaled by at most 1.1 (the plan uses acc_margin 0.9 of the limits), so
// commands stay within every limit either way.
// Each throw starts again from the configured value (Reset), so results
// do not depend on the order of trials.
const (
	latStepS    = 0.002
	latMaxS     = 0.2
	latHist     = 128 // commands kept (0.5 s at 250 Hz)
	latForget   = 0.98
	latAdoptS   = 0.015
	latRate     = 0.1
	latFastRate = 0.6
	latTrust    = 4.0
)

type latencyEstimator struct {
	n        int
	vel      []float64
	ts       []float64 // send times, ring of latHist
	q        []float64 // commanded positions, latHist × n
	head, k  int       // next slot, count
	res      []float64 // accumulated residual per candidate lag
	samples  int
	est      float64 // estimated latency, s (valid when ok)
	ok       bool
	cur      float64 // lead in use, s
	prevQd   []float64
	hasPrev  bool
	lastNow  float64
	haveLast bool
}

func newLatencyEstimator(n int, vel []float64, lat float64) *latencyEstimator {
	return &latencyEstimator{n: n, vel: vel, ts: make([]float64, latHist), q: make([]float64, latHist*n),
		res: make([]float64, int(latMaxS/latStepS)+1), cur: lat, prevQd: make([]float64, n)}
}

func (e *latencyEstimator) reset(lat float64) {
	e.head, e.k, e.samples, e.ok, e.cur, e.haveLast, e.hasPrev = 0, 0, 0, false, lat, false, false
	clear(e.res)
}

// commanded records the command (q, qd) sent at time t.
func (e *latencyEstimator) commanded(t float64, q, qd []float64) {
	copy(e.prevQd, qd)
	e.hasPrev = true
	e.ts[e.head] = t
	copy(e.q[e.head*e.n:(e.head+1)*e.n], q)
	e.head = (e.head + 1) % latHist
	if e.k < latHist {
		e.k++
	}
}

// observe updates the estimate with the arm position measured at now
// (before this tick's command is recorded) and returns the latency to
// compensate: the configured lat, or the trusted estimate when it differs
// from lat by more than latAdoptS.
func (e *latencyEstimator) observe(now float64, armQ []float64, lat float64, scratch []float64) float64 {
	if e.k < 2 {
		return lat
	}
	oldest := (e.head - e.k + latHist) % latHist
	if now-latMaxS < e.ts[oldest] {
		return lat // the history does not cover every candidate lag yet
	}
	// One backward walk through the history: candidate lags in increasing
	// order, commands interpolated linearly in send time.
	newer := (e.head - 1 + latHist) % latHist
	for i := range e.res {
		t := now - float64(i)*latStepS
		if t >= e.ts[newer] {
			// lags shorter than one tick: the newest command is the
			// latest the arm can be executing
			copy(scratch, e.q[newer*e.n:(newer+1)*e.n])
		} else {
			older := (newer - 1 + latHist) % latHist
			for t < e.ts[older] {
				newer, older = older, (older-1+latHist)%latHist
			}
			t0, t1 := e.ts[older], e.ts[newer]
			f := 0.0
			if t1 > t0 {
				f = (t - t0) / (t1 - t0)
			}
			a, b := e.q[older*e.n:(older+1)*e.n], e.q[newer*e.n:(newer+1)*e.n]
			for j := range scratch {
				scratch[j] = a[j] + f*(b[j]-a[j])
			}
		}
		var r float64
		for j := 0; j < e.n; j++ {
			d := (armQ[j] - scratch[j]) / e.vel[j]
			r += d * d
		}
		e.res[i] = latForget*e.res[i] + r
	}
	e.samples++
	{
		best := 0
		for i := range e.res {
			if e.res[i] < e.res[best] {
				best = i
			}
		}
		est := float64(best) * latStepS
		if best > 0 && best < len(e.res)-1 {
			a, b, c := e.res[best-1], e.res[best], e.res[best+1]
			if den := a - 2*b + c; den > 0 {
				est += 0.5 * (a - c) / den * latStepS
			}
		}
		ci := int(math.Round(lat / latStepS))
		ci = max(0, min(ci, len(e.res)-1))
		e.est = est
		e.ok = e.samples >= 25 && e.res[ci] > latTrust*e.res[best]+1e-12
	}
	if e.ok && math.Abs(e.est-lat) > latAdoptS {
		return e.est
	}
	return lat
}
