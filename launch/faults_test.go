package launch_test

// The fault-injection suite of issue 19 ("safe on a real arm"): each test
// drives a controller node over a real rosmaster the way an operator, a
// driver or a stray node would, and checks what reaches the arm's command
// topic. Commands are judged by an independent recorder (a goroslib
// subscriber), not by the node's own counters.

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/goroslib/v2"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/diagnostic_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/geometry_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/sensor_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/std_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/trajectory_msgs"
	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// syncBuf is a log sink for a node's slog output.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// faultRig is a rig whose node logs into a buffer, with a moving arm pose.
type faultRig struct {
	*rig
	logs *syncBuf
	pose atomic.Pointer[[]float64]
}

func newFaultRig(t *testing.T, cfgEdit func(*launch.Config)) *faultRig {
	t.Helper()
	uri := sharedMaster(t)
	ns := rigNS(t)
	var cfg launch.Config
	cfg.Node.ROS.RetryS = 0.2
	if cfgEdit != nil {
		cfgEdit(&cfg)
	}
	cfg.Node.ROS.MasterURI = uri
	cfg.Node.ROS.Namespace = ns
	rob, err := robot.Default()
	require.NoError(t, err)
	logs := &syncBuf{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	n, err := launch.NewControllerNode(&cfg, rob, "hold", "controller", log)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &rig{t: t, uri: uri, ns: ns, node: n, names: rob.Chain.JointNames(), stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
		if t.Failed() {
			t.Logf("node log:\n%s", logs.String())
		}
	})
	require.NoError(t, n.IO.Conn().WaitConnected(ctxTimeout(t, 20*time.Second)))
	fr := &faultRig{rig: r, logs: logs}
	q := append([]float64(nil), sim.DefaultReadyQ...)
	fr.pose.Store(&q)
	return fr
}

// rigNS is the namespace of the test's rig.
func rigNS(t *testing.T) string {
	return "/" + strings.ToLower(strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
}

// drive publishes the current pose as joint states at 250 Hz until stop.
func (f *faultRig) drive(stop <-chan struct{}) {
	f.publishStates(stop, func(m *sensor_msgs.JointState) { m.Position = append([]float64(nil), *f.pose.Load()...) })
}

func (f *faultRig) setPose(q []float64) {
	q = append([]float64(nil), q...)
	f.pose.Store(&q)
}

// topicNode is a goroslib node named name in the rig's namespace (its
// caller id is ns/name), for publishing requests as a given caller.
func (f *faultRig) topicNode(name string) *goroslib.Node {
	t := f.t
	u, _ := url.Parse(f.uri)
	n, err := goroslib.NewNode(goroslib.NodeConf{Name: name, Namespace: f.ns, MasterAddress: u.Host, Host: "127.0.0.1", LogDestinations: goroslib.LogDestinationCallback})
	require.NoError(t, err)
	t.Cleanup(n.Close)
	return n
}

// publishFrom publishes msg on topic (relative to the rig's namespace)
// from the node called name, latched (the controller node gets it when it
// connects), and keeps the publisher until the test ends (the master lists
// it meanwhile, as rostopic pub -1 does for 3 s).
func (f *faultRig) publishFrom(name, topic string, msg any) (leave func()) {
	t := f.t
	n := f.topicNode(name)
	p, err := goroslib.NewPublisher(goroslib.PublisherConf{Node: n, Topic: topic, Msg: msg, Latch: true})
	require.NoError(t, err)
	p.Write(msg)
	var once sync.Once
	leave = func() { once.Do(func() { p.Close(); n.Close() }) }
	t.Cleanup(leave)
	return leave
}

// cmdLog records what reaches the arm's command topic.
type cmdLog struct {
	mu    sync.Mutex
	q     [][]float64
	stamp []time.Time
}

func (f *faultRig) recordCommands(topic string) *cmdLog {
	t := f.t
	if f.arm == nil {
		f.startArm()
	}
	c := &cmdLog{}
	s, err := goroslib.NewSubscriber(goroslib.SubscriberConf{Node: f.arm, Topic: topic,
		Callback: func(m *trajectory_msgs.JointTrajectory) {
			c.mu.Lock()
			c.q = append(c.q, append([]float64(nil), m.Points[0].Positions...))
			c.stamp = append(c.stamp, m.Header.Stamp)
			c.mu.Unlock()
		}})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return c
}

func (c *cmdLog) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.q)
}

