package launch

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/goroslib/v2/pkg/msgs/diagnostic_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/visualization_msgs"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/hardware/ros"
	"github.com/agilecatch/catch/hardware/triallog"
	"github.com/agilecatch/catch/perception"
	"github.com/agilecatch/catch/robot"
)

// NodeConfig configures the ROS nodes (catch node controller|simarm|
// perception) and the controller's real-time loop. The zero value means the
// defaults on each field.
type NodeConfig struct {
	Loop control.LoopConfig `yaml:"loop"`
	ROS  ros.Config         `yaml:"ros"`
	// VizHz is the rate of /ball/state, /catch/plan and /catch/forecast;
	// default 25.
	VizHz float64 `yaml:"viz_hz"`
	// DiagnosticsHz is the rate of /diagnostics; default 1.
	DiagnosticsHz float64 `yaml:"diagnostics_hz"`
	// Ball names the ball set the estimator and controller assume (package
	// ball); default tennis.
	Ball string `yaml:"ball"`
	// SettleS is the simulated thrower's pause between the re-arm and the
	// release, s; default 0.15.
	SettleS float64 `yaml:"settle_s"`
	// Lockstep runs controller and simulated arm in simulated time: each
	// joint state's stamp is the controller's clock, and the simulated arm
	// waits for the command of each tick before simulating the next (the
	// ABB EGM pattern, where the robot's state messages pace the
	// controller). Results then do not depend on the machine's load. Only
	// for the simulated arm; default false (wall clock, real time).
	Lockstep bool `yaml:"lockstep"`
	// TrialLog, when set, is a file the controller node appends one JSON
	// line per throw to (hardware/triallog; crash-safe). Default: none.
	TrialLog string `yaml:"trial_log"`
	// DryRun computes and publishes everything but never sends a command to
	// the arm (they go to topics.dry_run_command). Default false.
	DryRun bool `yaml:"dry_run"`
	// RequireArm withholds commands (as in a dry run) until an arming
	// request (/catch/arm true, or `node controller --arm`) passes
	// CheckArming. Default false (the simulated arm); robot.yaml sets it.
	RequireArm bool `yaml:"require_arm"`
	// Camera is the image stream of camera fidelity (simarm --fidelity
	// camera → perception node); both nodes must read the same values.
	Camera CameraStreamConfig `yaml:"camera"`
	// ExitOnDone ends the controller node (cleanly) when the simulated arm
	// reports the end of a finite run on /catch/done, so that roslaunch
	// ends with the run. Default false; launch/sim.launch sets it with
	// --exit-on-done.
	ExitOnDone bool `yaml:"exit_on_done"`
}

// WithDefaults returns c with zero fields set.
func (c NodeConfig) WithDefaults() NodeConfig {
	c.Loop = c.Loop.WithDefaults()
	c.ROS = c.ROS.WithDefaults()
	if c.VizHz == 0 {
		c.VizHz = 25
	}
	if c.DiagnosticsHz == 0 {
		c.DiagnosticsHz = 1
	}
	if c.Ball == "" {
		c.Ball = "tennis"
	}
	if c.SettleS == 0 {
		c.SettleS = 0.15
	}
	c.Camera = c.Camera.WithDefaults()
	return c
}

// Validate reports the first bad field.
func (c NodeConfig) Validate() error {
	if err := c.Loop.Validate(); err != nil {
		return fmt.Errorf("node.loop: %w", err)
	}
	if err := c.ROS.Validate(); err != nil {
		return fmt.Errorf("node.ros: %w", err)
	}
	c = c.WithDefaults()
	if !(c.VizHz > 0 && c.VizHz <= 250) {
		return fmt.Errorf("node.viz_hz = %v: want (0, 250]", c.VizHz)
	}
	if !(c.DiagnosticsHz > 0 && c.DiagnosticsHz <= 50) {
		return fmt.Errorf("node.diagnostics_hz = %v: want (0, 50]", c.DiagnosticsHz)
	}
	if _, err := ball.ByName(c.Ball); err != nil {
		return fmt.Errorf("node.ball = %q: %w", c.Ball, err)
	}
	if !(c.SettleS >= 0.02 && c.SettleS <= 10) {
		return fmt.Errorf("node.settle_s = %v: want [0.02, 10]", c.SettleS)
	}
	if err := c.Camera.Validate(); err != nil {
		return fmt.Errorf("node.camera: %w", err)
	}
	return nil
}

