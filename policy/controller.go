package policy

import (
	"fmt"
	"math"
	"time"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/internal/dense"
	"github.com/agilecatch/catch/perception"
	"github.com/agilecatch/catch/robot"
)

// Decode margins keep every command strictly inside the limits the
// simulator (and a real arm's safety layer) checks, whatever rounding the
// check applies.
const (
	velMargin     = 0.98 // fraction of the velocity limit used
	accMargin     = 0.98 // fraction of the acceleration limit used per tick
	brakeFrac     = 0.5  // braking toward a position limit uses half the acceleration limit
	posMarginM    = 1e-3 // rad or m kept from each position limit
	turnRampS     = 0.1  // the net-turn offset ramps in over this time after the catch
	jerkFrac      = 1.0  // a commanded acceleration change above this fraction of the limit in one tick counts as a jerk excess
	ikPosTol      = 5e-3 // m: IK targets are re-solved every estimate, coarse is enough
	ikAngTol      = 0.05 // rad
	servoAcc      = 0.6  // fraction of the acceleration limit the approach plans to brake with
	sideSwitchM   = 0.1  // m the ball must move past the centre line to switch sides
	ikWarmIters   = 8    // IK iterations from the previous solution
	ikColdIters   = 30   // IK iterations from the preferred posture
	catchZM       = 1.15 // m: height the catch region is centred on
	catchSigXM    = 0.15 // m: x scale of the catch-region score
	catchSigZM    = 0.25 // m: z scale of the catch-region score
	catchYM       = 0.8  // m: |y| beyond which the score rises steeply
	catchBackM    = 0.35 // m behind x_c where the scan stops
	cradleRho     = 0.4  // weight of head rotation against limit-scaled joint speed in the cradle direction
	cradleVel     = 0.95 // fraction of the velocity limit the cradle may use
	cradleAcc     = 0.7  // fraction of the acceleration limit the cradle may use
	netUpRad      = 0.45 // rad the net turns up after the catch (plus the learned offsets)
	cradleDec     = 0.8  // fraction of the acceleration limit the cradle may brake with after the catch
	shoulderZM    = 1.09 // m: fallback height of the shoulder pitch axis when the chain has no horizontal revolute joint
	reachRM       = 0.7  // m: catch points farther than this from the shoulder axis (in x–z) score worse
	reachWM       = 0.05 // m: how fast the score rises beyond reachRM
	catchMinLeadS = 0.03 // s: candidates at least this far ahead of the estimate
)

// Stats are counters of one trial that the rewards use; the controller
// resets them on Reset.
type Stats struct {
	Ticks     int // steps taken
	Planned   int // plans made (new estimates used)
	IKFailed  int // plans whose IK did not reach the target within tolerance
	Braked    int // ticks in which a joint was braked for a position limit
	JerkTicks int // ticks in which a joint's commanded acceleration changed by more than jerkFrac of its limit (a bang-bang reversal)
}

// ObsStats accumulates observation statistics (count, sum, sum of squares)
// for the trainer's running normalisation.
type ObsStats struct {
	N     float64
	Sum   []float64
	SumSq []float64
}

// NewObsStats returns empty statistics for observations of length n.
func NewObsStats(n int) *ObsStats {
	return &ObsStats{Sum: make([]float64, n), SumSq: make([]float64, n)}
}

func (s *ObsStats) add(x []float64) {
	s.N++
	for i, v := range x {
		s.Sum[i] += v
		s.SumSq[i] += v * v
	}
}

// Merge adds o into s.
func (s *ObsStats) Merge(o *ObsStats) {
	s.N += o.N
	for i := range s.Sum {
		s.Sum[i] += o.Sum[i]
		s.SumSq[i] += o.SumSq[i]
	}
}

// Reset empties s.
func (s *ObsStats) Reset() {
	s.N = 0
	clear(s.Sum)
	clear(s.SumSq)
}