// since returns the commands from index i on.
func (c *cmdLog) since(i int) [][]float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]float64(nil), c.q[i:]...)
}

// maxStep is the largest position step between consecutive commands from
// index i on, as a fraction of what the velocity limits allow over the
// time between their stamps (at least one 4 ms period).
func (c *cmdLog) maxStep(t *testing.T, i int) float64 {
	rob, err := robot.Default()
	require.NoError(t, err)
	c.mu.Lock()
	defer c.mu.Unlock()
	worst := 0.0
	for k := i + 1; k < len(c.q); k++ {
		dt := math.Max(0.004, c.stamp[k].Sub(c.stamp[k-1]).Seconds())
		for j := range c.q[k] {
			worst = math.Max(worst, math.Abs(c.q[k][j]-c.q[k-1][j])/(rob.Limits.Vel[j]*dt))
		}
	}
	return worst
}

// suiteMaxStep is the largest commanded step seen by the fault suite.
var suiteMaxStep struct {
	mu sync.Mutex
	v  float64
}

func noteStep(t *testing.T, v float64) {
	suiteMaxStep.mu.Lock()
	suiteMaxStep.v = math.Max(suiteMaxStep.v, v)
	all := suiteMaxStep.v
	suiteMaxStep.mu.Unlock()
	t.Logf("largest commanded position step per tick: %.4f of the velocity limit (fault suite so far: %.4f)", v, all)
	require.LessOrEqual(t, v, 1+1e-6, "a commanded step exceeds what the joint velocity limit allows")
}

func (f *faultRig) diagnostics() *diagnostic_msgs.DiagnosticStatus {
	t := f.t
	if f.arm == nil {
		f.startArm()
	}
	got := make(chan *diagnostic_msgs.DiagnosticArray, 1)
	s, err := goroslib.NewSubscriber(goroslib.SubscriberConf{Node: f.arm, Topic: "diagnostics",
		Callback: func(m *diagnostic_msgs.DiagnosticArray) {
			select {
			case got <- m:
			default:
			}
		}})
	require.NoError(t, err)
	defer s.Close()
	select {
	case m := <-got:
		require.NotEmpty(t, m.Status)
		return &m.Status[0]
	case <-time.After(10 * time.Second):
		require.FailNow(t, "no /diagnostics within 10 s")
	}
	return nil
}

// diagLevels collects the levels of every /diagnostics message from now on.
func (f *faultRig) diagLevels() func() []int8 {
	t := f.t
	var mu sync.Mutex
	var levels []int8
	s, err := goroslib.NewSubscriber(goroslib.SubscriberConf{Node: f.topicNode("diag_watch"), Topic: "diagnostics",
		Callback: func(m *diagnostic_msgs.DiagnosticArray) {
			mu.Lock()
			for _, st := range m.Status {
				levels = append(levels, st.Level)
			}
			mu.Unlock()
		}})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return func() []int8 {
		mu.Lock()
		defer mu.Unlock()
		return append([]int8(nil), levels...)
	}
}

func diagValue(st *diagnostic_msgs.DiagnosticStatus, key string) string {
	for _, kv := range st.Values {
		if kv.Key == key {
			return kv.Value
		}
	}
	return "<missing " + key + ">"
}

