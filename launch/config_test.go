package launch

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/fused"
	"github.com/agilecatch/catch/policy"
	"github.com/agilecatch/catch/robot"
)

func writeConfig(t *testing.T, dir, text string) string {
	t.Helper()
	p := filepath.Join(dir, "run.yaml")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

func TestLoadConfigErrorsNameKeysNotGoTypes(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ yaml, want string }{
		{"sim:\n  max_time_s: abc\n", `line 2: value "abc" is text, want a number`},
		{"sim:\n  foo: 1\n", `line 2: unknown key "foo"`},
		{"robot:\n  acc_limits: 3\n", `want a list`},
		{"node:\n  lockstep: 3\n", `value "3" is an integer, want true or false`},
	} {
		_, err := LoadConfig(writeConfig(t, dir, tc.yaml))
		require.ErrorContains(t, err, tc.want, tc.yaml)
		require.NotContains(t, err.Error(), "\n", "one line")
		require.NotRegexp(t, `float64|sim\.Config|not found in type`, err.Error())
	}
}

func TestLoadConfigResolvesPathsAgainstTheFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cfgdir")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	p := writeConfig(t, dir, "es:\n  policy: pol.json\n  train:\n    scenarios: [nominal, my.yaml]\nnode:\n  trial_log: /abs/log.jsonl\nmpc:\n  dump_dir: dumps\n")
	c, err := LoadConfig(p)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "pol.json"), c.ES.Policy)
	require.Equal(t, []string{"nominal", filepath.Join(dir, "my.yaml")}, c.ES.Train.Scenarios, "names stay names")
	require.Equal(t, "/abs/log.jsonl", c.Node.TrialLog, "absolute paths stay")
	require.Equal(t, filepath.Join(dir, "dumps"), c.MPC.DumpDir)
}

func TestConfigCheckAndHash(t *testing.T) {
	rob, err := robot.Default()
	require.NoError(t, err)
	c, err := LoadConfig(writeConfig(t, t.TempDir(), "sim:\n  control_rate_hz: 333\n"))
	require.NoError(t, err)
	require.ErrorContains(t, c.Check(rob), "sim: control_rate_hz: 333")
	var d Config
	require.NoError(t, d.Check(rob))
	require.Len(t, d.Hash(), 64)
	require.NotEqual(t, d.Hash(), c.Hash(), "a changed value changes the hash")
	var e Config
	require.Equal(t, d.Hash(), e.Hash(), "same config, same hash")
}

// The run configuration tracks the ball's spin unless a file turns it off;
// other estimator keys in a file leave the default on.
func TestDefaultConfigEstimatesSpin(t *testing.T) {
	c, err := LoadConfig("")
	require.NoError(t, err)
	require.True(t, c.Sim.Estimator.EstimateSpin)
	require.Equal(t, DefaultConfig(), c)
	dir := t.TempDir()
	c, err = LoadConfig(writeConfig(t, dir, "sim:\n  estimator: {noise_std_m: 0.004}\n"))
	require.NoError(t, err)
	require.True(t, c.Sim.Estimator.EstimateSpin)
	require.Equal(t, 0.004, c.Sim.Estimator.NoiseStd)
	c, err = LoadConfig(writeConfig(t, dir, "sim:\n  estimator: {estimate_spin: false}\n"))
	require.NoError(t, err)
	require.False(t, c.Sim.Estimator.EstimateSpin)
}

// ForEngine runs the fused θ shipped for MuJoCo in that engine unless
// the configuration names parameters itself, and leaves the original
// configuration alone.
func TestForEngine(t *testing.T) {
	var c Config
	m := c.ForEngine("mujoco")
	require.Equal(t, "mujoco", m.Fused.Shipped)
	require.Equal(t, "mujoco", m.ES.Shipped)
	require.Equal(t, "", c.ForEngine("kinematic").Fused.Shipped)
	require.Equal(t, "", c.ForEngine("kinematic").ES.Shipped)
	require.Equal(t, "", c.Fused.Shipped)
	require.Equal(t, "", c.ES.Shipped)
	c.Fused.Params, c.ES.Policy = "mine.json", "mine-es.json"
	require.Equal(t, "", c.ForEngine("mujoco").Fused.Shipped)
	require.Equal(t, "", c.ForEngine("mujoco").ES.Shipped)
	c.Fused.Params, c.Fused.Shipped, c.ES.Policy, c.ES.Shipped = "", "kinematic", "", "kinematic"
	require.Equal(t, "kinematic", c.ForEngine("mujoco").Fused.Shipped)
	require.Equal(t, "kinematic", c.ForEngine("mujoco").ES.Shipped)

	// in MuJoCo the es controller runs the policy fine-tuned there and
	// the fused controller the θ fine-tuned there; elsewhere the shipped ones
	rob, err := robot.Load(robot.Config{})
	require.NoError(t, err)
	var d Config
	for _, e := range []string{"kinematic", "mujoco"} {
		want, err := policy.ShippedFor(e)
		require.NoError(t, err)
		got, err := d.ForEngine(e).ES.Load()
		require.NoError(t, err)
		require.Equal(t, want.Params(), got.Params(), e)
		_, err = NewController("es", rob, d.ForEngine(e))
		require.NoError(t, err, e)
		wantF, err := fused.ShippedFor(e)
		require.NoError(t, err)
		gotF, err := d.ForEngine(e).Fused.Load()
		require.NoError(t, err)
		require.Equal(t, wantF.Theta, gotF.Theta, e)
	}
	k, err := policy.ShippedFor("kinematic")
	require.NoError(t, err)
	mj, err := policy.ShippedFor("mujoco")
	require.NoError(t, err)
	require.NotEqual(t, k.Params(), mj.Params(), "the MuJoCo policy was fine-tuned")
	require.NotNil(t, mj.Trained)
	_, err = policy.ShippedFor("bullet")
	require.ErrorContains(t, err, "bullet")
	require.ErrorContains(t, policy.Config{Shipped: "bullet"}.Validate(), "es.shipped")
}
