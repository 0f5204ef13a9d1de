package mpc

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/perception"
	"github.com/agilecatch/catch/robot"
)

// Controller is the MPC catch controller (control.Controller). Step is
// called by one goroutine (the control loop). In synchronous mode it
// re-plans inside Step; in asynchronous mode a planner goroutine does, and
// Step only decodes the newest published plan.
type Controller struct {
	cfg   Config
	rob   *robot.Robot
	n     int
	pl    *Planner
	ready []float64

	cur, next *Plan // executing plan; scratch for a synchronous re-plan
	lastNObs  int
	lastT     float64
	started   bool
	q, qd     []float64

	lat    *latencyEstimator // nil with fixed_latency
	spin   perception.SpinFit
	latBuf []float64

	// async
	async   *asyncPlanner
	pending bool
	reqT0   float64

	// modelled compute time (SetComputeModel)
	model    *ComputeModel
	virt     *virtualPlanner // replaces async under a model
	modelled time.Duration
	work     PlanWork
	workT0   float64 // start time of the request of work
	planned  bool
}

// New returns an MPC controller for rob. ready is the pose the arm waits in
// before the first ball estimate (the sim's ready pose).
func New(cfg Config, rob *robot.Robot, ready []float64) (*Controller, error) {
	cfg = cfg.WithDefaults()
	pl, err := NewPlanner(cfg, rob, ready)
	if err != nil {
		return nil, err
	}
	n := rob.Chain.DOF()
	c := &Controller{cfg: cfg, rob: rob, n: n, pl: pl, ready: append([]float64(nil), ready...),
		cur: pl.NewPlan(), next: pl.NewPlan(), q: make([]float64, n), qd: make([]float64, n)}
	if !cfg.FixedLatency {
		c.lat = newLatencyEstimator(n, rob.Limits.Vel, cfg.latency())
		c.latBuf = make([]float64, n)
	}
	if cfg.Async {
		ap, err := NewPlanner(cfg, rob, ready)
		if err != nil {
			return nil, err
		}
		c.async = newAsyncPlanner(ap)
	}
	return c, nil
}

// Name implements control.Controller.
func (c *Controller) Name() string { return "mpc" }

// Latency returns the action latency the controller compensates now (the
// configured one, or the estimate it is moving to), s.
func (c *Controller) Latency() float64 {
	if c.lat != nil {
		return c.lat.cur
	}
	return c.cfg.latency()
}

// Planner returns the synchronous planner (for its Stats and prediction).
func (c *Controller) Planner() *Planner { return c.pl }

// SetComputeModel charges every step the compute time m predicts from its
// work (ModelledCompute), for simulation on a modelled clock. In
// asynchronous mode the planner goroutine is replaced by a planner that
// solves each request at once but publishes the plan only when its modelled
// time has passed on the trial clock (Input.Now), waiting for the plan in
// progress as the goroutine would: the asynchronous controller's timing
// becomes deterministic. Call it before the first Step.
func (c *Controller) SetComputeModel(m *ComputeModel) error {
	if err := m.Validate(); err != nil {
		return err
	}
	c.model = m
	if c.async != nil {
		c.virt = newVirtualPlanner(c.async.pl, m)
		c.async.close()
		c.async = nil
	}
	return nil
}

// ModelledCompute is the modelled compute time of the latest Step (0
// without a compute model): ComputeModel.StepUS, plus in synchronous mode
// the time of the re-plan it made.
func (c *Controller) ModelledCompute() time.Duration { return c.modelled }

// LastWork reports the work of the re-plan the latest Step made in
// synchronous mode and its PlanKey; ok is false when it made none.
func (c *Controller) LastWork() (w PlanWork, key uint64, ok bool) {
	return c.work, PlanKey(c.workT0, c.work), c.planned
}

// Stats returns the planner statistics (of the planner goroutine in async mode).
func (c *Controller) Stats() Stats {
	if c.virt != nil {
		return c.virt.st
	}
	if c.async != nil {
		return c.async.stats()
	}
	return c.pl.Stats
}

// Current returns the plan being executed; do not modify it.
func (c *Controller) Current() *Plan { return c.cur }

// Close stops the planner goroutine of an asynchronous controller.
func (c *Controller) Close() {
	if c.async != nil {
		c.async.close()
	}
}