// TestFault1BumplessRearm: with require_arm (robot.yaml), arm at pose A,
// disarm, the driver reports pose B (2.2 rad further on joint_6), arm again:
// the arm is commanded B from the first command on, never A, and no
// command step exceeds the velocity limits. The old node sent A for > 2 s.
func TestFault1BumplessRearm(t *testing.T) {
	f := newFaultRig(t, func(c *launch.Config) { c.Node.RequireArm = true })
	f.startArm()
	cmds := f.recordCommands("arm_controller/command")
	stop := make(chan struct{})
	defer close(stop)
	go f.drive(stop)
	a := append([]float64(nil), sim.DefaultReadyQ...)
	require.Eventually(t, func() bool { return f.node.Arm(true) == nil }, 20*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return cmds.n() > 20 }, 20*time.Second, 5*time.Millisecond)
	for _, q := range cmds.since(0) {
		require.InDeltaSlice(t, a, q, 1e-9)
	}
	noteStep(t, cmds.maxStep(t, 0))

	f.publishFrom("operator", "catch/arm", &std_msgs.Bool{Data: false})
	require.Eventually(t, func() bool { return !f.node.IO.Sending() }, 10*time.Second, 5*time.Millisecond)
	b := append([]float64(nil), a...)
	b[6] -= 2.2
	f.setPose(b)
	time.Sleep(300 * time.Millisecond)
	before := cmds.n()
	require.Eventually(t, func() bool { return f.node.Arm(true) == nil }, 20*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return cmds.n() > before+100 }, 20*time.Second, 5*time.Millisecond)
	after := cmds.since(before)
	for k, q := range after {
		require.InDelta(t, b[6], q[6], 1e-6, "command %d after re-arming: joint_6 at %.4f, the arm is at %.4f (the pose before disarming was %.4f)", k, q[6], b[6], a[6])
	}
	noteStep(t, cmds.maxStep(t, before))

	// The driver reports the arm 1.5 rad further on joint_6 (moved by
	// hand, a driver restart) and the thrower re-arms: the controller and
	// the filter restart there, so the command is where the arm is from
	// the re-arm on (not a ramp dragging the arm back through B), and
	// holds it.
	c := append([]float64(nil), b...)
	c[6] += 1.5
	f.setPose(c)
	time.Sleep(50 * time.Millisecond)
	f.publishFrom("thrower", "catch/rearm", &std_msgs.Header{Seq: 3, Stamp: time.Now()})
	require.Eventually(t, func() bool { return f.latest().Armed == 3 }, 10*time.Second, 5*time.Millisecond)
	before = cmds.n()
	require.Eventually(t, func() bool { return cmds.n() > before+50 }, 10*time.Second, 5*time.Millisecond)
	for k, q := range cmds.since(before) {
		require.InDelta(t, c[6], q[6], 1e-6, "command %d after the re-arm", k)
	}
	noteStep(t, cmds.maxStep(t, before))
	b = c

	// An e-stop now holds the arm's pose, not A.
	f.publishFrom("anyone", "catch/estop", &std_msgs.Bool{Data: true})
	require.Eventually(t, func() bool { return f.mode() == control.ModeEStop }, 10*time.Second, 5*time.Millisecond)
	require.InDelta(t, b[6], f.latest().Cmd.Q[6], 1e-6)
}

