package ros

import (
	"bytes"
	"context"
	"fmt"
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
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// masterFor returns the "host:port" of the ROS master to use and the environment for ROS
// command-line tools. It uses ROS_MASTER_URI when set (make test sets it); otherwise it starts
// Debian's `rosmaster --core` on a free loopback port for this test and stops it at cleanup.
// A missing rosmaster is a failure, not a skip: `make deps` installs it.
func masterFor(t *testing.T) (addr string, env []string) {
	t.Helper()
	env = append(os.Environ(), "ROS_IP=127.0.0.1", "ROS_HOSTNAME=127.0.0.1", "ROS_HOME="+t.TempDir())

	if uri := os.Getenv("ROS_MASTER_URI"); uri != "" {
		u, err := url.Parse(uri)
		require.NoError(t, err, "ROS_MASTER_URI=%q is not a URL such as http://127.0.0.1:11311/", uri)
		require.NotEmpty(t, u.Port(), "ROS_MASTER_URI=%q has no port", uri)
		requireAnswers(t, u.Host, 5*time.Second)
		return u.Host, env
	}

	bin, err := exec.LookPath("rosmaster")
	require.NoError(t, err, "rosmaster not found on PATH: run `make deps` (scripts/deps.sh installs Debian's python3-rosmaster)")
	port := freePort(t)
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	env = append(env, "ROS_MASTER_URI=http://"+addr+"/")

	var logs bytes.Buffer
	cmd := exec.Command(bin, "--core", "-p", strconv.Itoa(port))
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start(), "starting %s", bin)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("rosmaster output:\n%s", logs.String())
		}
	})
	requireAnswers(t, addr, 20*time.Second)
	return addr, env
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// requireAnswers waits until something accepts TCP connections at addr.
func requireAnswers(t *testing.T, addr string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			require.NoError(t, err, "no ROS master answering at %s after %v", addr, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func newNode(t *testing.T, master, name string) *goroslib.Node {
	t.Helper()
	n, err := goroslib.NewNode(goroslib.NodeConf{
		Name:          name,
		MasterAddress: master,
		Host:          "127.0.0.1",
		// Keep node logs off the console; failures are reported through require.
		LogDestinations: goroslib.LogDestinationRosout,
	})
	require.NoError(t, err, "goroslib node %s cannot register with the master at %s", name, master)
	t.Cleanup(n.Close)
	return n
}

// TestJointStateThroughRealMaster publishes sensor_msgs/JointState from one goroslib node,
// receives it in a second goroslib node, and reads the same topic with Debian's Python
// `rostopic echo`, all through a real rosmaster on loopback.
func TestJointStateThroughRealMaster(t *testing.T) {
	master, env := masterFor(t)
	t.Logf("ROS master at %s", master)
	const topic = "/catch_it/joint_states"

	want := &sensor_msgs.JointState{
		Name:     []string{"rail", "joint_1", "joint_2", "joint_3", "joint_4", "joint_5", "joint_6"},
		Position: []float64{0.125, -0.5, 0.75, 1.0e-3, 2.5, -3.0, 0.0625},
		Velocity: []float64{0.5, 0, 0, 0, 0, 0, -1.25},
		Effort:   []float64{},
	}
	want.Header.FrameId = "world"

	pubNode := newNode(t, master, "catch_it_pub")
	pub, err := goroslib.NewPublisher(goroslib.PublisherConf{
		Node:  pubNode,
		Topic: topic,
		Msg:   &sensor_msgs.JointState{},
		// Latched, so late subscribers (rostopic) get the last message at once.
		Latch: true,
	})
	require.NoError(t, err)
	t.Cleanup(pub.Close)

	var (
		mu  sync.Mutex
		got *sensor_msgs.JointState
	)
	received := make(chan struct{})
	var once sync.Once
	subNode := newNode(t, master, "catch_it_sub")
	sub, err := goroslib.NewSubscriber(goroslib.SubscriberConf{
		Node:  subNode,
		Topic: topic,
		Callback: func(m *sensor_msgs.JointState) {
			mu.Lock()
			got = m
			mu.Unlock()
			once.Do(func() { close(received) })
		},
	})
	require.NoError(t, err)
	t.Cleanup(sub.Close)

	// The subscriber connects to the publisher asynchronously (master callback, then
	// TCPROS handshake); keep writing until the first message lands.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(15 * time.Second)
wait:
	for {
		pub.Write(want)
		select {
		case <-received:
			break wait
		case <-tick.C:
		case <-timeout:
			t.Fatalf("goroslib subscriber received nothing on %s within 15 s (master %s)", topic, master)
		}
	}
	mu.Lock()
	require.Equal(t, want.Name, got.Name)
	require.Equal(t, want.Position, got.Position) // float64 on the wire: exact
	require.Equal(t, want.Velocity, got.Velocity)
	require.Equal(t, "world", got.Header.FrameId)
	mu.Unlock()

	// Debian's Python ROS tools read the same topic: wire compatibility with stock ROS 1.
	rostopic, err := exec.LookPath("rostopic")
	require.NoError(t, err, "rostopic not found on PATH: run `make deps` (installs Debian's python3-rostopic)")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, rostopic, "echo", "-n", "1", topic)
	cmd.Env = append(env, "ROS_MASTER_URI=http://"+master+"/")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "rostopic echo -n 1 %s failed\nstdout:\n%s\nstderr:\n%s", topic, out, stderr.String())

	// rostopic prints YAML documents separated by "---"; the first one is the message.
	var echoed struct {
		Header struct {
			FrameID string `yaml:"frame_id"`
		} `yaml:"header"`
		Name     []string  `yaml:"name"`
		Position []float64 `yaml:"position"`
		Velocity []float64 `yaml:"velocity"`
	}
	doc, _, _ := strings.Cut(string(out), "\n---")
	require.NoError(t, yaml.Unmarshal([]byte(doc), &echoed), "rostopic output is not YAML:\n%s", out)
	require.Equal(t, want.Name, echoed.Name, "rostopic output:\n%s", out)
	// Python prints the shortest repr that round-trips, so parsing it back is exact.
	require.Equal(t, want.Position, echoed.Position, "rostopic output:\n%s", out)
	require.Equal(t, want.Velocity, echoed.Velocity, "rostopic output:\n%s", out)
	require.Equal(t, "world", echoed.Header.FrameID, fmt.Sprintf("rostopic output:\n%s", out))
}