// loopParts are what a control loop runs besides its clock and arm: the
// controller, the ball estimator and the safety layer, built from the run
// configuration (the controller node and the replay build them alike).
type loopParts struct {
	ctrl   control.Controller
	est    *perception.Estimator
	safety *control.Safety
	props  ball.Props
}

func newLoopParts(cfg *Config, rob *robot.Robot, controller, ballName string) (loopParts, error) {
	var lp loopParts
	var err error
	if lp.ctrl, err = NewController(controller, rob, cfg); err != nil {
		return lp, err
	}
	if lp.props, err = ball.ByName(ballName); err != nil {
		return lp, err
	}
	if lp.est, err = perception.NewEstimator(cfg.Sim.Estimator, lp.props); err != nil {
		return lp, err
	}
	nc := cfg.Node.WithDefaults()
	lp.safety, err = control.NewSafety(nc.Loop.Safety, rob, nc.Loop.Period().Seconds())
	return lp, err
}

// ControllerNode is `catch node controller`: ball observations → estimator →
// controller → safety → arm, on the real-time loop, over ROS.
type ControllerNode struct {
	Loop *control.Loop
	IO   *ros.ControllerIO
	// Recorder is the trial logger (nil without node.trial_log).
	Recorder *Recorder
	rob      *robot.Robot
	cfg      NodeConfig
	clk      control.TimeBase
	log      *slog.Logger
	props    ball.Props
	// armMu serialises arming, disarming, e-stop and release decisions
	// (goroslib callbacks, the --arm goroutine, the Run goroutine).
	armMu sync.Mutex
	// armed: an arming request passed (require_arm).
	armed bool
	// diagnostics deltas (Run goroutine only)
	lastOverruns, lastInterventions uint64
	done                            chan struct{} // closed on /catch/done
	doneOnce                        sync.Once
}

// NewControllerNode wires a controller node for the named controller.
func NewControllerNode(cfg *Config, rob *robot.Robot, controller, nodeName string, log *slog.Logger) (*ControllerNode, error) {
	if err := cfg.Node.Validate(); err != nil {
		return nil, err
	}
	nc := cfg.Node.WithDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lp, err := newLoopParts(cfg, rob, controller, nc.Ball)
	if err != nil {
		return nil, err
	}
	ctrl, est, safety, props := lp.ctrl, lp.est, lp.safety, lp.props
	var clk control.TimeBase = control.NewWallClock()
	var sclk *control.SimClock
	if nc.Lockstep {
		sclk = control.NewSimClock(false)
		clk = sclk
	}
	io, err := ros.NewControllerIO(nc.ROS, nodeName, rob.Chain.JointNames(), clk, log)
	if err != nil {
		return nil, err
	}
	// States outside the URDF limits (beyond encoder noise) or stamped
	// outside the loop's staleness window (clock skew allowed) are rejected.
	sk := nc.Loop.Safety
	skew := time.Duration(sk.ClockSkewS * float64(time.Second))
	io.SetChecks(ros.StateChecks{
		Lower: rob.Limits.Lower, Upper: rob.Limits.Upper, LimitTol: jointLimitTol,
		MaxAge: skew + time.Duration(sk.JointStaleTicks)*nc.Loop.Period(), MaxLead: skew,
	})
	if sclk != nil {
		io.DriveClock(sclk)
	}
	// RViz draws the robot from robot_description and the TF this node
	// publishes (publishViz).
	urdf := robot.ShippedURDF()
	if cfg.Robot.URDF != "" {
		if urdf, err = os.ReadFile(cfg.Robot.URDF); err != nil {
			return nil, fmt.Errorf("robot.urdf: %w", err)
		}
	}
	io.SetRobotDescription(string(urdf))
	if len(io.Joints()) != rob.Chain.DOF() {
		return nil, fmt.Errorf("node.ros.joint_names: %d names for a %d-joint chain", len(io.Joints()), rob.Chain.DOF())
	}
	var armIO control.ArmIO = io
	var rec *Recorder
	if nc.TrialLog != "" {
		w, err := triallog.Open(nc.TrialLog, triallog.Options{})
		if err != nil {
			return nil, fmt.Errorf("node.trial_log: %w", err)
		}
		clockName := "wall"
		if nc.Lockstep {
			clockName = "lockstep"
		}
		rec = NewRecorder(io, clk, w, triallog.Throw{Source: "ros", Controller: controller, Run: triallog.NewRunID(), Clock: clockName,
			PeriodNS: int64(nc.Loop.Period()), Joints: io.Joints(), Ball: nc.Ball}, log)
		armIO = rec
	}
	loop, err := control.NewLoop(nc.Loop, clk, armIO, ctrl, est, safety, log)
	if err != nil {
		return nil, err
	}
	loop.SetProps(&props)
	n := &ControllerNode{Loop: loop, IO: io, Recorder: rec, rob: rob, cfg: nc, clk: clk, log: log, props: props, done: make(chan struct{})}
	estop := loop.EStop
	hooks := ros.Hooks{
		Observe: loop.Observe,
		Rearm:   func(seq uint32, epoch time.Duration) { loop.Rearm(control.Rearm{Seq: seq, Epoch: epoch}) },
		Arm: func(on bool, callers []string) {
			if err := io.Authorize(callers); err != nil {
				log.Error("arming request refused", "on", on, "callers", callers, "err", err)
				return
			}
			log.Warn("arming request", "on", on, "callers", callers)
			_ = n.Arm(on)
		},
		Release: func(callers []string) { _ = n.ReleaseEStop(callers) },
		Done:    func() { n.doneOnce.Do(func() { close(n.done) }) },
	}
	if rec != nil {
		rec.SetLoop(loop)
		hooks.Observe, hooks.Rearm, hooks.Sensor = rec.Observe, rec.Rearm, rec.Sensor
		estop = rec.EStop
	}
	hooks.EStop = func(on bool, callers []string) {
		if on {
			log.Warn("e-stop received: braking to a hold, then no more commands", "callers", callers)
		}
		estop(on)
	}
	io.SetHooks(hooks)
	if nc.DryRun || nc.RequireArm {
		io.SetSending(false)
		loop.Engage(false)
	}
	return n, nil
}

