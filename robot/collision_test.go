package robot

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// geomURDF has one link of every shape, each with <inertial> and <visual>
// siblings the parser must tolerate, and a sensor link fixed to the last arm
// link (its geometry moves with that chain link).
const geomURDF = `<robot name="geom">
  <link name="a">
    <inertial><mass value="1"/><inertia ixx="1" ixy="0" ixz="0" iyy="1" iyz="0" izz="1"/></inertial>
    <visual><geometry><mesh filename="package://x/a.stl"/></geometry></visual>
    <collision name="ball"><origin xyz="0 0 0.5"/><geometry><sphere radius="0.1"/></geometry></collision>
  </link>
  <link name="b">
    <collision><origin xyz="0.2 0 0" rpy="0 1.5707963267948966 0"/>
      <geometry><cylinder radius="0.05" length="0.4"/></geometry></collision>
    <collision><geometry><box size="0.1 0.6 0.2"/></geometry></collision>
  </link>
  <link name="c">
    <collision><origin xyz="0 0 0.1"/><geometry><capsule radius="0.03" length="0.2"/></geometry></collision>
  </link>
  <link name="sensor">
    <collision><geometry><sphere radius="0.02"/></geometry></collision>
  </link>
  <joint name="j1" type="revolute"><parent link="a"/><child link="b"/><axis xyz="0 0 1"/>
    <limit lower="-3" upper="3" velocity="1"/></joint>
  <joint name="j2" type="prismatic"><parent link="b"/><child link="c"/><origin xyz="0.4 0 0"/>
    <axis xyz="1 0 0"/><limit lower="0" upper="0.5" velocity="1"/></joint>
  <joint name="mount" type="fixed"><parent link="c"/><child link="sensor"/><origin xyz="0 0 0.3"/></joint>
</robot>`

func TestParseCollision(t *testing.T) {
	m, err := ParseURDF([]byte(geomURDF))
	require.NoError(t, err)
	a, b, c := m.Links[0], m.Links[1], m.Links[2]
	require.Len(t, a.Collisions, 1)
	require.Equal(t, "ball", a.Collisions[0].Name)
	require.Equal(t, Geometry{Type: Sphere, Radius: 0.1}, a.Collisions[0].Geometry)
	require.Equal(t, [3]float64{0, 0, 0.5}, a.Collisions[0].Origin.P)

	require.Len(t, b.Collisions, 2)
	require.Equal(t, Geometry{Type: Cylinder, Radius: 0.05, Length: 0.4}, b.Collisions[0].Geometry)
	require.Equal(t, Geometry{Type: Box, Size: [3]float64{0.1, 0.6, 0.2}}, b.Collisions[1].Geometry)
	require.Equal(t, Identity(), b.Collisions[1].Origin, "missing origin is the identity")
	require.Equal(t, Geometry{Type: Capsule, Radius: 0.03, Length: 0.2}, c.Collisions[0].Geometry)

	mesh, err := ParseURDF([]byte(`<robot><link name="a"><collision><geometry><mesh filename="m.stl" scale="2 2 2"/></geometry></collision></link></robot>`))
	require.NoError(t, err)
	require.Equal(t, Geometry{Type: Mesh, Filename: "m.stl", Scale: [3]float64{2, 2, 2}}, mesh.Links[0].Collisions[0].Geometry)
	require.Equal(t, "mesh", Mesh.String())
	require.Equal(t, "GeometryType(7)", GeometryType(7).String())
}