// TestFault2EStopDiscipline: an e-stop brakes to a hold and then stops
// command sending; a re-arm does not clear it, nor does a release or an
// arming request from a node that is not an operator; the operator's
// release does, logged with its caller id.
func TestFault2EStopDiscipline(t *testing.T) {
	// The operator's caller id lives in the rig's namespace.
	op := rigNS(t) + "/operator"
	f := newFaultRig(t, func(c *launch.Config) { c.Node.ROS.Operators = []string{op} })
	f.startArm()
	cmds := f.recordCommands("arm_controller/command")
	stop := make(chan struct{})
	defer close(stop)
	go f.drive(stop)
	require.Eventually(t, func() bool { return f.mode() == control.ModeRunning && cmds.n() > 20 }, 20*time.Second, 5*time.Millisecond)

	f.publishFrom("anyone", "catch/estop", &std_msgs.Bool{Data: true})
	require.Eventually(t, func() bool { return f.mode() == control.ModeEStop }, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return !f.node.IO.Sending() }, 10*time.Second, 5*time.Millisecond, "the e-stop stops command sending once the arm is held")
	time.Sleep(50 * time.Millisecond)
	n0 := cmds.n()
	st := f.diagnostics()
	require.Equal(t, diagnostic_msgs.DiagnosticStatus_ERROR, st.Level, "a latched e-stop is an ERROR")

	f.publishFrom("thrower", "catch/rearm", &std_msgs.Header{Seq: 9, Stamp: time.Now()})
	leave := f.publishFrom("intruder", "catch/estop_release", &std_msgs.Bool{Data: true})
	f.publishFrom("intruder2", "catch/arm", &std_msgs.Bool{Data: true})
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, control.ModeEStop, f.mode(), "neither a re-arm nor a stranger's release clears the e-stop")
	require.False(t, f.node.IO.Sending())
	require.Equal(t, n0, cmds.n(), "no command reaches the arm while the e-stop is latched")
	logs := f.logs.String()
	require.Contains(t, logs, "e-stop release refused")
	require.Contains(t, logs, f.ns+"/intruder")
	require.Contains(t, logs, "arming request refused")

	// While the intruder still publishes on the release topic, the sender
	// of a release cannot be told apart (ROS 1 messages carry no caller
	// id): the operator's is refused too. Once it has left, it is taken.
	leave()
	f.publishFrom("operator", "catch/estop_release", &std_msgs.Bool{Data: true})
	require.Eventually(t, func() bool { return f.mode() != control.ModeEStop && f.node.IO.Sending() }, 10*time.Second, 5*time.Millisecond)
	require.Contains(t, f.logs.String(), op)
	require.Eventually(t, func() bool { return cmds.n() > n0+20 }, 10*time.Second, 5*time.Millisecond)
	noteStep(t, cmds.maxStep(t, n0))
}

// TestFault3NoConfigWithholds: the controller node with no configuration
// file sends nothing before a joint state, and then only on the dry-run
// topic until armed. The old node sent all-zero positions at 250 Hz.
func TestFault3NoConfigWithholds(t *testing.T) {
	f := newFaultRig(t, func(c *launch.Config) {
		d, err := launch.LoadControllerConfig("")
		require.NoError(t, err)
		*c = d
		c.Node.ROS.RetryS = 0.2
	})
	f.startArm()
	cmds := f.recordCommands("arm_controller/command")
	dry := f.recordCommands("catch/dry_run/command")
	time.Sleep(500 * time.Millisecond)
	require.Zero(t, cmds.n(), "a command reached the arm before any joint state")
	require.Zero(t, dry.n(), "a command was computed before any joint state")

	stop := make(chan struct{})
	defer close(stop)
	go f.drive(stop)
	require.Eventually(t, func() bool { return dry.n() > 20 }, 20*time.Second, 5*time.Millisecond)
	require.Zero(t, cmds.n(), "not armed: nothing reaches the arm")
	require.NoError(t, f.node.Arm(true))
	require.Eventually(t, func() bool { return cmds.n() > 20 }, 20*time.Second, 5*time.Millisecond)
	for _, q := range cmds.since(0) {
		require.InDeltaSlice(t, sim.DefaultReadyQ, q, 1e-9)
	}
	noteStep(t, cmds.maxStep(t, 0))
}

// throw publishes a ball flight on ball/observation at 125 Hz, stamped
// now + skew, for dur.
func throw(t *testing.T, p *goroslib.Publisher, dur, skew time.Duration) {
	t.Helper()
	t0 := time.Now()
	for time.Since(t0) < dur {
		s := time.Since(t0).Seconds()
		m := &geometry_msgs.PointStamped{Header: std_msgs.Header{Stamp: time.Now().Add(skew), FrameId: "world"},
			Point: geometry_msgs.Point{X: 3.9 - 4.5*s, Y: 0.1, Z: 0.5 + 4*s - 4.9*s*s}}
		p.Write(m)
		time.Sleep(8 * time.Millisecond)
	}
}