// jointLimitTol is how far past a URDF limit a joint state may report a
// joint (encoder noise at a hard stop) before it is rejected, rad or m.
const jointLimitTol = 0.01

// engage makes the loop restart from the measured state and then sends its
// commands to the arm: the first command sent is the arm's own position
// (bumpless). Commands computed before the loop took the restart stay on
// the dry-run topic. Called with armMu held.
func (n *ControllerNode) engage() error {
	var ts control.TickState
	n.Loop.Latest(&ts)
	before := ts.Resyncs
	n.Loop.Engage(true)
	deadline := time.Now().Add(time.Second)
	for !(n.Loop.Latest(&ts) && ts.Engaged && ts.Resyncs > before) {
		if time.Now().After(deadline) {
			n.Loop.Engage(false)
			return fmt.Errorf("arming: the control loop did not restart within 1 s (not running, or no joint states in lockstep)")
		}
		time.Sleep(time.Millisecond)
	}
	n.IO.SetSending(true)
	return nil
}

// disengage stops sending commands; the loop goes on computing them (dry
// run topic). Called with armMu held.
func (n *ControllerNode) disengage() {
	n.IO.SetSending(false)
	n.Loop.Engage(false)
}

// ReleaseEStop clears a latched e-stop for a request published by callers
// (refused unless they are among ros.operators, when that is set). The loop
// restarts from the measured state; with require_arm the node stays
// disarmed until the next arming request, otherwise sending resumes.
func (n *ControllerNode) ReleaseEStop(callers []string) error {
	if err := n.IO.Authorize(callers); err != nil {
		err = fmt.Errorf("e-stop release refused: %w", err)
		n.log.Error(err.Error(), "callers", callers)
		return err
	}
	n.armMu.Lock()
	defer n.armMu.Unlock()
	var ts control.TickState
	if n.Loop.Latest(&ts) && !ts.EStop {
		n.log.Info("e-stop release ignored: no e-stop latched", "callers", callers)
		return nil
	}
	n.log.Warn("e-stop release", "callers", callers)
	n.Loop.Release()
	switch {
	case n.cfg.DryRun:
		return nil
	case n.cfg.RequireArm:
		n.armed = false
		n.log.Warn("e-stop released: commands withheld until the next arming request")
		return nil
	}
	return n.engage()
}