// Controller runs a Policy as a control.Controller. Build it with
// NewController; it owns all scratch memory, so Step allocates nothing.
type Controller struct {
	spin   perception.SpinFit
	est    ball.Estimate // the estimate planned from, with the fitted spin
	pol    *Policy
	fc     FeatureConfig
	params []float64
	chain  *robot.Chain
	lim    robot.Limits
	n      int
	period float64
	def    ball.Props

	// shoulderLink is the chain link (FKLink index) whose frame sits on the
	// shoulder pitch axis (-1: none found), shoulderX/Z that axis's x and z
	// at the ready pose (FK at Reset).
	shoulderLink         int
	shoulderX, shoulderZ float64

	ready, qCmd, qdCmd, accPrev []float64
	hist                        []float64 // ring of measured q, histLen × n
	histLen, histHead, histN    int

	// plan: the cached intercept and its IK solution
	has, frozen   bool
	lastNObs      int
	lastT         float64
	tc            float64 // predicted catch time, s
	pc, vc        ball.Vec
	qIK, d        []float64
	seed, qWarm   []float64
	jr, nn, g, dq []float64
	mm, mx        []float64 // n×n and 3×n scratch of the cradle direction
	up            []float64 // joint motion per radian of net turned up
	pred          []float64 // NPred × 6
	pose          robot.Pose
	jac           []float64
	jjt           [36]float64
	rhs, y        [6]float64
	side          float64 // +1: head left of the carriage, −1: right
	dScale, dVel  float64 // max_j |d_j|/Acc_j, max_j |d_j|/Vel_j

	qRef, qdDes         []float64
	obs, norm, hid, res []float64

	stats Stats
	// Record, when set, receives every observation (training statistics).
	Record *ObsStats
	// PropsOverride, when set, replaces the ball properties of the input
	// in the predictor (training randomises the model error with it).
	PropsOverride *ball.Props
}

// NewController builds a controller for the robot running pol. The policy
// must have been made for the robot's joint count.
func NewController(pol *Policy, rob *robot.Robot, controlRateHz float64) (*Controller, error) {
	n := rob.Chain.DOF()
	if n != dofPolicy {
		return nil, fmt.Errorf("policy: robot has %d joints, the policy is built for %d", n, dofPolicy)
	}
	if err := pol.Validate(); err != nil {
		return nil, err
	}
	if controlRateHz == 0 {
		controlRateHz = 250
	}
	if !(controlRateHz > 0) {
		return nil, fmt.Errorf("policy: control rate %v Hz, want > 0", controlRateHz)
	}
	def, err := ball.ByName("tennis")
	if err != nil {
		return nil, err
	}
	fc := pol.Features
	hl := (fc.NHist-1)*fc.HistStride + 1
	c := &Controller{
		pol: pol, fc: fc, params: pol.Net.Params, chain: rob.Chain, lim: rob.Limits.Clone(),
		n: n, period: 1 / controlRateHz, def: def,
		ready: make([]float64, n), qCmd: make([]float64, n), qdCmd: make([]float64, n), accPrev: make([]float64, n),
		hist: make([]float64, hl*n), histLen: hl,
		qIK: make([]float64, n), d: make([]float64, n), seed: make([]float64, n), qWarm: make([]float64, n),
		jr: make([]float64, 6*n), nn: make([]float64, n*n), mm: make([]float64, n*n), mx: make([]float64, 3*n), up: make([]float64, n), g: make([]float64, n), dq: make([]float64, n),
		pred: make([]float64, 6*fc.NPred), jac: make([]float64, 6*n),
		qRef: make([]float64, n), qdDes: make([]float64, n),
		obs: make([]float64, pol.Net.In), norm: make([]float64, pol.Net.In), hid: make([]float64, pol.Net.Hidden),
		res:          make([]float64, nOut),
		shoulderLink: shoulderLinkIndex(rob), shoulderZ: shoulderZM,
	}
	return c, nil
}

// Name implements control.Controller.
func (c *Controller) Name() string { return "es" }

// SetParams makes the controller run params (same length as the policy's)
// instead of the policy's own; the trainer uses it for perturbed policies.
// nil restores the policy's parameters.
func (c *Controller) SetParams(params []float64) {
	if params == nil {
		params = c.pol.Net.Params
	}
	if len(params) != len(c.pol.Net.Params) {
		panic(fmt.Sprintf("policy: SetParams: %d params, want %d", len(params), len(c.pol.Net.Params)))
	}
	c.params = params
}

