package ros

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/goroslib/v2/pkg/msgs/diagnostic_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/geometry_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/nav_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/sensor_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/std_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/tf2_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/trajectory_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/visualization_msgs"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
)

// Hooks receive the controller node's inputs, on goroslib's goroutines.
// callers are the nodes publishing on the request's topic when it came
// (ROS 1 messages do not say who sent them; the master says who publishes):
// the caller ids to log, and to check with Authorize.
type Hooks struct {
	// Observe gets a ball observation captured at `at` (loop clock).
	Observe func(at time.Duration, p [3]float64)
	// EStop gets /catch/estop.
	EStop func(on bool, callers []string)
	// Release gets /catch/estop_release true.
	Release func(callers []string)
	// Rearm gets a new catch: throw seq, released at epoch (loop clock).
	Rearm func(seq uint32, epoch time.Duration)
	// Sensor gets the catch sensor (/catch/sensor).
	Sensor func(caught bool)
	// Arm gets an arming request (/catch/arm): true to start sending
	// commands, false to stop.
	Arm func(on bool, callers []string)
	// Done gets the simulated arm's end of a finite run (/catch/done).
	Done func()
}

// StateChecks are the checks on each joint state beyond names, lengths and
// finite values. The zero value checks nothing more.
type StateChecks struct {
	// Lower and Upper are the URDF position limits in chain order; a state
	// outside them by more than LimitTol (rad or m) is rejected.
	Lower, Upper []float64
	LimitTol     float64
	// MaxAge and MaxLead: a stamped state older than MaxAge, or stamped
	// more than MaxLead ahead of this machine's clock, is rejected (not in
	// lockstep, where the stamp is the time). An unstamped state (stamp
	// zero) is taken as received.
	MaxAge, MaxLead time.Duration
}

// ControllerIO is the controller node's ROS side. It is the loop's
// control.ArmIO: joint states arrive in a latest-value slot (rejected
// messages are counted and leave the slot alone, so the joint-state
// watchdog holds the arm), and commands leave through a latest-value slot
// that a publisher goroutine sends, so the loop never allocates or blocks
// on the network.
type ControllerIO struct {
	conn  *Conn
	cfg   Config
	clock control.TimeBase
	// drive, when set, is advanced to each joint state's stamp (lockstep).
	drive *control.SimClock
	jm    *JointMap
	hooks Hooks

	state control.Slot[armSample]
	cmds  *cmdQueue
	wake  chan struct{}

	cmdPub, ballPub, planPub, fcPub, diagPub, armedPub, dryPub, tfPub *Publisher

	// sending: commands go to the command topic; otherwise to the dry-run
	// topic (counted in withheld).
	sending  atomic.Bool
	withheld atomic.Uint64
	// driverNames are the joint names of the newest joint state message
	// (accepted or not), as the driver reports them.
	driverNames atomic.Pointer[[]string]

	received, rejected, badObs atomic.Uint64
	obsIn                      atomic.Uint64 // observation messages received
	obsOffset                  uint64        // lockstep: observations published before we listened
	lastReject                 atomic.Pointer[string]
	wg                         sync.WaitGroup
	cancel                     context.CancelFunc

	checks StateChecks
	// prevQ, prevT: the last accepted position and its time, to estimate
	// velocities of position-only states (goroslib's callback goroutine).
	prevQ []float64
	prevT time.Duration
	hasQ  bool
	// jsPubs are the nodes publishing joint states, from the master (nil:
	// not looked up yet); more than one and every state is rejected.
	jsPubs atomic.Pointer[[]string]
}

type armSample struct {
	at    time.Duration
	q, qd []float64
}

