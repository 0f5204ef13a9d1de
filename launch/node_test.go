package launch_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/goroslib/v2"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/sensor_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/std_msgs"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// master is a ROS master for a test: ROS_MASTER_URI's (make test starts
// one) or, when unset or when the test needs to restart it, Debian's
// rosmaster on a free loopback port, owned by the test.
type master struct {
	uri  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
	t    *testing.T
}

func ownMaster(t *testing.T, port int) *master {
	t.Helper()
	bin, err := exec.LookPath("rosmaster")
	require.NoError(t, err, "rosmaster not on PATH: run `make deps`")
	if port == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	m := &master{uri: fmt.Sprintf("http://127.0.0.1:%d/", port), port: port, t: t, done: make(chan struct{})}
	m.cmd = exec.Command(bin, "--core", "-p", strconv.Itoa(port))
	m.cmd.Env = append(os.Environ(), "ROS_IP=127.0.0.1", "ROS_MASTER_URI="+m.uri, "ROS_HOME="+t.TempDir())
	require.NoError(t, m.cmd.Start())
	go func() { _ = m.cmd.Wait(); close(m.done) }()
	t.Cleanup(m.stop)
	waitTCP(t, fmt.Sprintf("127.0.0.1:%d", port), 20*time.Second)
	return m
}

func (m *master) stop() {
	select {
	case <-m.done:
		return
	default:
	}
	_ = m.cmd.Process.Signal(os.Interrupt)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
}

func sharedMaster(t *testing.T) string {
	t.Helper()
	if uri := os.Getenv("ROS_MASTER_URI"); uri != "" {
		u, err := url.Parse(uri)
		require.NoError(t, err)
		waitTCP(t, u.Host, 5*time.Second)
		return uri
	}
	return ownMaster(t, 0).uri
}

func waitTCP(t *testing.T, addr string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		require.True(t, time.Now().Before(deadline), "nothing answers at %s: %v", addr, err)
		time.Sleep(50 * time.Millisecond)
	}
}

// rig is a controller node (hold) in its own namespace, and a goroslib test
// node that plays the arm.
type rig struct {
	t     *testing.T
	uri   string
	ns    string
	node  *launch.ControllerNode
	arm   *goroslib.Node
	js    *goroslib.Publisher
	names []string
	stop  context.CancelFunc
	done  chan error
}

