package mpc

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/internal/dense"
	"github.com/agilecatch/catch/mpc/qp"
	"github.com/agilecatch/catch/robot"
)

// PlanStatus is the outcome of one re-plan. It is not an error.
type PlanStatus int

const (
	// PlanNone: no plan was attempted yet.
	PlanNone PlanStatus = iota
	// PlanSolved: a feasible plan was found and published.
	PlanSolved
	// PlanInfeasible: no start led to a plan meeting every constraint.
	PlanInfeasible
	// PlanNoCatchPoint: the predicted flight never enters the catch region in time.
	PlanNoCatchPoint
)

var planStatusNames = [...]string{"none", "solved", "infeasible", "no-catch-point"}

func (s PlanStatus) String() string {
	if s >= 0 && int(s) < len(planStatusNames) {
		return planStatusNames[s]
	}
	return fmt.Sprintf("plan-status(%d)", int(s))
}

// Stats are the per-plan numbers of a Planner (and of the Controller that
// owns it). Read them between steps (sync) or through Controller.Stats.
type Stats struct {
	Plans      int        // re-plans attempted
	Solved     int        // re-plans that found a feasible plan
	LastStatus PlanStatus // outcome of the latest re-plan
	LastUS     float64    // wall time of the latest re-plan, µs
	MaxUS      float64    // slowest re-plan, µs
	LastIters  int        // SQP iterations of the latest re-plan, all refined starts
	LastStarts int        // starts scored in the latest re-plan
	QPSolves   int        // QP solves in total
	QPFailed   int        // QP solves that did not return a usable step
	QPSolved   int        // QP solves that met the solver's tolerances (status Solved)
	QPIters    int        // QP iterations in total (ADMM iterations or active-set steps)
	QPUS       float64    // QP solve wall time in total, µs (updates included)
	Dumps      int        // QPs written to DumpDir
}

// Request is the input of one re-plan: the reference state the new plan
// starts from and the ball estimate.
type Request struct {
	T0      float64 // reference time of the start state, s (trial clock)
	Q0, Qd0 []float64
	Est     ball.Estimate
	Props   *ball.Props
	Prev    *Plan // the plan being executed (may be nil or without a catch)
	// Forecast, when it has samples, chooses the catch time (see SelectCatch).
	ForecastT float64 // chosen catch time from forecast samples; 0: none
}

// The active-set method's QP differs from ADMM's in three ways, the first
// two in the scaled units of scaleQP (cost of unit magnitude, steps in
// velocity limits and 0.1 s). stepDamping·I is added to the step's Hessian:
// ADMM stopped after 5–50 iterations warm-started from the zero step and so
// returned a short step, while the exact minimiser of the Gauss–Newton model
// ran to the trust region along its flat directions, where the model is
// wrong: with exact undamped steps the first SQP step of a re-plan raised
// the merit in most re-plans and most warm re-plans ended infeasible.
// elasticCost is the linear cost of the elastic variable θ (addElastic):
// with it a QP whose linearised constraints cannot all be met within the
// trust region (a start far from feasible) still yields the step that
// removes as much violation as it can, as ADMM's iteration-limit answer did,
// instead of a certificate of infeasibility and no step. coldTolBackoff
// shrinks the position and normal tolerances in the QPs of a cold plan: the
// exact steps end on the linearised tolerance, and the nonlinear plan then
// missed it by ~0.1 mm, so cold plans failed and were repeated on the next
// estimates (on 30 hand lobs 109 failed cold plans against ADMM's 7, which
// doubled the compute p99). All were chosen on tuning seeds 7 and 8 (100
// throws each, ADMM: 199 nominal, 174 of 195 hand lobs caught): undamped
// exact steps caught 188 and 166; stepDamping 0.1 / 1 / 10 (no θ) caught
// 97 / 98 / 100 of seed 8's nominal throws and at 10, 166 hand lobs (far
// starts failed); with θ, elasticCost 100 / 1000 caught 174 / 174 hand lobs
// and 199 / 199 nominal throws; coldTolBackoff 0.95 / 0.9 / 0.8 caught
// 171 / 169 / 172 hand lobs (200 nominal at 0.9 and 0.8) with a hand-lob
// compute p99 of 0.24 ms against 0.85–1.2 ms without.
const (
	stepDamping    = 10.0
	elasticCost    = 1000.0
	coldTolBackoff = 0.8
)

// meritPenalty weighs the constraint violation against the cost in the SQP
// merit function and in the ranking of starts.
const meritPenalty = 1000.0

type start struct {
	seed, tc int
	tCatch   float64
	plan     *Plan
	merit    float64
	viol     float64
}

// Planner builds catch plans. It owns its scratch memory, IK solver and QP
// solver; use one per goroutine.
type Planner struct {
	cfg   Config
	rob   *robot.Robot
	n, N  int
	nv, m int

	lower, upper, vel, acc []float64 // planning limits
	ready                  []float64
	shoulder               [3]float64 // link_2 origin at the ready pose (rail at 0)

	ik        *robot.IKSolver
	pred      Predictor
	coll      *control.Collider // the safety layer's collision check, for the cradle
	qcr, qdcr []float64         // scratch: a cradle configuration

	sol                 *qp.Solver
	prob                qp.Problem
	H, g, A, l, u, zero []float64
	res, jr             []float64
	// scaled QP data handed to the solver (the planner scales the problem
	// itself, see scaleQP): Hs = c·D·H·D, gs = c·D·g, As = E·A·D, ls/us = E·l/u.
	Hs, gs, As, ls, us, dsc, esc []float64
	// The solver's QP is ns × ms: (nv, m) for ADMM; with the active-set
	// method one more variable and row, the elastic θ (see scaleQP).
	ns, ms                  int
	elastic                 bool
	coldSQP                 bool       // the SQP runs for a cold plan
	sprob                   qp.Problem // the solver's (scaled) QP, for dumps
	pose                    robot.Pose
	jac                     []float64
	gq                      []float64 // n × nv: ∂q_N/∂x (only joint-j entries non-zero)
	gk                      []float64 // scratch for stage-end derivative
	qtmp, qdc, qseed, x, dx []float64
	cache                   [][]float64 // IK warm starts per (seed, catch time)
	cacheOK                 []bool
	starts                  []start
	trust                   float64
	rot                     int // warm re-plan counter (candidate rotation)
	pool                    []*Plan
	trial                   *Plan
	xShift, reachPref       float64 // Tunables.CatchXShiftM, ReachPrefM
	// Stats of this planner.
	Stats Stats
}

