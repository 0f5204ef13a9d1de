package launch

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/hardware/triallog"
	"github.com/agilecatch/catch/robot"
)

// ReplayReport says how a replayed throw compares with its log.
type ReplayReport struct {
	Seq   uint32 `json:"seq"`
	Ticks int    `json:"ticks"`
	// MaxCmdDiff is the largest |replayed − logged| over every command
	// value (rad, m, rad/s, m/s) of the throw.
	MaxCmdDiff float64 `json:"max_cmd_diff"`
	// FirstDiffTick is the first tick whose command differs by more than
	// the tolerance (−1: none), at FirstDiffS (trial clock, s).
	FirstDiffTick  int     `json:"first_diff_tick"`
	FirstDiffS     float64 `json:"first_diff_s,omitempty"`
	ModeMismatches int     `json:"mode_mismatches"`
	CodeMismatches int     `json:"code_mismatches"`
	// MaxEstDiffM is the largest ball-position difference between the
	// replayed and the logged estimates, m.
	MaxEstDiffM float64 `json:"max_est_diff_m"`
}

// MarshalJSON writes the report with NaN or infinite numbers (a replayed
// command that went NaN) as null and names them, with their value as a
// string, under "non_finite": encoding/json refuses them, and the whole
// report used to be lost.
func (r ReplayReport) MarshalJSON() ([]byte, error) {
	type plain ReplayReport
	out := struct {
		plain
		MaxCmdDiff  *float64          `json:"max_cmd_diff"`
		FirstDiffS  *float64          `json:"first_diff_s,omitempty"`
		MaxEstDiffM *float64          `json:"max_est_diff_m"`
		NonFinite   map[string]string `json:"non_finite,omitempty"`
	}{plain: plain(r)}
	field := func(name string, v float64, omitZero bool) *float64 {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			if out.NonFinite == nil {
				out.NonFinite = map[string]string{}
			}
			out.NonFinite[name] = strconv.FormatFloat(v, 'g', -1, 64)
			return nil
		case omitZero && v == 0:
			return nil
		}
		return &v
	}
	out.MaxCmdDiff = field("max_cmd_diff", r.MaxCmdDiff, false)
	out.FirstDiffS = field("first_diff_s", r.FirstDiffS, true)
	out.MaxEstDiffM = field("max_est_diff_m", r.MaxEstDiffM, false)
	return json.Marshal(out)
}

// Replay re-runs estimator → controller → safety through a fresh control
// loop on logged throws, in order, as the node ran them (one loop and one
// controller for all, since a controller may carry state from throw to
// throw): each tick gets the logged joint state and, at the logged tick,
// the logged observations, and its command is compared with the logged
// one. cfg must be the run's configuration (loop, safety, estimator,
// controller settings); the controller must plan synchronously (mpc.async
// false) for an exact reproduction. The loop starts from the safety
// filter's logged state (the command before the first throw). The throws
// must be a contiguous stretch of one node's log (each one's prev_ns the
// last tick of the one before); a gap is an error.
func Replay(cfg *Config, rob *robot.Robot, throws []triallog.Throw, tol float64) ([]ReplayReport, error) {
	if len(throws) == 0 {
		return nil, fmt.Errorf("replay: no throws")
	}
	first := &throws[0]
	nc := cfg.Node.WithDefaults()
	if p := int64(nc.Loop.Period()); p != first.PeriodNS {
		return nil, fmt.Errorf("replay: the log's loop period is %d ns, the config's %d ns: replay with the run's config", first.PeriodNS, p)
	}
	dof := rob.Chain.DOF()
	if len(first.Joints) != dof || len(first.PrevCmdQ) != dof {
		return nil, fmt.Errorf("replay: the log has %d joints (%d in prev_cmd_q), the robot %d", len(first.Joints), len(first.PrevCmdQ), dof)
	}
	lp, err := newLoopParts(cfg, rob, first.Controller, first.Ball)
	if err != nil {
		return nil, err
	}
	ctrl, est, safety, props := lp.ctrl, lp.est, lp.safety, lp.props
	pc := &primeCtrl{Controller: ctrl, q: first.PrevCmdQ, qd: first.PrevCmdQd, on: true}
	rio := &replayIO{th: first, k: -1, tol: tol}
	loop, err := control.NewLoop(nc.Loop, control.NewSimClock(false), rio, pc, est, safety, nil)
	if err != nil {
		return nil, err
	}
	loop.SetProps(&props)
	rio.loop = loop
	// Prime: one tick that writes the logged previous command, so the
	// safety filter and the loop's write time start where the run's were.
	loop.Tick(time.Duration(first.PrevNS))
	pc.on = false
	var ts control.TickState
	ts.Cmd = control.NewCommand(dof)
	reps := make([]ReplayReport, 0, len(throws))
	for i := range throws {
		th := &throws[i]
		if i > 0 {
			prev := &throws[i-1]
			if len(prev.Ticks) == 0 || th.PrevNS != prev.Ticks[len(prev.Ticks)-1].NowNS || th.Controller != first.Controller {
				return reps, fmt.Errorf("replay: throw %d does not follow throw %d in the log (a gap, or another run): replay it on its own", th.Seq, prev.Seq)
			}
		}
		reps = append(reps, ReplayReport{Seq: th.Seq, Ticks: len(th.Ticks), FirstDiffTick: -1})
		rep := &reps[len(reps)-1]
		rio.th, rio.rep = th, rep
		loop.Rearm(control.Rearm{Seq: th.Seq, Epoch: time.Duration(th.EpochNS)})
		for k := range th.Ticks {
			tk := &th.Ticks[k]
			if tk.EStop {
				loop.EStop(true)
			}
			if tk.RearmEpochNS != 0 {
				loop.Rearm(control.Rearm{Seq: th.Seq, Epoch: time.Duration(tk.RearmEpochNS)})
			}
			rio.k = k
			loop.Tick(time.Duration(tk.NowNS))
			if !loop.Latest(&ts) {
				continue
			}
			if tk.Mode != "" && ts.Mode.String() != tk.Mode {
				rep.ModeMismatches++
			}
			if tk.Code != "" && ts.Code.String() != tk.Code {
				rep.CodeMismatches++
			}
			if tk.Est != nil && ts.Ball.Valid {
				p := ts.Ball.State.P
				d := math.Sqrt((p[0]-tk.Est.P[0])*(p[0]-tk.Est.P[0]) + (p[1]-tk.Est.P[1])*(p[1]-tk.Est.P[1]) + (p[2]-tk.Est.P[2])*(p[2]-tk.Est.P[2]))
				rep.MaxEstDiffM = math.Max(rep.MaxEstDiffM, d)
			}
		}
	}
	return reps, nil
}