func newRig(t *testing.T, uri string, cfgEdit func(*launch.Config)) *rig {
	t.Helper()
	ns := "/" + strings.ToLower(strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	var cfg launch.Config
	cfg.Node.ROS.MasterURI = uri
	cfg.Node.ROS.Namespace = ns
	cfg.Node.ROS.RetryS = 0.2
	if cfgEdit != nil {
		cfgEdit(&cfg)
	}
	rob, err := robot.Default()
	require.NoError(t, err)
	n, err := launch.NewControllerNode(&cfg, rob, "hold", "controller", nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &rig{t: t, uri: uri, ns: ns, node: n, names: rob.Chain.JointNames(), stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-r.done })
	require.NoError(t, n.IO.Conn().WaitConnected(ctxTimeout(t, 20*time.Second)))
	return r
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func (r *rig) startArm() {
	t := r.t
	u, _ := url.Parse(r.uri)
	n, err := goroslib.NewNode(goroslib.NodeConf{Name: "fake_arm", Namespace: r.ns, MasterAddress: u.Host, Host: "127.0.0.1", LogDestinations: goroslib.LogDestinationCallback})
	require.NoError(t, err)
	t.Cleanup(n.Close)
	p, err := goroslib.NewPublisher(goroslib.PublisherConf{Node: n, Topic: "joint_states", Msg: &sensor_msgs.JointState{}})
	require.NoError(t, err)
	t.Cleanup(p.Close)
	r.arm, r.js = n, p
}

// publishStates sends joint states at 250 Hz until stop; edit may spoil them.
func (r *rig) publishStates(stop <-chan struct{}, edit func(*sensor_msgs.JointState)) {
	tk := time.NewTicker(4 * time.Millisecond)
	defer tk.Stop()
	for {
		m := &sensor_msgs.JointState{Name: r.names, Position: append([]float64(nil), sim.DefaultReadyQ...), Velocity: make([]float64, len(r.names)), Effort: []float64{}}
		m.Header.Stamp = time.Now()
		if edit != nil {
			edit(m)
		}
		r.js.Write(m)
		select {
		case <-stop:
			return
		case <-tk.C:
		}
	}
}

func (r *rig) mode() control.Mode {
	var ts control.TickState
	require.True(r.t, r.node.Loop.Latest(&ts))
	return ts.Mode
}

func (r *rig) latest() control.TickState {
	var ts control.TickState
	require.True(r.t, r.node.Loop.Latest(&ts))
	return ts
}

func rostopic(t *testing.T, uri string, timeout time.Duration, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("rostopic")
	require.NoError(t, err, "rostopic not on PATH: run `make deps`")
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "ROS_MASTER_URI="+uri, "ROS_IP=127.0.0.1", "ROS_HOME="+t.TempDir())
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	require.NoError(t, cmd.Run(), "rostopic %v: %s", args, stderr.String())
	return out.String()
}

// TestTopicsReadByRostopic: Debian's Python `rostopic echo -n 1` reads the
// controller node's topics (command, ball state, plan, forecast,
// diagnostics) while a goroslib arm and ball feed it.
func TestTopicsReadByRostopic(t *testing.T) {
	r := newRig(t, sharedMaster(t), nil)
	r.startArm()
	stop := make(chan struct{})
	defer close(stop)
	go r.publishStates(stop, nil)
	// Feed a throw straight into the loop (the ROS observation path is
	// covered by the ros-trials test); its estimate appears on ball/state.
	go func() {
		tk := time.NewTicker(8 * time.Millisecond)
		defer tk.Stop()
		clk := time.Now()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			s := time.Since(clk).Seconds()
			s = math.Mod(s, 0.6)
			r.node.Loop.Observe(durNow(r), [3]float64{3.9 - 4.5*s, 0, 0.5 + 4*s - 4.9*s*s})
		}
	}()
	require.Eventually(t, func() bool { return r.mode() == control.ModeRunning }, 10*time.Second, 10*time.Millisecond)

	var cmd struct {
		JointNames []string `yaml:"joint_names"`
		Points     []struct {
			Positions  []float64 `yaml:"positions"`
			Velocities []float64 `yaml:"velocities"`
		} `yaml:"points"`
	}
	out := rostopic(t, r.uri, 30*time.Second, "echo", "-n", "1", r.ns+"/arm_controller/command")
	require.NoError(t, yaml.Unmarshal([]byte(strings.TrimSuffix(strings.TrimSpace(out), "---")), &cmd), out)
	require.Equal(t, r.names, cmd.JointNames)
	require.Len(t, cmd.Points, 1)
	require.InDeltaSlice(t, sim.DefaultReadyQ, cmd.Points[0].Positions, 1e-9, "hold keeps the ready pose")

	out = rostopic(t, r.uri, 30*time.Second, "echo", "-n", "1", r.ns+"/diagnostics")
	require.Contains(t, out, "catch: control loop")
	require.Contains(t, out, "jitter_p99_us")

	out = rostopic(t, r.uri, 30*time.Second, "echo", "-n", "1", r.ns+"/ball/state")
	require.Contains(t, out, "frame_id: \"world\"")
	require.Contains(t, out, "child_frame_id: \"ball\"")
	for _, topic := range []string{"/catch/plan", "/catch/forecast"} {
		out = rostopic(t, r.uri, 30*time.Second, "echo", "-n", "1", r.ns+topic)
		require.Contains(t, out, "markers:", topic)
	}
}