// NewPlanner returns a planner for rob with cfg (defaults filled in).
func NewPlanner(cfg Config, rob *robot.Robot, ready []float64) (*Planner, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := rob.Chain.DOF()
	if len(ready) != n {
		return nil, fmt.Errorf("mpc: ready pose has %d values, want %d", len(ready), n)
	}
	if n < 4 {
		return nil, fmt.Errorf("mpc: chain has %d joints, want ≥ 4 (rail + arm)", n)
	}
	N := cfg.Stages
	nv := N * (n + 1)
	m := 6 + 4*N*n + n + nv
	p := &Planner{cfg: cfg, rob: rob, n: n, N: N, nv: nv, m: m, reachPref: reachPref,
		lower: make([]float64, n), upper: make([]float64, n), vel: make([]float64, n), acc: make([]float64, n),
		ready: append([]float64(nil), ready...),
		ik:    robot.NewIKSolver(rob.Chain),
		H:     make([]float64, nv*nv), g: make([]float64, nv), A: make([]float64, m*nv),
		l: make([]float64, m), u: make([]float64, m), zero: make([]float64, nv),
		res: make([]float64, 16), jr: make([]float64, 16*nv),
		jac: make([]float64, 6*n), gq: make([]float64, n*nv), gk: make([]float64, nv),
		qtmp: make([]float64, n), qdc: make([]float64, n), qseed: make([]float64, n),
		x: make([]float64, nv), dx: make([]float64, nv),
		dsc: make([]float64, nv), esc: make([]float64, m),
	}
	p.ns, p.ms = nv, m
	if !cfg.NoCradleCollision {
		c, err := control.NewCollider(control.CollisionConfig{MarginM: cradleClearanceM}, rob)
		if err != nil {
			return nil, fmt.Errorf("mpc: cradle collision check: %w", err)
		}
		p.coll, p.qcr, p.qdcr = c, make([]float64, n), make([]float64, n)
	}
	if cfg.QPMethod == "active-set" {
		p.ns, p.ms, p.elastic = nv+1, m+1, true
	}
	ns0, ms0 := p.ns, p.ms
	p.Hs, p.gs, p.As = make([]float64, ns0*ns0), make([]float64, ns0), make([]float64, ms0*ns0)
	p.ls, p.us = make([]float64, ms0), make([]float64, ms0)
	lim := rob.Limits
	for j := 0; j < n; j++ {
		p.lower[j] = lim.Lower[j] + cfg.PosMargin
		p.upper[j] = lim.Upper[j] - cfg.PosMargin
		p.vel[j] = lim.Vel[j] * cfg.VelMargin
		p.acc[j] = lim.Acc[j] * cfg.AccMargin
		if math.IsInf(p.acc[j], 0) || !(p.acc[j] > 0) {
			return nil, fmt.Errorf("mpc: joint %d has no finite acceleration limit", j)
		}
	}
	{
		var ps robot.Pose
		k, ok := rob.Chain.LinkIndex("link_2")
		if ok {
			q := append([]float64(nil), ready...)
			q[0] = 0
			rob.Chain.FKLink(q, k, &ps)
			p.shoulder = ps.P
		} else {
			p.shoulder = [3]float64{0, 0, 1.09}
		}
	}
	ns := cfg.Seeds * cfg.CatchTimes
	p.cache = make([][]float64, ns)
	p.cacheOK = make([]bool, ns)
	for i := range p.cache {
		p.cache[i] = make([]float64, n)
	}
	p.starts = make([]start, 0, ns+1)
	for i := 0; i < ns+2; i++ {
		p.pool = append(p.pool, newPlan(n, N))
	}
	p.trial = newPlan(n, N)
	// QP shape: set up once with a representative, well-posed matrix.
	for i := 0; i < nv; i++ {
		p.H[i*nv+i] = 1
	}
	for i := 0; i < m; i++ {
		p.A[i*nv+i%nv] = 1
		p.l[i], p.u[i] = -1, 1
	}
	p.prob = qp.Problem{Name: "mpc-sqp", N: nv, M: m, P: p.H, Q: p.g, A: p.A, L: p.l, U: p.u}
	for i := 0; i < p.ns; i++ {
		p.Hs[i*p.ns+i] = 1
	}
	for i := 0; i < p.ms; i++ {
		p.As[i*p.ns+i%p.ns] = 1
		p.ls[i], p.us[i] = -1, 1
	}
	p.sprob = qp.Problem{Name: "mpc-sqp-scaled", N: p.ns, M: p.ms, P: p.Hs, Q: p.gs, A: p.As, L: p.ls, U: p.us}
	set := qp.Settings{
		// The planner equilibrates the QP itself (scaleQP): it knows the
		// variables' natural units, and the solver's Ruiz scaling on every
		// UpdateP/UpdateA cost more than the ADMM iterations.
		EpsAbs: 3e-3, EpsRel: 3e-3, MaxIter: 50, CheckInterval: 5, PolishRetries: -1,
		DisableScaling: true, Rho: 1,
	}
	if cfg.QPMethod == "active-set" {
		set.Method = qp.MethodActiveSet
		set.MaxIter = 200
	}
	sol, err := qp.New(&p.sprob, set)
	if err != nil {
		return nil, fmt.Errorf("mpc: QP setup: %w", err)
	}
	p.sol = sol
	return p, nil
}

// Reset forgets warm starts (a new trial): the IK cache, the candidate
// rotation and the QP solver's iterate and step size, so a trial's plans do
// not depend on the trials planned before it.
func (p *Planner) Reset() {
	for i := range p.cacheOK {
		p.cacheOK[i] = false
	}
	p.rot = 0
	_ = p.sol.Reset() // the next re-plan refactors with its own data anyway
}

// Acc returns the planning accelerations (limits × margin); do not modify.
func (p *Planner) Acc() []float64 { return p.acc }

// Predictor returns the ball prediction of the latest re-plan.
func (p *Planner) Predictor() *Predictor { return &p.pred }

// Plan computes a new plan for req into dst (made by NewPlan) and reports
// the status. dst is written only when the status is PlanSolved.
func (p *Planner) Plan(req *Request, dst *Plan) PlanStatus {
	t0 := time.Now()
	st, iters := p.plan(req, dst)
	us := float64(time.Since(t0).Nanoseconds()) / 1e3
	s := &p.Stats
	s.Plans++
	if st == PlanSolved {
		s.Solved++
	}
	s.LastStatus, s.LastUS, s.LastIters, s.LastStarts = st, us, iters, len(p.starts)
	s.MaxUS = math.Max(s.MaxUS, us)
	if p.cfg.DumpDir != "" && (st == PlanInfeasible || us > p.cfg.SlowPlanS*1e6) {
		p.dump(st)
	}
	return st
}

