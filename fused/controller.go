package fused

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/internal/dense"
	"github.com/agilecatch/catch/mpc"
	"github.com/agilecatch/catch/perception"
	"github.com/agilecatch/catch/policy"
	"github.com/agilecatch/catch/robot"
)

// Config configures the fused controller. The zero value means the
// defaults on each field: both mechanisms on, the shipped parameters.
type Config struct {
	// Params is the parameter file: a policy file of class fused (θ, see
	// params.go), as `catch train es --policy fused` or `catch finetune
	// fused` writes. Default "": the shipped θ that Shipped names.
	Params string `yaml:"params"`
	// Shipped names the shipped θ run when Params is empty: "kinematic"
	// (fused/shipped/fused_policy.json, chosen and trained in the
	// kinematic world) or "mujoco" (fused/shipped/fused_policy_mujoco.json,
	// that θ fine-tuned in the MuJoCo engine; ShippedFor). Default "":
	// kinematic, except that the simulator's commands (catch sim, bench,
	// finetune) run the mujoco one in the MuJoCo engine (launch.Config.ForEngine).
	Shipped string `yaml:"shipped"`
	// NoLearnedParams turns the learned MPC parameters off: the MPC plans
	// with its own configuration (mpc section). Default false.
	NoLearnedParams bool `yaml:"no_learned_params"`
	// NoResidual turns the residual on the plan off. Default false.
	NoResidual bool `yaml:"no_residual"`
	// NoGate turns the gate off: the MPC flies every throw. Default false.
	NoGate bool `yaml:"no_gate"`
	// ESPolicy is the ES policy file the gate may hand a throw to (any
	// class policy.NewAgent builds). Default "": es.policy when set (the
	// launch package fills it in), else the shipped ES policy.
	ESPolicy string `yaml:"es_policy"`
	// MPCFirst reverses who drives until the gate decides: the MPC drives
	// and the ES policy steps in the shadow (its command discarded), and
	// a throw the gate hands to the ES policy is taken over from the
	// MPC's last command (the ES policy must be of a class with a Rebase,
	// as structured and paper are). A throw the gate keeps with the MPC
	// is then flown as the MPC branch alone (no_gate) flies it. Default
	// false: the ES policy drives until the decision.
	MPCFirst bool `yaml:"mpc_first"`
}

// esRebaser is an ES agent that can take over the arm from another
// controller's last command (policy.Controller, policy.PaperController).
type esRebaser interface {
	Rebase(q, qd, acc []float64)
}

// Validate checks the parameter file when one is named.
func (c Config) Validate() error {
	if _, err := ShippedFor(c.Shipped); err != nil {
		return fmt.Errorf("fused.shipped: %w", err)
	}
	if c.Params != "" {
		if _, err := LoadFile(c.Params); err != nil {
			return err
		}
	}
	if c.ESPolicy != "" {
		if _, err := policy.LoadFile(c.ESPolicy); err != nil {
			return fmt.Errorf("fused.es_policy: %w", err)
		}
	}
	return nil
}

// loadES returns the ES policy the gate may hand a throw to.
func (c Config) loadES() (*policy.Policy, error) {
	if c.ESPolicy == "" {
		return policy.Shipped()
	}
	p, err := policy.LoadFile(c.ESPolicy)
	if err != nil {
		return nil, fmt.Errorf("fused.es_policy: %w", err)
	}
	return p, nil
}

// Load returns the parameters the configuration names (by default the
// shipped ones Shipped names).
func (c Config) Load() (*policy.Policy, error) {
	if c.Params == "" {
		return ShippedFor(c.Shipped)
	}
	return LoadFile(c.Params)
}

