package robot

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// refJoint is one row of a joint table written out by hand in the test,
// independent of the URDF parser.
type refJoint struct {
	typ       JointType
	xyz, rpy  [3]float64
	axis      [3]float64 // unit
	lo, hi    float64
	childName string
}

// catcherTable is robot/urdf/catcher.urdf, world → head, typed from
// docs/architecture.md section 4 and the ROS-Industrial irb120t_3_58 macro.
var catcherTable = []refJoint{
	{Prismatic, [3]float64{0, 0, 0}, [3]float64{}, [3]float64{0, 1, 0}, -0.8, 0.8, "carriage"},
	{Fixed, [3]float64{0, 0, 0.8}, [3]float64{}, [3]float64{}, 0, 0, "base_link"},
	{Revolute, [3]float64{0, 0, 0}, [3]float64{}, [3]float64{0, 0, 1}, -2.87979, 2.87979, "link_1"},
	{Revolute, [3]float64{0, 0, 0.29}, [3]float64{}, [3]float64{0, 1, 0}, -1.91986, 1.91986, "link_2"},
	{Revolute, [3]float64{0, 0, 0.27}, [3]float64{}, [3]float64{0, 1, 0}, -1.91986, 1.22173, "link_3"},
	{Revolute, [3]float64{0, 0, 0.07}, [3]float64{}, [3]float64{1, 0, 0}, -2.79253, 2.79253, "link_4"},
	{Revolute, [3]float64{0.302, 0, 0}, [3]float64{}, [3]float64{0, 1, 0}, -2.094395, 2.094395, "link_5"},
	{Revolute, [3]float64{0.072, 0, 0}, [3]float64{}, [3]float64{1, 0, 0}, -6.98132, 6.98132, "link_6"},
	{Fixed, [3]float64{}, [3]float64{}, [3]float64{}, 0, 0, "flange"},
	{Fixed, [3]float64{0.25, 0, 0}, [3]float64{}, [3]float64{}, 0, 0, "head"},
}

// oddURDF exercises the general code paths: rotated origins, a fixed joint
// with rotation between movable ones, non-principal and negative axes, a
// continuous joint and a prismatic joint along a skew axis.
const oddURDF = `<robot name="odd">
  <link name="a"/><link name="b"/><link name="c"/><link name="d"/><link name="e"/><link name="f"/>
  <joint name="j1" type="revolute"><parent link="a"/><child link="b"/>
    <origin xyz="0.1 -0.2 0.3" rpy="0.3 -0.4 0.5"/><axis xyz="1 2 2"/>
    <limit lower="-3" upper="3" velocity="1"/></joint>
  <joint name="fx" type="fixed"><parent link="b"/><child link="c"/>
    <origin xyz="0 0.15 0" rpy="1.2 0.1 -0.7"/></joint>
  <joint name="j2" type="continuous"><parent link="c"/><child link="d"/>
    <origin xyz="0.2 0 0"/><axis xyz="0 0 -1"/></joint>
  <joint name="j3" type="prismatic"><parent link="d"/><child link="e"/>
    <origin rpy="0 0.6 0"/><axis xyz="0 3 4"/>
    <limit lower="-0.5" upper="0.5" velocity="1"/></joint>
  <joint name="j4" type="revolute"><parent link="e"/><child link="f"/>
    <origin xyz="0.05 0.05 0.4" rpy="-0.2 0 0"/><axis xyz="0 -1 0"/>
    <limit lower="-2" upper="2" velocity="1"/></joint>
</robot>`

func norm3(v [3]float64) [3]float64 {
	l := math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2])
	return [3]float64{v[0] / l, v[1] / l, v[2] / l}
}

var oddTable = []refJoint{
	{Revolute, [3]float64{0.1, -0.2, 0.3}, [3]float64{0.3, -0.4, 0.5}, norm3([3]float64{1, 2, 2}), -3, 3, "b"},
	{Fixed, [3]float64{0, 0.15, 0}, [3]float64{1.2, 0.1, -0.7}, [3]float64{}, 0, 0, "c"},
	{Continuous, [3]float64{0.2, 0, 0}, [3]float64{}, [3]float64{0, 0, -1}, -4, 4, "d"},
	{Prismatic, [3]float64{}, [3]float64{0, 0.6, 0}, [3]float64{0, 0.6, 0.8}, -0.5, 0.5, "e"},
	{Revolute, [3]float64{0.05, 0.05, 0.4}, [3]float64{-0.2, 0, 0}, [3]float64{0, -1, 0}, -2, 2, "f"},
}