// NewPlan returns an empty plan sized for this planner.
func (p *Planner) NewPlan() *Plan { return newPlan(p.n, p.N) }

func (p *Planner) plan(req *Request, dst *Plan) (PlanStatus, int) {
	cfg := &p.cfg
	props := req.Props
	p.pred.Fill(props, req.Est.State, req.Est.T, cfg.PredictStepS, cfg.HorizonS+math.Max(0, req.T0-req.Est.T))
	p.starts = p.starts[:0]
	const minT = 0.06 // s: shortest time to a catch worth planning
	var times [8]float64
	nt := 0
	if req.ForecastT > req.T0+minT {
		times[nt] = req.ForecastT
		nt++
	}
	nx := 0 // catch-point candidates from the catch_x_m planes and the path scan
	for c := 0; c < len(cfg.CatchXM) && nx < cfg.CatchTimes && nt < len(times); c++ {
		if t, ok := p.pred.CrossX(cfg.CatchXM[c]+p.xShift, req.T0+minT); ok {
			if bp, _, _ := p.pred.At(t); p.reachDist(bp) <= reachMax {
				times[nt] = t
				nt++
				nx++
			}
		}
	}
	if nx < cfg.CatchTimes {
		// Lobs cross the planes too high (or land short of them): take
		// points along the predicted path inside the arm's workspace
		// instead, the most comfortable first, then its neighbours.
		nt = p.pathCandidates(req.T0+minT, cfg.CatchTimes-nx, times[:], nt)
	}
	if req.Prev != nil && req.Prev.HasCatch && req.Prev.TCatch > req.T0+minT && nt < len(times) {
		times[nt] = req.Prev.TCatch
		nt++
	}
	if nt == 0 {
		return PlanNoCatchPoint, 0
	}
	pool := 0
	// A warm re-plan (a plan is being executed) scores the continued plan
	// and the alternatives of one catch-point candidate, cycling through
	// them on successive re-plans: each is still re-examined every
	// CatchTimes estimates (24 ms at 125 Hz), and the re-plan stays within
	// its compute budget.
	warm := req.Prev != nil && req.Prev.HasCatch
	ci := 0 // index among the plane/path candidates
	if warm {
		p.rot++
	}
	for ti := 0; ti < nt; ti++ {
		tc := times[ti]
		if warm && (req.ForecastT == 0 || ti > 0) && tc != req.Prev.TCatch {
			c := ci
			ci++
			if c%cfg.CatchTimes != p.rot%cfg.CatchTimes {
				continue
			}
		}
		bp, bv, _ := p.pred.At(tc)
		sp := norm3(bv)
		if sp < 0.5 || bp[2] < 0.3 {
			continue
		}
		vhat := [3]float64{bv[0] / sp, bv[1] / sp, bv[2] / sp}
		m := p.normalRef(vhat)
		tgt := robot.IKTarget{Pos: bp, Normal: [3]float64{-m[0], -m[1], -m[2]}, NormalAxis: 1}
		nseed := cfg.Seeds
		isPrev := req.Prev != nil && req.Prev.HasCatch && tc == req.Prev.TCatch
		if isPrev {
			nseed = 1
		}
		for s := 0; s < nseed; s++ {
			slot := -1
			if isPrev {
				copy(p.qseed, req.Prev.Qs[p.N*p.n:])
			} else {
				slot = s*cfg.CatchTimes + min(ti, cfg.CatchTimes-1)
				if p.cacheOK[slot] {
					copy(p.qseed, p.cache[slot])
				} else {
					p.seed(s, bp)
				}
			}
			res := p.ik.Solve(p.qseed, tgt, robot.IKOptions{MaxIter: 60, PosTol: 2e-3, AngTol: 0.01}, p.qtmp)
			// An IK result near the target is still a useful start: the
			// SQP closes the rest (ε_p, ε_r are checked on the final plan).
			if !res.OK && (res.PosErr > 0.05 || res.AngErr > 0.3) {
				continue
			}
			if slot >= 0 {
				copy(p.cache[slot], p.qtmp)
				p.cacheOK[slot] = true
			}
			if pool >= len(p.pool) {
				break
			}
			pl := p.pool[pool]
			if !p.initial(req, tc, p.qtmp, vhat, pl) {
				continue
			}
			pool++
			cost, viol := p.evaluate(pl, nil)
			p.starts = append(p.starts, start{seed: s, tc: ti, tCatch: tc, plan: pl, merit: cost + meritPenalty*viol, viol: viol})
		}
	}
	if len(p.starts) == 0 {
		return PlanInfeasible, 0
	}
	// Insertion sort by merit (a dozen starts; sort.Slice would allocate).
	for i := 1; i < len(p.starts); i++ {
		for j := i; j > 0 && p.starts[j].merit < p.starts[j-1].merit; j-- {
			p.starts[j], p.starts[j-1] = p.starts[j-1], p.starts[j]
		}
	}
	iters := 0
	// A cold plan (nothing to continue) happens once per throw: it gets
	// three times the SQP iterations and one more refined start.
	cold := req.Prev == nil || !req.Prev.HasCatch
	refine := cfg.RefineStarts
	if cold {
		refine++
	}
	var best *Plan
	bestCost := math.Inf(1)
	for i := 0; i < len(p.starts) && i < refine; i++ {
		st := &p.starts[i]
		it := p.sqp(st.plan, cold)
		iters += it
		cost, viol := p.evaluate(st.plan, nil)
		if viol == 0 && cost < bestCost {
			best, bestCost = st.plan, cost
		}
	}
	if best == nil && !warm {
		// Try the next start before giving up. (A warm re-plan gives up at
		// once: the executed plan continues, and the next estimate tries
		// the next candidates, which keeps failed re-plans as cheap as
		// solved ones.)
		for i := refine; i < len(p.starts) && i < refine+1 && best == nil; i++ {
			st := &p.starts[i]
			iters += p.sqp(st.plan, cold)
			if cost, viol := p.evaluate(st.plan, nil); viol == 0 {
				best, bestCost = st.plan, cost
			}
		}
	}
	if best == nil {
		return PlanInfeasible, iters
	}
	best.Cost = bestCost
	dst.copyFrom(best)
	return PlanSolved, iters
}