// Residual limits: the residual's share of the joint limits on top of the
// plan's own command, and how it approaches its target.
const (
	resVelFrac   = 0.98 // the total command stays within this fraction of the velocity limit
	resAccFrac   = 0.97 // and its change per tick within this fraction of the acceleration limit
	resBrakeFrac = 0.3  // fraction of the acceleration limit the residual plans to brake with
	resGain      = 50   // 1/s: proportional approach rate of the residual
	resPosMargin = 2e-3 // rad or m kept from each position limit
	resWindowS   = 0.12 // s before the catch the correction starts (scaled by e^(θ/2))
	resFreezeS   = 0.02 // s before the catch the correction stops changing (the net meets the ball steady)
	resScaleM    = 0.05 // m: unit of the residual's position features
	resDeadbandM = 0.01 // m: prediction drifts below this are not corrected
	predStepS    = 5e-3 // s: RK4 step of the residual's prediction

	gateClimbMid   = 0.58 // climb (v_z/|v|) of mid-elevation lobs, the gate's κ feature
	gateClimbScale = 0.12
	gateHighZ      = 0.95 // m: first seen above this, the ball was released high (a hand lob), the gate's η feature
	gateHighScale  = 0.1
	// The thrower features λ and ς need a settled estimate: the gate
	// decides on the first estimate that rests on gateMinObs
	// observations (≈0.07 s after release at 125 Hz: the horizontal
	// speed is then known to ≈0.05 m/s and the direction to ≈0.7°, on
	// the first estimate of 3 observations to 0.3 m/s and 3.4°; nominal
	// throws, seed 9), or earlier when they cannot change its sign. Later
	// costs catches: the MPC takes over from an arm the ES policy has
	// moved longer (12 observations: fast, kinematic, seeds 2–5, 995 of
	// 1000 against 1000 of 1000 with 8).
	gateMinObs      = 8
	gateLateralM    = 0.15 // m: |y| at x = 0 where λ is 0 (the ES policy's left/right choice is unsure within 0.1 m; 0.15 since the MPC's cradle collision check, b923115, made it the stronger up to there)
	gateLateralSc   = 0.05
	gateFastMps     = 4.62 // m/s: horizontal speed where ς is 0
	gateFastScale   = 0.05
	gateTowardMinVx = -0.5 // m/s: a ball not coming toward the arm faster than this is central (λ = −1)
)

// Controller is the fused controller (control.Controller): an mpc.Controller
// whose tunables a context network sets from what is known of the ball,
// and whose commands a residual policy corrects near the catch, and an ES
// policy to which a learned gate hands the throw on the first ball
// estimate. Step is called by one goroutine and allocates nothing.
type Controller struct {
	name  string
	cfg   Config
	m     *mpc.Controller
	chain *robot.Chain
	lim   robot.Limits
	n     int
	dt    float64

	pol   *policy.Policy
	theta []float64
	// override replaces the input's ball properties (SetPropsOverride);
	// inBuf is the input handed to the MPC then.
	override *ball.Props
	inBuf    control.Input

	def, cur tunables
	mt       mpc.Tunables
	phi      [NContext]float64
	spin     perception.SpinFit
	lastNObs int
	tennis   ball.Props
	kdT, klT float64 // tennis drag and lift coefficients (context units)

	// residual
	r, rd, rT, dq, prevVp []float64
	armed                 bool // the residual moved this trial (not a pass-through)
	feat                  [NResidualIn + 1]float64
	pose                  robot.Pose
	jac                   []float64
	stats                 policy.Stats

	// gate: es flies the throw when the gate chose it (useES) on a fresh
	// estimate (decided); until then es drives and the MPC steps in the
	// shadow (its command into shadow), so that either takes over with
	// its own state (the other way round with Config.MPCFirst).
	es             policy.Agent
	shadow         control.Command
	decided, useES bool
	// seen: the ball has been seen (the gate may wait for a settled
	// estimate); firstZ is the height it was first seen at (η).
	// sentQ, sentQd: the ES policy's last command since, executed from
	// sentT (valid with sentOK), where the MPC takes over from; with
	// Config.MPCFirst the MPC's last command (sentAcc: its change over
	// the tick before, /s), where the ES policy takes over from.
	seen          bool
	firstZ        float64
	sentQ, sentQd []float64
	sentAcc       []float64
	sentT         float64
	sentOK        bool
}