// NewControllerIO declares the controller node's topics. names are the
// chain's joints in q order (cfg.JointNames, when set, overrides them).
func NewControllerIO(cfg Config, name string, names []string, clock control.TimeBase, log *slog.Logger) (*ControllerIO, error) {
	conn, err := NewConn(cfg, name, log)
	if err != nil {
		return nil, err
	}
	cfg = conn.Config()
	if len(cfg.JointNames) > 0 {
		names = cfg.JointNames
	}
	n := len(names)
	c := &ControllerIO{
		conn: conn, cfg: cfg, clock: clock, jm: NewJointMap(names),
		cmds: newCmdQueue(16, n),
		wake: make(chan struct{}, 1),
	}
	t := cfg.Topics
	c.sending.Store(true)
	if cfg.CommandType == CommandFloat64Array {
		c.cmdPub = conn.Publish(t.Command, &std_msgs.Float64MultiArray{}, false)
		c.dryPub = conn.Publish(t.DryRunCommand, &std_msgs.Float64MultiArray{}, false)
	} else {
		c.cmdPub = conn.Publish(t.Command, &trajectory_msgs.JointTrajectory{}, false)
		c.dryPub = conn.Publish(t.DryRunCommand, &trajectory_msgs.JointTrajectory{}, false)
	}
	c.ballPub = conn.Publish(t.BallState, &nav_msgs.Odometry{}, false)
	c.planPub = conn.Publish(t.Plan, &visualization_msgs.MarkerArray{}, false)
	c.tfPub = conn.Publish(t.TF, &tf2_msgs.TFMessage{}, false)
	c.fcPub = conn.Publish(t.Forecast, &visualization_msgs.MarkerArray{}, false)
	c.diagPub = conn.Publish(t.Diagnostics, &diagnostic_msgs.DiagnosticArray{}, false)
	c.armedPub = conn.Publish(t.Armed, &std_msgs.Header{}, true)
	conn.Subscribe(t.JointStates, c.onJointState)
	conn.Subscribe(t.Observation, c.onObservation)
	conn.Subscribe(t.EStop, func(m *std_msgs.Bool) {
		if h := c.hooks.EStop; h != nil {
			var callers []string
			if m.Data {
				callers = c.publishers(t.EStop)
			}
			h(m.Data, callers)
		}
	})
	conn.Subscribe(t.EStopRelease, func(m *std_msgs.Bool) {
		if h := c.hooks.Release; h != nil && m.Data {
			h(c.publishers(t.EStopRelease))
		}
	})
	conn.Subscribe(t.Sensor, func(m *std_msgs.Bool) {
		if h := c.hooks.Sensor; h != nil {
			h(m.Data)
		}
	})
	conn.Subscribe(t.Done, func(m *std_msgs.Bool) {
		if h := c.hooks.Done; h != nil && m.Data {
			h()
		}
	})
	conn.Subscribe(t.Arm, func(m *std_msgs.Bool) {
		if h := c.hooks.Arm; h != nil {
			h(m.Data, c.publishers(t.Arm))
		}
	})
	conn.Subscribe(t.Rearm, func(m *std_msgs.Header) {
		if h := c.hooks.Rearm; h != nil {
			epoch := clock.Now()
			if !m.Stamp.IsZero() && m.Stamp.Unix() > 0 {
				epoch = clock.At(m.Stamp)
			}
			h(m.Seq, epoch)
		}
	})
	return c, nil
}

// Frame is one transform of the robot's tree for TF: Child's frame in
// Parent's, rotation as a unit quaternion (x, y, z, w).
type Frame struct {
	Parent, Child string
	P             [3]float64
	Q             [4]float64
}

// PublishTF publishes the frames as one tf2_msgs/TFMessage on the TF topic.
func (c *ControllerIO) PublishTF(stamp time.Time, frames []Frame) {
	m := &tf2_msgs.TFMessage{Transforms: make([]geometry_msgs.TransformStamped, len(frames))}
	for i, f := range frames {
		ts := &m.Transforms[i]
		ts.Header = std_msgs.Header{Stamp: stamp, FrameId: f.Parent}
		ts.ChildFrameId = f.Child
		ts.Transform.Translation = geometry_msgs.Vector3{X: f.P[0], Y: f.P[1], Z: f.P[2]}
		ts.Transform.Rotation = geometry_msgs.Quaternion{X: f.Q[0], Y: f.Q[1], Z: f.Q[2], W: f.Q[3]}
	}
	c.tfPub.Write(m)
}

// SetRobotDescription puts the robot's URDF on the master as the
// robot_description parameter (RViz's RobotModel reads it); call before
// Start.
func (c *ControllerIO) SetRobotDescription(urdf string) { c.conn.SetParam("robot_description", urdf) }

// SetHooks sets the input callbacks; call before Start.
func (c *ControllerIO) SetHooks(h Hooks) { c.hooks = h }

// SetChecks sets the joint-state checks; call before Start.
func (c *ControllerIO) SetChecks(sc StateChecks) { c.checks = sc }