// primeCtrl answers the priming tick with the logged previous command and
// hands every later call to the real controller.
type primeCtrl struct {
	control.Controller
	q, qd []float64
	on    bool
}

func (p *primeCtrl) Reset(arm control.ArmState) error {
	if p.on {
		return nil
	}
	return p.Controller.Reset(arm)
}

func (p *primeCtrl) Step(in *control.Input, out *control.Command) (control.Status, error) {
	if p.on {
		copy(out.Q, p.q)
		copy(out.Qd, p.qd)
		return control.Status{Code: control.Waiting}, nil
	}
	return p.Controller.Step(in, out)
}

// replayIO feeds the logged tick k and checks its command.
type replayIO struct {
	th   *triallog.Throw
	k    int
	loop *control.Loop
	tol  float64
	rep  *ReplayReport
}

func (r *replayIO) ReadState(dst *control.ArmState) (time.Duration, bool) {
	if r.k < 0 { // priming: the arm where the previous command was
		copy(dst.Q, r.th.PrevCmdQ)
		copy(dst.Qd, r.th.PrevCmdQd)
		return time.Duration(r.th.PrevNS), true
	}
	tk := &r.th.Ticks[r.k]
	for _, o := range r.th.Obs {
		if o.Tick == r.k {
			r.loop.Observe(time.Duration(o.StampNS), o.P)
		}
	}
	if !tk.StateOK {
		return 0, false
	}
	copy(dst.Q, tk.Q)
	copy(dst.Qd, tk.Qd)
	return time.Duration(tk.StateAtNS), true
}

func (r *replayIO) WriteCommand(at time.Duration, cmd *control.Command) {
	if r.k < 0 || r.rep == nil {
		return
	}
	tk := &r.th.Ticks[r.k]
	d := 0.0
	if len(tk.CmdQ) != len(cmd.Q) {
		d = math.Inf(1)
	} else {
		for j := range cmd.Q {
			d = math.Max(d, math.Max(math.Abs(cmd.Q[j]-tk.CmdQ[j]), math.Abs(cmd.Qd[j]-tk.CmdQd[j])))
		}
	}
	if math.IsNaN(d) {
		d = math.Inf(1)
	}
	r.rep.MaxCmdDiff = math.Max(r.rep.MaxCmdDiff, d)
	if (d > r.tol || math.IsNaN(d)) && r.rep.FirstDiffTick < 0 { // a NaN command is a divergence
		r.rep.FirstDiffTick = r.k
		r.rep.FirstDiffS = float64(int64(at)-r.th.EpochNS) / 1e9
	}
}