// Stats returns the counters of the current trial.
func (c *Controller) Stats() Stats { return c.stats }

// Reset implements control.Controller.
func (c *Controller) Reset(arm control.ArmState) error {
	if len(arm.Q) != c.n || len(arm.Qd) != c.n {
		return fmt.Errorf("policy: reset: arm state has %d/%d joints, want %d", len(arm.Q), len(arm.Qd), c.n)
	}
	copy(c.ready, arm.Q)
	c.shoulderX, c.shoulderZ = 0, shoulderZM
	if c.shoulderLink >= 0 {
		var ps robot.Pose
		c.chain.FKLink(arm.Q, c.shoulderLink, &ps)
		c.shoulderX, c.shoulderZ = ps.P[0], ps.P[2]
	}
	copy(c.qCmd, arm.Q)
	copy(c.qdCmd, arm.Qd)
	clear(c.accPrev)
	for k := 0; k < c.histLen; k++ {
		copy(c.hist[k*c.n:(k+1)*c.n], arm.Q)
	}
	c.histHead, c.histN = 0, 0
	c.has, c.frozen, c.lastNObs, c.lastT = false, false, -1, math.Inf(-1)
	c.spin.Reset()
	copy(c.qIK, arm.Q)
	clear(c.d)
	clear(c.pred)
	clear(c.up)
	c.stats = Stats{}
	return nil
}

// Rebase makes (q, qd) the command the next step integrates from, and acc
// (nil: 0) the last change of the commanded velocity, /s: the controller
// takes over the arm from another that drove it while this one stepped in
// the shadow on the same inputs (package fused); its plan and joint
// history are its own.
func (c *Controller) Rebase(q, qd, acc []float64) {
	rebase(c.qCmd, c.qdCmd, c.accPrev, q, qd, acc)
}

// rebase copies (q, qd, acc) into the command state (qCmd, qdCmd,
// accPrev) where the lengths match; acc nil clears accPrev.
func rebase(qCmd, qdCmd, accPrev, q, qd, acc []float64) {
	if len(q) != len(qCmd) || len(qd) != len(qdCmd) {
		return
	}
	copy(qCmd, q)
	copy(qdCmd, qd)
	if len(acc) == len(accPrev) {
		copy(accPrev, acc)
	} else {
		clear(accPrev)
	}
}