// Reset implements control.Controller: the reference starts at the
// measured state and brakes to rest there.
func (c *Controller) Reset(arm control.ArmState) error {
	if len(arm.Q) != c.n || len(arm.Qd) != c.n {
		return fmt.Errorf("mpc: reset with %d/%d joint values, want %d", len(arm.Q), len(arm.Qd), c.n)
	}
	c.cur = c.pl.NewPlan()
	c.cur.brake(0, arm.Q, arm.Qd, c.pl.acc)
	c.lastNObs, c.started, c.pending = 0, false, false
	c.spin.Reset()
	if c.lat != nil {
		c.lat.reset(c.cfg.latency())
	}
	c.pl.Reset()
	if c.async != nil {
		c.async.reset()
	}
	if c.virt != nil {
		c.virt.reset()
	}
	return nil
}

// PlanKnots implements control.PlanReporter: the executing catch plan's
// stage-start positions, the last knot the catch pose; 0 before the first
// catch plan of a trial.
func (c *Controller) PlanKnots(dst []float64) int {
	if !c.cur.HasCatch {
		return 0
	}
	k := min(c.cur.N+1, len(dst)/c.n)
	copy(dst, c.cur.Qs[:k*c.n])
	return k
}

// Step implements control.Controller.
func (c *Controller) Step(in *control.Input, out *control.Command) (control.Status, error) {
	t0 := time.Now()
	if len(out.Q) != c.n || len(out.Qd) != c.n {
		return control.Status{}, fmt.Errorf("mpc: command has %d/%d joints, want %d", len(out.Q), len(out.Qd), c.n)
	}
	now := in.Now.Seconds()
	c.planned = false
	lead := c.cfg.latency()
	if c.lat != nil && len(in.Arm.Q) == c.n {
		lead = c.moveLead(now, c.lat.observe(now, in.Arm.Q, lead, c.latBuf))
	}
	ts := now + lead // the reference time this command is executed at
	code := control.Waiting
	if c.cur.HasCatch {
		code = control.Tracking
	}
	props := in.Props
	if in.Ball.Valid && props != nil {
		frozen := c.cur.HasCatch && ts > c.cur.TCatch-c.cfg.FreezeS
		if in.Ball.NObs != c.lastNObs && !frozen {
			if in.Ball.NObs < c.lastNObs {
				c.spin.Reset() // a new track
			}
			c.lastNObs = in.Ball.NObs
			req := Request{T0: ts, Est: in.Ball, Props: props, Prev: c.cur}
			if !c.cfg.NoSpinFit {
				w := c.spin.Add(&in.Ball, props)
				for i := range w {
					req.Est.State.W[i] += w[i]
				}
			}
			if in.Forecast != nil && in.Forecast.N > 0 {
				if tc, ok := SelectCatch(in.Forecast, &c.pl.pred, c.rob.Pocket.Across); ok {
					req.ForecastT = tc
				}
			}
			if c.async == nil && c.virt == nil {
				c.cur.Decode(ts, c.q, c.qd)
				req.Q0, req.Qd0 = c.q, c.qd
				before := c.pl.Stats
				st := c.pl.Plan(&req, c.next)
				c.work, c.workT0, c.planned = workSince(&before, &c.pl.Stats), req.T0, true
				switch st {
				case PlanSolved:
					c.cur, c.next = c.next, c.cur
					code = control.Tracking
				default:
					if !c.cur.HasCatch {
						code = control.NoPlan
					}
				}
			} else {
				code = c.stepAsync(&req, now, ts, code)
			}
		} else if c.async != nil || c.virt != nil {
			code = c.stepAsync(nil, now, ts, code)
		}
		if code == control.Waiting {
			code = control.NoPlan
		}
	}
	c.cur.Decode(ts, out.Q, out.Qd)
	if c.lat != nil {
		c.lat.commanded(now, out.Q, out.Qd)
	}
	if c.cur.HasCatch && ts >= c.cur.TCatch {
		code = control.Cradling
	}
	if c.model != nil {
		c.modelled = time.Duration(c.model.StepUS * 1e3)
		if c.planned {
			c.modelled += c.model.PlanTime(c.work, PlanKey(c.workT0, c.work))
		}
	}
	return control.Status{Code: code, Compute: time.Since(t0)}, nil
}

// Rebase makes the command (q, qd), executed from time t (s, the loop's
// clock plus the latency), the start of the reference, braking to rest
// from there: the controller takes over the arm from another that drove
// it while this one stepped in the shadow (package fused), and the next
// fresh ball estimate plans on from the command that was sent rather
// than from this controller's own shadow plan. Synchronous planning only.
func (c *Controller) Rebase(t float64, q, qd []float64) {
	if len(q) != c.n || len(qd) != c.n || c.async != nil || c.virt != nil {
		return
	}
	c.next.brake(t, q, qd, c.pl.acc)
	c.cur, c.next = c.next, c.cur
}