func (f *faultRig) observer() *goroslib.Publisher {
	t := f.t
	n := f.topicNode("camera")
	p, err := goroslib.NewPublisher(goroslib.PublisherConf{Node: n, Topic: "ball/observation", Msg: &geometry_msgs.PointStamped{}})
	require.NoError(t, err)
	t.Cleanup(p.Close)
	// Probe with non-finite points (refused and counted by the node's ROS
	// side) until one arrives: then the connection is up.
	_, _, bad0, _ := f.node.IO.JointStats()
	require.Eventually(t, func() bool {
		p.Write(&geometry_msgs.PointStamped{Point: geometry_msgs.Point{X: math.NaN()}})
		_, _, bad, _ := f.node.IO.JointStats()
		return bad > bad0
	}, 10*time.Second, 10*time.Millisecond, "the controller node never connected to the observation publisher")
	return p
}

// TestFault4InputGating: one observation stamped an hour ahead, and one at
// x = 1e300, are rejected and counted; the real throw after them is
// tracked (the old estimator dropped every later observation as out of
// order), and the bogus one starts no auto-rearm. A re-arm stamped an hour
// ahead is rejected with a reason instead of leaving the loop waiting.
func TestFault4InputGating(t *testing.T) {
	f := newFaultRig(t, func(c *launch.Config) { c.Node.Loop.AutoRearmIdleS = 0.3 })
	f.startArm()
	stop := make(chan struct{})
	defer close(stop)
	go f.drive(stop)
	require.Eventually(t, func() bool { return f.mode() == control.ModeRunning }, 20*time.Second, 5*time.Millisecond)
	time.Sleep(400 * time.Millisecond) // idle longer than auto_rearm_idle_s
	obs := f.observer()
	levels := f.diagLevels()
	obs.Write(&geometry_msgs.PointStamped{Header: std_msgs.Header{Stamp: time.Now()}, Point: geometry_msgs.Point{X: 1e300, Y: 0, Z: 1}})
	time.Sleep(100 * time.Millisecond)
	require.Zero(t, f.latest().Armed, "an impossible observation started a catch")
	obs.Write(&geometry_msgs.PointStamped{Header: std_msgs.Header{Stamp: time.Now().Add(time.Hour)}, Point: geometry_msgs.Point{X: 3.9, Y: 0.1, Z: 0.5}})
	time.Sleep(50 * time.Millisecond)
	var valid atomic.Bool
	done, thrown := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for !valid.Load() {
			select {
			case <-thrown:
				return
			default:
			}
			var ts control.TickState
			if f.node.Loop.Latest(&ts) && ts.Ball.Valid {
				valid.Store(true)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	throw(t, obs, 400*time.Millisecond, 0)
	close(thrown)
	<-done
	require.True(t, valid.Load(), "the estimator never tracked the real throw after a future-stamped observation")
	require.GreaterOrEqual(t, f.node.Stats().Interventions.BadObs, uint64(2))

	f.publishFrom("thrower", "catch/rearm", &std_msgs.Header{Seq: 5, Stamp: time.Now().Add(time.Hour)})
	require.Eventually(t, func() bool { return f.node.Loop.LastRejectedRearm() != "" }, 10*time.Second, 5*time.Millisecond)
	require.Contains(t, f.node.Loop.LastRejectedRearm(), "in the future")
	time.Sleep(50 * time.Millisecond)
	require.NotEqual(t, control.ModeWaiting, f.mode(), "stuck waiting for a throw an hour away")
	st := f.diagnostics()
	require.Contains(t, diagValue(st, "last_rejected_rearm"), "in the future")
	require.NotEqual(t, "0", diagValue(st, "rejected_observations"))
	// Interventions since the last report make /diagnostics WARN.
	require.Eventually(t, func() bool {
		return slices.Contains(levels(), diagnostic_msgs.DiagnosticStatus_WARN)
	}, 5*time.Second, 20*time.Millisecond, "levels %v", levels())
}

// TestFault5AutoRearmEveryThrow: with auto_rearm_idle_s (robot.yaml) every
// throw after an idle spell starts a catch; the old loop started only the
// first.
func TestFault5AutoRearmEveryThrow(t *testing.T) {
	f := newFaultRig(t, func(c *launch.Config) {
		c.Node.Loop.AutoRearmIdleS = 0.3
		// Observations end mid-flight here: no catch to abort.
		c.Node.Loop.Safety.BallStaleS = 5
	})
	f.startArm()
	stop := make(chan struct{})
	defer close(stop)
	go f.drive(stop)
	require.Eventually(t, func() bool { return f.mode() == control.ModeRunning }, 20*time.Second, 5*time.Millisecond)
	obs := f.observer()
	time.Sleep(400 * time.Millisecond)
	for k := 1; k <= 3; k++ {
		throw(t, obs, 300*time.Millisecond, 0)
		// The estimate lapses (estimator max age 0.5 s), then the idle spell
		// (0.3 s) runs.
		time.Sleep(1200 * time.Millisecond)
		require.Equal(t, uint32(k), f.latest().Armed, "throw %d did not start a catch", k)
	}
}

// TestJointStateGating (issue 19, "also found"): states outside the URDF
// limits, non-finite or stamped far in the past or future are rejected and
// the arm held; position-only states are accepted with velocities from
// differencing.
func TestJointStateGating(t *testing.T) {
	f := newFaultRig(t, nil)
	f.startArm()
	stop := make(chan struct{})
	go f.drive(stop)
	require.Eventually(t, func() bool { return f.mode() == control.ModeRunning }, 20*time.Second, 5*time.Millisecond)
	close(stop)

	for _, tc := range []struct {
		name  string
		spoil func(*sensor_msgs.JointState)
		want  string
	}{
		{"joint_2 at 5 rad", func(m *sensor_msgs.JointState) { m.Position[2] = 5 }, "outside the URDF limits"},
		{"rail at 1e300", func(m *sensor_msgs.JointState) { m.Position[0] = 1e300 }, "outside the URDF limits"},
		{"Inf velocity", func(m *sensor_msgs.JointState) { m.Velocity[1] = math.Inf(1) }, "finite"},
		{"stamp 1 s after 1970", func(m *sensor_msgs.JointState) { m.Header.Stamp = time.Unix(1, 0) }, "ago"},
		{"stamp 4e9 s", func(m *sensor_msgs.JointState) { m.Header.Stamp = time.Unix(4e9, 0) }, "stamped"},
		{"stamp an hour ahead", func(m *sensor_msgs.JointState) { m.Header.Stamp = time.Now().Add(time.Hour) }, "in the future"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, rej0, _, _ := f.node.IO.JointStats()
			stop := make(chan struct{})
			go f.publishStates(stop, tc.spoil)
			require.Eventually(t, func() bool { _, rej, _, _ := f.node.IO.JointStats(); return rej > rej0+10 }, 10*time.Second, 5*time.Millisecond)
			close(stop)
			_, _, _, last := f.node.IO.JointStats()
			require.Contains(t, last, tc.want)
			require.Equal(t, control.ModeStale, f.mode(), "rejected states hold the arm")
		})
	}

	// Position-only: the rail ramps at 0.1 m/s; its velocity comes from
	// differencing.
	stop = make(chan struct{})
	defer close(stop)
	t0 := time.Now()
	go f.publishStates(stop, func(m *sensor_msgs.JointState) {
		m.Position[0] = 0.1 * time.Since(t0).Seconds()
		m.Velocity = nil
	})
	require.Eventually(t, func() bool { return f.mode() == control.ModeRunning }, 10*time.Second, 5*time.Millisecond, "position-only joint states are legal")
	st := control.ArmState{Q: make([]float64, 7), Qd: make([]float64, 7)}
	require.Eventually(t, func() bool {
		f.node.IO.ReadState(&st)
		return math.Abs(st.Qd[0]-0.1) < 0.02 // stamps jitter by ~1 ms over 4 ms
	}, 5*time.Second, 5*time.Millisecond, "rail velocity %v, want ≈ 0.1 m/s", st.Qd[0])
}

// TestSecondJointStatePublisher (issue 19, "also found"): a second node
// publishing joint states at 500 Hz beside the driver is detected and
// reported; its states and the driver's are rejected until it leaves, the
// arm is held, and arming is refused.
func TestSecondJointStatePublisher(t *testing.T) {
	f := newFaultRig(t, nil)
	f.startArm()
	stop := make(chan struct{})
	defer close(stop)
	go f.drive(stop)
	require.Eventually(t, func() bool { return f.mode() == control.ModeRunning }, 20*time.Second, 5*time.Millisecond)

	rogue := f.topicNode("rogue_sim")
	p, err := goroslib.NewPublisher(goroslib.PublisherConf{Node: rogue, Topic: "joint_states", Msg: &sensor_msgs.JointState{}})
	require.NoError(t, err)
	stopRogue := make(chan struct{})
	go func() {
		tk := time.NewTicker(2 * time.Millisecond)
		defer tk.Stop()
		q := append([]float64(nil), sim.DefaultReadyQ...)
		q[1] = 0.5
		for {
			p.Write(&sensor_msgs.JointState{Header: std_msgs.Header{Stamp: time.Now()}, Name: f.names, Position: q, Velocity: make([]float64, len(q))})
			select {
			case <-stopRogue:
				return
			case <-tk.C:
			}
		}
	}()
	require.Eventually(t, func() bool { return len(f.node.IO.JointStatePublishers()) == 2 }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return f.mode() == control.ModeStale }, 10*time.Second, 5*time.Millisecond)
	require.ErrorContains(t, f.node.CheckArming(), "rogue_sim")
	st := f.diagnostics()
	require.Equal(t, diagnostic_msgs.DiagnosticStatus_ERROR, st.Level)
	require.Contains(t, diagValue(st, "joint_states_publishers"), "rogue_sim")

	close(stopRogue)
	p.Close()
	require.Eventually(t, func() bool { return f.mode() == control.ModeRunning }, 10*time.Second, 10*time.Millisecond, "the driver alone again")
	require.InDeltaSlice(t, sim.DefaultReadyQ, f.latest().Cmd.Q, 1e-9, "holding the driver's pose, not the rogue's")
}

// TestDuplicateController (issue 19, "also found"): a second controller
// node with the same name and namespace refuses to run; the first keeps
// running.
func TestDuplicateController(t *testing.T) {
	f := newFaultRig(t, nil)
	f.startArm()
	stop := make(chan struct{})
	defer close(stop)
	go f.drive(stop)
	require.Eventually(t, func() bool { return f.mode() == control.ModeRunning }, 20*time.Second, 5*time.Millisecond)

	var cfg launch.Config
	cfg.Node.ROS.MasterURI, cfg.Node.ROS.Namespace, cfg.Node.ROS.RetryS = f.uri, f.ns, 0.2
	rob, err := robot.Default()
	require.NoError(t, err)
	n2, err := launch.NewControllerNode(&cfg, rob, "hold", "controller", nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = n2.Run(ctx)
	require.ErrorContains(t, err, "already running")
	require.NoError(t, ctx.Err(), "the second node should refuse at once, not run until the timeout")
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, control.ModeRunning, f.mode(), "the first node keeps running")
	require.True(t, f.node.IO.Conn().Connected())
}