// homog builds a 4×4 homogeneous transform from a rotation and translation.
func homog(r *mat.Dense, p [3]float64) *mat.Dense {
	t := mat.NewDense(4, 4, nil)
	t.Slice(0, 3, 0, 3).(*mat.Dense).Copy(r)
	t.Set(0, 3, p[0])
	t.Set(1, 3, p[1])
	t.Set(2, 3, p[2])
	t.Set(3, 3, 1)
	return t
}

func rotX(a float64) *mat.Dense {
	s, c := math.Sincos(a)
	return mat.NewDense(3, 3, []float64{1, 0, 0, 0, c, -s, 0, s, c})
}

func rotY(a float64) *mat.Dense {
	s, c := math.Sincos(a)
	return mat.NewDense(3, 3, []float64{c, 0, s, 0, 1, 0, -s, 0, c})
}

func rotZ(a float64) *mat.Dense {
	s, c := math.Sincos(a)
	return mat.NewDense(3, 3, []float64{c, -s, 0, s, c, 0, 0, 0, 1})
}

// rotAxis is the matrix exponential of the skew matrix of angle·axis,
// computed by gonum rather than by Rodrigues' formula.
func rotAxis(axis [3]float64, angle float64) *mat.Dense {
	x, y, z := axis[0]*angle, axis[1]*angle, axis[2]*angle
	k := mat.NewDense(3, 3, []float64{0, -z, y, z, 0, -x, -y, x, 0})
	var r mat.Dense
	r.Exp(k)
	return &r
}

// refFK composes the table's homogeneous transforms up to and including
// joint row upto and returns the 4×4 result.
func refFK(table []refJoint, q []float64, upto int) *mat.Dense {
	t := homog(mat.NewDense(3, 3, []float64{1, 0, 0, 0, 1, 0, 0, 0, 1}), [3]float64{})
	qi := 0
	for k := 0; k <= upto; k++ {
		j := table[k]
		var rpy mat.Dense
		rpy.Product(rotZ(j.rpy[2]), rotY(j.rpy[1]), rotX(j.rpy[0]))
		t.Mul(t, homog(&rpy, j.xyz))
		switch j.typ {
		case Revolute, Continuous:
			t.Mul(t, homog(rotAxis(j.axis, q[qi]), [3]float64{}))
			qi++
		case Prismatic:
			d := [3]float64{j.axis[0] * q[qi], j.axis[1] * q[qi], j.axis[2] * q[qi]}
			t.Mul(t, homog(mat.NewDense(3, 3, []float64{1, 0, 0, 0, 1, 0, 0, 0, 1}), d))
			qi++
		}
	}
	return t
}

func randomQ(rng *rand.Rand, table []refJoint) []float64 {
	var q []float64
	for _, j := range table {
		if j.typ != Fixed {
			q = append(q, j.lo+(j.hi-j.lo)*rng.Float64())
		}
	}
	return q
}

func requirePoseEqual(t *testing.T, want *mat.Dense, got *Pose, tol float64, msg string) {
	t.Helper()
	for i := 0; i < 3; i++ {
		require.InDelta(t, want.At(i, 3), got.P[i], tol, "%s: P[%d]", msg, i)
		for j := 0; j < 3; j++ {
			require.InDelta(t, want.At(i, j), got.R[i][j], tol, "%s: R[%d][%d]", msg, i, j)
		}
	}
}

// chainCase is a chain of a test model with its joint table written out in the test.
type chainCase struct {
	name      string
	model     *Model
	base, tip string
	table     []refJoint
}

// testChains returns the shipped robot's chain and the odd test URDF's.
func testChains(t *testing.T) []chainCase {
	odd, err := ParseURDF([]byte(oddURDF))
	require.NoError(t, err)
	shipped, err := ParseURDF(catcherURDF)
	require.NoError(t, err)
	return []chainCase{
		{"catcher world→head", shipped, "world", "head", catcherTable},
		{"odd a→f", odd, "a", "f", oddTable},
	}
}