func TestParseCollisionErrors(t *testing.T) {
	link := func(inner string) string {
		return `<robot><link name="l"><collision>` + inner + `</collision></link></robot>`
	}
	cases := []struct{ name, urdf, want string }{
		{"no geometry", link(`<origin xyz="0 0 0"/>`), `<link name="l">: <collision> #1: missing <geometry>`},
		{"empty geometry", link(`<geometry/>`), `<geometry> has shapes [], want exactly one of`},
		{"two shapes", link(`<geometry><sphere radius="1"/><box size="1 1 1"/></geometry>`), `shapes ["sphere" "box"]`},
		{"sphere without radius", link(`<geometry><sphere/></geometry>`), "<sphere>: missing attribute radius"},
		{"sphere zero radius", link(`<geometry><sphere radius="0"/></geometry>`), `<sphere>: attribute radius="0": want > 0`},
		{"cylinder NaN length", link(`<geometry><cylinder radius="1" length="NaN"/></geometry>`), `<cylinder>: attribute length="NaN": want a finite number`},
		{"capsule negative length", link(`<geometry><capsule radius="1" length="-1"/></geometry>`), `<capsule>: attribute length="-1": want > 0`},
		{"box without size", link(`<geometry><box/></geometry>`), "<box>: missing attribute size"},
		{"box two edges", link(`<geometry><box size="1 1"/></geometry>`), `<box size="1 1">: want 3 finite numbers`},
		{"box zero edge", link(`<geometry><box size="1 0 1"/></geometry>`), "edge 2 is 0, want > 0"},
		{"mesh without file", link(`<geometry><mesh/></geometry>`), "<mesh>: missing attribute filename"},
		{"bad origin", link(`<origin xyz="0 0"/><geometry><sphere radius="1"/></geometry>`), `<collision> #1: <origin xyz="0 0">`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseURDF([]byte(tc.urdf))
			require.ErrorIs(t, err, ErrURDF)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// insideCapsule reports whether x lies within r of segment a–b.
func insideCapsule(x, a, b [3]float64, r float64) bool {
	var d, w [3]float64
	for k := 0; k < 3; k++ {
		d[k], w[k] = b[k]-a[k], x[k]-a[k]
	}
	dd := d[0]*d[0] + d[1]*d[1] + d[2]*d[2]
	s := 0.0
	if dd > 0 {
		s = math.Max(0, math.Min(1, (w[0]*d[0]+w[1]*d[1]+w[2]*d[2])/dd))
	}
	var e float64
	for k := 0; k < 3; k++ {
		v := w[k] - s*d[k]
		e += v * v
	}
	return e <= r*r*(1+1e-12)
}

func TestBoundingCapsuleContainsShape(t *testing.T) {
	origin := Pose{P: [3]float64{0.1, -0.2, 0.3}, R: rpyToR(0.3, -0.4, 0.5)}
	rng := rand.New(rand.NewPCG(3, 4))
	shapes := []Geometry{
		{Type: Sphere, Radius: 0.1},
		{Type: Cylinder, Radius: 0.05, Length: 0.4},
		{Type: Capsule, Radius: 0.05, Length: 0.4},
		{Type: Box, Size: [3]float64{0.1, 0.6, 0.2}},
		{Type: Box, Size: [3]float64{0.3, 0.3, 0.3}},
	}
	for _, g := range shapes {
		a, b, r, ok := g.BoundingCapsule(origin)
		require.True(t, ok, g.Type)
		// Points on the shape's surface (in its own frame) must lie in the
		// capsule; corners and rims are where a bad fit shows.
		for n := 0; n < 2000; n++ {
			var p [3]float64
			switch g.Type {
			case Sphere:
				v := [3]float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
				v = norm3(v)
				p = [3]float64{g.Radius * v[0], g.Radius * v[1], g.Radius * v[2]}
			case Cylinder, Capsule:
				sn, cs := math.Sincos(2 * math.Pi * rng.Float64())
				p = [3]float64{g.Radius * cs, g.Radius * sn, g.Length * (rng.Float64() - 0.5)}
			case Box:
				for k := 0; k < 3; k++ {
					p[k] = g.Size[k] / 2 * float64(2*rng.IntN(2)-1) // corners
				}
			}
			x := apply3(&origin, p)
			require.True(t, insideCapsule(x, a, b, r), "%s: surface point %v outside capsule %v–%v r %v", g.Type, p, a, b, r)
		}
	}
	// The cylinder's capsule is tight: radius equal, segment as long as the
	// cylinder.
	a, b, r, _ := Geometry{Type: Cylinder, Radius: 0.05, Length: 0.4}.BoundingCapsule(Identity())
	require.Equal(t, 0.05, r)
	require.Equal(t, [3]float64{0, 0, -0.2}, a)
	require.Equal(t, [3]float64{0, 0, 0.2}, b)
	_, _, _, ok := Geometry{Type: Mesh, Filename: "m.stl"}.BoundingCapsule(Identity())
	require.False(t, ok, "a mesh has no capsule")
}

func apply3(p *Pose, x [3]float64) [3]float64 {
	var out [3]float64
	for r := 0; r < 3; r++ {
		out[r] = p.P[r] + p.R[r][0]*x[0] + p.R[r][1]*x[1] + p.R[r][2]*x[2]
	}
	return out
}

func TestCollisionCapsules(t *testing.T) {
	m, err := ParseURDF([]byte(geomURDF))
	require.NoError(t, err)
	c, err := m.Chain("a", "c")
	require.NoError(t, err)
	caps, err := c.CollisionCapsules(m)
	require.NoError(t, err)
	require.Len(t, caps, 5)
	byLink := map[string][]LinkCapsule{}
	for _, lc := range caps {
		byLink[lc.Link] = append(byLink[lc.Link], lc)
	}
	require.Equal(t, 0, byLink["a"][0].Seg)
	require.Equal(t, 1, byLink["b"][0].Seg)
	require.Equal(t, 2, byLink["c"][0].Seg)
	// The sensor's sphere moves with link c, 0.3 m up its z axis.
	s := byLink["sensor"][0]
	ci, _ := c.LinkIndex("c")
	require.Equal(t, ci, s.ChainLink)
	require.Equal(t, 2, s.Seg)
	require.InDeltaSlice(t, []float64{0, 0, 0.3}, s.A[:], 1e-15) // exact sums
	// The cylinder along b's x axis (rotated by the origin's pitch).
	cyl := byLink["b"][0]
	require.InDeltaSlice(t, []float64{0, 0, 0}, cyl.A[:], 1e-12, "cylinder end at -0.2 along x from 0.2") // sin/cos of π/2
	require.InDeltaSlice(t, []float64{0.4, 0, 0}, cyl.B[:], 1e-12)

	// A chain that stops before c does not carry c's and the sensor's
	// geometry: that must fail, not drop bodies silently.
	short, err := m.Chain("a", "b")
	require.NoError(t, err)
	_, err = short.CollisionCapsules(m)
	require.ErrorContains(t, err, `link "c" has <collision> geometry but does not move with chain a→b`)

	mesh, err := ParseURDF([]byte(strings.Replace(geomURDF, `<sphere radius="0.02"/>`, `<mesh filename="s.stl"/>`, 1)))
	require.NoError(t, err)
	mc, err := mesh.Chain("a", "c")
	require.NoError(t, err)
	_, err = mc.CollisionCapsules(mesh)
	require.ErrorContains(t, err, `link "sensor" <collision> #1: mesh geometry has no capsule`)
}

func TestFKLinksMatchesFKLink(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range testChains(t) {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.model.Chain(tc.base, tc.tip)
			require.NoError(t, err)
			all := make([]Pose, c.NumLinks())
			var one Pose
			for trial := 0; trial < 100; trial++ {
				q := randomQ(rng, tc.table)
				c.FKLinks(q, all)
				for li := range all {
					c.FKLink(q, li, &one)
					// 1e-12: the same O(1) products, grouped differently.
					for r := 0; r < 3; r++ {
						require.InDelta(t, one.P[r], all[li].P[r], 1e-12, "link %d P[%d]", li, r)
						require.InDeltaSlice(t, one.R[r][:], all[li].R[r][:], 1e-12, "link %d R row %d", li, r)
					}
				}
			}
			q := randomQ(rng, tc.table)
			require.Zero(t, testing.AllocsPerRun(10, func() { c.FKLinks(q, all) }), "FKLinks allocates")
		})
	}
}

func TestShippedCollisionGeometry(t *testing.T) {
	rob, err := Default()
	require.NoError(t, err)
	caps, err := rob.Chain.CollisionCapsules(rob.Model)
	require.NoError(t, err)
	links := map[string]bool{}
	for _, lc := range caps {
		links[lc.Link] = true
		require.Greater(t, lc.Radius, 0.0)
	}
	// The rail beam, the base, every arm link that has a body and the head.
	for _, want := range []string{"world", "base_link", "link_1", "link_2", "link_3", "link_4", "link_5", "head"} {
		require.True(t, links[want], "shipped URDF has collision geometry on %s", want)
	}
}