// publishers returns the caller ids of the nodes publishing on topic (a
// name relative to the node's namespace), this node excepted, sorted; nil
// when the master cannot be asked.
func (c *ControllerIO) publishers(topic string) []string {
	n := c.conn.Node()
	if n == nil {
		return nil
	}
	topics, err := n.MasterGetTopics()
	if err != nil {
		return nil
	}
	info, ok := topics[c.conn.absTopic(topic)]
	if !ok {
		return []string{}
	}
	out := make([]string, 0, len(info.Publishers))
	for p := range info.Publishers {
		if p != c.conn.absName() {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// Authorize says whether a request published by callers may be taken:
// always when ros.operators is empty; otherwise only when the publishers
// are known and every one is an operator.
func (c *ControllerIO) Authorize(callers []string) error {
	ops := c.cfg.Operators
	if len(ops) == 0 {
		return nil
	}
	if len(callers) == 0 {
		return fmt.Errorf("the publishing node is unknown (the master lists none): only ros.operators [%s] may", strings.Join(ops, ", "))
	}
	for _, p := range callers {
		if !slices.Contains(ops, p) {
			return fmt.Errorf("published by %s, not among ros.operators [%s]", p, strings.Join(ops, ", "))
		}
	}
	return nil
}

// JointStatePublishers returns the nodes publishing joint states, as the
// master last listed them (nil before the first look-up).
func (c *ControllerIO) JointStatePublishers() []string {
	if p := c.jsPubs.Load(); p != nil {
		return *p
	}
	return nil
}

// watchPublishers asks the master every retry_s who publishes joint
// states: a second publisher beside the driver (a stale simulator, a test
// tool) interleaves states of another arm with the real ones.
func (c *ControllerIO) watchPublishers(ctx context.Context) {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.retry())
	defer t.Stop()
	for {
		if p := c.publishers(c.cfg.Topics.JointStates); p != nil {
			if old := c.JointStatePublishers(); len(p) > 1 && !slices.Equal(old, p) {
				c.conn.log.Error("several nodes publish joint states: every state is rejected until one remains", "topic", c.conn.absTopic(c.cfg.Topics.JointStates), "publishers", p)
			}
			c.jsPubs.Store(&p)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Conn returns the node's connection.
func (c *ControllerIO) Conn() *Conn { return c.conn }

// Joints returns the joint names in chain order.
func (c *ControllerIO) Joints() []string { return c.jm.Names }

// Start registers the node (retrying while the master is down) and starts
// the command publisher.
func (c *ControllerIO) Start(ctx context.Context) {
	ctx, c.cancel = context.WithCancel(ctx)
	c.conn.Start(ctx)
	c.wg.Add(2)
	go c.publishCommands(ctx)
	go c.watchPublishers(ctx)
}

// Close stops the publisher and unregisters the node.
func (c *ControllerIO) Close() {
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
	c.conn.Close()
}

// SetSending chooses where commands go: the arm's command topic (true, the
// default) or only the dry-run topic (false).
func (c *ControllerIO) SetSending(on bool) { c.sending.Store(on) }

// Sending reports whether commands go to the arm.
func (c *ControllerIO) Sending() bool { return c.sending.Load() }

// Withheld counts commands computed while not sending.
func (c *ControllerIO) Withheld() uint64 { return c.withheld.Load() }

// DriverJoints returns the joint names of the newest joint state message
// (nil before the first).
func (c *ControllerIO) DriverJoints() []string {
	if p := c.driverNames.Load(); p != nil {
		return *p
	}
	return nil
}

func (c *ControllerIO) onJointState(m *sensor_msgs.JointState) {
	if p := c.driverNames.Load(); p == nil || !equalNames(*p, m.Name) {
		names := append([]string(nil), m.Name...)
		c.driverNames.Store(&names)
	}
	n := len(c.jm.Names)
	s := &armSample{at: c.clock.Now(), q: make([]float64, n), qd: make([]float64, n)}
	hasVel, err := c.jm.FromJointState(m, s.q, s.qd)
	if err == nil {
		err = c.check(m, s)
	}
	if err != nil {
		c.rejected.Add(1)
		msg := err.Error()
		c.lastReject.Store(&msg)
		return
	}
	c.received.Add(1)
	// Position-only states: velocities by differencing the last accepted
	// state (its stamp, or receipt time without one).
	t := s.at
	if !m.Header.Stamp.IsZero() && m.Header.Stamp.Unix() > 0 {
		t = c.clock.At(m.Header.Stamp)
	}
	if !hasVel && c.hasQ {
		if dt := (t - c.prevT).Seconds(); dt > 0 && dt < 0.5 {
			for j := range s.qd {
				s.qd[j] = (s.q[j] - c.prevQ[j]) / dt
			}
		}
	}
	c.prevQ = append(c.prevQ[:0], s.q...)
	c.prevT, c.hasQ = t, true
	if c.drive != nil {
		// Lockstep: the arm's stamp is the time; the tick for it runs now,
		// once the observations published before this state (header seq)
		// are in — they come over another connection.
		c.waitObservations(uint64(m.Header.Seq))
		s.at = c.clock.At(m.Header.Stamp)
		c.state.Store(s)
		c.drive.Set(s.at)
		return
	}
	c.state.Store(s)
}

// check applies the StateChecks and the single-publisher rule to an
// accepted state.
func (c *ControllerIO) check(m *sensor_msgs.JointState, s *armSample) error {
	if p := c.JointStatePublishers(); len(p) > 1 {
		return fmt.Errorf("joint state: %d nodes publish on %s (%s): cannot tell the driver's states from others", len(p), c.conn.absTopic(c.cfg.Topics.JointStates), strings.Join(p, ", "))
	}
	k := &c.checks
	for j := range s.q {
		if j < len(k.Lower) && j < len(k.Upper) && !(s.q[j] >= k.Lower[j]-k.LimitTol && s.q[j] <= k.Upper[j]+k.LimitTol) {
			return fmt.Errorf("joint state: joint %s at %.6g, outside the URDF limits [%.6g, %.6g]", c.jm.Names[j], s.q[j], k.Lower[j], k.Upper[j])
		}
	}
	if c.drive != nil || m.Header.Stamp.IsZero() || (k.MaxAge == 0 && k.MaxLead == 0) {
		return nil
	}
	age := s.at - c.clock.At(m.Header.Stamp)
	if k.MaxAge > 0 && age > k.MaxAge {
		return fmt.Errorf("joint state: stamped %.3f s ago (stamp %d.%09d), older than %.3f s", age.Seconds(), m.Header.Stamp.Unix(), m.Header.Stamp.Nanosecond(), k.MaxAge.Seconds())
	}
	if k.MaxLead > 0 && -age > k.MaxLead {
		return fmt.Errorf("joint state: stamped %.3f s in the future (stamp %d.%09d), more than the clock skew %.3f s", -age.Seconds(), m.Header.Stamp.Unix(), m.Header.Stamp.Nanosecond(), k.MaxLead.Seconds())
	}
	return nil
}

// waitObservations waits (up to 200 ms) until n observations have come in,
// counting from when this node started listening.
func (c *ControllerIO) waitObservations(n uint64) {
	if n < c.obsOffset {
		return
	}
	need := n - c.obsOffset
	deadline := time.Now().Add(200 * time.Millisecond)
	for c.obsIn.Load() < need {
		if time.Now().After(deadline) {
			// Some were published before we listened: count from here on.
			c.obsOffset = n - c.obsIn.Load()
			return
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// DriveClock makes joint states drive clk (which must be the IO's clock):
// each state's stamp becomes the time, so a loop on clk ticks once per state
// of a simulated arm that waits for each command (lockstep; see
// launch.SimArm). Call before Start.
func (c *ControllerIO) DriveClock(clk *control.SimClock) { c.drive = clk }

func (c *ControllerIO) onObservation(m *geometry_msgs.PointStamped) {
	defer c.obsIn.Add(1)
	p, err := Point(m)
	if err != nil {
		c.badObs.Add(1)
		return
	}
	at := c.clock.Now()
	if !m.Header.Stamp.IsZero() && m.Header.Stamp.Unix() > 0 {
		at = c.clock.At(m.Header.Stamp)
	}
	if h := c.hooks.Observe; h != nil {
		h(at, p)
	}
}

// ReadState implements control.ArmIO.
func (c *ControllerIO) ReadState(dst *control.ArmState) (time.Duration, bool) {
	s, _ := c.state.Load()
	if s == nil {
		return 0, false
	}
	copy(dst.Q, s.q)
	copy(dst.Qd, s.qd)
	return s.at, true
}

// WriteCommand implements control.ArmIO: it queues a copy of cmd for the
// publisher goroutine without waiting. Commands are a sequence, not a
// latest value: the arm judges each against the one before, so dropping
// one would double the velocity step it sees. The queue is bounded
// (oldest dropped and counted if the publisher stalls).
func (c *ControllerIO) WriteCommand(at time.Duration, cmd *control.Command) {
	c.cmds.push(at, cmd)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *ControllerIO) publishCommands(ctx context.Context) {
	defer c.wg.Done()
	cmd := control.NewCommand(len(c.jm.Names))
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		}
		for {
			at, ok := c.cmds.pop(&cmd)
			if !ok {
				break
			}
			// Stamped with the tick that made it: the arm side can tell the
			// time between commands even when the network bunches them.
			msg := c.jm.CommandMsg(&c.cfg, c.clock.Time(at), cmd.Q, cmd.Qd)
			if c.sending.Load() {
				c.cmdPub.Write(msg)
			} else {
				c.withheld.Add(1)
				c.dryPub.Write(msg)
			}
		}
	}
}

// CommandsDropped counts commands dropped because the publisher fell behind.
func (c *ControllerIO) CommandsDropped() uint64 {
	c.cmds.mu.Lock()
	defer c.cmds.mu.Unlock()
	return c.cmds.dropped
}

// cmdQueue is a bounded FIFO of commands in preallocated slots.
type cmdQueue struct {
	mu      sync.Mutex
	slots   []control.Command
	at      []time.Duration
	head, n int
	dropped uint64
}

func newCmdQueue(capacity, joints int) *cmdQueue {
	q := &cmdQueue{slots: make([]control.Command, capacity), at: make([]time.Duration, capacity)}
	for i := range q.slots {
		q.slots[i] = control.NewCommand(joints)
	}
	return q
}

func (q *cmdQueue) push(at time.Duration, c *control.Command) {
	q.mu.Lock()
	if q.n == len(q.slots) {
		q.head = (q.head + 1) % len(q.slots)
		q.n--
		q.dropped++
	}
	i := (q.head + q.n) % len(q.slots)
	s := &q.slots[i]
	q.at[i] = at
	copy(s.Q, c.Q)
	copy(s.Qd, c.Qd)
	q.n++
	q.mu.Unlock()
}

func (q *cmdQueue) pop(dst *control.Command) (time.Duration, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return 0, false
	}
	at := q.at[q.head]
	s := &q.slots[q.head]
	copy(dst.Q, s.Q)
	copy(dst.Qd, s.Qd)
	q.head = (q.head + 1) % len(q.slots)
	q.n--
	return at, true
}

// JointStats counts joint-state messages accepted and rejected, and bad
// observations; last is the newest rejection's reason.
func (c *ControllerIO) JointStats() (received, rejected, badObs uint64, last string) {
	if p := c.lastReject.Load(); p != nil {
		last = *p
	}
	return c.received.Load(), c.rejected.Load(), c.badObs.Load(), last
}

// PublishBall publishes the estimate on the ball-state topic.
func (c *ControllerIO) PublishBall(stamp time.Time, e *ball.Estimate) {
	c.ballPub.Write(Odometry(c.cfg.FrameID, stamp, e))
}

// PublishPlan publishes plan markers.
func (c *ControllerIO) PublishPlan(m []visualization_msgs.Marker) {
	c.planPub.Write(&visualization_msgs.MarkerArray{Markers: m})
}

// PublishForecast publishes forecast markers.
func (c *ControllerIO) PublishForecast(m []visualization_msgs.Marker) {
	c.fcPub.Write(&visualization_msgs.MarkerArray{Markers: m})
}

// PublishDiagnostics publishes on /diagnostics.
func (c *ControllerIO) PublishDiagnostics(d *diagnostic_msgs.DiagnosticArray) { c.diagPub.Write(d) }

// PublishArmed acknowledges a Rearm (latched).
func (c *ControllerIO) PublishArmed(seq uint32, stamp time.Time) {
	c.armedPub.Write(&std_msgs.Header{Seq: seq, Stamp: stamp, FrameId: c.cfg.FrameID})
}

// FrameID returns the frame of published positions.
func (c *ControllerIO) FrameID() string { return c.cfg.FrameID }

func equalNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