// New returns a fused controller named name over an MPC configured by
// mcfg. ready is the arm's ready pose; period the control period, s.
func New(name string, cfg Config, mcfg mpc.Config, rob *robot.Robot, ready []float64, period float64) (*Controller, error) {
	pol, err := cfg.Load()
	if err != nil {
		return nil, err
	}
	return newWith(name, cfg, pol, mcfg, rob, ready, period)
}

// newWith is New with the parameters pol.
func newWith(name string, cfg Config, pol *policy.Policy, mcfg mpc.Config, rob *robot.Robot, ready []float64, period float64) (*Controller, error) {
	if err := checkClass(pol); err != nil {
		return nil, err
	}
	if err := validateTheta(pol.Theta); err != nil {
		return nil, err
	}
	if mcfg.Async {
		return nil, errors.New("fused: mpc.async is not supported (the context network changes the planner's tunables between re-plans)")
	}
	if !(period > 0) {
		return nil, fmt.Errorf("fused: control period %v s, want > 0", period)
	}
	m, err := mpc.New(mcfg, rob, ready)
	if err != nil {
		return nil, err
	}
	var es policy.Agent
	if !cfg.NoGate {
		ep, err := cfg.loadES()
		if err != nil {
			return nil, err
		}
		if es, err = policy.NewAgent(ep, rob, 1/period); err != nil {
			return nil, fmt.Errorf("fused: es policy: %w", err)
		}
		if _, ok := es.(esRebaser); cfg.MPCFirst && !ok {
			return nil, fmt.Errorf("fused.mpc_first: the ES policy's class %q cannot take over from the MPC", ep.ClassName())
		}
	}
	tennis, err := ball.ByName("tennis")
	if err != nil {
		return nil, err
	}
	n := rob.Chain.DOF()
	c := &Controller{name: name, cfg: cfg, m: m, chain: rob.Chain, lim: rob.Limits.Clone(), n: n, dt: period,
		pol: pol, theta: pol.Theta, tennis: tennis,
		r: make([]float64, n), rd: make([]float64, n), rT: make([]float64, n), dq: make([]float64, n),
		prevVp: make([]float64, n), jac: make([]float64, 6*n), es: es}
	if es != nil {
		c.shadow = control.NewCommand(n)
		c.sentQ, c.sentQd, c.sentAcc = make([]float64, n), make([]float64, n), make([]float64, n)
	}
	t := m.Tunables()
	c.def = fromMPC(&t)
	c.cur = c.def
	c.kdT, c.klT, _ = tennis.Coeffs()
	return c, nil
}

// Name implements control.Controller.
func (c *Controller) Name() string { return c.name }

// MPC returns the inner MPC controller.
func (c *Controller) MPC() *mpc.Controller { return c.m }

// Policy returns the parameter file the controller was built with.
func (c *Controller) Policy() *policy.Policy { return c.pol }

// SetRecord implements policy.Agent: the fused controller has no
// observation normaliser, it records nothing.
func (c *Controller) SetRecord(*policy.ObsStats) {}

// SetPropsOverride implements policy.Agent: p (nil: the input's) replaces
// the ball properties the MPC and the residual predict with (training
// randomises the model error with it).
func (c *Controller) SetPropsOverride(p *ball.Props) {
	c.override = p
	if c.es != nil {
		c.es.SetPropsOverride(p)
	}
}

// SetParams makes the controller run θ (length NParams) instead of its
// file's; nil restores the file's. The trainer uses it for perturbed
// parameters. It takes effect at the next Reset.
func (c *Controller) SetParams(theta []float64) {
	if theta == nil {
		theta = c.pol.Theta
	}
	if len(theta) != NParams {
		panic(fmt.Sprintf("fused: SetParams: %d values, want %d", len(theta), NParams))
	}
	c.theta = theta
}

// Stats returns the counters of the current trial (the policy rewards use
// them): the ES policy's when it flies the throw; the MPC branch brakes
// nothing itself.
func (c *Controller) Stats() policy.Stats {
	if c.useES {
		return c.es.Stats()
	}
	return c.stats
}

// UsesES reports whether the gate handed the current throw to the ES
// policy.
func (c *Controller) UsesES() bool { return c.useES }