// TestRobotDescriptionAndTF: the controller node puts its URDF on the
// master as robot_description and publishes a transform for every joint of
// the robot's tree on tf, which Debian's rostopic reads.
func TestRobotDescriptionAndTF(t *testing.T) {
	r := newRig(t, sharedMaster(t), nil)
	r.startArm()
	stop := make(chan struct{})
	defer close(stop)
	go r.publishStates(stop, nil)
	urdf, err := r.arm.ParamGetString(r.ns + "/robot_description")
	require.NoError(t, err)
	require.Equal(t, string(robot.ShippedURDF()), urdf)

	var msg struct {
		Transforms []struct {
			Header struct {
				FrameID string `yaml:"frame_id"`
			} `yaml:"header"`
			Child     string `yaml:"child_frame_id"`
			Transform struct {
				Translation struct{ X, Y, Z float64 }    `yaml:"translation"`
				Rotation    struct{ X, Y, Z, W float64 } `yaml:"rotation"`
			} `yaml:"transform"`
		} `yaml:"transforms"`
	}
	out := rostopic(t, r.uri, 30*time.Second, "echo", "-n", "1", r.ns+"/tf")
	require.NoError(t, yaml.Unmarshal([]byte(strings.TrimSuffix(strings.TrimSpace(out), "---")), &msg), out)
	rob, err := robot.Default()
	require.NoError(t, err)
	require.Len(t, msg.Transforms, len(rob.Model.Joints), "one transform per joint")
	children := map[string]string{}
	for _, tf := range msg.Transforms {
		children[tf.Child] = tf.Header.FrameID
		q := tf.Transform.Rotation
		require.InDelta(t, 1, q.X*q.X+q.Y*q.Y+q.Z*q.Z+q.W*q.W, 1e-6, "unit quaternion")
		if tf.Child == "head" {
			require.Equal(t, "flange", tf.Header.FrameID)
			require.InDelta(t, 0.25, tf.Transform.Translation.X, 1e-9, "the head sits 0.25 m out from the flange")
		}
	}
	for _, l := range rob.Model.Links {
		if l.Name != rob.Model.Root {
			require.Contains(t, children, l.Name, "every link has a transform")
		}
	}
}

// TestExitOnDone: with node.exit_on_done the controller node ends cleanly
// when /catch/done arrives (latched, as the simulated arm sends it at the
// end of a finite run); without it the node keeps running.
func TestExitOnDone(t *testing.T) {
	uri := sharedMaster(t)
	for _, exit := range []bool{true, false} {
		t.Run(fmt.Sprintf("exit_on_done=%v", exit), func(t *testing.T) {
			r := newRig(t, uri, func(c *launch.Config) { c.Node.ExitOnDone = exit })
			r.startArm()
			p, err := goroslib.NewPublisher(goroslib.PublisherConf{Node: r.arm, Topic: "catch/done", Msg: &std_msgs.Bool{}, Latch: true})
			require.NoError(t, err)
			t.Cleanup(p.Close)
			p.Write(&std_msgs.Bool{Data: true})
			wait := 20 * time.Second
			if !exit {
				wait = 2 * time.Second
			}
			select {
			case err := <-r.done:
				require.True(t, exit, "a node without exit_on_done stopped")
				require.NoError(t, err)
				r.done <- nil // for the rig's cleanup
			case <-time.After(wait):
				require.False(t, exit, "the controller node did not stop on /catch/done")
			}
		})
	}
}

func durNow(r *rig) time.Duration {
	var ts control.TickState
	r.node.Loop.Latest(&ts)
	return ts.Now
}

// lockedBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRostopicPubDrivesController: joint states and the e-stop come from
// Debian's `rostopic pub`; the node holds the published pose, then latches
// the e-stop and reports it on /diagnostics.
func TestRostopicPubDrivesController(t *testing.T) {
	// rostopic pub -r is a Python timer: allow 10 ticks (40 ms) of staleness.
	r := newRig(t, sharedMaster(t), func(c *launch.Config) { c.Node.Loop.Safety.JointStaleTicks = 10 })
	bin, err := exec.LookPath("rostopic")
	require.NoError(t, err)
	q := append([]float64(nil), sim.DefaultReadyQ...)
	q[0] = 0.2 // rail 0.2 m to the left
	fmtList := func(v []float64) string {
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = strconv.FormatFloat(x, 'g', -1, 64)
		}
		return "[" + strings.Join(s, ", ") + "]"
	}
	msg := fmt.Sprintf("{name: [%s], position: %s, velocity: %s}", strings.Join(r.names, ", "), fmtList(q), fmtList(make([]float64, len(q))))
	pub := exec.Command(bin, "pub", "-r", "100", r.ns+"/joint_states", "sensor_msgs/JointState", msg)
	pub.Env = append(os.Environ(), "ROS_MASTER_URI="+r.uri, "ROS_IP=127.0.0.1", "ROS_HOME="+t.TempDir())
	// exec copies the child's stderr on its own goroutine while the test
	// reads it for messages: a locked buffer (a bare bytes.Buffer raced).
	perr := &lockedBuffer{}
	pub.Stderr = perr
	require.NoError(t, pub.Start())
	t.Cleanup(func() {
		_ = pub.Process.Signal(os.Interrupt)
		waited := make(chan struct{})
		go func() { _ = pub.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(10 * time.Second): // rostopic pub may miss SIGINT while registering
			_ = pub.Process.Kill()
			<-waited
		}
	})

	require.Eventually(t, func() bool {
		recv, _, _, _ := r.node.IO.JointStats()
		return recv > 20 && r.mode() == control.ModeRunning
	}, 30*time.Second, 20*time.Millisecond, "no joint states from rostopic pub: %s", perr.String())
	ts := r.latest()
	require.InDeltaSlice(t, q, ts.Cmd.Q, 1e-9, "hold commands the pose rostopic published")

	rostopic(t, r.uri, 30*time.Second, "pub", "-1", r.ns+"/catch/estop", "std_msgs/Bool", "data: true")
	require.Eventually(t, func() bool { return r.mode() == control.ModeEStop }, 10*time.Second, 10*time.Millisecond)
	rostopic(t, r.uri, 30*time.Second, "pub", "-1", r.ns+"/catch/estop", "std_msgs/Bool", "data: false")
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, control.ModeEStop, r.mode(), "the e-stop is latched: false does not release it")
	out := rostopic(t, r.uri, 30*time.Second, "echo", "-n", "1", r.ns+"/diagnostics")
	require.Contains(t, out, "level: 2", "e-stop is an ERROR on /diagnostics:\n%s", out)
	require.Greater(t, r.node.Stats().Interventions.EStop, uint64(0))
	ts = r.latest()
	for _, v := range ts.Cmd.Qd {
		require.Zero(t, v)
	}
}