// moveLead moves the decode lead toward target: by up to latFastRate·dt
// when the plan decoded there changes the commanded velocity by no more
// than the acceleration limits allow over dt, else by latRate·dt (always
// within the limits, see latency.go).
func (c *Controller) moveLead(now, target float64) float64 {
	e := c.lat
	dt := 0.0
	if e.haveLast {
		dt = math.Max(now-e.lastNow, 0)
	}
	e.lastNow, e.haveLast = now, true
	if target == e.cur || dt == 0 {
		return e.cur
	}
	slow := e.cur + math.Max(-latRate*dt, math.Min(latRate*dt, target-e.cur))
	fast := e.cur + math.Max(-latFastRate*dt, math.Min(latFastRate*dt, target-e.cur))
	if e.hasPrev && fast != slow {
		c.cur.Decode(now+fast, c.q, c.qd)
		ok := true
		for j := 0; j < c.n; j++ {
			if math.Abs(c.qd[j]-e.prevQd[j]) > 0.95*c.rob.Limits.Acc[j]*dt {
				ok = false
				break
			}
		}
		if ok {
			slow = fast
		}
	}
	e.cur = slow
	return e.cur
}

// stepAsync adopts a published plan whose start time falls in this tick
// and posts req (when non-nil) for a plan starting two ticks ahead. now is
// the trial clock (the virtual planner's clock).
func (c *Controller) stepAsync(req *Request, now, ts float64, code control.Code) control.Code {
	const lead = 0.008 // s: the planner's head start (two 250 Hz ticks)
	const tick = 0.004
	var p *Plan
	if c.virt != nil {
		p = c.virt.latest(now)
	} else {
		p = c.async.latest()
	}
	if p != nil && c.pending && p.T0 == c.reqT0 {
		if ts >= p.T0 && ts-p.T0 < tick {
			c.cur = p
			c.pending = false
			code = control.Tracking
		} else if ts-p.T0 >= tick {
			c.pending = false // too late to splice in continuously
		}
	}
	if c.pending && ts-c.reqT0 >= tick {
		c.pending = false
		code = control.StalePlan
	}
	if req != nil && !c.pending {
		req.T0 = ts + lead
		c.cur.Decode(req.T0, c.q, c.qd)
		req.Q0, req.Qd0 = c.q, c.qd
		req.Prev = nil
		c.reqT0 = req.T0
		c.pending = true
		if c.virt != nil {
			c.virt.post(req, now)
		} else {
			c.async.post(req)
		}
	} else if req != nil && c.pending {
		code = control.StalePlan
	}
	return code
}

// asyncPlanner runs a Planner in its own goroutine with a latest-value
// request slot and publishes immutable plans through an atomic pointer.
type asyncPlanner struct {
	pl    *Planner
	mu    sync.Mutex
	req   Request
	q, qd []float64
	has   bool
	wake  chan struct{}
	done  chan struct{}
	out   atomic.Pointer[Plan]
	st    atomic.Pointer[Stats]
	quit  chan struct{}
}

func newAsyncPlanner(pl *Planner) *asyncPlanner {
	a := &asyncPlanner{pl: pl, q: make([]float64, pl.n), qd: make([]float64, pl.n),
		wake: make(chan struct{}, 1), done: make(chan struct{}), quit: make(chan struct{})}
	go a.run()
	return a
}

func (a *asyncPlanner) post(r *Request) {
	a.mu.Lock()
	a.req = *r
	copy(a.q, r.Q0)
	copy(a.qd, r.Qd0)
	a.req.Q0, a.req.Qd0 = a.q, a.qd
	a.has = true
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *asyncPlanner) latest() *Plan { return a.out.Load() }

func (a *asyncPlanner) stats() Stats {
	if s := a.st.Load(); s != nil {
		return *s
	}
	return Stats{}
}

func (a *asyncPlanner) reset() {
	a.mu.Lock()
	a.has = false
	a.mu.Unlock()
	a.out.Store(nil)
}

func (a *asyncPlanner) close() {
	select {
	case <-a.quit:
		return
	default:
	}
	close(a.quit)
	<-a.done
}

func (a *asyncPlanner) run() {
	defer close(a.done)
	q := make([]float64, a.pl.n)
	qd := make([]float64, a.pl.n)
	for {
		select {
		case <-a.quit:
			return
		case <-a.wake:
		}
		a.mu.Lock()
		if !a.has {
			a.mu.Unlock()
			continue
		}
		req := a.req
		copy(q, a.q)
		copy(qd, a.qd)
		req.Q0, req.Qd0 = q, qd
		a.has = false
		a.mu.Unlock()
		dst := a.pl.NewPlan() // published plans are immutable: a fresh one each time
		if a.pl.Plan(&req, dst) == PlanSolved {
			a.out.Store(dst)
		}
		st := a.pl.Stats
		a.st.Store(&st)
	}
}