func TestFKMatchesHomogeneousProduct(t *testing.T) {
	cases := testChains(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.model.Chain(tc.base, tc.tip)
			require.NoError(t, err)
			var pose Pose
			for trial := 0; trial < 200; trial++ {
				q := randomQ(rng, tc.table)
				c.FK(q, &pose)
				// 1e-9: both sides are a handful of double-precision products
				// of O(1) numbers; the error is ~1e-15.
				requirePoseEqual(t, refFK(tc.table, q, len(tc.table)-1), &pose, 1e-9, "tip")
				for k, j := range tc.table {
					li, ok := c.LinkIndex(j.childName)
					require.True(t, ok, j.childName)
					c.FKLink(q, li, &pose)
					requirePoseEqual(t, refFK(tc.table, q, k), &pose, 1e-9, j.childName)
				}
			}
		})
	}
}

// irb120URDF is the ROS-Industrial irb120t_3_58 kinematics, base_link to
// flange, typed in for the test (abb_experimental, irb120t_3_58_macro.xacro).
const irb120URDF = `<robot name="abb_irb120t_3_58">
  <link name="base_link"/><link name="link_1"/><link name="link_2"/><link name="link_3"/>
  <link name="link_4"/><link name="link_5"/><link name="link_6"/><link name="flange"/><link name="tool0"/>
  <joint name="joint_1" type="revolute"><origin rpy="0 0 0" xyz="0 0 0"/><parent link="base_link"/><child link="link_1"/>
    <limit effort="0" lower="-2.87979" upper="2.87979" velocity="4.36332"/><axis xyz="0 0 1"/></joint>
  <joint name="joint_2" type="revolute"><origin rpy="0 0 0" xyz="0 0 0.29"/><parent link="link_1"/><child link="link_2"/>
    <limit effort="0" lower="-1.91986" upper="1.91986" velocity="4.36332"/><axis xyz="0 1 0"/></joint>
  <joint name="joint_3" type="revolute"><origin rpy="0 0 0" xyz="0 0 0.27"/><parent link="link_2"/><child link="link_3"/>
    <limit effort="0" lower="-1.91986" upper="1.22173" velocity="4.36332"/><axis xyz="0 1 0"/></joint>
  <joint name="joint_4" type="revolute"><origin rpy="0 0 0" xyz="0 0 0.07"/><parent link="link_3"/><child link="link_4"/>
    <limit effort="0" lower="-2.79253" upper="2.79253" velocity="7.33038"/><axis xyz="1 0 0"/></joint>
  <joint name="joint_5" type="revolute"><origin rpy="0 0 0" xyz="0.302 0 0"/><parent link="link_4"/><child link="link_5"/>
    <limit effort="0" lower="-2.094395" upper="2.094395" velocity="10.29744"/><axis xyz="0 1 0"/></joint>
  <joint name="joint_6" type="revolute"><origin rpy="0 0 0" xyz="0.072 0 0"/><parent link="link_5"/><child link="link_6"/>
    <limit effort="0" lower="-6.98132" upper="6.98132" velocity="10.471975"/><axis xyz="1 0 0"/></joint>
  <joint type="fixed" name="joint_6-flange"><origin xyz="0 0 0" rpy="0 0 0"/><parent link="link_6"/><child link="flange"/></joint>
  <joint name="link_6-tool0" type="fixed"><origin xyz="0 0 0" rpy="0 1.5707963267948966 0"/><parent link="flange"/><child link="tool0"/></joint>
</robot>`

func TestFKZeroConfiguration(t *testing.T) {
	irb, err := ParseURDF([]byte(irb120URDF))
	require.NoError(t, err)
	shipped, err := ParseURDF(catcherURDF)
	require.NoError(t, err)
	ident := [3][3]float64{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}
	cases := []struct {
		name      string
		model     *Model
		base, tip string
		wantP     [3]float64
		wantR     [3][3]float64
	}{
		// ROS-Industrial: zero configuration flange at (0.374, 0, 0.630).
		{"irb120 flange", irb, "base_link", "flange", [3]float64{0.374, 0, 0.630}, ident},
		// tool0 is the flange pitched by +90°: its z axis points along base x.
		{"irb120 tool0", irb, "base_link", "tool0", [3]float64{0.374, 0, 0.630}, [3][3]float64{{0, 0, 1}, {0, 1, 0}, {-1, 0, 0}}},
		// Shipped robot: arm base 0.8 m up, head 0.25 m beyond the flange.
		{"catcher flange", shipped, "world", "flange", [3]float64{0.374, 0, 1.430}, ident},
		{"catcher head", shipped, "world", "head", [3]float64{0.624, 0, 1.430}, ident},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.model.Chain(tc.base, tc.tip)
			require.NoError(t, err)
			var p Pose
			c.FK(make([]float64, c.DOF()), &p)
			for i := 0; i < 3; i++ {
				require.InDelta(t, tc.wantP[i], p.P[i], 1e-12, "P[%d]", i) // sums of exact decimal offsets
				for j := 0; j < 3; j++ {
					require.InDelta(t, tc.wantR[i][j], p.R[i][j], 1e-12, "R[%d][%d]", i, j)
				}
			}
		})
	}
}