// TestFaultsEndSafe: stale joint states, NaN and incomplete messages each
// leave the arm braked to a hold, counted.
func TestFaultsEndSafe(t *testing.T) {
	r := newRig(t, sharedMaster(t), nil)
	r.startArm()
	stop := make(chan struct{})
	go r.publishStates(stop, nil)
	require.Eventually(t, func() bool { return r.mode() == control.ModeRunning }, 10*time.Second, 5*time.Millisecond)

	// Stale: the stream stops.
	close(stop)
	require.Eventually(t, func() bool { return r.mode() == control.ModeStale }, 2*time.Second, time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	ts := r.latest()
	require.Equal(t, control.ModeStale, ts.Mode)
	for _, v := range ts.Cmd.Qd {
		require.Zero(t, v)
	}
	require.Greater(t, r.node.Stats().Interventions.StaleJoints, uint64(0))

	// NaN, a missing joint, wrong lengths: rejected, counted, still holding.
	for _, spoil := range []func(*sensor_msgs.JointState){
		func(m *sensor_msgs.JointState) { m.Position[2] = math.NaN() },
		func(m *sensor_msgs.JointState) {
			m.Name = m.Name[1:]
			m.Position = m.Position[1:]
			m.Velocity = m.Velocity[1:]
		},
		func(m *sensor_msgs.JointState) { m.Velocity = m.Velocity[:3] },
	} {
		_, rej0, _, _ := r.node.IO.JointStats()
		stop := make(chan struct{})
		go r.publishStates(stop, spoil)
		require.Eventually(t, func() bool { _, rej, _, _ := r.node.IO.JointStats(); return rej > rej0+10 }, 10*time.Second, 5*time.Millisecond)
		close(stop)
		require.Equal(t, control.ModeStale, r.mode())
	}
	_, rej, _, last := r.node.IO.JointStats()
	require.Greater(t, rej, uint64(30))
	require.Contains(t, last, "joint state")
	require.Equal(t, rej, r.node.Stats().Interventions.BadStates)
}

// TestMasterRestart: the master dies and comes back on the same port; the
// node re-registers, and a new subscriber (rostopic) finds its topics.
func TestMasterRestart(t *testing.T) {
	m := ownMaster(t, 0)
	r := newRig(t, m.uri, nil)
	r.startArm()
	stop := make(chan struct{})
	defer close(stop)
	go r.publishStates(stop, nil)
	require.Eventually(t, func() bool { return r.mode() == control.ModeRunning }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, int64(1), r.node.IO.Conn().Registrations())

	m.stop()
	time.Sleep(500 * time.Millisecond)
	// The arm keeps talking to the controller directly: no master needed.
	require.Equal(t, control.ModeRunning, r.mode())
	m2 := ownMaster(t, m.port)
	require.Eventually(t, func() bool { return r.node.IO.Conn().Registrations() >= 2 }, 20*time.Second, 50*time.Millisecond, "node did not re-register")
	out := rostopic(t, m2.uri, 30*time.Second, "echo", "-n", "1", r.ns+"/diagnostics")
	require.Contains(t, out, "registrations")
}
