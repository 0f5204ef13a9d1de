package triallog

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Latency is what EstimateLatency found, in ms: the values of a scenario's
// observation.latency_ms and action_latency_ms that reproduce the run.
type Latency struct {
	Throws int `json:"throws"`
	// ObservationMS is receipt − capture over ObservationN observations
	// (see EstimateLatency).
	ObservationMS float64 `json:"observation_latency_ms"`
	ObservationN  int     `json:"observations"`
	// ObservationRangeMS is the interval the lockstep data allow.
	ObservationRangeMS [2]float64 `json:"observation_range_ms,omitempty"`
	// ActionMS is the command → joint-state delay: the shift L that best
	// explains the measured positions as the commanded ones L later (each
	// command's position extrapolated with its velocity), by least squares
	// over a 0.1 ms grid; ActionRMS the residual there (rad or m), ActionN
	// the joint-state samples used.
	ActionMS  float64 `json:"action_latency_ms"`
	ActionRMS float64 `json:"action_fit_rms"`
	ActionN   int     `json:"action_samples"`
}

// MaxActionLatency bounds the search, s.
const MaxActionLatency = 0.3

// EstimateLatency estimates observation and action latency from logged
// throws. Action latency needs throws in which the arm moved.
func EstimateLatency(throws []Throw) (Latency, error) {
	var out Latency
	// Wall clock: the receipt time is exact; the median of receipt −
	// capture. Lockstep clock: a receipt reads the start of the control
	// tick it fell in, so the latency lies in [A − t, A − t + period) for
	// every observation (A receipt, t capture): the midpoint of the
	// intersection of those intervals.
	var lat []float64
	lo, hi := math.Inf(-1), math.Inf(1)
	lockstep := false
	for i := range throws {
		th := &throws[i]
		for _, o := range th.Obs {
			d := float64(o.ArriveNS-o.StampNS) / 1e6
			lat = append(lat, d)
			if th.Clock == "lockstep" {
				lockstep = true
				lo, hi = math.Max(lo, d), math.Min(hi, d+float64(th.PeriodNS)/1e6)
			}
		}
	}
	if len(lat) == 0 {
		return out, errors.New("latency: no observations in the log")
	}
	sort.Float64s(lat)
	out.Throws = len(throws)
	out.ObservationN = len(lat)
	out.ObservationMS = lat[len(lat)/2]
	if len(lat)%2 == 0 {
		out.ObservationMS = 0.5 * (lat[len(lat)/2-1] + lat[len(lat)/2])
	}
	if lockstep && lo <= hi {
		out.ObservationMS = 0.5 * (lo + hi)
		out.ObservationRangeMS = [2]float64{lo, hi}
	}

	type cmd struct {
		t     float64
		q, qd []float64
	}
	type sample struct {
		t, epoch float64
		q        []float64
		cmds     []cmd
	}
	var samples []sample
	motion := 0.0
	for i := range throws {
		th := &throws[i]
		epoch := float64(th.EpochNS) / 1e9
		var cmds []cmd
		for _, tk := range th.Ticks {
			if tk.NowNS >= th.EpochNS && len(tk.CmdQ) > 0 {
				cmds = append(cmds, cmd{float64(tk.NowNS) / 1e9, tk.CmdQ, tk.CmdQd})
			}
		}
		for j := 1; j < len(cmds); j++ {
			for k := range cmds[j].q {
				motion = math.Max(motion, math.Abs(cmds[j].q[k]-cmds[0].q[k]))
			}
		}
		for _, tk := range th.Ticks {
			if tk.StateOK && float64(tk.StateAtNS-th.EpochNS)/1e9 >= MaxActionLatency {
				samples = append(samples, sample{t: float64(tk.StateAtNS) / 1e9, epoch: epoch, q: tk.Q, cmds: cmds})
			}
		}
	}
	if motion < 1e-2 {
		return out, fmt.Errorf("latency: the commands moved no joint by more than %.2g after the releases: action latency needs a run in which the arm moves", motion)
	}
	// Trimmed mean of the per-sample squared errors (the best 60%): robust
	// to the stretches where the arm does not follow commands (a simulated
	// arm reset between throws, a driver holding after a fault).
	errs := make([]float64, 0, len(samples))
	cost := func(L float64) (float64, int) {
		errs = errs[:0]
		for _, sm := range samples {
			tau := sm.t - L
			c := sm.cmds
			k := sort.Search(len(c), func(i int) bool { return c[i].t > tau+1e-12 }) - 1
			if k < 0 {
				continue
			}
			var e float64
			for j := range sm.q {
				p := c[k].q[j] + c[k].qd[j]*(tau-c[k].t)
				d := sm.q[j] - p
				e += d * d
			}
			errs = append(errs, e)
		}
		sort.Float64s(errs)
		keep := len(errs) * 6 / 10
		var s float64
		for _, e := range errs[:keep] {
			s += e
		}
		return s, keep
	}
	// Samples from MaxActionLatency after each release on: every candidate
	// L has a command for them, so the costs compare like for like.
	best, bestL := math.Inf(1), 0.0
	for L := 0.0; L <= MaxActionLatency+1e-12; L += 1e-4 {
		s, n := cost(L)
		if n < 10 {
			break
		}
		if m := s / float64(n); m < best {
			best, bestL, out.ActionN = m, L, n
		}
	}
	out.ActionMS = bestL * 1e3
	out.ActionRMS = math.Sqrt(best)
	return out, nil
}
