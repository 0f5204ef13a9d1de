package policy

import (
	"fmt"
	"math"
	"time"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/robot"
)

// PaperController runs a paper-class policy as a control.Controller (and
// an Agent for the trainer). Each tick it pushes the latest ball estimate
// and the measured joint state into the towers' histories, evaluates the
// network, turns its outputs into joint position targets
// (q_ready + scale·tanh(out), within the limits), servoes the command
// toward them (velocity (target − q_cmd)/τ, capped by the speed from which
// the joint can still stop at the target) and decodes through the same
// limits as the structured policy. Step allocates nothing; not safe for
// concurrent use.
type PaperController struct {
	pol    *Policy
	net    *PaperNet
	cfg    PaperConfig
	params []float64
	lim    robot.Limits
	n      int
	period float64

	ready, qCmd, qdCmd, accPrev, qdDes []float64
	scale, target                      []float64
	tick                               int // ticks since Reset
	// histories: rings of samples, newest at head
	ballRing, jointRing []float64
	ballLen, jointLen   int
	ballHead, jointHead int

	obs, act []float64
	scratch  *paperScratch
	stats    Stats
	record   *ObsStats
}

// NewPaperController builds the controller for a paper-class policy.
func NewPaperController(pol *Policy, rob *robot.Robot, controlRateHz float64) (*PaperController, error) {
	n := rob.Chain.DOF()
	if n != dofPolicy {
		return nil, fmt.Errorf("policy: robot has %d joints, the policy is built for %d", n, dofPolicy)
	}
	if err := pol.Validate(); err != nil {
		return nil, err
	}
	if pol.ClassName() != ClassPaper {
		return nil, fmt.Errorf("policy: class %q, want %q", pol.ClassName(), ClassPaper)
	}
	if controlRateHz == 0 {
		controlRateHz = 250
	}
	if !(controlRateHz > 0) {
		return nil, fmt.Errorf("policy: control rate %v Hz, want > 0", controlRateHz)
	}
	cfg := pol.Paper.Config
	bl := (cfg.BallHist-1)*cfg.BallStride + 1
	jl := (cfg.JointHist-1)*cfg.JointStride + 1
	c := &PaperController{pol: pol, net: pol.Paper, cfg: cfg, params: pol.Paper.Params, lim: rob.Limits.Clone(),
		n: n, period: 1 / controlRateHz,
		ready: make([]float64, n), qCmd: make([]float64, n), qdCmd: make([]float64, n), accPrev: make([]float64, n),
		qdDes: make([]float64, n), scale: make([]float64, n), target: make([]float64, n),
		ballRing: make([]float64, bl*paperBallCh), jointRing: make([]float64, jl*paperJointCh), ballLen: bl, jointLen: jl,
		obs: make([]float64, cfg.ObsLen()), act: make([]float64, nOut), scratch: newPaperScratch(cfg)}
	for j := range c.scale {
		c.scale[j] = cfg.ArmScaleRad
	}
	c.scale[0] = cfg.RailScaleM
	return c, nil
}

// Name implements control.Controller.
func (c *PaperController) Name() string { return "es-paper" }

// SetParams implements Agent.
func (c *PaperController) SetParams(params []float64) {
	if params == nil {
		params = c.net.Params
	}
	if len(params) != len(c.net.Params) {
		panic(fmt.Sprintf("policy: SetParams: %d params, want %d", len(params), len(c.net.Params)))
	}
	c.params = params
}

// SetRecord implements Agent.
func (c *PaperController) SetRecord(s *ObsStats) { c.record = s }

// SetPropsOverride implements Agent; the paper policy has no ball model,
// so it ignores it.
func (c *PaperController) SetPropsOverride(*ball.Props) {}

// Stats implements Agent.
func (c *PaperController) Stats() Stats { return c.stats }

