package launch_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRoslaunchSim: Debian's stock roslaunch brings up launch/sim.launch —
// it resolves <node pkg="catch" type="catch"> to bin/catch of the package on
// ROS_PACKAGE_PATH — and the system flies two throws, then shuts down
// (simarm publishes /catch/done after --trials, the controller exits on it,
// and roslaunch ends once no node is left).
func TestRoslaunchSim(t *testing.T) {
	uri := sharedMaster(t)
	roslaunch, err := exec.LookPath("roslaunch")
	require.NoError(t, err, "roslaunch not on PATH: run `make deps` (python3-roslaunch)")
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	// A copy of the package (manifest, launch files, freshly built binary),
	// so the test does not depend on `make build` having run.
	pkg := t.TempDir()
	for _, f := range []string{"package.xml", "launch/sim.launch", "launch/sim.yaml"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(pkg, f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(pkg, f), b, 0o644))
	}
	build := exec.Command("go", "build", "-o", filepath.Join(pkg, "bin", "catch"), "./cmd/catch")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, roslaunch, filepath.Join(pkg, "launch", "sim.launch"),
		"controller:=hold", "trials:=2", "pause:=0.2", "seed:=5")
	cmd.Env = append(os.Environ(), "ROS_MASTER_URI="+uri, "ROS_IP=127.0.0.1", "ROS_HOSTNAME=127.0.0.1",
		"ROS_HOME="+t.TempDir(), "ROS_PACKAGE_PATH="+pkg, "ROS_NAMESPACE=/t_roslaunch")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err = cmd.Run()
	log := buf.String()
	require.NoError(t, err, "roslaunch:\n%s", log)
	require.Contains(t, log, "controller (catch/catch)", "roslaunch resolved type=catch in package catch")
	require.NotContains(t, log, "re-registering", "nodes registered once")
	require.Equal(t, 2, strings.Count(log, "msg=throw "), "two throws flown:\n%s", log)
	require.Contains(t, log, "controller node stopped")
	// A finite run ends cleanly with its figure, not with a required node's death.
	require.NotContains(t, log, "REQUIRED process")
	require.Contains(t, log, "simarm: nominal, 2 throws: ")
	require.Contains(t, log, "all processes on machine have died, roslaunch will exit")
	require.NotContains(t, log, "limit_violations=1")
}