// rotLogDiff returns ω with R(q+h) ≈ exp([ω]×)·R(q−h), via the skew part of
// Ra·Rbᵀ; accurate for the small rotations of a finite difference.
func rotDiff(ra, rb *[3][3]float64) [3]float64 {
	var m [3][3]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 3; k++ {
				m[i][j] += ra[i][k] * rb[j][k]
			}
		}
	}
	// For a rotation by angle θ about u: skew part = sin θ [u]×.
	v := [3]float64{(m[2][1] - m[1][2]) / 2, (m[0][2] - m[2][0]) / 2, (m[1][0] - m[0][1]) / 2}
	s := math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2])
	if s == 0 {
		return v
	}
	th := math.Asin(math.Min(s, 1)) / s
	return [3]float64{v[0] * th, v[1] * th, v[2] * th}
}

func TestJacobianMatchesFiniteDifferences(t *testing.T) {
	cases := testChains(t)
	rng := rand.New(rand.NewPCG(3, 4))
	const h = 1e-6
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.model.Chain(tc.base, tc.tip)
			require.NoError(t, err)
			n := c.DOF()
			jac := make([]float64, 6*n)
			var pose, pp, pm, fk Pose
			for trial := 0; trial < 100; trial++ {
				q := randomQ(rng, tc.table)
				c.FKJacobian(q, &pose, jac)
				c.FK(q, &fk)
				require.Equal(t, fk, pose, "FKJacobian pose equals FK")
				for i := 0; i < n; i++ {
					qp := append([]float64(nil), q...)
					qm := append([]float64(nil), q...)
					qp[i] += h
					qm[i] -= h
					c.FK(qp, &pp)
					c.FK(qm, &pm)
					w := rotDiff(&pp.R, &pm.R)
					for k := 0; k < 3; k++ {
						// 1e-6: central differences with h = 1e-6 have
						// truncation ~h² and rounding ~1e-16/h = 1e-10.
						require.InDelta(t, (pp.P[k]-pm.P[k])/(2*h), jac[k*n+i], 1e-6, "linear row %d col %d", k, i)
						require.InDelta(t, w[k]/(2*h), jac[(3+k)*n+i], 1e-6, "angular row %d col %d", k, i)
					}
				}
			}
		})
	}
}

func TestChainAccessors(t *testing.T) {
	m, err := ParseURDF(catcherURDF)
	require.NoError(t, err)
	c, err := m.Chain("world", "head")
	require.NoError(t, err)
	require.Equal(t, 7, c.DOF())
	require.Equal(t, []string{"rail", "joint_1", "joint_2", "joint_3", "joint_4", "joint_5", "joint_6"}, c.JointNames())
	require.Equal(t, []string{"world", "carriage", "base_link", "link_1", "link_2", "link_3", "link_4",
		"link_5", "link_6", "flange", "head"}, c.LinkNames())
	require.Equal(t, "world", c.Base())
	require.Equal(t, "head", c.Tip())
	lim := c.Limits()
	require.Equal(t, []float64{-0.8, -2.87979, -1.91986, -1.91986, -2.79253, -2.094395, -6.98132}, lim.Lower)
	require.Equal(t, []float64{0.8, 2.87979, 1.91986, 1.22173, 2.79253, 2.094395, 6.98132}, lim.Upper)
	require.Equal(t, []float64{2.0, 4.36332, 4.36332, 4.36332, 7.33038, 10.29744, 10.471975}, lim.Vel)
	for _, a := range lim.Acc {
		require.True(t, math.IsInf(a, 1), "URDF has no acceleration limits")
	}
	lim.Lower[0] = 99
	require.Equal(t, -0.8, c.Limits().Lower[0], "Limits returns a copy")
	_, ok := c.LinkIndex("nope")
	require.False(t, ok)
	i, ok := c.LinkIndex("world")
	require.True(t, ok)
	require.Equal(t, 0, i)

	odd, err := ParseURDF([]byte(oddURDF))
	require.NoError(t, err)
	oc, err := odd.Chain("c", "f") // a sub-chain starting mid-tree
	require.NoError(t, err)
	require.Equal(t, []string{"j2", "j3", "j4"}, oc.JointNames())
	ol := oc.Limits()
	require.True(t, math.IsInf(ol.Lower[0], -1) && math.IsInf(ol.Upper[0], 1), "continuous joint has no position limits")
	require.True(t, math.IsInf(ol.Vel[0], 1), "continuous joint without <limit> has no velocity limit")

	require.Panics(t, func() { c.FK(make([]float64, 6), &Pose{}) }, "wrong len(q)")
	require.Panics(t, func() { c.FKJacobian(make([]float64, 7), &Pose{}, make([]float64, 6*6)) }, "wrong len(jac)")
	require.Panics(t, func() { c.FKLink(make([]float64, 7), 11, &Pose{}) }, "link out of range")
}