// Step implements control.Controller.
func (c *Controller) Step(in *control.Input, out *control.Command) (control.Status, error) {
	start := time.Now()
	n := c.n
	if len(out.Q) != n || len(out.Qd) != n || len(in.Arm.Q) != n || len(in.Arm.Qd) != n {
		return control.Status{}, fmt.Errorf("policy: step: command %d/%d, arm %d/%d joints, want %d",
			len(out.Q), len(out.Qd), len(in.Arm.Q), len(in.Arm.Qd), n)
	}
	now := in.Now.Seconds()
	p := c.params
	// joint history ring
	c.histHead = (c.histHead + 1) % c.histLen
	copy(c.hist[c.histHead*n:(c.histHead+1)*n], in.Arm.Q)

	if c.has && !c.frozen && c.tc-now < c.fc.FreezeS {
		c.frozen = true
	}
	if in.Ball.Valid && !c.frozen && (in.Ball.NObs != c.lastNObs || !c.has) {
		props := in.Props
		if c.PropsOverride != nil {
			props = c.PropsOverride
		}
		if props == nil {
			props = &c.def
		}
		if in.Ball.NObs < c.lastNObs {
			c.spin.Reset() // a new track
		}
		c.est = in.Ball
		if _, kl, _ := props.Coeffs(); kl >= c.fc.SpinFitMinLift {
			w := c.spin.Add(&in.Ball, props)
			for i := range w {
				c.est.State.W[i] += w[i]
			}
		}
		c.plan(&c.est, props, p)
		c.lastNObs = in.Ball.NObs
	}

	code := control.Waiting
	lead := 0.04 + 0.05*p[pLead]
	var sdot float64
	if c.has {
		code = control.Tracking
		// Cradle speed and times, made feasible for the joints: no joint
		// above cradleVel of its velocity limit, none accelerating above
		// cradleAcc of its limit.
		vc := math.Max(0, 2.0+1.0*p[pCradle])
		if c.dVel > 0 {
			vc = math.Min(vc, cradleVel/c.dVel)
		}
		pre := math.Max(vc*c.dScale/cradleAcc, 0.15+0.05*p[pPre])
		post := math.Max(vc*c.dScale/cradleDec, 0.15+0.1*p[pPost])
		var s float64
		s, sdot = cradle(now+lead-c.tc, vc, pre, post)
		dt := now + lead - c.tc
		ramp := 0.0
		if dt > 0 {
			ramp = math.Min(1, dt/turnRampS)
			code = control.Cradling
		}
		for j := 0; j < n; j++ {
			c.qRef[j] = c.qIK[j] + c.d[j]*s + ramp*(netUpRad*c.up[j]+0.3*p[pTurn+j])
		}
	} else {
		copy(c.qRef, c.ready)
	}

	c.observe(in, now)
	if c.Record != nil {
		c.Record.add(c.obs)
	}
	c.pol.Net.MLP(p, c.obs, c.norm, c.hid, c.res)
	ff := 1 + 0.5*p[pFF]
	for j := 0; j < n; j++ {
		k := gainBase * math.Exp(p[pGain+j])
		e := c.qRef[j] - c.qCmd[j]
		// Proportional far from the target is capped by the speed from
		// which the joint can still stop at the target (time-optimal
		// approach without overshoot).
		v := math.Min(k*math.Abs(e), math.Sqrt(2*servoAcc*c.lim.Acc[j]*math.Abs(e)))
		c.qdDes[j] = math.Copysign(v, e) + ff*sdot*c.d[j] + c.res[j]
	}
	c.decode(out)
	c.stats.Ticks++
	return control.Status{Code: code, Compute: time.Since(start)}, nil
}

// decode turns qdDes into the next command, within the velocity,
// acceleration and position limits (with braking room), integrating from
// the previous command.
func (c *Controller) decode(out *control.Command) {
	braked, jerky := decodeLimits(&c.lim, c.period, c.qdDes, c.qCmd, c.qdCmd, c.accPrev, out)
	if braked {
		c.stats.Braked++
	}
	if jerky {
		c.stats.JerkTicks++
	}
}

// decodeLimits turns the desired joint velocities qdDes into the next
// command (out, and the command state qCmd, qdCmd, accPrev, updated in
// place) within the velocity, acceleration and position limits (with
// braking room), integrating from the previous command over dt. It reports
// whether a joint was braked for a position limit and whether a joint's
// commanded acceleration swung by more than its limit within the tick.
// Every policy class decodes through it.
func decodeLimits(lim *robot.Limits, dt float64, qdDes, qCmd, qdCmd, accPrev []float64, out *control.Command) (braked, jerky bool) {
	for j := range qCmd {
		vm := lim.Vel[j] * velMargin
		am := lim.Acc[j]
		dv := am * dt * accMargin
		prev := qdCmd[j]
		v := qdDes[j]
		if math.IsNaN(v) {
			v = 0
		}
		v = math.Max(-vm, math.Min(vm, v))
		// Braking room: never move toward a position limit faster than
		// half the acceleration limit can stop the joint before it.
		lo, hi := lim.Lower[j]+posMarginM, lim.Upper[j]-posMarginM
		q := qCmd[j]
		if up := math.Sqrt(2*brakeFrac*am*math.Max(hi-q, 0)) - dv; v > up {
			v, braked = math.Max(up, 0), true
		}
		if dn := -math.Sqrt(2*brakeFrac*am*math.Max(q-lo, 0)) + dv; v < dn {
			v, braked = math.Min(dn, 0), true
		}
		v = math.Max(prev-dv, math.Min(prev+dv, v))
		qn := q + v*dt
		if qn > hi || qn < lo {
			// Only when starting outside the braking envelope; stay put
			// within the limits even if that costs the acceleration margin.
			qn = math.Max(lo, math.Min(hi, qn))
			braked = true
		}
		a := (v - prev) / dt
		if math.Abs(a-accPrev[j]) > jerkFrac*am {
			jerky = true
		}
		accPrev[j] = a
		qCmd[j], qdCmd[j] = qn, v
		out.Q[j], out.Qd[j] = qn, v
	}
	return braked, jerky
}

