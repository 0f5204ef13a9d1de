package light

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agilecatch/catch/robot"
)

const kinTestURDF = `<robot name="two">
  <link name="base_link"/><link name="l1"/><link name="tool"/>
  <joint name="j1" type="revolute"><parent link="base_link"/><child link="l1"/>
    <origin xyz="0 0 0.5"/><axis xyz="0 0 1"/><limit lower="-3" upper="3" velocity="1"/></joint>
  <joint name="fix" type="fixed"><parent link="l1"/><child link="tool"/><origin xyz="0.2 0 0"/></joint>
</robot>`

func TestKinFK(t *testing.T) {
	dir := t.TempDir()
	urdf := filepath.Join(dir, "two.urdf")
	require.NoError(t, os.WriteFile(urdf, []byte(kinTestURDF), 0o600))

	cases := []struct {
		name     string
		args     []string
		code     int
		wantPos  []float64 // checked when non-nil (JSON output)
		wantQuat []float64
	}{
		// Shipped robot at zero: head 0.25 m beyond the flange at
		// (0.374, 0, 0.630) on an arm base 0.8 m up.
		{"shipped zero", []string{"kin", "fk", "--q", "0,0,0,0,0,0,0", "--json"}, 0,
			[]float64{0.624, 0, 1.430}, []float64{0, 0, 0, 1}},
		// Rail at +0.5 m moves the head along world y.
		{"shipped rail", []string{"kin", "fk", "--q", "0.5, 0,0,0,0,0,0", "--json"}, 0,
			[]float64{0.624, 0.5, 1.430}, []float64{0, 0, 0, 1}},
		// Quarter turn about z: tool at (0, 0.2, 0.5), quaternion (0,0,sin45°,cos45°).
		{"user URDF", []string{"kin", "fk", "--urdf", urdf, "--tip", "tool", "--q", "1.5707963267948966", "--json"}, 0,
			[]float64{0, 0.2, 0.5}, []float64{0, 0, 0.7071067811865476, 0.7071067811865476}},
		{"text output", []string{"kin", "fk", "--q", "0,0,0,0,0,0,0"}, 0, nil, nil},
		{"too few q", []string{"kin", "fk", "--q", "0,0,0"}, 2, nil, nil},
		{"missing q", []string{"kin", "fk"}, 2, nil, nil},
		{"bad q value", []string{"kin", "fk", "--q", "0,0,0,x,0,0,0"}, 2, nil, nil},
		{"missing file", []string{"kin", "fk", "--urdf", filepath.Join(dir, "nope.urdf"), "--q", "0"}, 2, nil, nil},
		{"unknown tip", []string{"kin", "fk", "--tip", "hand", "--q", "0"}, 2, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runOut(t, tc.args...)
			require.Equal(t, tc.code, code, "exit code; output %q", out)
			if tc.wantPos == nil {
				return
			}
			var got struct {
				Position   []float64   `json:"position"`
				Rotation   [][]float64 `json:"rotation"`
				Quaternion []float64   `json:"quaternion"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &got), out)
			require.InDeltaSlice(t, tc.wantPos, got.Position, 1e-12)    // exact decimal offsets, a few ulps
			require.InDeltaSlice(t, tc.wantQuat, got.Quaternion, 1e-12) // same
			require.Len(t, got.Rotation, 3)
		})
	}
}

func TestParseQErrorNamesJoints(t *testing.T) {
	rob, err := robot.Default()
	require.NoError(t, err)
	_, err = parseQ("1,2", rob.Chain)
	require.EqualError(t, err, "--q has 2 values, want 7 values for joints rail,joint_1,joint_2,joint_3,joint_4,joint_5,joint_6")
	_, err = parseQ("0,0,NaN,0,0,0,0", rob.Chain)
	require.ErrorContains(t, err, `--q value 3 (joint_2) is "NaN", want a finite number`)
	q, err := parseQ(" 0.1,0,0,0,0,0,-0.2 ", rob.Chain)
	require.NoError(t, err)
	require.Equal(t, []float64{0.1, 0, 0, 0, 0, 0, -0.2}, q)
}