// Workspace of the catch-point search: the head reaches about 0.9 m from
// the shoulder (link_2, 0.29 m above the arm base); points between reachMin
// and reachMax of it are candidates, reachPref is the most comfortable
// (the default of Tunables.ReachPrefM).
const (
	reachMin  = 0.3
	reachPref = 0.6
	reachMax  = 0.88
)

// reachDist returns the distance of bp from the shoulder with the rail
// carriage placed at the ball's lateral position (within its stroke), m.
func (p *Planner) reachDist(bp [3]float64) float64 {
	y := clamp(bp[1], p.lower[0], p.upper[0])
	dx, dy, dz := bp[0]-p.shoulder[0], bp[1]-y, bp[2]-p.shoulder[2]
	return math.Sqrt(dx*dx + dy*dy + dz*dz)
}

// pathCandidates appends up to k catch times after tMin to times[nt:] (and
// returns the new count): the predicted sample inside the workspace closest
// to the comfortable reach, then samples 60 ms before and after it.
func (p *Planner) pathCandidates(tMin float64, k int, times []float64, nt int) int {
	pr := &p.pred
	bestK, bestE := -1, math.Inf(1)
	for i := 0; i < pr.n; i++ {
		t := pr.t0 + float64(i)*pr.dt
		if t < tMin {
			continue
		}
		bp := pr.p[i]
		if bp[2] < 0.4 {
			continue
		}
		d := p.reachDist(bp)
		if d < reachMin || d > reachMax-0.05 {
			continue
		}
		if e := math.Abs(d - p.reachPref); e < bestE {
			bestK, bestE = i, e
		}
	}
	if bestK < 0 {
		return nt
	}
	step := int(math.Round(0.06 / pr.dt))
	for _, off := range [...]int{0, step, -step, 2 * step, -2 * step} {
		if k == 0 || nt >= len(times) {
			break
		}
		i := bestK + off
		if i < 0 || i >= pr.n {
			continue
		}
		t := pr.t0 + float64(i)*pr.dt
		bp := pr.p[i]
		if t < tMin || bp[2] < 0.3 || p.reachDist(bp) > reachMax {
			continue
		}
		times[nt] = t
		nt++
		k--
	}
	return nt
}

// seed writes IK seed s for a catch at ball position bp into p.qseed:
// the ready pose with the rail offset to the ball's right or left (head
// left/right of the carriage) and joint 1 yawed toward the ball.
func (p *Planner) seed(s int, bp [3]float64) {
	offs := [...]float64{0.15, -0.15, 0.3, -0.3, 0.45, -0.45}
	copy(p.qseed, p.ready)
	rail := clamp(bp[1]+offs[s], p.lower[0], p.upper[0])
	p.qseed[0] = rail
	p.qseed[1] = math.Atan2(bp[1]-rail, math.Max(bp[0], 0.1))
}

// normalRef returns m, the negated reference for the net normal at the
// catch: the ball's direction v̂, with the reference −v̂ turned toward
// straight up by NormalUpRad (at most until it points up), so that a flat
// ball meets a net that already faces upward and the pocket holds it deeper
// (see Config.NormalUpRad).
func (p *Planner) normalRef(vhat [3]float64) [3]float64 {
	b := p.cfg.NormalUpRad
	if b <= 0 {
		return vhat
	}
	// e: the unit part of ẑ orthogonal to v̂; −v̂ turns toward it
	e := [3]float64{-vhat[2] * vhat[0], -vhat[2] * vhat[1], 1 - vhat[2]*vhat[2]}
	ne := norm3(e)
	if ne < 1e-6 {
		return vhat
	}
	// angle between −v̂ and ẑ
	b = math.Min(b, math.Acos(clamp(-vhat[2], -1, 1)))
	c, s := math.Cos(b), math.Sin(b)
	return [3]float64{vhat[0]*c - s*e[0]/ne, vhat[1]*c - s*e[1]/ne, vhat[2]*c - s*e[2]/ne}
}

// catchSpeed is the head speed along the ball's direction at the catch for
// a ball arriving at sp m/s: the ball meets the net at most
// CatchRelSpeed faster than the head, but the head moves at least
// CatchSpeed and at most MaxCatchSpeed.
func (p *Planner) catchSpeed(sp float64) float64 {
	return clamp(sp-p.cfg.CatchRelSpeed, p.cfg.CatchSpeed, math.Max(p.cfg.MaxCatchSpeed, p.cfg.CatchSpeed))
}

// catchVelocity writes into p.qdc the joint velocity that moves the head
// origin at v (m/s): the velocity-limit-weighted, damped least-squares
// solution of J_v q̇ = v (the net may turn slightly; the normal is
// constrained only at the catch instant).
func (p *Planner) catchVelocity(q []float64, v [3]float64) {
	n := p.n
	p.rob.Chain.FKJacobian(q, &p.pose, p.jac)
	var a [9]float64
	for r := 0; r < 3; r++ {
		for c := 0; c <= r; c++ {
			var s float64
			for j := 0; j < n; j++ {
				w := p.vel[j] * p.vel[j]
				s += p.jac[r*n+j] * w * p.jac[c*n+j]
			}
			a[r*3+c] = s
			a[c*3+r] = s
		}
		a[r*3+r] += 1e-2
	}
	b := v
	if !dense.Factor(a[:], 3) {
		clear(p.qdc)
		return
	}
	dense.Solve(a[:], 3, b[:], b[:])
	for j := 0; j < n; j++ {
		var s float64
		for r := 0; r < 3; r++ {
			s += p.jac[r*n+j] * b[r]
		}
		p.qdc[j] = p.vel[j] * p.vel[j] * s
	}
}