// observe fills c.obs (see FeatureConfig.ObsLen for the layout).
func (c *Controller) observe(in *control.Input, now float64) {
	n := c.n
	o := c.obs
	k := 0
	for j := 0; j < n; j++ {
		o[k] = c.qCmd[j] - c.ready[j]
		k++
	}
	for h := 0; h < c.fc.NHist; h++ {
		idx := ((c.histHead-h*c.fc.HistStride)%c.histLen + c.histLen) % c.histLen
		row := c.hist[idx*n : (idx+1)*n]
		for j := 0; j < n; j++ {
			o[k] = row[j] - c.ready[j]
			k++
		}
	}
	for j := 0; j < n; j++ {
		o[k] = in.Arm.Qd[j]
		k++
	}
	k += copy(o[k:], c.pred)
	for j := 0; j < n; j++ {
		o[k] = c.qRef[j] - c.qCmd[j]
		k++
	}
	if c.has {
		o[k] = math.Max(-0.5, math.Min(1.5, c.tc-now))
		o[k+1] = 1
	} else {
		o[k], o[k+1] = 1.5, 0
	}
}

// plan predicts the intercept from the estimate and solves IK for it.
func (c *Controller) plan(est *ball.Estimate, props *ball.Props, p []float64) {
	fc := &c.fc
	st := est.State
	xc := 0.25 + 0.1*p[pPlane]
	stride := int(math.Round(fc.PredDtS / predStep))
	// The catch point is the point of the predicted flight that best fits
	// the region the head reaches well (x near x_c, z near catchZM, y
	// within the rail's reach), not a fixed plane: a steep lob that drops
	// before the plane, or crosses it too high, is met where it passes
	// closest to that region. The discrete minimum is refined by a parabola
	// through its neighbours so the catch point moves smoothly. A point
	// where the ball falls more steeply than DescentMaxDeg scores worse:
	// the net would have to face up there (see FeatureConfig).
	dMax, dW := fc.DescentMaxDeg*math.Pi/180, fc.DescentWidthDeg*math.Pi/180
	score := func(q *ball.State) float64 {
		dx, dz := (q.P[0]-xc)/catchSigXM, (q.P[2]-catchZM)/catchSigZM
		f := dx*dx + dz*dz
		if r := math.Hypot(q.P[0]-c.shoulderX, q.P[2]-c.shoulderZ) - reachRM; r > 0 {
			f += r * r / (reachWM * reachWM)
		}
		if ay := math.Abs(q.P[1]) - catchYM; ay > 0 {
			f += ay * ay / (0.1 * 0.1)
		}
		if d := math.Atan2(-q.V[2], math.Hypot(q.V[0], q.V[1])) - dMax; d > 0 {
			f += d * d / (dW * dW)
		}
		return f
	}
	var s0, b0, b1, b2 ball.State
	f0, bf0, bf1, bf2 := math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1)
	bi, needNext := -1, false
	scanning := true
	filled := 0
	steps := int(predMaxS / predStep)
	for i := 0; i <= steps; i++ {
		if i%stride == 0 && filled < fc.NPred {
			r := c.pred[6*filled : 6*filled+6]
			r[0], r[1], r[2], r[3], r[4], r[5] = st.P[0], st.P[1], st.P[2], st.V[0], st.V[1], st.V[2]
			filled++
		}
		if scanning {
			f := math.Inf(1)
			if float64(i)*predStep >= catchMinLeadS && st.P[2] >= fc.ZMinM {
				f = score(&st)
			}
			if needNext {
				b2, bf2, needNext = st, f, false
			}
			if f < bf1 {
				b0, bf0, b1, bf1, bi, needNext = s0, f0, st, f, i, true
			}
			s0, f0 = st, f
			// The score along a flight has one minimum: stop well past it.
			if st.P[2] < fc.ZMinM || st.P[0] < xc-catchBackM || (bi >= 0 && f > bf1+4) {
				scanning = false
			}
		}
		if !scanning && !needNext && filled == fc.NPred {
			break
		}
		props.Step(&st, predStep)
	}
	if bi < 0 {
		return
	}
	pc, vc := b1.P, b1.V
	tHit := float64(bi) * predStep
	if den := bf0 - 2*bf1 + bf2; !math.IsInf(bf0, 0) && !math.IsInf(bf2, 0) && den > 1e-12 {
		delta := math.Max(-0.5, math.Min(0.5, (bf0-bf2)/(2*den)))
		if delta < 0 {
			lerp(&pc, &vc, &b0, &b1, 1+delta)
		} else {
			lerp(&pc, &vc, &b1, &b2, delta)
		}
		tHit += delta * predStep
	}
	sp := math.Sqrt(vc[0]*vc[0] + vc[1]*vc[1] + vc[2]*vc[2])
	if sp < 0.1 {
		return
	}
	vhat := ball.Vec{vc[0] / sp, vc[1] / sp, vc[2] / sp}
	// Preferred posture: the ready pose with the rail moved toward the
	// intercept (stopping RailOffsetM short of it, toward the centre line:
	// this picks the modality) and the base turned toward the intercept.
	// The IK starts warm from the previous solution and is pulled toward
	// this posture in the null space, so the solution is unique near it and
	// moves smoothly as the estimate improves.
	// The side (head left or right of the carriage) is chosen on the first
	// plan and kept unless the ball moves clearly to the other side, so
	// estimate noise near the centre line does not flip the configuration.
	cold := !c.has
	switch {
	case !c.has:
		c.side = 1
		if pc[1] < 0 {
			c.side = -1
		}
	case pc[1]*c.side < -sideSwitchM:
		c.side, cold = -c.side, true
	}
	copy(c.seed, c.ready)
	rail := pc[1] - fc.RailOffsetM*c.side*math.Max(math.Abs(math.Tanh(pc[1]/fc.RailOffsetWidthM)), 0.5)
	rail = math.Max(c.lim.Lower[0]+0.02, math.Min(c.lim.Upper[0]-0.02, rail))
	c.seed[0] = rail
	c.seed[1] = math.Atan2(pc[1]-rail, math.Max(pc[0], 0.1))
	nrm := ball.Vec{-vhat[0], -vhat[1], -vhat[2]}
	if cold {
		copy(c.qIK, c.seed)
	}
	ok, e := c.solveIK(pc, nrm, ikIters(cold))
	if !ok && !cold {
		// The warm start may sit in a poor local minimum: retry from the
		// preferred posture and keep the better solution.
		copy(c.qWarm, c.qIK)
		copy(c.qIK, c.seed)
		var e2 float64
		ok, e2 = c.solveIK(pc, nrm, ikColdIters)
		if e2 > e {
			copy(c.qIK, c.qWarm)
		}
	}
	if !ok {
		c.stats.IKFailed++
	}
	c.stats.Planned++
	// d: the joint velocity moving the head origin at unit speed along the
	// flight direction that minimises Σ (q̇_j/v_j)² + ρ²|ω_head|² (v_j the
	// velocity limits, ρ = cradleRho): the cradle loads the joints in
	// proportion to what they can do, and the head turns little (a head
	// that spins throws the ball out; a head kept strictly from turning
	// needs so much joint speed that the cradle gets too slow to hold it).
	c.chain.FKJacobian(c.qIK, &c.pose, c.jac)
	n := c.n
	// M = W⁻² + ρ²J_ωᵀJ_ω; d = M⁻¹J_vᵀ(J_v M⁻¹ J_vᵀ)⁻¹ v̂
	for i := 0; i < n; i++ {
		for j := 0; j <= i; j++ {
			var v float64
			for r := 3; r < 6; r++ {
				v += c.jac[r*n+i] * c.jac[r*n+j]
			}
			v *= cradleRho * cradleRho
			if i == j {
				v += 1 / (c.lim.Vel[i] * c.lim.Vel[i])
			}
			c.mm[i*n+j] = v
		}
	}
	// X = M⁻¹J_vᵀ (n×3), column by column (factorise once)
	dense.Factor(c.mm, n)
	for r := 0; r < 3; r++ {
		dense.Solve(c.mm, n, c.jac[r*n:(r+1)*n], c.mx[r*n:(r+1)*n])
	}
	for r := 0; r < 3; r++ {
		for s := 0; s <= r; s++ {
			var v float64
			for j := 0; j < n; j++ {
				v += c.jac[r*n+j] * c.mx[s*n+j]
			}
			if r == s {
				v += 1e-9
			}
			c.jjt[r*3+s] = v
		}
	}
	c.rhs = [6]float64{vhat[0], vhat[1], vhat[2]}
	dense.Factor(c.jjt[:9], 3)
	dense.Solve(c.jjt[:9], 3, c.rhs[:3], c.y[:3])
	for j := 0; j < n; j++ {
		c.d[j] = c.mx[j]*c.y[0] + c.mx[n+j]*c.y[1] + c.mx[2*n+j]*c.y[2]
	}
	c.dScale, c.dVel = 0, 0
	for j := 0; j < n; j++ {
		c.dScale = math.Max(c.dScale, math.Abs(c.d[j])/c.lim.Acc[j])
		c.dVel = math.Max(c.dVel, math.Abs(c.d[j])/c.lim.Vel[j])
	}
	// up: the joint motion that turns the net normal toward straight up by
	// one radian without moving the head origin (least-norm in
	// velocity-limit units); after the catch the reference turns the net up
	// by netUpRad along it, so gravity helps hold the ball in the pocket.
	clear(c.up)
	ax := ball.Vec{-vhat[1], vhat[0], 0} // n × ẑ with n = −v̂
	if an := math.Hypot(ax[0], ax[1]); an > 0.1 {
		for r := 0; r < 6; r++ {
			for s := 0; s <= r; s++ {
				var v float64
				for j := 0; j < n; j++ {
					v += c.jac[r*n+j] * c.lim.Vel[j] * c.lim.Vel[j] * c.jac[s*n+j]
				}
				if r == s {
					v += 1e-6
				}
				c.jjt[r*6+s] = v
			}
		}
		c.rhs = [6]float64{0, 0, 0, ax[0] / an, ax[1] / an, 0}
		dense.Factor(c.jjt[:], 6)
		dense.Solve(c.jjt[:], 6, c.rhs[:], c.y[:])
		for j := 0; j < n; j++ {
			var v float64
			for r := 0; r < 6; r++ {
				v += c.jac[r*n+j] * c.y[r]
			}
			c.up[j] = v * c.lim.Vel[j] * c.lim.Vel[j]
		}
	}
	c.tc = est.T + tHit
	c.pc, c.vc = pc, vc
	c.has = true
}