// Tunables returns the MPC tunables in use.
func (c *Controller) Tunables() mpc.Tunables { return c.m.Tunables() }

// PlanKnots implements control.PlanReporter (the MPC's plan, without the
// residual).
// It reports no plan while the ES policy flies the throw.
func (c *Controller) PlanKnots(dst []float64) int {
	if c.useES {
		return 0
	}
	return c.m.PlanKnots(dst)
}

// Reset implements control.Controller.
func (c *Controller) Reset(arm control.ArmState) error {
	clear(c.phi[:])
	c.applyTunables()
	if err := c.m.Reset(arm); err != nil {
		return err
	}
	c.spin.Reset()
	c.lastNObs = -1
	clear(c.r)
	clear(c.rd)
	clear(c.rT)
	clear(c.dq)
	copy(c.prevVp, arm.Qd)
	c.armed = false
	c.stats = policy.Stats{}
	c.decided, c.useES, c.seen, c.sentOK = c.es == nil, false, false, false
	if c.es != nil {
		if err := c.es.Reset(arm); err != nil {
			return err
		}
	}
	return nil
}

// applyTunables sets the MPC's tunables from θ and c.phi (the defaults
// with the learned parameters off).
func (c *Controller) applyTunables() {
	if c.cfg.NoLearnedParams {
		c.cur = c.def
	} else {
		mapTunables(c.theta, &c.phi, &c.def, &c.cur)
	}
	c.cur.toMPC(&c.mt)
	_ = c.m.SetTunables(&c.mt) // New refused an asynchronous MPC, the only error
}

// Step implements control.Controller.
func (c *Controller) Step(in *control.Input, out *control.Command) (control.Status, error) {
	start := time.Now()
	if len(out.Q) != c.n || len(out.Qd) != c.n {
		return control.Status{}, fmt.Errorf("fused: command has %d/%d joints, want %d", len(out.Q), len(out.Qd), c.n)
	}
	if c.override != nil {
		c.inBuf = *in
		c.inBuf.Props = c.override
		in = &c.inBuf
	}
	fresh := in.Ball.Valid && in.Ball.NObs != c.lastNObs
	var est ball.State
	props := in.Props
	if props == nil {
		props = &c.tennis
	}
	if fresh {
		if in.Ball.NObs < c.lastNObs {
			c.spin.Reset() // a new track
		}
		c.lastNObs = in.Ball.NObs
		est = in.Ball.State
		w := c.spin.Add(&in.Ball, props)
		for i := range w {
			est.W[i] += w[i]
		}
		if !c.cfg.NoLearnedParams || !c.decided {
			c.context(&est, props)
		}
		if !c.decided {
			c.decide(&est, in.Ball.NObs)
		}
		if !c.cfg.NoLearnedParams && !c.useES {
			c.applyTunables()
		}
	}
	if c.useES {
		st, err := c.es.Step(in, out)
		st.Compute = time.Since(start)
		return st, err
	}
	if !c.decided && !c.cfg.MPCFirst {
		// Until the gate decides (the ball not yet seen) the ES policy
		// drives and the MPC steps in the shadow: a throw handed to the
		// ES policy is flown as the policy alone flies it.
		if _, err := c.m.Step(in, &c.shadow); err != nil {
			return control.Status{}, err
		}
		st, err := c.es.Step(in, out)
		if c.seen {
			// the ES policy flies the ball: a take-over starts from
			// what it sent
			copy(c.sentQ, out.Q)
			copy(c.sentQd, out.Qd)
			c.sentT, c.sentOK = in.Now.Seconds()+c.m.Latency(), true
		}
		st.Compute = time.Since(start)
		return st, err
	}
	if !c.decided {
		// MPCFirst: the MPC drives until the gate decides and the ES
		// policy steps in the shadow on the same inputs, so that it
		// takes over with its own plan and history.
		if _, err := c.es.Step(in, &c.shadow); err != nil {
			return control.Status{}, err
		}
	}
	st, err := c.m.Step(in, out)
	if err != nil {
		return st, err
	}
	if !c.cfg.NoResidual {
		c.residual(in, out, fresh, &est, props)
	}
	if !c.decided {
		// the ES policy takes over from what the MPC sent
		for j := range c.sentAcc {
			c.sentAcc[j] = 0
			if c.sentOK {
				c.sentAcc[j] = (out.Qd[j] - c.sentQd[j]) / c.dt
			}
		}
		copy(c.sentQ, out.Q)
		copy(c.sentQd, out.Qd)
		c.sentOK = true
	}
	c.stats.Ticks++
	st.Compute = time.Since(start)
	return st, nil
}

