package launch_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/goroslib/v2"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/sensor_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/trajectory_msgs"
	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/robot"
)

func TestCheckArming(t *testing.T) {
	rob, err := robot.Default()
	require.NoError(t, err)
	names := rob.Chain.JointNames()
	lim := rob.Limits
	mid := make([]float64, len(names))
	for j := range mid {
		mid[j] = 0.5 * (lim.Lower[j] + lim.Upper[j])
	}
	out := append([]float64(nil), mid...)
	out[3] = lim.Upper[3] + 0.1
	renamed := append([]string{"linear_axis"}, names[1:]...)
	for _, tc := range []struct {
		name   string
		driver []string
		q      []float64
		errHas string
	}{
		{"ok", names, mid, ""},
		{"extra joints allowed", append(append([]string(nil), names...), "gripper"), mid, ""},
		{"no state", nil, nil, "no joint state"},
		{"missing joint", renamed, mid, names[0]},
		{"outside limits", names, out, names[3]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := launch.CheckArming(names, lim, tc.driver, tc.q)
			if tc.errHas == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.errHas)
		})
	}
}

// countTopic subscribes to a trajectory topic in the rig's namespace.
func countTopic(t *testing.T, r *rig, topic string) *atomic.Int64 {
	var n atomic.Int64
	s, err := goroslib.NewSubscriber(goroslib.SubscriberConf{Node: r.arm, Topic: topic,
		Callback: func(*trajectory_msgs.JointTrajectory) { n.Add(1) }})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return &n
}

// TestDryRunAndArming runs controller nodes against the real master with a
// goroslib arm: a dry run publishes its commands only on the dry-run topic
// and refuses to arm; with require_arm, commands are withheld until an arm
// request passes the joint-name check, then reach the command topic.
func TestDryRunAndArming(t *testing.T) {
	uri := sharedMaster(t)
	t.Run("dry-run", func(t *testing.T) {
		r := newRig(t, uri, func(c *launch.Config) { c.Node.DryRun = true })
		r.startArm()
		cmds, dry := countTopic(t, r, "arm_controller/command"), countTopic(t, r, "catch/dry_run/command")
		stop := make(chan struct{})
		go r.publishStates(stop, nil)
		defer close(stop)
		require.Eventually(t, func() bool { return dry.Load() > 20 }, 20*time.Second, 10*time.Millisecond)
		require.ErrorContains(t, r.node.Arm(true), "dry run")
		time.Sleep(200 * time.Millisecond)
		require.Zero(t, cmds.Load(), "a dry run never sends a command")
		require.Greater(t, r.node.IO.Withheld(), uint64(20))
	})
	t.Run("require-arm", func(t *testing.T) {
		r := newRig(t, uri, func(c *launch.Config) { c.Node.RequireArm = true })
		r.startArm()
		cmds, dry := countTopic(t, r, "arm_controller/command"), countTopic(t, r, "catch/dry_run/command")
		stop := make(chan struct{})
		// A driver that names the rail differently: every state is
		// rejected, and arming says which joint is missing.
		go r.publishStates(stop, func(m *sensor_msgs.JointState) {
			m.Name = append([]string{"linear_axis"}, m.Name[1:]...)
		})
		require.Eventually(t, func() bool { return r.node.IO.DriverJoints() != nil }, 20*time.Second, 10*time.Millisecond)
		err := r.node.Arm(true)
		require.ErrorContains(t, err, "linear_axis")
		require.ErrorContains(t, err, r.names[0])
		close(stop)
		time.Sleep(50 * time.Millisecond)
		stop2 := make(chan struct{})
		go r.publishStates(stop2, nil)
		defer close(stop2)
		require.Eventually(t, func() bool { return dry.Load() > 10 }, 20*time.Second, 10*time.Millisecond)
		require.Zero(t, cmds.Load(), "not armed: nothing sent")
		// Once the driver's states carry the URDF's names, arming passes.
		require.Eventually(t, func() bool { return r.node.Arm(true) == nil }, 20*time.Second, 20*time.Millisecond)
		require.Eventually(t, func() bool { return cmds.Load() > 10 }, 20*time.Second, 10*time.Millisecond)
		require.NoError(t, r.node.Arm(false))
	})
}