func lerp(p, v *ball.Vec, a, b *ball.State, f float64) {
	for k := 0; k < 3; k++ {
		p[k] = a.P[k] + f*(b.P[k]-a.P[k])
		v[k] = a.V[k] + f*(b.V[k]-a.V[k])
	}
}

// solveIK moves c.qIK toward a configuration with the head origin at pos
// and the net normal (head local y) along nrm, by damped Gauss–Newton on
// ½|r(q)|² + ½μ|q − seed|²: the prior term resolves the arm's redundancy
// toward the preferred posture c.seed. It reports whether the result is
// within ikPosTol and ikAngTol. A fixed number of iterations keeps the cost
// bounded (it starts warm from the previous solution).
func (c *Controller) solveIK(pos, nrm ball.Vec, iters int) (bool, float64) {
	n := c.n
	const (
		w    = 0.3  // m per unit of normal-direction error
		mu   = 1e-4 // prior weight
		damp = 1e-4 // Levenberg damping
	)
	q := c.qIK
	var r [6]float64
	ok := false
	var res float64
	for it := 0; it <= iters; it++ {
		c.chain.FKJacobian(q, &c.pose, c.jac)
		u := c.pose.Axis(1)
		var pe, dot float64
		for k := 0; k < 3; k++ {
			r[k] = pos[k] - c.pose.P[k]
			r[3+k] = w * (nrm[k] - u[k])
			pe += r[k] * r[k]
			dot += nrm[k] * u[k]
		}
		ang := math.Acos(math.Max(-1, math.Min(1, dot)))
		ok = math.Sqrt(pe) <= ikPosTol && ang <= ikAngTol
		res = math.Sqrt(pe) + w*ang
		if it == iters {
			break
		}
		// residual Jacobian rows: position J_v; direction w·(ω_i × u)
		jr := c.jr
		copy(jr[:3*n], c.jac[:3*n])
		for i := 0; i < n; i++ {
			ox, oy, oz := c.jac[3*n+i], c.jac[4*n+i], c.jac[5*n+i]
			jr[3*n+i] = w * (oy*u[2] - oz*u[1])
			jr[4*n+i] = w * (oz*u[0] - ox*u[2])
			jr[5*n+i] = w * (ox*u[1] - oy*u[0])
		}
		for i := 0; i < n; i++ {
			var g float64
			for k := 0; k < 6; k++ {
				g += jr[k*n+i] * r[k]
			}
			c.g[i] = g - mu*(q[i]-c.seed[i])
			for j := 0; j <= i; j++ {
				var v float64
				for k := 0; k < 6; k++ {
					v += jr[k*n+i] * jr[k*n+j]
				}
				if i == j {
					v += mu + damp
				}
				c.nn[i*n+j] = v
			}
		}
		dense.Factor(c.nn, n)
		dense.Solve(c.nn, n, c.g, c.dq)
		for i := 0; i < n; i++ {
			q[i] = math.Max(c.lim.Lower[i]+posMarginM, math.Min(c.lim.Upper[i]-posMarginM, q[i]+c.dq[i]))
		}
	}
	return ok, res
}

