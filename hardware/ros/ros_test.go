package ros

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/goroslib/v2/pkg/msgs/sensor_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/std_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/trajectory_msgs"
	"github.com/stretchr/testify/require"
)

var chain = []string{"rail", "joint_1", "joint_2", "joint_3", "joint_4", "joint_5", "joint_6"}

func TestJointStateByName(t *testing.T) {
	m := NewJointMap(chain)
	q, qd := make([]float64, 7), make([]float64, 7)
	// Any order, an extra joint (a gripper) ignored.
	js := &sensor_msgs.JointState{
		Name:     []string{"joint_6", "gripper", "joint_1", "rail", "joint_2", "joint_3", "joint_4", "joint_5"},
		Position: []float64{6, 99, 1, 0.5, 2, 3, 4, 5},
		Velocity: []float64{-6, 99, -1, -0.5, -2, -3, -4, -5},
	}
	hasVel, err := m.FromJointState(js, q, qd)
	require.NoError(t, err)
	require.True(t, hasVel)
	require.Equal(t, []float64{0.5, 1, 2, 3, 4, 5, 6}, q)
	require.Equal(t, []float64{-0.5, -1, -2, -3, -4, -5, -6}, qd)
	// Position-only (legal in ROS): accepted, velocities left to the caller.
	po := &sensor_msgs.JointState{Name: js.Name, Position: js.Position}
	hasVel, err = m.FromJointState(po, q, qd)
	require.NoError(t, err)
	require.False(t, hasVel)

	bad := []struct {
		name string
		edit func(*sensor_msgs.JointState)
		want string
	}{
		{"missing joint", func(j *sensor_msgs.JointState) { j.Name[0] = "other" }, "6 of the 7 chain joints"},
		{"short velocity", func(j *sensor_msgs.JointState) { j.Velocity = j.Velocity[:2] }, "as many velocities or none"},
		{"short position", func(j *sensor_msgs.JointState) { j.Position = j.Position[:5] }, "as many positions as names"},
		{"NaN position", func(j *sensor_msgs.JointState) { j.Position[2] = math.NaN() }, "finite"},
		{"Inf velocity", func(j *sensor_msgs.JointState) { j.Velocity[3] = math.Inf(1) }, "finite"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			j := &sensor_msgs.JointState{Name: append([]string(nil), js.Name...), Position: append([]float64(nil), js.Position...), Velocity: append([]float64(nil), js.Velocity...)}
			tc.edit(j)
			_, err := m.FromJointState(j, q, qd)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestCommandRoundTrip(t *testing.T) {
	m := NewJointMap(chain)
	q := []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7}
	qd := []float64{-1, -2, -3, -4, -5, -6, -7}
	gq, gqd := make([]float64, 7), make([]float64, 7)
	cfg := Config{}.WithDefaults()
	jt := m.CommandMsg(&cfg, time.Now(), q, qd).(*trajectory_msgs.JointTrajectory)
	require.Equal(t, 8*time.Millisecond, jt.Points[0].TimeFromStart)
	require.NoError(t, m.FromTrajectory(jt, gq, gqd))
	require.Equal(t, q, gq)
	require.Equal(t, qd, gqd)
	cfg.CommandType = CommandFloat64Array
	arr := m.CommandMsg(&cfg, time.Now(), q, qd).(*std_msgs.Float64MultiArray)
	require.Len(t, arr.Data, 14)
	require.NoError(t, m.FromArray(arr, gq, gqd))
	require.Equal(t, q, gq)
	require.Equal(t, qd, gqd)
	require.ErrorContains(t, m.FromArray(&std_msgs.Float64MultiArray{Data: []float64{1, 2}}, gq, gqd), "want 7")
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, Config{}.Validate())
	require.ErrorContains(t, Config{MasterURI: "127.0.0.1:11311"}.Validate(), "master_uri")
	require.ErrorContains(t, Config{CommandType: "effort"}.Validate(), "command_type")
	require.ErrorContains(t, Config{JointNames: []string{"a", "a"}}.Validate(), "joint_names[1]")
	require.ErrorContains(t, Config{Namespace: "robot"}.Validate(), "namespace")
	require.Equal(t, "127.0.0.1", Config{}.WithDefaults().Host, "loopback unless configured") // make test sets ROS_IP=127.0.0.1 too
}

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestConnWaitsForMaster: with no master at start the node reports a clear
// error and retries; it registers once the master comes up.
func TestConnWaitsForMaster(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	uri := fmt.Sprintf("http://127.0.0.1:%d/", port)
	var logs logBuf
	c, err := NewConn(Config{MasterURI: uri, RetryS: 0.1}, "late_node", slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	pub := c.Publish("chatter", &std_msgs.Bool{}, false)
	c.Start(context.Background())
	t.Cleanup(c.Close)
	time.Sleep(500 * time.Millisecond)
	require.False(t, c.Connected())
	require.False(t, pub.Write(&std_msgs.Bool{Data: true}), "writes while unregistered are dropped")
	require.Equal(t, uint64(1), pub.Dropped())
	require.Contains(t, logs.String(), "ROS master not reachable; retrying")
	require.Contains(t, logs.String(), uri)

	bin, err := exec.LookPath("rosmaster")
	require.NoError(t, err, "rosmaster not on PATH: run `make deps`")
	cmd := exec.Command(bin, "--core", "-p", strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "ROS_IP=127.0.0.1", "ROS_MASTER_URI="+uri, "ROS_HOME="+t.TempDir())
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, c.WaitConnected(ctx))
	require.True(t, pub.Write(&std_msgs.Bool{Data: true}))
	require.Contains(t, logs.String(), "registered with the ROS master")
}
