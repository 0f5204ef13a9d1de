package robot

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

func TestParseURDF(t *testing.T) {
	m, err := ParseURDF([]byte(oddURDF))
	require.NoError(t, err)
	require.Equal(t, "odd", m.Name)
	require.Equal(t, "a", m.Root)
	require.Len(t, m.Links, 6)
	require.Len(t, m.Joints, 5)

	j1 := m.Joints[0]
	require.Equal(t, Revolute, j1.Type)
	require.Equal(t, "a", j1.Parent)
	require.Equal(t, "b", j1.Child)
	require.Equal(t, [3]float64{0.1, -0.2, 0.3}, j1.Origin.P)
	require.InDeltaSlice(t, []float64{1.0 / 3, 2.0 / 3, 2.0 / 3}, j1.Axis[:], 1e-15, "axis normalised") // ulps
	require.Equal(t, -3.0, j1.Lower)
	require.Equal(t, 3.0, j1.Upper)
	require.Equal(t, 1.0, j1.Velocity)
	// rpy is the URDF fixed-axis convention R = Rz(yaw)·Ry(pitch)·Rx(roll).
	var want mat.Dense
	want.Product(rotZ(0.5), rotY(-0.4), rotX(0.3))
	for i := 0; i < 3; i++ {
		for k := 0; k < 3; k++ {
			require.InDelta(t, want.At(i, k), j1.Origin.R[i][k], 1e-15, "R[%d][%d]", i, k) // ulps
		}
	}

	fx := m.Joints[1]
	require.Equal(t, Fixed, fx.Type)
	require.Equal(t, [3]float64{1, 0, 0}, fx.Axis, "default axis")

	j2 := m.Joints[2]
	require.Equal(t, Continuous, j2.Type)
	require.True(t, math.IsInf(j2.Lower, -1) && math.IsInf(j2.Upper, 1))
	require.Equal(t, Identity(), Pose{P: [3]float64{}, R: m.Joints[2].Origin.R}, "missing rpy is identity")

	require.Equal(t, "prismatic", Prismatic.String())
	require.Equal(t, "JointType(9)", JointType(9).String())
}