// decide runs the gate on the fresh estimate est (resting on nObs
// observations). On the first one it notes the height η is taken from.
// The gate decides as soon as the sign of its score no longer hinges on
// the thrower features λ and ς (hand lobs and foam balls: on the first
// estimate), else on the first estimate resting on gateMinObs
// observations. When the MPC takes over after the ES policy flew the
// ball, its reference starts from the ES policy's last command
// (mpc.Controller.Rebase), not from its own shadow plan: the arm is where
// the ES policy sent it (taking over from the shadow plan instead lost
// 37 of 250 laggy throws, seed 2, all handed to the MPC on 12
// observations). With Config.MPCFirst the roles swap: the ES policy takes
// over from the MPC's last command (its command state; its plan and
// history it kept stepping in the shadow).
func (c *Controller) decide(est *ball.State, nObs int) {
	if !c.seen {
		c.seen, c.firstZ = true, est.P[2]
	}
	w := c.theta[offGate : offGate+nGateW]
	base := c.gate(0, 0)
	spread := math.Abs(w[NContext+2]) + math.Abs(w[NContext+3])
	switch {
	case base+spread <= 0:
		c.useES = false
	case base-spread > 0:
		c.useES = true
	case nObs >= gateMinObs:
		lam, sig := throwerFeatures(est)
		c.useES = c.gate(lam, sig) > 0
	default:
		return
	}
	c.decided = true
	switch {
	case c.cfg.MPCFirst && c.useES && c.sentOK:
		c.es.(esRebaser).Rebase(c.sentQ, c.sentQd, c.sentAcc)
	case !c.cfg.MPCFirst && !c.useES && c.sentOK:
		c.m.Rebase(c.sentT, c.sentQ, c.sentQd)
	}
}

// gate returns the gate's score for the context c.phi, the height the
// ball was first seen at and the thrower features lam (λ) and sig (ς):
// the ES policy flies the throw when it is positive (θ = 0: the MPC).
func (c *Controller) gate(lam, sig float64) float64 {
	w := c.theta[offGate : offGate+nGateW]
	k := (c.phi[1] - gateClimbMid) / gateClimbScale
	h := math.Max(-1, math.Min(1, (c.firstZ-gateHighZ)/gateHighScale))
	u := w[NContext]*math.Min(3, k*k) + w[NContext+1]*h + w[NContext+2]*lam + w[NContext+3]*sig + w[NContext+4]
	for k, f := range c.phi {
		u += w[k] * f
	}
	return u
}

// throwerFeatures returns the gate's thrower features of the estimate
// est: λ, how far off the centre the ball crosses x = 0 (the horizontal
// path is straight under drag and gravity), −1 within gateLateralM less
// gateLateralSc, +1 beyond it plus gateLateralSc; and ς, the horizontal
// speed against gateFastMps, in units of gateFastScale; both clamped to
// ±1.
func throwerFeatures(est *ball.State) (lam, sig float64) {
	p, v := est.P, est.V
	lam = -1
	if v[0] < gateTowardMinVx {
		y := p[1] - p[0]*v[1]/v[0]
		lam = math.Max(-1, math.Min(1, (math.Abs(y)-gateLateralM)/gateLateralSc))
	}
	sig = math.Max(-1, math.Min(1, (math.Hypot(v[0], v[1])-gateFastMps)/gateFastScale))
	return lam, sig
}

