package launch

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/hardware/ros"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// SimArmOptions configures `catch node simarm`.
type SimArmOptions struct {
	Config   *Config
	Robot    *robot.Robot
	Scenario *sim.Scenario
	Seed     uint64
	// First is the index of the first throw; Trials how many (0: forever).
	First, Trials int
	// PauseS is the idle time between throws, s (the arm holds its ready pose).
	PauseS   float64
	NodeName string
	Log      *slog.Logger
	// Result receives each trial's result as it completes.
	Result func(sim.TrialResult)
	// Fidelity is "state" (default: ball observations with the scenario's
	// noise on /ball/observation) or "camera": rendered frames of the
	// default rig (node.camera: scaled, at the scenario's camera rate or
	// node.camera.rate_hz) on <camera>/image_raw as sensor_msgs/Image,
	// stamped with the frame time, for `catch node perception`.
	Fidelity string
	// Engine simulates the arm, the ball and the net (sim.Engine); nil
	// means sim.Kinematic. The MuJoCo engine comes from launch.NewEngine.
	Engine sim.Engine
}

// SimArm is the simulated robot and thrower behind the same topics as a real
// ros_control arm: it publishes joint states at the control rate (250 Hz),
// obeys commands with the scenario's action latency through the engine's
// arm (sim.Physics of SimArmOptions.Engine: the kinematic engine's PD loop
// within the arm's limits, or MuJoCo's torque-limited servos), flies the
// scenario's throws (throw i from sim.TrialRand(seed, i), as `catch sim`
// does), publishes ball observations at the camera rate with the scenario's
// noise, dropouts and latency, judges catches with the engine's pocket and
// publishes the catch sensor. Time is the wall clock: the physics runs 1 ms
// steps in 4 ms frames, each frame simulated as soon as its end has passed,
// so commands act at their receipt time plus latency.
type SimArm struct {
	opt   SimArmOptions
	io    *ros.SimIO
	lim   robot.Limits
	ready []float64
	log   *slog.Logger

	mu    sync.Mutex
	cmds  []timedCmd // bounded: oldest dropped beyond cmdCap
	armed atomic.Int64
	// lockstep: newest command stamp (UnixNano) and its signal
	lastCmd  atomic.Int64
	cmdSig   chan struct{}
	timeouts atomic.Int64
	cam      *simCam // camera fidelity; nil in state fidelity
}

type timedCmd struct {
	at, stamp time.Time // received; sent (zero when the message has no stamp)
	q, qd     []float64
}

const cmdCap = 256

