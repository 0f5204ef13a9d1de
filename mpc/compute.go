package mpc

import (
	"fmt"
	"math"
	"sort"
	"time"

	"gonum.org/v1/gonum/mat"
)

// PlanWork is what one re-plan did, counted by the planner: the inputs of a
// ComputeModel. The counts are deterministic for a request, unlike the
// plan's wall time.
type PlanWork struct {
	Starts   int `json:"starts"`    // starts (IK seeds × catch points) scored
	SQPIters int `json:"sqp_iters"` // SQP iterations over the refined starts
	QPSolves int `json:"qp_solves"` // QP solves
	QPIters  int `json:"qp_iters"`  // QP iterations (ADMM iterations or active-set steps) over those solves
}

func workSince(before, after *Stats) PlanWork {
	return PlanWork{
		Starts: after.LastStarts, SQPIters: after.LastIters,
		QPSolves: after.QPSolves - before.QPSolves, QPIters: after.QPIters - before.QPIters,
	}
}

// ComputeModel predicts the compute time of a controller step from the
// work it did, so a simulation can charge each plan the time it would take
// and stay deterministic: a linear model fitted to measured plan times
// (FitComputeModel, `catch plan-times`).
type ComputeModel struct {
	// StepUS is a step that does not re-plan (decode a plan), µs.
	StepUS float64 `json:"step_us"`
	// A re-plan costs PlanUS plus per start, per SQP iteration, per QP
	// solve and per QP iteration, µs.
	PlanUS    float64 `json:"plan_us"`
	StartUS   float64 `json:"start_us"`
	SQPIterUS float64 `json:"sqp_iter_us"`
	QPSolveUS float64 `json:"qp_solve_us"`
	QPIterUS  float64 `json:"qp_iter_us"`
	// Ratios are the quantiles of measured over linear-model time at the
	// levels RatioLevels (0, 0.05, …, 0.95, 0.99, 0.999, 1; the last the
	// largest seen): each plan's time
	// is the linear model's times the ratio at a u drawn from a hash of the
	// request, so the modelled times have the measured spread and tail yet
	// stay the same for the same request. Empty: ratio 1; otherwise one
	// value per level.
	Ratios []float64 `json:"ratios,omitempty"`
	// Source says where the times were measured.
	Source string `json:"source"`
}

// FittedComputeModel is the model `catch plan-times --workers 1` fitted
// (defaults: --scenario nominal --trials 200 --seed 101; sync MPC with the
// active-set QP method, thread CPU time of each step, shipped
// configuration) on the development machine: 2 shared x86-64 cores under
// load from other jobs. Fit set: 18148 plans, measured p50 155 µs, p99
// 324 µs, max 1.0 ms (median error 17%). Held out (6 other scenarios, 50
// trials each, seed 102): measured p99 290–1220 µs (hand-lob the highest),
// modelled 300–820 µs, median error 16–20% (the previous model, fitted
// with the ADMM planner: 45–73%); no measured or modelled plan over the
// 4 ms tick. SQP iterations and QP solves are nearly collinear, so the fit
// puts their cost on one of them.
var FittedComputeModel = ComputeModel{
	StepUS: 2.3026, PlanUS: 72.5173, SQPIterUS: 46.5444,
	Ratios: []float64{0.638, 0.748, 0.791, 0.822, 0.845, 0.866, 0.885, 0.908, 0.928, 0.948, 0.966, 0.987, 1.009, 1.033, 1.062, 1.092, 1.124, 1.172, 1.247, 1.393, 1.781, 2.346, 3.204},
	Source: "catch plan-times --scenario nominal --trials 200 --seed 101 --workers 1 (dev machine, 2 shared cores under load; thread CPU time; active-set planner)",
}

// LinearUS is the linear part of the modelled time of a re-plan that did
// w, µs.
func (m *ComputeModel) LinearUS(w PlanWork) float64 {
	us := m.PlanUS + m.StartUS*float64(w.Starts) + m.SQPIterUS*float64(w.SQPIters) +
		m.QPSolveUS*float64(w.QPSolves) + m.QPIterUS*float64(w.QPIters)
	return math.Max(0, us)
}