// Arm starts (on) or stops sending commands to the arm. Starting needs
// node.require_arm's check (CheckArming against the driver's joint names and
// current positions) to pass and is refused in a dry run.
func (n *ControllerNode) Arm(on bool) error {
	n.armMu.Lock()
	defer n.armMu.Unlock()
	if !on {
		n.disengage()
		n.armed = false
		n.log.Warn("disarmed: commands withheld")
		return nil
	}
	var ts control.TickState
	if n.Loop.Latest(&ts) && ts.EStop {
		err := fmt.Errorf("arming refused: the e-stop is latched (publish true on %s first)", n.IO.Conn().Config().Topics.EStopRelease)
		n.log.Error(err.Error())
		return err
	}
	if n.armed && n.IO.Sending() {
		return nil // already armed: a repeated request must not restart a catch
	}
	if n.cfg.DryRun {
		err := fmt.Errorf("arming refused: dry run (node.dry_run / --dry-run)")
		n.log.Warn(err.Error())
		return err
	}
	if err := n.CheckArming(); err != nil {
		n.log.Error(err.Error())
		return err
	}
	if err := n.engage(); err != nil {
		n.log.Error(err.Error())
		return err
	}
	n.armed = true
	n.log.Warn("armed: sending commands to the arm, starting from its measured state")
	return nil
}

// CheckArming runs CheckArming on the newest joint state.
func (n *ControllerNode) CheckArming() error {
	dof := n.rob.Chain.DOF()
	st := control.ArmState{Q: make([]float64, dof), Qd: make([]float64, dof)}
	var q []float64
	if _, ok := n.IO.ReadState(&st); ok {
		q = st.Q
	}
	if p := n.IO.JointStatePublishers(); len(p) > 1 {
		return fmt.Errorf("arming: %d nodes publish joint states (%s): stop all but the driver", len(p), strings.Join(p, ", "))
	}
	return CheckArming(n.IO.Joints(), n.rob.Limits, n.IO.DriverJoints(), q)
}

// Run starts the node and blocks until ctx is done; the loop runs without
// waiting for the master (it brakes/holds until joint states arrive).
func (n *ControllerNode) Run(ctx context.Context) error {
	n.IO.Start(ctx)
	defer n.IO.Close()
	if n.cfg.Lockstep {
		// The loop's deadlines start at the first joint state's stamp.
		var st control.ArmState
		st.Q, st.Qd = make([]float64, n.rob.Chain.DOF()), make([]float64, n.rob.Chain.DOF())
		for {
			if _, ok := n.IO.ReadState(&st); ok {
				break
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Millisecond):
			}
		}
	}
	n.Loop.Start(ctx)
	if n.Recorder != nil {
		// Runs after the loop has stopped (deferred calls run last-first).
		defer func() {
			if err := n.Recorder.Close(); err != nil {
				n.log.Error("trial log", "err", err)
			}
		}()
	}
	defer n.Loop.Close()
	viz := time.NewTicker(time.Duration(float64(time.Second) / n.cfg.VizHz))
	defer viz.Stop()
	ack := time.NewTicker(5 * time.Millisecond)
	defer ack.Stop()
	diagEvery := time.Duration(float64(time.Second) / n.cfg.DiagnosticsHz)
	lastDiag := time.Now()
	var ts control.TickState
	var acked uint64
	var pose robot.Pose
	arm := control.ArmState{Q: make([]float64, n.rob.Chain.DOF()), Qd: make([]float64, n.rob.Chain.DOF())}
	var jointQ []float64
	var frames []ros.Frame
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-n.IO.Conn().Fatal():
			return n.IO.Conn().Err()
		case <-n.exitSignal():
			n.log.Info("the simulated arm's run is over (/catch/done): stopping")
			return nil
		case <-ack.C:
			// Acknowledge a re-arm once the loop has taken it.
			if n.Loop.Latest(&ts) && ts.Rearms != acked && ts.Mode != control.ModeEStop {
				n.IO.PublishArmed(ts.Armed, time.Now())
				acked = ts.Rearms
			}
			// Once the e-stop has braked the arm to a hold, stop sending.
			if ts.EStop && ts.AtRest && n.IO.Sending() {
				n.armMu.Lock()
				n.disengage()
				n.armMu.Unlock()
				n.log.Warn("e-stop: arm held; commands stopped until released")
			}
			continue
		case <-viz.C:
		}
		if !n.Loop.Latest(&ts) {
			continue
		}
		now := time.Now()
		frame := n.IO.FrameID()
		if ts.Ball.Valid {
			n.IO.PublishBall(now, &ts.Ball)
			path := predictPath(ts.Ball.State, &n.props, 25, 0.04)
			n.IO.PublishForecast(forecastMarkers(frame, now, &ts.Ball, path))
		}
		n.publishTF(now, &arm, &jointQ, &frames)
		n.rob.Chain.FK(ts.Cmd.Q, &pose)
		plan := []visualization_msgs.Marker{
			ros.Marker(frame, "head_target", 0, visualization_msgs.Marker_SPHERE, now, 0.16, ros.ColorHead, [][3]float64{pose.P}),
		}
		if ts.Ball.Valid {
			plan = append(plan, ros.Marker(frame, "ball", 1, visualization_msgs.Marker_SPHERE, now, 0.067, ros.ColorBall, [][3]float64{ts.Ball.State.P}))
		}
		n.IO.PublishPlan(plan)
		if now.Sub(lastDiag) >= diagEvery {
			lastDiag = now
			n.IO.PublishDiagnostics(n.diagnostics(now, &ts))
		}
	}
}