func TestLoadURDF(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "odd.urdf")
	require.NoError(t, os.WriteFile(good, []byte(oddURDF), 0o600))
	bad := filepath.Join(dir, "bad.urdf")
	require.NoError(t, os.WriteFile(bad, []byte(`<robot name="x"/>`), 0o600))

	m, err := LoadURDF(good)
	require.NoError(t, err)
	require.Equal(t, "odd", m.Name)

	_, err = LoadURDF(bad)
	require.ErrorIs(t, err, ErrURDF)
	require.ErrorContains(t, err, bad, "error names the file")

	_, err = LoadURDF(filepath.Join(dir, "missing.urdf"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// urdfWith builds a two-link robot whose single joint is given.
func urdfWith(joint string) string {
	return `<robot name="t"><link name="a"/><link name="b"/>` + joint + `</robot>`
}

func TestParseURDFErrors(t *testing.T) {
	const okLimit = `<limit lower="-1" upper="1" velocity="1"/>`
	rev := func(inner string) string {
		return urdfWith(`<joint name="j" type="revolute"><parent link="a"/><child link="b"/>` + inner + `</joint>`)
	}
	cases := []struct {
		name, urdf, want string
	}{
		{"not XML", "robot", "want a <robot> XML document"},
		{"wrong root element", `<sdf/>`, "want a <robot> XML document"},
		{"no links", `<robot name="t"/>`, "has no <link>"},
		{"link without name", `<robot><link/></robot>`, "<link> #1: missing attribute name"},
		{"duplicate link", `<robot><link name="a"/><link name="a"/></robot>`, `<link name="a">: name used twice`},
		{"joint without name", urdfWith(`<joint type="fixed"><parent link="a"/><child link="b"/></joint>`),
			"<joint> #1: missing attribute name"},
		{"joint without type", urdfWith(`<joint name="j"><parent link="a"/><child link="b"/></joint>`),
			`<joint name="j">: missing attribute type`},
		{"unknown joint type", urdfWith(`<joint name="j" type="floating"><parent link="a"/><child link="b"/></joint>`),
			`<joint name="j">: unsupported type "floating", want revolute, continuous, prismatic or fixed`},
		{"mimic", rev(okLimit + `<mimic joint="k"/>`), "<mimic> is not supported"},
		{"missing parent", urdfWith(`<joint name="j" type="fixed"><child link="b"/></joint>`),
			`<joint name="j">: missing <parent link="...">`},
		{"missing child", urdfWith(`<joint name="j" type="fixed"><parent link="a"/></joint>`),
			`<joint name="j">: missing <child link="...">`},
		{"unknown parent link", urdfWith(`<joint name="j" type="fixed"><parent link="z"/><child link="b"/></joint>`),
			`<joint name="j">: <parent link="z">: no such <link>`},
		{"unknown child link", urdfWith(`<joint name="j" type="fixed"><parent link="a"/><child link="z"/></joint>`),
			`<joint name="j">: <child link="z">: no such <link>`},
		{"self loop", urdfWith(`<joint name="j" type="fixed"><parent link="a"/><child link="a"/></joint>`),
			"parent and child are both link"},
		{"duplicate joint", urdfWith(`<joint name="j" type="fixed"><parent link="a"/><child link="b"/></joint>` +
			`<joint name="j" type="fixed"><parent link="b"/><child link="a"/></joint>`), `<joint name="j">: name used twice`},
		{"two parents", `<robot><link name="a"/><link name="b"/><link name="c"/>` +
			`<joint name="j1" type="fixed"><parent link="a"/><child link="c"/></joint>` +
			`<joint name="j2" type="fixed"><parent link="b"/><child link="c"/></joint></robot>`,
			`<joint name="j2">: link "c" already has parent joint "j1", want a tree`},
		{"loop without root", urdfWith(`<joint name="j1" type="fixed"><parent link="a"/><child link="b"/></joint>` +
			`<joint name="j2" type="fixed"><parent link="b"/><child link="a"/></joint>`), "no root link"},
		{"loop beside the root", `<robot><link name="r"/><link name="a"/><link name="b"/>` +
			`<joint name="j1" type="fixed"><parent link="a"/><child link="b"/></joint>` +
			`<joint name="j2" type="fixed"><parent link="b"/><child link="a"/></joint></robot>`,
			`is not reachable from root "r": its joints form a loop`},
		{"two roots", `<robot><link name="a"/><link name="b"/></robot>`, `2 root links ["a" "b"], want one tree`},
		{"origin xyz two numbers", rev(okLimit + `<origin xyz="0 1"/>`), `<origin xyz="0 1">: want 3 finite numbers, got 2 fields`},
		{"origin xyz NaN", rev(okLimit + `<origin xyz="0 NaN 1"/>`), `<origin xyz="0 NaN 1">: want 3 finite numbers, field 2 is "NaN"`},
		{"origin rpy Inf", rev(okLimit + `<origin rpy="0 0 +Inf"/>`), `<origin rpy="0 0 +Inf">: want 3 finite numbers, field 3`},
		{"origin rpy text", rev(okLimit + `<origin rpy="0 zero 0"/>`), `field 2 is "zero"`},
		{"axis without xyz", rev(okLimit + `<axis/>`), "<axis>: missing attribute xyz"},
		{"zero axis", rev(okLimit + `<axis xyz="0 0 0"/>`), `<axis xyz="0 0 0">: zero vector, want a direction`},
		{"revolute without limit", rev(``), "missing <limit>, want lower, upper and velocity for a revolute joint"},
		{"prismatic without limit", urdfWith(`<joint name="j" type="prismatic"><parent link="a"/><child link="b"/></joint>`),
			"for a prismatic joint"},
		{"limit missing lower", rev(`<limit upper="1" velocity="1"/>`), "<limit>: missing attribute lower"},
		{"limit missing upper", rev(`<limit lower="-1" velocity="1"/>`), "<limit>: missing attribute upper"},
		{"limit missing velocity", rev(`<limit lower="-1" upper="1"/>`), "<limit>: missing attribute velocity"},
		{"limit unparsable", rev(`<limit lower="-1x" upper="1" velocity="1"/>`), `attribute lower="-1x": want a finite number`},
		{"limit NaN", rev(`<limit lower="-1" upper="nan" velocity="1"/>`), `attribute upper="nan": want a finite number`},
		{"limit Inf", rev(`<limit lower="-inf" upper="1" velocity="1"/>`), `attribute lower="-inf": want a finite number`},
		{"lower above upper", rev(`<limit lower="1" upper="-1" velocity="1"/>`), "lower 1 > upper -1, want lower ≤ upper"},
		{"zero velocity", rev(`<limit lower="-1" upper="1" velocity="0"/>`), `attribute velocity="0": want > 0`},
		{"continuous bad velocity", urdfWith(`<joint name="j" type="continuous"><parent link="a"/><child link="b"/>` +
			`<limit velocity="fast"/></joint>`), `attribute velocity="fast": want a finite number`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseURDF([]byte(tc.urdf))
			require.ErrorIs(t, err, ErrURDF)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestShippedURDFDocumentsSources(t *testing.T) {
	s := string(ShippedURDF())
	for _, want := range []string{"abb_experimental", "irb120t_3_58_macro.xacro", "docs/architecture.md section 4"} {
		require.True(t, strings.Contains(s, want), "shipped URDF cites %q", want)
	}
	m, err := ParseURDF(ShippedURDF())
	require.NoError(t, err)
	require.Equal(t, "world", m.Root)
}