// PlanTime is the modelled time of a re-plan that did w (without StepUS);
// key (e.g. PlanKey) picks its ratio, so the same request always gets the
// same time.
func (m *ComputeModel) PlanTime(w PlanWork, key uint64) time.Duration {
	return time.Duration(m.LinearUS(w) * m.ratio(key) * 1e3)
}

// RatioLevels are the quantile levels of ComputeModel.Ratios: every 5%,
// then finer in the tail that decides overruns.
var RatioLevels = []float64{0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65,
	0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99, 0.999, 1}

func (m *ComputeModel) ratio(key uint64) float64 {
	if len(m.Ratios) == 0 {
		return 1
	}
	u := float64(splitmix(key)>>11) / (1 << 53)
	i := sort.SearchFloat64s(RatioLevels, u) // RatioLevels[i-1] < u ≤ RatioLevels[i]
	if i == 0 {
		return m.Ratios[0]
	}
	f := (u - RatioLevels[i-1]) / (RatioLevels[i] - RatioLevels[i-1])
	return m.Ratios[i-1] + f*(m.Ratios[i]-m.Ratios[i-1])
}

// PlanKey is the key PlanTime draws a request's ratio with: a hash of its
// start time and work.
func PlanKey(t0 float64, w PlanWork) uint64 {
	k := math.Float64bits(t0)
	for _, v := range [...]int{w.Starts, w.SQPIters, w.QPSolves, w.QPIters} {
		k = splitmix(k ^ uint64(v))
	}
	return k
}

// splitmix is the SplitMix64 finaliser.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Validate reports a coefficient that is negative or not finite.
func (m *ComputeModel) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"ratios (smallest)", m.minRatio()}, {"step_us", m.StepUS}, {"plan_us", m.PlanUS}, {"start_us", m.StartUS}, {"sqp_iter_us", m.SQPIterUS},
		{"qp_solve_us", m.QPSolveUS}, {"qp_iter_us", m.QPIterUS}} {
		if !(f.v >= 0) || math.IsInf(f.v, 0) {
			return fmt.Errorf("mpc: compute model %s = %v: want a finite value ≥ 0", f.name, f.v)
		}
	}
	return nil
}

func (m *ComputeModel) minRatio() float64 {
	if len(m.Ratios) != 0 && len(m.Ratios) != len(RatioLevels) {
		return math.NaN()
	}
	r := 1.0
	for i, v := range m.Ratios {
		if !(v >= 0) || math.IsInf(v, 0) || (i > 0 && v < m.Ratios[i-1]) {
			return math.NaN()
		}
		r = math.Min(r, v)
	}
	return r
}

// PlanSample is one measured re-plan: its work and its time, µs.
type PlanSample struct {
	Work PlanWork
	Key  uint64 // PlanKey of the request
	US   float64
}