// exitSignal is closed on /catch/done with node.exit_on_done, nil (never
// ready) without.
func (n *ControllerNode) exitSignal() <-chan struct{} {
	if n.cfg.ExitOnDone {
		return n.done
	}
	return nil
}

// publishTF publishes the transform of every joint of the robot's tree at
// the latest measured joint state (the rest pose before the first one).
func (n *ControllerNode) publishTF(now time.Time, arm *control.ArmState, q *[]float64, frames *[]ros.Frame) {
	n.IO.ReadState(arm)
	m := n.rob.Model
	*q = m.JointValues(n.rob.Chain, arm.Q, *q)
	*frames = (*frames)[:0]
	for i := range m.Joints {
		j := &m.Joints[i]
		p := j.Transform((*q)[i])
		*frames = append(*frames, ros.Frame{Parent: j.Parent, Child: j.Child, P: p.P, Q: p.Quaternion()})
	}
	n.IO.PublishTF(now, *frames)
}

// Stats returns the loop's statistics with the joint-state counters.
func (n *ControllerNode) Stats() control.LoopStats {
	s := n.Loop.Stats()
	_, rej, _, _ := n.IO.JointStats()
	s.Interventions.BadStates = rej
	return s
}

func (n *ControllerNode) diagnostics(now time.Time, ts *control.TickState) *diagnostic_msgs.DiagnosticArray {
	s := n.Stats()
	recv, rej, badObs, last := n.IO.JointStats()
	level := diagnostic_msgs.DiagnosticStatus_OK
	msg := ts.Mode.String()
	switch ts.Mode {
	case control.ModeEStop, control.ModeError:
		level = diagnostic_msgs.DiagnosticStatus_ERROR
	case control.ModeStale, control.ModeAborted:
		level = diagnostic_msgs.DiagnosticStatus_WARN
	}
	if ts.EStop {
		level = diagnostic_msgs.DiagnosticStatus_ERROR
		msg = "e-stop latched"
	}
	// Overruns and interventions since the last report: WARN.
	iv := s.Interventions
	dOver, dIv := s.Overruns-n.lastOverruns, iv.Total()-iv.EStop-n.lastInterventions
	n.lastOverruns, n.lastInterventions = s.Overruns, iv.Total()-iv.EStop
	if dOver > 0 {
		level = max(level, diagnostic_msgs.DiagnosticStatus_WARN)
		msg += "; " + strconv.FormatUint(dOver, 10) + " overruns"
	}
	if dIv > 0 {
		level = max(level, diagnostic_msgs.DiagnosticStatus_WARN)
		msg += "; " + strconv.FormatUint(dIv, 10) + " safety interventions"
	}
	pubs := n.IO.JointStatePublishers()
	if len(pubs) > 1 {
		level = max(level, diagnostic_msgs.DiagnosticStatus_ERROR)
		msg += "; " + strconv.Itoa(len(pubs)) + " joint_states publishers"
	}
	if !n.IO.Conn().Connected() {
		level = max(level, diagnostic_msgs.DiagnosticStatus_WARN)
		msg += "; ROS master unreachable"
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	kv := [][2]string{
		{"mode", ts.Mode.String()}, {"controller_status", ts.Code.String()},
		{"armed_throw", strconv.FormatUint(uint64(ts.Armed), 10)},
		{"estop_latched", strconv.FormatBool(ts.EStop)}, {"aborted", strconv.FormatBool(ts.Aborted)},
		{"ticks", u(s.Ticks)}, {"overruns", u(s.Overruns)}, {"skipped", u(s.Skipped)},
		{"jitter_p50_us", f(s.JitterUS.P50)}, {"jitter_p99_us", f(s.JitterUS.P99)}, {"jitter_max_us", f(s.JitterUS.Max)},
		{"work_p50_us", f(s.WorkUS.P50)}, {"work_p99_us", f(s.WorkUS.P99)}, {"work_max_us", f(s.WorkUS.Max)},
		{"interventions", u(iv.Total())},
		{"nan", u(iv.NaN)}, {"position", u(iv.Position)}, {"velocity", u(iv.Velocity)}, {"acceleration", u(iv.Accel)},
		{"workspace", u(iv.Workspace)}, {"collision", u(iv.Collision)}, {"stale_joints", u(iv.StaleJoints)}, {"ball_lost", u(iv.BallLost)},
		{"estop", u(iv.EStop)}, {"controller_errors", u(iv.CtrlErrors)},
		{"position_step", u(iv.Step)}, {"lead", u(iv.Lead)}, {"max_step", strconv.FormatFloat(s.MaxStep, 'f', 4, 64)},
		{"rejected_observations", u(iv.BadObs)}, {"rejected_rearms", u(iv.BadRearms)}, {"last_rejected_rearm", n.Loop.LastRejectedRearm()},
		{"joint_states_publishers", strings.Join(pubs, ",")}, {"overruns_since_last", u(dOver)}, {"interventions_since_last", u(dIv)},
		{"joint_states_received", u(recv)}, {"joint_states_rejected", u(rej)}, {"last_rejection", last},
		{"bad_observations", u(badObs)}, {"commands_dropped", u(n.IO.CommandsDropped())}, {"obs_dropped", u(s.ObsDropped)},
		{"registrations", strconv.FormatInt(n.IO.Conn().Registrations(), 10)},
		{"sending_commands", strconv.FormatBool(n.IO.Sending())}, {"dry_run", strconv.FormatBool(n.cfg.DryRun)},
		{"commands_withheld", u(n.IO.Withheld())},
	}
	return ros.Diagnostics(now, "catch: control loop", "catch_controller", level, msg, kv)
}

// predictPath extrapolates the ball with the flight model (no forecaster
// yet): n points dt apart from st.
func predictPath(st ball.State, props *ball.Props, n int, dt float64) [][3]float64 {
	out := make([][3]float64, 0, n)
	for i := 0; i < n && st.P[2] > 0; i++ {
		out = append(out, st.P)
		props.Propagate(&st, dt, 0)
	}
	return out
}

// forecastMarkers draws the predicted path and, at each horizon, a sphere
// of the position's 1σ size from the estimate's covariance.
func forecastMarkers(frame string, stamp time.Time, e *ball.Estimate, path [][3]float64) []visualization_msgs.Marker {
	sigma := math.Sqrt(math.Max(e.Cov[0]+e.Cov[7]+e.Cov[14], 1e-8))
	m := []visualization_msgs.Marker{ros.Marker(frame, "forecast_path", 0, visualization_msgs.Marker_LINE_STRIP, stamp, 0.01, ros.ColorForecast, path)}
	if len(path) > 0 {
		m = append(m, ros.Marker(frame, "forecast_spread", 1, visualization_msgs.Marker_SPHERE, stamp, 2*sigma+0.01, ros.ColorForecast, path[len(path)-1:]))
	}
	return m
}