// NewSimArm declares the simulated arm's node.
func NewSimArm(opt SimArmOptions) (*SimArm, error) {
	if opt.Config == nil || opt.Robot == nil || opt.Scenario == nil {
		return nil, fmt.Errorf("simarm: config, robot and scenario are required")
	}
	if err := opt.Config.Node.Validate(); err != nil {
		return nil, err
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.NodeName == "" {
		opt.NodeName = "simarm"
	}
	ready := opt.Config.Sim.ReadyQ
	if ready == nil {
		ready = sim.DefaultReadyQ
	}
	if len(ready) != opt.Robot.Chain.DOF() {
		return nil, fmt.Errorf("sim.ready_q: %d values for a %d-joint chain", len(ready), opt.Robot.Chain.DOF())
	}
	if opt.Engine == nil {
		opt.Engine = sim.Kinematic
	}
	sc := opt.Config.Sim
	sc.ReadyQ = ready
	if err := sc.Check(opt.Robot); err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	s := &SimArm{opt: opt, lim: opt.Robot.Limits, ready: append([]float64(nil), ready...), log: opt.Log}
	s.armed.Store(-1)
	s.cmdSig = make(chan struct{}, 1)
	io, err := ros.NewSimIO(opt.Config.Node.WithDefaults().ROS, opt.NodeName, opt.Robot.Chain.JointNames(), s.onCommand,
		func(seq uint32) { s.armed.Store(int64(seq)) }, opt.Log)
	if err != nil {
		return nil, err
	}
	s.io = io
	switch opt.Fidelity {
	case "", "state":
	case "camera":
		if opt.Config.Node.Lockstep {
			return nil, fmt.Errorf("simarm: camera fidelity runs in real time only (lockstep counts observations the perception node makes asynchronously)")
		}
		cam, err := newSimCam(opt.Config.Node.WithDefaults().Camera, opt.Scenario.BallProps().Radius)
		if err != nil {
			return nil, err
		}
		s.cam = cam
		io.AddCameras(cam.names())
	default:
		return nil, fmt.Errorf("simarm: fidelity %q: want state or camera", opt.Fidelity)
	}
	return s, nil
}

// IO returns the node's ROS side.
func (s *SimArm) IO() *ros.SimIO { return s.io }

func (s *SimArm) onCommand(stamp time.Time, q, qd []float64) {
	s.mu.Lock()
	if len(s.cmds) == cmdCap {
		s.cmds = s.cmds[1:]
	}
	s.cmds = append(s.cmds, timedCmd{at: time.Now(), stamp: stamp, q: q, qd: qd})
	s.mu.Unlock()
	if !stamp.IsZero() {
		s.lastCmd.Store(stamp.UnixNano())
		select {
		case s.cmdSig <- struct{}{}:
		default:
		}
	}
}

func (s *SimArm) takeCmds(dst []timedCmd) []timedCmd {
	s.mu.Lock()
	dst = append(dst[:0], s.cmds...)
	s.cmds = s.cmds[:0]
	s.mu.Unlock()
	return dst
}

// Run registers the node and flies the throws; it returns when they are
// done (or ctx is).
func (s *SimArm) Run(ctx context.Context) error {
	s.io.Start(ctx)
	defer s.io.Close()
	if s.cam != nil {
		defer s.cam.close()
	}
	if err := s.io.Conn().WaitConnected(ctx); err != nil {
		return err
	}
	o := s.opt
	cfg := o.Config.Sim.WithDefaults(o.Robot.Chain.DOF())
	cfg.ReadyQ = s.ready
	frame := time.Duration(float64(time.Second) / cfg.ControlRateHz)
	phys, err := o.Engine.NewPhysics(cfg, o.Robot, o.Scenario)
	if err != nil {
		return fmt.Errorf("%s engine: %w", o.Engine.Name(), err)
	}
	defer phys.Close()
	reach, err := sim.NewReach(cfg.Reach, o.Robot, s.ready)
	if err != nil {
		return err
	}
	n := len(s.ready)
	w := &simWorld{s: s, phys: phys, engine: o.Engine.Name(), frame: frame, maxT: cfg.MaxTimeS,
		prevQd: make([]float64, n), zero: make([]float64, n), cq: make([]float64, n), cqd: make([]float64, n),
		lockstep: o.Config.Node.Lockstep, vt: time.Now().Truncate(time.Millisecond)}
	// Hold the ready pose until the first throw, publishing joint states.
	if err := w.idle(ctx, w.now().Add(time.Duration(o.PauseS*float64(time.Second)))); err != nil {
		return err
	}
	for i := o.First; o.Trials == 0 || i < o.First+o.Trials; i++ {
		rng := sim.TrialRand(o.Seed, i)
		th := o.Scenario.Sample(rng)
		res := sim.TrialResult{Index: i}
		sim.Describe(&th, &res)
		res.Catchable, _ = reach.Catchable(&th)
		if err := w.trial(ctx, i, &th, rng, &res); err != nil {
			return err
		}
		if o.Result != nil {
			o.Result(res)
		}
		if err := w.idle(ctx, w.now().Add(time.Duration(o.PauseS*float64(time.Second)))); err != nil {
			return err
		}
	}
	if n := s.timeouts.Load(); n > 0 {
		s.log.Warn("lockstep: ticks the controller did not answer within 2 s", "count", n)
	}
	// A finite run is over: tell the controller (node.exit_on_done ends it),
	// and stay up a moment so the latched message reaches it.
	s.io.PublishDone()
	select {
	case <-ctx.Done():
	case <-time.After(500 * time.Millisecond):
	}
	return nil
}

type simWorld struct {
	s      *SimArm
	phys   sim.Physics
	engine string
	frame  time.Duration
	maxT   float64
	cmds   []timedCmd
	prevQd []float64
	zero   []float64 // the joint velocities published while idle
	// cq, cqd: a command clamped to the joint limits for the engine
	cq, cqd []float64
	// previous command's stamp and receipt time
	lastStamp, lastAt time.Time
	// lockstep: simulated time, advanced frame by frame as the controller
	// answers each joint state
	lockstep bool
	vt       time.Time
	obsSent  uint32 // observations published (joint-state header seq)
}

// now is the arm's time: the wall clock, or the simulated time in lockstep.
func (w *simWorld) now() time.Time {
	if w.lockstep {
		return w.vt
	}
	return time.Now()
}

// advance moves to time t after the joint state of time cur was published:
// in real time it sleeps until t; in lockstep it waits (up to 2 s of wall
// time) for the controller's command stamped cur, then jumps to t.
func (w *simWorld) advance(ctx context.Context, cur, t time.Time) error {
	if !w.lockstep {
		return sleepUntil(ctx, t)
	}
	timeout := time.NewTimer(2 * time.Second)
	defer timeout.Stop()
	for w.s.lastCmd.Load() < cur.UnixNano() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.s.cmdSig:
		case <-timeout.C:
			w.s.timeouts.Add(1)
			w.vt = t
			return nil
		}
	}
	w.vt = t
	return nil
}