// initial builds the start plan reaching qc at tc with the catch velocity.
func (p *Planner) initial(req *Request, tc float64, qc []float64, vhat [3]float64, pl *Plan) bool {
	n, N := p.n, p.N
	T := tc - req.T0
	if T <= 0 {
		return false
	}
	_, bv, _ := p.pred.At(tc)
	vc := p.catchSpeed(norm3(bv))
	p.catchVelocity(qc, [3]float64{vc * vhat[0], vc * vhat[1], vc * vhat[2]})
	pl.T0 = req.T0
	pl.HasCatch = true
	copy(pl.Qs[:n], req.Q0)
	copy(pl.Vs[:n], req.Qd0)
	copy(pl.Acc, p.acc)
	if N == 1 {
		pl.Dt[0] = T
	} else {
		last := 0.3 * T
		for k := 0; k < N-1; k++ {
			pl.Dt[k] = (T - last) / float64(N-1)
		}
		pl.Dt[N-1] = last
	}
	for j := 0; j < n; j++ {
		for k := 0; k < N; k++ {
			pl.Dq[k*n+j] = 0
		}
		a := p.acc[j]
		v0 := req.Qd0[j]
		target := qc[j] - req.Q0[j] - v0*T
		if N == 1 {
			// δ(T − |δ|/(2a)) = target, monotone for |δ| ≤ aT.
			pl.Dq[j] = bisect(func(d float64) float64 { return d * (T - math.Abs(d)/(2*a)) }, target, -a*T, a*T)
			continue
		}
		t1, tl := pl.Dt[0], pl.Dt[N-1]
		c := clamp(p.qdc[j]-v0, -a*tl, a*tl) // total change; the last stage takes c − δ1
		rest := T - t1                       // time after stage 1 (δ1 cruises through it)
		lo, hi := math.Max(-a*t1, c-a*tl), math.Min(a*t1, c+a*tl)
		if lo > hi {
			lo, hi = -a*t1, a*t1
		}
		f := func(d float64) float64 {
			e := c - d
			return d*(t1-math.Abs(d)/(2*a)) + d*rest + e*(tl-math.Abs(e)/(2*a))
		}
		d1 := bisect(f, target, lo, hi)
		pl.Dq[j] = d1
		pl.Dq[(N-1)*n+j] = c - d1
	}
	pl.finalize()
	return true
}

// bisect solves f(x) = y for monotone increasing f on [lo, hi], clamping.
func bisect(f func(float64) float64, y, lo, hi float64) float64 {
	if f(lo) >= y {
		return lo
	}
	if f(hi) <= y {
		return hi
	}
	for i := 0; i < 50 && hi-lo > 1e-10; i++ {
		mid := 0.5 * (lo + hi)
		if f(mid) < y {
			lo = mid
		} else {
			hi = mid
		}
	}
	return 0.5 * (lo + hi)
}

// evaluate finalises pl (stage states, catch time, cradle) and returns its
// cost and its total constraint violation (0: feasible). With lin true it
// also fills the QP data at pl.
func (p *Planner) evaluate(pl *Plan, lin *bool) (cost, viol float64) {
	cfg := &p.cfg
	n, N := p.n, p.N
	pl.finalize()
	qN, vN := pl.Qs[N*n:], pl.Vs[N*n:]
	p.rob.Chain.FKJacobian(qN, &p.pose, p.jac)
	bp, bv, _ := p.pred.At(pl.TCatch)
	sp := norm3(bv)
	vhat := [3]float64{bv[0] / sp, bv[1] / sp, bv[2] / sp}
	pl.BallP, pl.BallV = bp, bv
	// cradle duration: joints stop within the slow-down time or their acceleration limit
	slow := cfg.SlowDownS
	for j := 0; j < n; j++ {
		slow = math.Max(slow, math.Abs(vN[j])/p.acc[j])
	}
	pl.Slow = slow
	p.netUp(pl)
	if p.pose.P[1]-qN[0] >= 0 {
		pl.Side = 1
	} else {
		pl.Side = -1
	}

	var vh [3]float64
	for r := 0; r < 3; r++ {
		for j := 0; j < n; j++ {
			vh[r] += p.jac[r*n+j] * vN[j]
		}
	}
	vc := p.catchSpeed(sp)
	rv := [3]float64{vh[0] - vc*vhat[0], vh[1] - vc*vhat[1], vh[2] - vc*vhat[2]}
	along := dot3(rv, vhat)
	var off2 float64
	for r := 0; r < 3; r++ {
		o := rv[r] - along*vhat[r]
		off2 += o * o
	}
	nrm := p.pose.Axis(1)
	m := p.normalRef(vhat)
	var ep2, en2 float64
	var maxEp float64
	for r := 0; r < 3; r++ {
		e := p.pose.P[r] - bp[r]
		ep2 += e * e
		maxEp = math.Max(maxEp, math.Abs(e))
		en := nrm[r] + m[r]
		en2 += en * en
	}
	var effort float64
	for k := 0; k < N; k++ {
		for j := 0; j < n; j++ {
			d := pl.Dq[k*n+j] / p.vel[j]
			effort += d * d
		}
	}
	T := pl.TCatch - pl.T0
	cost = cfg.Lambda*T + cfg.EffortWeight*effort + cfg.OffAxisWeight*off2 + cfg.CatchSpeedWeight*along*along +
		cfg.PoseWeight*(ep2+0.1*en2)

	// constraint violations (positive parts), in comparable units
	viol += 100 * math.Max(0, maxEp-cfg.PosTolM)
	ang := math.Acos(clamp(-dot3(nrm, m), -1, 1))
	viol += 10 * math.Max(0, ang-cfg.NormalTolRad)
	for k := 0; k < N; k++ {
		if pl.Dt[k] < 0 {
			viol += 10 * -pl.Dt[k]
		}
		for j := 0; j < n; j++ {
			d := pl.Dq[k*n+j]
			viol += math.Max(0, math.Abs(d)-p.acc[j]*math.Max(pl.Dt[k], 0)-1e-9) / p.acc[j] * 10
			v := pl.Vs[(k+1)*n+j]
			viol += math.Max(0, math.Abs(v)-p.vel[j]-1e-9)
			lo, hi := pl.stageExtrema(k, j)
			viol += 10 * (math.Max(0, p.lower[j]-lo) + math.Max(0, hi-p.upper[j]))
		}
	}
	for j := 0; j < n; j++ {
		lo, hi := pl.cradleBounds(j)
		viol += 10 * (math.Max(0, p.lower[j]-lo) + math.Max(0, hi-p.upper[j]))
	}
	viol += p.cradleCollision(pl)
	if viol < 1e-9 {
		viol = 0
	}
	if lin == nil {
		return cost, viol
	}
	p.linearize(pl, vhat, sp, nrm, vh)
	return cost, viol
}

// cradleClearanceM is the clearance the cradle keeps between the arm's
// collision capsules and from the floor, m: the safety layer's margin
// (0.01) and as much again for the tracking of the executed motion.
const cradleClearanceM = 0.02

// cradleSamples are the times after the catch, in units of the plan's
// slow-down time, at which the cradle's pose is checked for collisions: the
// joints stop by 1 and the net-up ends at 2.
var cradleSamples = [...]float64{0.5, 1, 2}