func ikIters(cold bool) int {
	if cold {
		return ikColdIters
	}
	return ikWarmIters
}

// cradle is the head's travel s (m) along the ball's flight direction and
// its rate, τ seconds after the predicted catch: waiting upstream, then
// accelerating over pre seconds to speed vc at the catch (the ball meets
// a net that is already giving way), then decelerating to rest over post
// seconds (the deceleration presses the ball into the pocket).
func cradle(tau, vc, pre, post float64) (s, sdot float64) {
	switch {
	case tau <= -pre:
		return -vc * pre / 2, 0
	case tau <= 0:
		u := tau + pre
		return -vc*pre/2 + vc*u*u/(2*pre), vc * u / pre
	case tau <= post:
		return vc*tau - vc*tau*tau/(2*post), vc * (1 - tau/post)
	default:
		return vc * post / 2, 0
	}
}

// shoulderLinkIndex finds the shoulder pitch frame in the robot's chain: the
// child link of the first revolute joint along the chain whose axis is
// horizontal at zero joint angles (the first joint that lifts the arm), or
// -1 when there is none.
func shoulderLinkIndex(rob *robot.Robot) int {
	if rob == nil || rob.Model == nil || rob.Chain == nil {
		return -1
	}
	joints := map[string]robot.Joint{}
	for _, j := range rob.Model.Joints {
		joints[j.Child] = j
	}
	links := rob.Chain.LinkNames()
	var rot [3][3]float64 = robot.Identity().R
	for i, name := range links {
		j, ok := joints[name]
		if !ok || i == 0 {
			continue
		}
		// Orientation of the joint frame at q = 0 (rotations of earlier
		// joints at zero are the identity, so compose the origins only).
		rot = mulR(rot, j.Origin.R)
		if j.Type != robot.Revolute && j.Type != robot.Continuous {
			continue
		}
		var ax [3]float64
		for r := 0; r < 3; r++ {
			for k := 0; k < 3; k++ {
				ax[r] += rot[r][k] * j.Axis[k]
			}
		}
		if math.Abs(ax[2]) < 1e-6 {
			return i
		}
	}
	return -1
}

func mulR(a, b [3][3]float64) (out [3][3]float64) {
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 3; k++ {
				out[i][j] += a[i][k] * b[k][j]
			}
		}
	}
	return out
}