// drain takes the commands received so far; during a trial (release set)
// they are queued on the arm at their receipt time, and each is checked
// against the limits as the in-process simulation checks it: position,
// velocity, and velocity change from the previous command (over the time
// between the two by their stamps, at least one period).
func (w *simWorld) drain(release time.Time, res *sim.TrialResult) {
	w.cmds = w.s.takeCmds(w.cmds)
	period := w.frame.Seconds()
	for _, c := range w.cmds {
		// The velocity may change by the acceleration limit times the time
		// since the previous command (at least one period), by the senders'
		// stamps (receipt times when there are none): a controller that
		// skipped a deadline may change it by more than one period's worth.
		gap := period
		if prev := w.lastStamp; !prev.IsZero() && !c.stamp.IsZero() {
			gap = math.Max(period, c.stamp.Sub(prev).Seconds())
		} else if prev := w.lastAt; !prev.IsZero() && c.stamp.IsZero() {
			gap = math.Max(period, c.at.Sub(prev).Seconds())
		}
		w.lastStamp, w.lastAt = c.stamp, c.at
		if res != nil {
			res.Steps++
			if violates(w.s.lim, gap, w.prevQd, c.q, c.qd) {
				res.LimitViolations++
				res.ViolationKinds.Commands++
			}
			when := c.at
			if w.lockstep && !c.stamp.IsZero() {
				when = c.stamp // the tick that made it: in lockstep the arm's time
			}
			w.command(when.Sub(release).Seconds(), c.q, c.qd)
		}
		copy(w.prevQd, c.qd)
	}
}

// command hands the engine a command within the joint position and velocity
// limits (what sim.Physics expects; the controller node's safety filter
// should have sent one already, and violates counted it when not); a
// non-finite command is dropped, the arm keeps the previous one.
func (w *simWorld) command(t float64, q, qd []float64) {
	lim := w.s.lim
	if len(q) != len(w.cq) || len(qd) != len(w.cqd) {
		return
	}
	for j := range q {
		if math.IsNaN(q[j]) || math.IsNaN(qd[j]) || math.IsInf(q[j], 0) || math.IsInf(qd[j], 0) {
			return
		}
		w.cq[j] = math.Max(lim.Lower[j], math.Min(lim.Upper[j], q[j]))
		w.cqd[j] = math.Max(-lim.Vel[j], math.Min(lim.Vel[j], qd[j]))
	}
	w.phys.Command(t, w.cq, w.cqd)
}

func violates(lim robot.Limits, dt float64, prevQd, q, qd []float64) bool {
	const tol = 1e-9
	for j := range q {
		if math.IsNaN(q[j]) || math.IsNaN(qd[j]) || math.IsInf(q[j], 0) || math.IsInf(qd[j], 0) {
			return true
		}
		dmax := lim.Acc[j] * dt
		if q[j] < lim.Lower[j]-tol || q[j] > lim.Upper[j]+tol || math.Abs(qd[j]) > lim.Vel[j]+tol || math.Abs(qd[j]-prevQd[j]) > dmax*(1+1e-6)+tol {
			return true
		}
	}
	return false
}