// context fills c.phi from the ball estimate est (spin fit added), the
// ball's properties and the executing plan's catch point.
func (c *Controller) context(est *ball.State, props *ball.Props) {
	v := est.V
	sp := math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2])
	w := est.W
	kd, kl, _ := props.Coeffs()
	ratio := func(a, b float64) float64 {
		if !(a > 0) || !(b > 0) {
			return 0
		}
		return math.Log(a/b) / 2
	}
	c.phi[0] = sp - 5.5
	if sp > 0.1 {
		c.phi[1] = v[2] / sp
	} else {
		c.phi[1] = 0
	}
	c.phi[2] = math.Sqrt(w[0]*w[0]+w[1]*w[1]+w[2]*w[2]) / (2 * math.Pi * 10)
	c.phi[3] = ratio(-kd, -c.kdT) // kd < 0: drag decelerates
	c.phi[4] = ratio(kl, c.klT)
	if p := c.m.Current(); p.HasCatch {
		c.phi[5] = (p.BallP[2] - 1.15) / 0.3
		c.phi[6] = math.Abs(p.BallP[1]) / 0.5
	} else {
		c.phi[5], c.phi[6] = 0, 0
	}
	for k := range c.phi {
		c.phi[k] = math.Max(-3, math.Min(3, c.phi[k]))
	}
}

// residual corrects the MPC's command in out near the planned catch: on a
// fresh estimate inside the window it recomputes the joint correction c.dq
// (residualTarget); every tick it moves the residual offset r toward
// ramp·dq within what the joint limits leave beside the plan's command.
func (c *Controller) residual(in *control.Input, out *control.Command, fresh bool, est *ball.State, props *ball.Props) {
	p := c.m.Current()
	now := in.Now.Seconds()
	ts := now + c.m.Latency()
	win := resWindowS * math.Exp(0.5*math.Max(-3, math.Min(3, c.theta[offWin])))
	ramp := 0.0
	if p.HasCatch {
		tau := p.TCatch - ts
		if fresh && tau < win && tau > resFreezeS && p.TCatch > in.Ball.T {
			c.residualTarget(in, p, est, props)
		}
		ramp = math.Max(0, math.Min(1, (win-tau)/(0.5*win)))
	} else {
		clear(c.dq)
	}
	idle := true
	for j := 0; j < c.n; j++ {
		c.rT[j] = ramp * c.dq[j]
		if c.rT[j] != 0 || c.r[j] != 0 || c.rd[j] != 0 {
			idle = false
		}
	}
	if idle && !c.armed {
		copy(c.prevVp, out.Qd)
		return
	}
	c.armed = true
	for j := 0; j < c.n; j++ {
		qp, vp := out.Q[j], out.Qd[j]
		vm := c.lim.Vel[j] * resVelFrac
		am := c.lim.Acc[j]
		lo, hi := c.lim.Lower[j]+resPosMargin, c.lim.Upper[j]-resPosMargin
		// keep the target inside the position limits around the plan
		tgt := math.Max(lo-qp, math.Min(hi-qp, c.rT[j]))
		e := tgt - c.r[j]
		want := math.Copysign(math.Min(resGain*math.Abs(e), math.Sqrt(2*resBrakeFrac*am*math.Abs(e))), e)
		// the residual's rate may change by what the plan's own change
		// leaves of the acceleration budget this tick
		budget := math.Max(0, resAccFrac*am*c.dt-math.Abs(vp-c.prevVp[j]))
		rd := math.Max(c.rd[j]-budget, math.Min(c.rd[j]+budget, want))
		// and the total velocity stays within the limit (or where the plan
		// alone puts it)
		rd = math.Max(math.Min(-vm, vp)-vp, math.Min(math.Max(vm, vp)-vp, rd))
		// the plan keeps mpc.Config.PosMargin (≥ resPosMargin by default)
		// from the limits; the offset never carries the command past them
		r := math.Max(lo, math.Min(hi, qp+c.r[j]+rd*c.dt)) - qp
		c.r[j], c.rd[j] = r, rd
		c.prevVp[j] = vp
		out.Q[j] = qp + r
		out.Qd[j] = vp + rd
	}
}