// cradleCollision returns the collision violation of pl's cradle: 100 per
// metre by which a checked pose after the catch comes closer than
// cradleClearanceM to the floor or to another part of the arm (0 without
// the check). The head follows the ball after the catch, and a catch near
// the robot's base carried it into link_1, where the safety layer braked
// it and the ball bounced out of the stopped net.
func (p *Planner) cradleCollision(pl *Plan) float64 {
	if p.coll == nil || !pl.HasCatch {
		return 0
	}
	var v float64
	for _, f := range cradleSamples {
		pl.Decode(pl.TCatch+f*pl.Slow, p.qcr, p.qdcr)
		if !p.coll.Check(p.qcr) {
			continue
		}
		c := p.coll.Nearest(p.qcr)
		v += 100 * math.Max(cradleClearanceM-c.DistM, 1e-3)
	}
	return v
}

// netUp sets pl.NetUp: a wrist rotation (last three joints) that turns the
// net normal toward straight up by up to NetUpRad, scaled down so the
// cradle (slow-down and net-up together, with their signs) stays
// within the acceleration and velocity limits.
func (p *Planner) netUp(pl *Plan) {
	n, N := p.n, p.N
	for j := range pl.NetUp {
		pl.NetUp[j] = 0
	}
	if p.cfg.NetUpRad == 0 || n < 6 {
		return
	}
	nrm := p.pose.Axis(1)
	ax := cross3(nrm, [3]float64{0, 0, 1})
	s := norm3(ax)
	if s < 1e-6 {
		return
	}
	th := math.Min(p.cfg.NetUpRad, math.Asin(math.Min(s, 1)))
	w := [3]float64{ax[0] / s * th, ax[1] / s * th, ax[2] / s * th}
	// 3×3 angular Jacobian of the last three joints
	var a [9]float64
	var jw [9]float64
	for r := 0; r < 3; r++ {
		for c := 0; c < 3; c++ {
			jw[r*3+c] = p.jac[(3+r)*n+n-3+c]
		}
	}
	for r := 0; r < 3; r++ {
		for c := 0; c < 3; c++ {
			var v float64
			for k := 0; k < 3; k++ {
				v += jw[k*3+r] * jw[k*3+c]
			}
			a[r*3+c] = v
		}
		a[r*3+r] += 1e-2
	}
	var b [3]float64
	for r := 0; r < 3; r++ {
		b[r] = jw[0*3+r]*w[0] + jw[1*3+r]*w[1] + jw[2*3+r]*w[2]
	}
	if !dense.Factor(a[:], 3) {
		return
	}
	dense.Solve(a[:], 3, b[:], b[:])
	scale := 1.0
	for c := 0; c < 3; c++ {
		j := n - 3 + c
		scale = math.Min(scale, pl.netUpScale(pl.Vs[N*n+j], b[c], p.acc[j], p.vel[j]))
	}
	for c := 0; c < 3; c++ {
		pl.NetUp[n-3+c] = b[c] * scale
	}
}