// idle holds the arm frozen at the ready pose until `until`, publishing
// joint states; commands are read (for the limit check's continuity) and
// ignored.
func (w *simWorld) idle(ctx context.Context, until time.Time) error {
	next := w.now()
	for {
		w.drain(time.Time{}, nil)
		cur := w.now()
		w.s.io.PublishJointState(cur, w.obsSent, w.s.ready, w.zero)
		if !cur.Before(until) {
			return nil
		}
		next = next.Add(w.frame)
		if err := w.advance(ctx, cur, next); err != nil {
			return err
		}
	}
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// trial re-arms the controller, waits for its acknowledgement, releases the
// ball and runs the physics in real time until the catch is judged or the
// ball is gone; it mirrors sim.World.Trial step for step (same random draws).
func (w *simWorld) trial(ctx context.Context, i int, th *sim.Throw, rng interface {
	IntN(int) int
	Float64() float64
	NormFloat64() float64
}, res *sim.TrialResult) error {
	s := w.s
	settle := time.Duration(s.opt.Config.Node.WithDefaults().SettleS * float64(time.Second))
	settle = w.frame * ((settle + w.frame - 1) / w.frame) // whole frames: releases stay on the control grid
	// Re-arm: announce the release time; wait for the controller to take it.
	deadline := time.Now().Add(10 * time.Second)
	var release time.Time
	for {
		release = w.now().Add(settle)
		s.io.PublishRearm(uint32(i), release)
		if err := w.idle(ctx, release); err != nil {
			return err
		}
		if s.armed.Load() == int64(i) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("simarm: throw %d: the controller did not acknowledge the re-arm on %s within 10 s (is `catch node controller` running against the same master?)",
				i, s.io.Conn().Config().Topics.Rearm)
		}
	}
	res.Engine = w.engine
	if err := w.phys.Reset(th, w.s.ready); err != nil {
		return fmt.Errorf("%s engine: %w", w.engine, err)
	}
	s.io.PublishSensor(false)

	b := th.Init
	dt := sim.PhysicsStep
	perFrame := int(math.Round(w.frame.Seconds() / dt))
	camRate := th.Obs.RateHz
	if s.cam != nil && s.cam.cfg.RateHz > 0 {
		camRate = s.cam.cfg.RateHz
	}
	camEvery := int(math.Max(1, math.Round(1/(camRate*dt))))
	camPhase := rng.IntN(camEvery)
	obsLat := th.Obs.LatencyMS / 1000
	type pend struct {
		t, avail float64
		p        ball.Vec
	}
	var pending []pend
	type pendImg struct {
		avail float64
		stamp time.Time
		imgs  []ros.Image
	}
	var pendingImgs []pendImg
	if s.cam != nil {
		if err := s.cam.startThrow(i); err != nil {
			return err
		}
	}
	steps := int(math.Ceil(w.maxT / dt))
	res.MissDistanceM = math.Inf(1)
	var head sim.HeadMotion
	w.phys.Head(&head)
	at := func(k int) time.Time { return release.Add(time.Duration(float64(k) * dt * float64(time.Second))) }
	for k := 0; k < steps; {
		// Simulate the frame [k, k+perFrame) once its end has passed (in
		// lockstep: once the controller answered the previous state).
		if w.lockstep {
			// Wait for the command answering the state of time at(k).
			if err := w.advance(ctx, at(k), at(k)); err != nil {
				return err
			}
		} else {
			if err := sleepUntil(ctx, at(k+perFrame)); err != nil {
				return err
			}
		}
		w.drain(release, res)
		done := false
		end := k + perFrame
		for ; k < end && k < steps; k++ {
			t := float64(k) * dt
			if s.cam != nil && (k-camPhase)%camEvery == 0 && k >= camPhase {
				// Camera fidelity: the frames of this instant (the ball as
				// it is at t; below the floor it is hidden), published after
				// the scenario's latency.
				imgs, err := s.cam.render(t, b.P, b.V, b.P[2] <= 0)
				if err != nil {
					return err
				}
				pendingImgs = append(pendingImgs, pendImg{avail: t + obsLat, stamp: release.Add(time.Duration(t * float64(time.Second))), imgs: imgs})
			}
			for len(pendingImgs) > 0 && pendingImgs[0].avail <= t+1e-12 {
				for ci, img := range pendingImgs[0].imgs {
					img.Stamp = pendingImgs[0].stamp
					s.io.PublishImage(ci, img)
				}
				pendingImgs = pendingImgs[1:]
			}
			if s.cam == nil && (k-camPhase)%camEvery == 0 && k >= camPhase && b.P[2] > 0 {
				if !(th.Obs.Dropout > 0 && rng.Float64() < th.Obs.Dropout) {
					n := th.Obs.NoiseM
					p := ball.Vec{b.P[0] + n*rng.NormFloat64(), b.P[1] + n*rng.NormFloat64(), b.P[2] + n*rng.NormFloat64()}
					pending = append(pending, pend{t: t, avail: t + obsLat, p: p})
				}
			}
			for len(pending) > 0 && pending[0].avail <= t+1e-12 {
				s.io.PublishObservation(release.Add(time.Duration(pending[0].t*float64(time.Second))), pending[0].p)
				w.obsSent++
				pending = pending[1:]
			}
			w.phys.Step(t)
			b = w.phys.Ball()
			w.phys.Head(&head)
			armQ, _ := w.phys.Joints()
			if res.Record(dt, &head, &b, w.phys, armQ[0]) {
				s.io.PublishSensor(true)
				done = true
				break
			}
			if !w.phys.Inside() && (b.P[2] < 0 || b.P[0] < -1.5) {
				done = true
				break
			}
		}
		// Stamped at the frame's end (the control grid), also when the
		// trial was decided mid-frame.
		q, qd := w.phys.Joints()
		s.io.PublishJointState(at(end), w.obsSent, q, qd)
		if w.lockstep {
			w.vt = at(end)
		}
		if done {
			break
		}
		k = end
	}
	var c sim.Counters
	w.phys.Counters(&c)
	res.AddCounters(&c)
	res.Failure = res.FailureReason()
	return nil
}