// Reset implements control.Controller.
func (c *PaperController) Reset(arm control.ArmState) error {
	if len(arm.Q) != c.n || len(arm.Qd) != c.n {
		return fmt.Errorf("policy: reset: arm state has %d/%d joints, want %d", len(arm.Q), len(arm.Qd), c.n)
	}
	copy(c.ready, arm.Q)
	copy(c.qCmd, arm.Q)
	copy(c.qdCmd, arm.Qd)
	clear(c.accPrev)
	clear(c.ballRing)
	for k := 0; k < c.jointLen; k++ {
		row := c.jointRing[k*paperJointCh : (k+1)*paperJointCh]
		clear(row[:c.n])
		copy(row[c.n:], arm.Qd)
	}
	c.ballHead, c.jointHead = 0, 0
	copy(c.target, arm.Q)
	c.tick = 0
	c.stats = Stats{}
	return nil
}

// Rebase makes (q, qd) the command the next step integrates from (see
// Controller.Rebase).
func (c *PaperController) Rebase(q, qd, acc []float64) {
	rebase(c.qCmd, c.qdCmd, c.accPrev, q, qd, acc)
}

// Step implements control.Controller.
func (c *PaperController) Step(in *control.Input, out *control.Command) (control.Status, error) {
	start := time.Now()
	n := c.n
	if len(out.Q) != n || len(out.Qd) != n || len(in.Arm.Q) != n || len(in.Arm.Qd) != n {
		return control.Status{}, fmt.Errorf("policy: step: command %d/%d, arm %d/%d joints, want %d",
			len(out.Q), len(out.Qd), len(in.Arm.Q), len(in.Arm.Qd), n)
	}
	c.ballHead = (c.ballHead + 1) % c.ballLen
	b := c.ballRing[c.ballHead*paperBallCh : (c.ballHead+1)*paperBallCh]
	code := control.Waiting
	if in.Ball.Valid {
		st := &in.Ball.State
		b[0], b[1], b[2], b[3], b[4], b[5], b[6] = st.P[0], st.P[1], st.P[2], st.V[0], st.V[1], st.V[2], 1
		code = control.Tracking
	} else {
		clear(b)
	}
	c.jointHead = (c.jointHead + 1) % c.jointLen
	jr := c.jointRing[c.jointHead*paperJointCh : (c.jointHead+1)*paperJointCh]
	for j := 0; j < n; j++ {
		jr[j] = in.Arm.Q[j] - c.ready[j]
		jr[n+j] = in.Arm.Qd[j]
	}
	if c.tick%c.cfg.ActionEvery == 0 {
		c.observe()
		if c.record != nil {
			c.record.add(c.obs)
		}
		c.net.forward(c.params, c.obs, c.scratch, c.act)
		for j := 0; j < n; j++ {
			lo, hi := c.lim.Lower[j]+posMarginM, c.lim.Upper[j]-posMarginM
			c.target[j] = math.Max(lo, math.Min(hi, c.ready[j]+c.scale[j]*c.act[j]))
		}
	}
	c.tick++
	for j := 0; j < n; j++ {
		e := c.target[j] - c.qCmd[j]
		v := math.Min(math.Abs(e)/c.cfg.ServoTauS, math.Sqrt(2*servoAcc*c.lim.Acc[j]*math.Abs(e)))
		c.qdDes[j] = math.Copysign(v, e)
	}
	braked, jerky := decodeLimits(&c.lim, c.period, c.qdDes, c.qCmd, c.qdCmd, c.accPrev, out)
	if braked {
		c.stats.Braked++
	}
	if jerky {
		c.stats.JerkTicks++
	}
	c.stats.Ticks++
	return control.Status{Code: code, Compute: time.Since(start)}, nil
}

// observe fills c.obs from the rings, oldest sample first.
func (c *PaperController) observe() {
	k := 0
	for h := c.cfg.BallHist - 1; h >= 0; h-- {
		idx := ((c.ballHead-h*c.cfg.BallStride)%c.ballLen + c.ballLen) % c.ballLen
		k += copy(c.obs[k:], c.ballRing[idx*paperBallCh:(idx+1)*paperBallCh])
	}
	for h := c.cfg.JointHist - 1; h >= 0; h-- {
		idx := ((c.jointHead-h*c.cfg.JointStride)%c.jointLen + c.jointLen) % c.jointLen
		k += copy(c.obs[k:], c.jointRing[idx*paperJointCh:(idx+1)*paperJointCh])
	}
}