// residualTarget computes the joint correction c.dq: the residual
// features (the drift of the latest estimate's prediction at the planned
// catch time from the plan's catch point, and the forecast samples' mean
// offset and spread there, in units of resScaleM), the head correction
// ResidualMaxM·tanh(A·f), and the velocity-limit-weighted damped
// least-squares joint motion that moves the head by it at the plan's catch
// pose.
func (c *Controller) residualTarget(in *control.Input, p *mpc.Plan, est *ball.State, props *ball.Props) {
	st := *est
	for t := in.Ball.T; t < p.TCatch; {
		h := math.Min(predStepS, p.TCatch-t)
		props.Step(&st, h)
		t += h
	}
	// the drift across the ball's path (along it, the ball only arrives
	// earlier or later at the same point)
	f := &c.feat
	var d [3]float64
	var along, vn float64
	for k := 0; k < 3; k++ {
		d[k] = st.P[k] - p.BallP[k]
		vn += p.BallV[k] * p.BallV[k]
	}
	if vn = math.Sqrt(vn); vn > 0.1 {
		for k := 0; k < 3; k++ {
			along += d[k] * p.BallV[k] / vn
		}
		for k := 0; k < 3; k++ {
			d[k] -= along * p.BallV[k] / vn
		}
	}
	// a drift below resDeadbandM is estimate noise: the plan stands
	shrink := 0.0
	if dn := math.Sqrt(d[0]*d[0] + d[1]*d[1] + d[2]*d[2]); dn > resDeadbandM {
		shrink = 1 - resDeadbandM/dn
	}
	for k := 0; k < 3; k++ {
		f[k] = shrink * d[k] / resScaleM
		f[3+k] = 0
	}
	f[6] = 0
	if fc := in.Forecast; fc != nil && fc.N > 0 && fc.H > 0 && fc.Dt > 0 && len(fc.Pos) >= fc.N*fc.H*3 {
		h := int(math.Round((p.TCatch-fc.T0)/fc.Dt)) - 1
		if h >= 0 && h < fc.H {
			var mean [3]float64
			for s := 0; s < fc.N; s++ {
				o := (s*fc.H + h) * 3
				for k := 0; k < 3; k++ {
					mean[k] += fc.Pos[o+k] / float64(fc.N)
				}
			}
			var v float64
			for s := 0; s < fc.N; s++ {
				o := (s*fc.H + h) * 3
				for k := 0; k < 3; k++ {
					d := fc.Pos[o+k] - mean[k]
					v += d * d / float64(fc.N)
				}
			}
			for k := 0; k < 3; k++ {
				f[3+k] = (mean[k] - p.BallP[k]) / resScaleM
			}
			f[6] = math.Sqrt(v) / resScaleM
		}
	}
	f[NResidualIn] = 1
	var corr [3]float64
	A := c.theta[offRes : offRes+nResW]
	for r := 0; r < 3; r++ {
		var u float64
		for k, x := range f {
			u += A[r*(NResidualIn+1)+k] * math.Max(-5, math.Min(5, x))
		}
		corr[r] = ResidualMaxM * math.Tanh(u)
	}
	n := c.n
	qc := p.Qs[len(p.Qs)-n:]
	c.chain.FKJacobian(qc, &c.pose, c.jac)
	var a [9]float64
	for r := 0; r < 3; r++ {
		for k := 0; k <= r; k++ {
			var s float64
			for j := 0; j < n; j++ {
				s += c.jac[r*n+j] * c.lim.Vel[j] * c.lim.Vel[j] * c.jac[k*n+j]
			}
			a[r*3+k], a[k*3+r] = s, s
		}
		a[r*3+r] += 1e-2
	}
	if !dense.Factor(a[:], 3) {
		clear(c.dq)
		return
	}
	dense.Solve(a[:], 3, corr[:], corr[:])
	for j := 0; j < n; j++ {
		var s float64
		for r := 0; r < 3; r++ {
			s += c.jac[r*n+j] * corr[r]
		}
		c.dq[j] = c.lim.Vel[j] * c.lim.Vel[j] * s
	}
}