// linearize fills the QP (H, g, A, l, u) for a step dx from pl.
func (p *Planner) linearize(pl *Plan, vhat [3]float64, sp float64, nrm, vh [3]float64) {
	cfg := &p.cfg
	n, N, nv := p.n, p.N, p.nv
	qN, vN := pl.Qs[N*n:], pl.Vs[N*n:]
	_ = vN
	bp, _, ba := p.pred.At(pl.TCatch)
	// dv̂/dT
	ad := dot3(ba, vhat)
	dvh := [3]float64{(ba[0] - ad*vhat[0]) / sp, (ba[1] - ad*vhat[1]) / sp, (ba[2] - ad*vhat[2]) / sp}
	bv := [3]float64{vhat[0] * sp, vhat[1] * sp, vhat[2] * sp}
	// the net normal's reference −m turns with v̂ (its tilt toward up is
	// treated as fixed in the linearisation)
	m := p.normalRef(vhat)
	dtIdx := func(k int) int { return N*n + k }
	// gq: ∂q_N/∂x (row j)
	clear(p.gq)
	for j := 0; j < n; j++ {
		for k := 0; k < N; k++ {
			after := 0.0
			for m := k + 1; m < N; m++ {
				after += pl.Dt[m]
			}
			p.gq[j*nv+k*n+j] = pl.Dt[k] - math.Abs(pl.Dq[k*n+j])/p.acc[j] + after
			p.gq[j*nv+dtIdx(k)] = pl.Vs[(k+1)*n+j]
		}
	}
	// residual rows (least squares): 0–2 off-axis velocity, 3 along, 4–6
	// position, 7–9 normal, then effort handled as a diagonal.
	clear(p.jr)
	clear(p.res)
	so, sc, spw, snw := math.Sqrt(cfg.OffAxisWeight), math.Sqrt(cfg.CatchSpeedWeight), math.Sqrt(cfg.PoseWeight), math.Sqrt(0.1*cfg.PoseWeight)
	vc := p.catchSpeed(sp)
	rv := [3]float64{vh[0] - vc*vhat[0], vh[1] - vc*vhat[1], vh[2] - vc*vhat[2]}
	al := dot3(rv, vhat)
	// d vh / dx = Jv · ∂q̇_N/∂x  (∂q̇_N,j/∂Dq_kj = 1), minus v_c dv̂/dT on Dt
	for r := 0; r < 3; r++ {
		p.res[r] = so * (rv[r] - al*vhat[r])
		p.res[4+r] = spw * (p.pose.P[r] - bp[r])
		p.res[7+r] = snw * (nrm[r] + m[r])
	}
	p.res[3] = sc * al
	var dvdx [3][]float64
	var arow [6][]float64 // position rows 0–2, normal rows 3–5 (constraint Jacobians)
	for r := 0; r < 6; r++ {
		arow[r] = p.A[r*nv : (r+1)*nv]
		clear(arow[r])
	}
	for r := 0; r < 3; r++ {
		dvdx[r] = p.jr[(11+r)*nv : (12+r)*nv] // scratch rows
		clear(dvdx[r])
	}
	for k := 0; k < N; k++ {
		for j := 0; j < n; j++ {
			c := k*n + j
			for r := 0; r < 3; r++ {
				dvdx[r][c] = p.jac[r*n+j]
			}
		}
		for r := 0; r < 3; r++ {
			dvdx[r][dtIdx(k)] = -vc * dvh[r]
		}
	}
	// position and normal Jacobians
	for c := 0; c < nv; c++ {
		var dq [8]float64
		_ = dq
		var lin, ang [3]float64
		for j := 0; j < n; j++ {
			gj := p.gq[j*nv+c]
			if gj == 0 {
				continue
			}
			for r := 0; r < 3; r++ {
				lin[r] += p.jac[r*n+j] * gj
				ang[r] += p.jac[(3+r)*n+j] * gj
			}
		}
		dn := cross3(ang, nrm)
		isDt := c >= N*n
		for r := 0; r < 3; r++ {
			arow[r][c] = lin[r]
			arow[3+r][c] = dn[r]
			if isDt {
				arow[r][c] -= bv[r]
				arow[3+r][c] += dvh[r]
			}
		}
	}
	for c := 0; c < nv; c++ {
		d := [3]float64{dvdx[0][c], dvdx[1][c], dvdx[2][c]}
		da := dot3(d, vhat)
		for r := 0; r < 3; r++ {
			p.jr[r*nv+c] = so * (d[r] - da*vhat[r])
			p.jr[(4+r)*nv+c] = spw * arow[r][c]
			p.jr[(7+r)*nv+c] = snw * arow[3+r][c]
		}
		p.jr[3*nv+c] = sc * da
	}
	// H = JᵀJ + effort + regularisation; g = Jᵀr + effort gradient + λ on Dt.
	for a := 0; a < nv; a++ {
		for b := 0; b <= a; b++ {
			var s float64
			for r := 0; r < 10; r++ {
				s += p.jr[r*nv+a] * p.jr[r*nv+b]
			}
			p.H[a*nv+b], p.H[b*nv+a] = s, s
		}
		var s float64
		for r := 0; r < 10; r++ {
			s += p.jr[r*nv+a] * p.res[r]
		}
		p.g[a] = s
	}
	for k := 0; k < N; k++ {
		for j := 0; j < n; j++ {
			c := k*n + j
			w := cfg.EffortWeight / (p.vel[j] * p.vel[j])
			p.H[c*nv+c] += w
			p.g[c] += w * pl.Dq[c]
		}
		p.g[dtIdx(k)] += cfg.Lambda
	}
	for a := 0; a < nv; a++ {
		p.H[a*nv+a] += 1e-4
	}
	// constraints
	inf := qp.Infinity
	tolN := 2 * math.Sin(cfg.NormalTolRad/2) / math.Sqrt(3)
	tolP := cfg.PosTolM
	if p.elastic && p.coldSQP {
		tolP *= coldTolBackoff
		tolN *= coldTolBackoff
	}
	for r := 0; r < 3; r++ {
		e := p.pose.P[r] - bp[r]
		p.l[r], p.u[r] = -tolP-e, tolP-e
		en := nrm[r] + m[r]
		p.l[3+r], p.u[3+r] = -tolN-en, tolN-en
	}
	row := 6
	tr := p.trust
	for k := 0; k < N; k++ {
		for j := 0; j < n; j++ {
			a := p.acc[j]
			d := pl.Dq[k*n+j]
			dt := pl.Dt[k]
			// velocity at stage end k+1
			rw := p.A[row*nv : (row+1)*nv]
			clear(rw)
			for m := 0; m <= k; m++ {
				rw[m*n+j] = 1
			}
			v := pl.Vs[(k+1)*n+j]
			p.l[row], p.u[row] = -p.vel[j]-v, p.vel[j]-v
			row++
			// bang feasibility: d+δd − a(dt+δt) ≤ 0 and d+δd + a(dt+δt) ≥ 0
			rw = p.A[row*nv : (row+1)*nv]
			clear(rw)
			rw[k*n+j], rw[dtIdx(k)] = 1, -a
			p.l[row], p.u[row] = -inf, a*dt-d
			row++
			rw = p.A[row*nv : (row+1)*nv]
			clear(rw)
			rw[k*n+j], rw[dtIdx(k)] = 1, a
			p.l[row], p.u[row] = -a*dt-d, inf
			row++
			// position at stage end k+1
			rw = p.A[row*nv : (row+1)*nv]
			clear(rw)
			for m := 0; m <= k; m++ {
				after := 0.0
				for mm := m + 1; mm <= k; mm++ {
					after += pl.Dt[mm]
				}
				rw[m*n+j] = pl.Dt[m] - math.Abs(pl.Dq[m*n+j])/a + after
				rw[dtIdx(m)] = pl.Vs[(m+1)*n+j]
			}
			q := pl.Qs[(k+1)*n+j]
			p.l[row], p.u[row] = p.lower[j]-q, p.upper[j]-q
			row++
		}
	}
	// cradle end position (slow-down travel at fixed Slow)
	for j := 0; j < n; j++ {
		rw := p.A[row*nv : (row+1)*nv]
		copy(rw, p.gq[j*nv:(j+1)*nv])
		for k := 0; k < N; k++ {
			rw[k*n+j] += pl.Slow / 2
		}
		q := qN[j] + pl.Vs[N*n+j]*pl.Slow/2 + pl.NetUp[j]
		p.l[row], p.u[row] = p.lower[j]-q, p.upper[j]-q
		row++
	}
	// trust region
	for c := 0; c < nv; c++ {
		rw := p.A[row*nv : (row+1)*nv]
		clear(rw)
		rw[c] = 1
		if c < N*n {
			h := tr * p.vel[c%n]
			p.l[row], p.u[row] = -h, h
		} else {
			h := tr * 0.1
			k := c - N*n
			p.l[row], p.u[row] = math.Max(-h, 0.005-pl.Dt[k]), h
			if p.l[row] > p.u[row] {
				p.l[row] = p.u[row]
			}
		}
		row++
	}
	for i := 0; i < p.m; i++ {
		if p.l[i] > p.u[i] {
			// an already-violated constraint the trust region cannot fix in
			// one step: relax to the nearest point.
			mid := 0.5 * (p.l[i] + p.u[i])
			p.l[i], p.u[i] = mid, mid
		}
	}
}