func TestChainErrors(t *testing.T) {
	m, err := ParseURDF(catcherURDF)
	require.NoError(t, err)
	cases := []struct {
		name, base, tip, want string
	}{
		{"unknown base", "floor", "head", `base link "floor": no such link`},
		{"unknown tip", "world", "hand", `tip link "hand": no such link`},
		{"tip above base", "link_3", "link_1", `tip link "link_1" is not reachable from base link "link_3"`},
		{"tip equals base", "head", "head", "want a descendant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Chain(tc.base, tc.tip)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestQuaternion(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cases := []struct {
		name  string
		axis  [3]float64
		angle float64
	}{
		{"identity", [3]float64{1, 0, 0}, 0},
		{"half turn x", [3]float64{1, 0, 0}, math.Pi},
		{"half turn y", [3]float64{0, 1, 0}, math.Pi},
		{"half turn z", [3]float64{0, 0, 1}, math.Pi},
		{"near half turn skew", norm3([3]float64{1, -2, 0.5}), math.Pi - 1e-3},
	}
	for i := 0; i < 20; i++ {
		cases = append(cases, struct {
			name  string
			axis  [3]float64
			angle float64
		}{"random", norm3([3]float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}), math.Pi * rng.Float64()})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rotAxis(tc.axis, tc.angle)
			var p Pose
			for i := 0; i < 3; i++ {
				for j := 0; j < 3; j++ {
					p.R[i][j] = r.At(i, j)
				}
			}
			q := p.Quaternion()
			s, c := math.Sincos(tc.angle / 2)
			want := [4]float64{tc.axis[0] * s, tc.axis[1] * s, tc.axis[2] * s, c}
			for k := range q {
				// 1e-9: the matrix exponential and the quaternion extraction
				// each lose a few ulps; near a half turn w ≈ 0 and the sign
				// convention w ≥ 0 still picks want.
				require.InDelta(t, want[k], q[k], 1e-9, "component %d", k)
			}
		})
	}
}

func TestHotPathsDoNotAllocate(t *testing.T) {
	r, err := Default()
	require.NoError(t, err)
	c := r.Chain
	q := []float64{0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.7}
	jac := make([]float64, 6*c.DOF())
	var p Pose
	ik := NewIKSolver(c)
	dst := make([]float64, c.DOF())
	c.FK(q, &p)
	target := IKTarget{Pos: p.P, Normal: p.Axis(1), NormalAxis: 1}
	seed := []float64{0, 0, 0.3, 0.3, 0, 0.5, 0}
	cases := []struct {
		name string
		f    func()
	}{
		{"FK", func() { c.FK(q, &p) }},
		{"FKLink", func() { c.FKLink(q, 5, &p) }},
		{"FKJacobian", func() { c.FKJacobian(q, &p, jac) }},
		{"IK Solve", func() { ik.Solve(seed, target, IKOptions{}, dst) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Zero(t, testing.AllocsPerRun(100, tc.f))
		})
	}
}

func BenchmarkFK7(b *testing.B) {
	r, err := Default()
	require.NoError(b, err)
	q := []float64{0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.7}
	var p Pose
	b.ReportAllocs()
	for b.Loop() {
		r.Chain.FK(q, &p)
	}
}

func BenchmarkFKJacobian7(b *testing.B) {
	r, err := Default()
	require.NoError(b, err)
	q := []float64{0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.7}
	jac := make([]float64, 6*7)
	var p Pose
	b.ReportAllocs()
	for b.Loop() {
		r.Chain.FKJacobian(q, &p, jac)
	}
}
