package launch_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/robot"
)

// TestShippedNodeConfigs: the YAML files beside the launch files load (no
// unknown keys), validate, and name the robot's joints.
func TestShippedNodeConfigs(t *testing.T) {
	for _, f := range []string{"sim.yaml", "robot.yaml"} {
		t.Run(f, func(t *testing.T) {
			cfg, err := launch.LoadConfig(f)
			require.NoError(t, err)
			require.NoError(t, cfg.Node.Validate())
			rob, err := robot.Load(cfg.Robot)
			require.NoError(t, err)
			if names := cfg.Node.ROS.JointNames; len(names) > 0 {
				require.Equal(t, rob.Chain.JointNames(), names)
			}
		})
	}
	bad := launch.NodeConfig{VizHz: -1}
	require.ErrorContains(t, bad.Validate(), "node.viz_hz")
	bad = launch.NodeConfig{Ball: "bowling"}
	require.ErrorContains(t, bad.Validate(), "node.ball")
	bad = launch.NodeConfig{Camera: launch.CameraStreamConfig{Encoding: "yuv422"}}
	require.ErrorContains(t, bad.Validate(), "node.camera: encoding")
	bad = launch.NodeConfig{Camera: launch.CameraStreamConfig{Scale: 2}}
	require.ErrorContains(t, bad.Validate(), "node.camera: scale")
}