// sqp runs SQP iterations on pl in place and returns how many ran.
func (p *Planner) sqp(pl *Plan, cold bool) int {
	cfg := &p.cfg
	maxIt := cfg.SQPIters
	if cold {
		maxIt *= 3
	}
	n, N := p.n, p.N
	p.trust = cfg.TrustRegion
	p.coldSQP = cold
	lin := true
	cost, viol := p.evaluate(pl, &lin)
	const mu = meritPenalty
	merit := cost + mu*viol
	it := 0
	for it < maxIt {
		it++
		tq := time.Now()
		p.scaleQP()
		// A first: UpdateA defers the factorisation to UpdateP, so the
		// ADMM matrix is factored once per QP, not twice.
		if err := p.sol.UpdateA(p.As); err != nil {
			p.Stats.QPFailed++
			break
		}
		if err := p.sol.UpdateP(p.Hs); err != nil {
			p.Stats.QPFailed++
			break
		}
		if p.sol.UpdateQ(p.gs) != nil || p.sol.UpdateBounds(p.ls, p.us) != nil {
			p.Stats.QPFailed++
			break
		}
		if !p.elastic {
			// ADMM starts from the zero step (the active set starts from
			// the unconstrained minimiser and takes no warm start).
			_ = p.sol.WarmStart(p.zero, nil)
		}
		r := p.sol.Solve()
		p.Stats.QPSolves++
		p.Stats.QPIters += r.Iterations
		if r.Status == qp.Solved {
			p.Stats.QPSolved++
		}
		p.Stats.QPUS += float64(time.Since(tq).Nanoseconds()) / 1e3
		if r.Status != qp.Solved && r.Status != qp.SolvedInaccurate && r.Status != qp.IterationLimit {
			p.Stats.QPFailed++
			p.trust *= 0.3
			if viol == 0 {
				break
			}
			p.evaluate(pl, &lin)
			continue
		}
		for c := range p.dx {
			p.dx[c] = p.dsc[c] * r.X[c]
		}
		// trial step
		p.trial.copyFrom(pl)
		for k := 0; k < N; k++ {
			for j := 0; j < n; j++ {
				p.trial.Dq[k*n+j] += p.dx[k*n+j]
			}
			p.trial.Dt[k] = math.Max(p.trial.Dt[k]+p.dx[N*n+k], 0)
		}
		c2, v2 := p.evaluate(p.trial, nil)
		m2 := c2 + mu*v2
		if m2 < merit {
			small := viol == 0 && v2 == 0 && merit-m2 < 1e-3*(1+math.Abs(merit))
			pl.copyFrom(p.trial)
			if small {
				merit, cost, viol = m2, c2, v2
				break
			}
			merit, cost, viol = m2, c2, v2
			p.trust = math.Min(p.trust*1.5, 3*cfg.TrustRegion)
		} else {
			p.trust = shrinkTrust(p.trust, r.X[:p.nv])
		}
		if it < maxIt {
			p.evaluate(pl, &lin)
		}
	}
	p.evaluate(pl, nil)
	return it
}

// scaleQP equilibrates the QP in (H, g, A, l, u) into (Hs, gs, As, ls, us):
// each velocity change in units of its joint's velocity limit and each stage
// duration in 0.1 s (D), each constraint row to unit ∞-norm (E), and the cost
// by c = 1/max(mean column ∞-norm of DHD, ‖Dg‖∞). The step is x = D·x̃.
func (p *Planner) scaleQP() {
	nv, m, n, N, ns := p.nv, p.m, p.n, p.N, p.ns
	for c := 0; c < nv; c++ {
		if c < N*n {
			p.dsc[c] = p.vel[c%n]
		} else {
			p.dsc[c] = 0.1
		}
	}
	var colSum float64
	for a := 0; a < nv; a++ {
		var cm float64
		for b := 0; b < nv; b++ {
			v := p.dsc[a] * p.H[a*nv+b] * p.dsc[b]
			p.Hs[a*ns+b] = v
			cm = math.Max(cm, math.Abs(v))
		}
		colSum += cm
	}
	var gn float64
	for a := 0; a < nv; a++ {
		p.gs[a] = p.dsc[a] * p.g[a]
		gn = math.Max(gn, math.Abs(p.gs[a]))
	}
	cs := math.Max(colSum/float64(nv), gn)
	if !(cs > 1e-6) {
		cs = 1
	}
	cs = 1 / cs
	for a := 0; a < nv; a++ {
		for b := 0; b < nv; b++ {
			p.Hs[a*ns+b] *= cs
		}
		p.gs[a] *= cs
	}
	inf := qp.Infinity
	for i := 0; i < m; i++ {
		row, out := p.A[i*nv:(i+1)*nv], p.As[i*ns:i*ns+nv]
		var rm float64
		for c, v := range row {
			w := v * p.dsc[c]
			out[c] = w
			rm = math.Max(rm, math.Abs(w))
		}
		e := 1.0
		if rm > 1e-9 {
			e = 1 / rm
		}
		p.esc[i] = e
		for c := range out {
			out[c] *= e
		}
		p.ls[i], p.us[i] = p.l[i], p.u[i]
		if p.l[i] > -inf {
			p.ls[i] *= e
		}
		if p.u[i] < inf {
			p.us[i] *= e
		}
	}
	if p.elastic {
		p.addElastic()
	}
}

// addElastic completes the active-set method's QP with the elastic
// variable θ ∈ [0, 1] (index nv, row m): each row i that the zero step
// violates gets the coefficient e_i of θ that the zero step plus θ = 1
// satisfies (its violated bound: lᵢ > 0 or uᵢ < 0), so θ = 1 relaxes every
// violated row by its whole violation and the QP is always feasible. θ costs
// elasticCost (linear) and the step is damped by stepDamping·I (both in the
// scaled units): see docs/architecture.md §6.
func (p *Planner) addElastic() {
	nv, m, ns := p.nv, p.m, p.ns
	for a := 0; a < nv; a++ {
		p.Hs[a*ns+a] += stepDamping
		p.Hs[a*ns+nv], p.Hs[nv*ns+a] = 0, 0
	}
	p.Hs[nv*ns+nv] = 1
	p.gs[nv] = elasticCost
	for i := 0; i < m; i++ {
		e := 0.0
		switch {
		case p.ls[i] > 0:
			e = p.ls[i]
		case p.us[i] < 0:
			e = p.us[i]
		}
		p.As[i*ns+nv] = e
	}
	row := p.As[m*ns : (m+1)*ns]
	clear(row)
	row[nv] = 1
	p.ls[m], p.us[m] = 0, 1
}

// dump writes the current QP to DumpDir.
func (p *Planner) dump(st PlanStatus) {
	name := filepath.Join(p.cfg.DumpDir, fmt.Sprintf("mpc-qp-%s-%d.json", st, p.Stats.Plans))
	f, err := os.Create(name)
	if err != nil {
		return
	}
	defer f.Close()
	pr := &p.prob
	if p.elastic {
		pr = &p.sprob
	}
	if pr.WriteJSON(f) == nil {
		p.Stats.Dumps++
	}
}

// shrinkTrust returns the trust region after a rejected step x (scaled
// units): 0.3 times the smaller of the trust region and the step's ∞-norm.
// Shrinking only the trust region returned the same step whenever the
// rejected one lay inside it (the QP's damped minimiser), so the remaining
// SQP iterations repeated it.
func shrinkTrust(trust float64, x []float64) float64 {
	var m float64
	for _, v := range x {
		m = math.Max(m, math.Abs(v))
	}
	return 0.3 * math.Min(trust, m)
}
