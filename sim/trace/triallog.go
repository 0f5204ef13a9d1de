package trace

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/hardware/triallog"
	"github.com/agilecatch/catch/internal/provenance"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// Failure reasons of a converted trial log, where the judge is the catch
// sensor and no closest approach is known.
const (
	FailNoCatchSignal = "no_catch_signal" // the catch sensor never read true
	FailNoSensor      = "no_sensor"       // no catch-sensor message during the throw
)

// FromTrialLog writes the trace of one throw of the ROS controller node's
// trial log (package hardware/triallog) into dir, in the same format as a
// simulated trial: per control tick the measured joint state, the command,
// the head pose (forward kinematics of the measured state), the ball
// estimate and the controller's status. Columns the log does not hold stay
// empty: the ball's truth, the estimate's covariance, forecast, plan and
// the pocket's state. The verdict is the catch sensor's. It returns the
// file's path.
func FromTrialLog(th *triallog.Throw, rob *robot.Robot, dir string, prov provenance.Record) (string, error) {
	n := rob.Chain.DOF()
	if len(th.Joints) != n {
		return "", fmt.Errorf("throw %d: %d joints in the log, the robot has %d", th.Seq, len(th.Joints), n)
	}
	if len(th.Ticks) == 0 {
		return "", fmt.Errorf("throw %d: no ticks", th.Seq)
	}
	rate := 0.0
	if th.PeriodNS > 0 {
		rate = float64(time.Second) / float64(th.PeriodNS)
	}
	props, _ := ball.ByName(th.Ball)
	w := &Writer{Dir: dir, Controller: th.Controller, Seed: 0, RateHz: rate, Provenance: prov}
	scenario := "ros-" + th.Source
	res := sim.TrialResult{Index: int(th.Seq), Scenario: scenario, Catchable: true, Steps: len(th.Ticks)}
	thr := sim.Throw{Ball: props, Scenario: scenario}
	if err := w.Begin(&thr, &res); err != nil {
		return "", err
	}
	var (
		head  sim.HeadMotion
		pose  robot.Pose
		jac   = make([]float64, 6*n)
		est   ball.Estimate
		q     = make([]float64, n)
		qd    = make([]float64, n)
		cmdQ  = make([]float64, n)
		cmdQd = make([]float64, n)
		obs   int
	)
	caughtAt := -1.0
	if th.Caught != nil && *th.Caught && th.CaughtNS != 0 {
		caughtAt = float64(th.CaughtNS-th.EpochNS) / 1e9
	}
	for i := range th.Ticks {
		tk := &th.Ticks[i]
		copyOr(q, tk.Q)
		copyOr(qd, tk.Qd)
		copyOr(cmdQ, tk.CmdQ)
		copyOr(cmdQd, tk.CmdQd)
		sim.HeadMotionAt(rob.Chain, q, qd, &pose, jac, &head)
		est = ball.Estimate{}
		if tk.Est != nil {
			est.Valid, est.T = true, tk.Est.T
			est.State.P, est.State.V = tk.Est.P, tk.Est.V
		}
		for obs < len(th.Obs) && th.Obs[obs].Tick <= i {
			obs++
		}
		t := float64(tk.NowNS-th.EpochNS) / 1e9
		st := sim.Tick{T: t, Q: q, Qd: qd, CmdQ: cmdQ, CmdQd: cmdQd, Head: &head, Est: &est,
			Status: control.Status{Code: parseCode(tk.Code)}, Caught: caughtAt >= 0 && t >= caughtAt,
			MissDistanceM: -1}
		w.Tick(&st)
	}
	switch {
	case th.Caught == nil:
		res.Failure = FailNoSensor
	case *th.Caught:
		res.Caught = true
		if caughtAt >= 0 {
			res.CatchTimeS = caughtAt
		}
	default:
		res.Failure = FailNoCatchSignal
	}
	if err := w.End(&res); err != nil {
		return "", err
	}
	return filepath.Join(dir, FileName(w.Controller, scenario, 0, res.Index)), nil
}

func copyOr(dst, src []float64) {
	if len(src) == len(dst) {
		copy(dst, src)
	}
}

// parseCode is the inverse of control.Code.String (Waiting for an unknown
// name).
func parseCode(s string) control.Code {
	for c := control.Tracking; c <= control.Cradling; c++ {
		if c.String() == s {
			return c
		}
	}
	return control.Waiting
}