// FitComputeModel fits the plan coefficients by least squares on
// non-negative coefficients (a coefficient that would come out negative is
// dropped and the rest refitted) to plans, and StepUS to the mean of steps,
// the times of steps without a re-plan, µs.
func FitComputeModel(plans []PlanSample, steps []float64, source string) (ComputeModel, error) {
	const k = 5
	if len(plans) < 4*k {
		return ComputeModel{}, fmt.Errorf("mpc: fit compute model: %d plans, want at least %d", len(plans), 4*k)
	}
	feat := func(w PlanWork) [k]float64 {
		return [k]float64{1, float64(w.Starts), float64(w.SQPIters), float64(w.QPSolves), float64(w.QPIters)}
	}
	active := [k]bool{true, true, true, true, true}
	var coef [k]float64
	for round := 0; round < k; round++ {
		var idx []int
		for j := 0; j < k; j++ {
			if active[j] {
				idx = append(idx, j)
			}
		}
		a := mat.NewDense(len(plans), len(idx), nil)
		b := mat.NewVecDense(len(plans), nil)
		for i, p := range plans {
			f := feat(p.Work)
			for c, j := range idx {
				a.Set(i, c, f[j])
			}
			b.SetVec(i, p.US)
		}
		var x mat.VecDense
		if err := x.SolveVec(a, b); err != nil {
			return ComputeModel{}, fmt.Errorf("mpc: fit compute model: %w", err)
		}
		coef = [k]float64{}
		neg := -1
		for c, j := range idx {
			coef[j] = x.AtVec(c)
			if coef[j] < 0 && (neg < 0 || coef[j] < coef[neg]) {
				neg = j
			}
		}
		if neg < 0 {
			break
		}
		active[neg] = false
		coef[neg] = 0
	}
	var step float64
	for _, s := range steps {
		step += s
	}
	if len(steps) > 0 {
		step /= float64(len(steps))
	}
	m := ComputeModel{StepUS: step, PlanUS: coef[0], StartUS: coef[1], SQPIterUS: coef[2], QPSolveUS: coef[3], QPIterUS: coef[4], Source: source}
	ratios := make([]float64, 0, len(plans))
	for _, p := range plans {
		if lin := m.LinearUS(p.Work); lin > 0 {
			ratios = append(ratios, p.US/lin)
		}
	}
	sort.Float64s(ratios)
	if len(ratios) > 0 {
		m.Ratios = make([]float64, len(RatioLevels))
		for i, u := range RatioLevels {
			m.Ratios[i] = ratios[int(math.Round(u*float64(len(ratios)-1)))]
		}
	}
	return m, m.Validate()
}

// virtualPlanner is the asynchronous planner on a modelled clock: a request
// posted at time t starts when the planner is free (at t, or when the plan
// in progress ends), is solved at once, and its plan is published only when
// the modelled compute time has passed on the trial clock. Like the planner
// goroutine it keeps one request slot (a newer request replaces a waiting
// one) and publishes only solved plans. It makes an asynchronous
// controller's timing deterministic in simulation.
type virtualPlanner struct {
	pl    *Planner
	model *ComputeModel

	out        *Plan   // published
	inflight   *Plan   // solved, published at inflightAt
	inflightAt float64 // s, trial clock
	busyUntil  float64

	queued bool
	qreq   Request
	qq     []float64
	qqd    []float64
	st     Stats
}

func newVirtualPlanner(pl *Planner, m *ComputeModel) *virtualPlanner {
	return &virtualPlanner{pl: pl, model: m, qq: make([]float64, pl.n), qqd: make([]float64, pl.n)}
}

func (v *virtualPlanner) post(r *Request, now float64) {
	v.advance(now)
	if now >= v.busyUntil {
		v.start(r, now)
		return
	}
	v.qreq = *r
	copy(v.qq, r.Q0)
	copy(v.qqd, r.Qd0)
	v.qreq.Q0, v.qreq.Qd0 = v.qq, v.qqd
	v.queued = true
}

// advance publishes what has finished by now and starts a waiting request
// once the planner is free.
func (v *virtualPlanner) advance(now float64) {
	for {
		if v.inflight != nil && now >= v.inflightAt {
			v.out, v.inflight = v.inflight, nil
		}
		if v.queued && now >= v.busyUntil {
			v.queued = false
			v.start(&v.qreq, v.busyUntil)
			continue
		}
		return
	}
}

func (v *virtualPlanner) start(r *Request, at float64) {
	before := v.pl.Stats
	dst := v.pl.NewPlan() // published plans are immutable: a fresh one each time
	st := v.pl.Plan(r, dst)
	w := workSince(&before, &v.pl.Stats)
	d := v.model.PlanTime(w, PlanKey(r.T0, w)).Seconds()
	v.busyUntil = at + d
	if st == PlanSolved {
		v.inflight, v.inflightAt = dst, at+d
	}
	v.st = v.pl.Stats
}

func (v *virtualPlanner) latest(now float64) *Plan {
	v.advance(now)
	return v.out
}

func (v *virtualPlanner) reset() {
	v.pl.Reset()
	v.out, v.inflight, v.queued = nil, nil, false
	v.busyUntil, v.inflightAt = 0, 0
}
