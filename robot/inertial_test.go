package robot

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The shipped robot carries mass, inertia, damping and effort limits for
// every link and joint the chain moves (the MuJoCo engine needs them).
func TestShippedURDFDynamics(t *testing.T) {
	m, err := ParseURDF(ShippedURDF())
	require.NoError(t, err)
	masses := map[string]float64{}
	for _, l := range m.Links {
		if l.Inertial != nil {
			masses[l.Name] = l.Inertial.Mass
		}
	}
	// IRB 120 link masses from ROS-Industrial's irb120t_3_58 URDF.
	for name, want := range map[string]float64{"link_1": 3.067, "link_2": 3.909, "link_3": 2.944, "link_4": 1.328, "link_5": 0.546, "link_6": 0.137} {
		require.InDelta(t, want, masses[name], 1e-9, name)
	}
	require.Contains(t, masses, "carriage")
	require.Contains(t, masses, "head")
	for _, j := range m.Joints {
		if j.Type.Movable() {
			require.Greater(t, j.Effort, 0.0, "%s effort", j.Name)
			require.Greater(t, j.Damping, 0.0, "%s damping", j.Name)
		}
	}
}

func TestInertialErrors(t *testing.T) {
	doc := func(inertial, dyn string) []byte {
		return []byte(`<robot name="r"><link name="a"/><link name="b">` + inertial + `</link>
<joint name="j" type="revolute"><parent link="a"/><child link="b"/><limit lower="-1" upper="1" velocity="1" effort="5"/>` + dyn + `</joint></robot>`)
	}
	good := `<inertial><origin xyz="0 0 0.1"/><mass value="2"/><inertia ixx="0.1" iyy="0.1" izz="0.05" ixy="0" ixz="0" iyz="0"/></inertial>`
	m, err := ParseURDF(doc(good, `<dynamics damping="0.5" friction="0.1"/>`))
	require.NoError(t, err)
	require.Equal(t, 2.0, m.Links[1].Inertial.Mass)
	require.Equal(t, 0.1, m.Links[1].Inertial.Origin.P[2])
	require.Equal(t, 5.0, m.Joints[0].Effort)
	require.Equal(t, 0.5, m.Joints[0].Damping)
	require.Equal(t, 0.1, m.Joints[0].Friction)
	for _, c := range []struct{ inertial, dyn, want string }{
		{`<inertial><mass value="0"/><inertia ixx="1" iyy="1" izz="1" ixy="0" ixz="0" iyz="0"/></inertial>`, "", "want > 0 kg"},
		{`<inertial><mass value="1"/></inertial>`, "", "missing <inertia"},
		{`<inertial><inertia ixx="1" iyy="1" izz="1" ixy="0" ixz="0" iyz="0"/></inertial>`, "", "missing <mass"},
		{`<inertial><mass value="1"/><inertia ixx="1" iyy="1" izz="3" ixy="0" ixz="0" iyz="0"/></inertial>`, "", "triangle inequality"},
		{good, `<dynamics damping="-1"/>`, "want ≥ 0"},
		{good, `<dynamics damping="x"/>`, "damping"},
	} {
		_, err := ParseURDF(doc(c.inertial, c.dyn))
		require.ErrorIs(t, err, ErrURDF)
		require.True(t, strings.Contains(err.Error(), c.want), "%v, want %q", err, c.want)
	}
}
