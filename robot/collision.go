package robot

import (
	"fmt"
	"math"
)

// GeometryType is the shape of a URDF <collision> geometry.
type GeometryType int

// The URDF geometry shapes. Capsule is not in the URDF specification but is
// read where a file uses it (urdfdom ≥ 1.0 parses it).
const (
	Sphere   GeometryType = iota // Radius
	Cylinder                     // Radius, Length along the geometry frame's z
	Box                          // Size: full edge lengths along x, y, z
	Capsule                      // Radius, Length of the axis segment along z
	Mesh                         // Filename, Scale
)

var geometryNames = [...]string{"sphere", "cylinder", "box", "capsule", "mesh"}

// String returns the URDF element name of t.
func (t GeometryType) String() string {
	if t >= 0 && int(t) < len(geometryNames) {
		return geometryNames[t]
	}
	return fmt.Sprintf("GeometryType(%d)", int(t))
}

// Geometry is a collision shape in its own frame (the <collision> origin).
// Cylinders and capsules run along the frame's z axis, centred on it.
type Geometry struct {
	Type     GeometryType
	Radius   float64    // m: sphere, cylinder, capsule
	Length   float64    // m: cylinder, capsule
	Size     [3]float64 // m: box edge lengths
	Filename string     // mesh
	Scale    [3]float64 // mesh; (1, 1, 1) when the URDF gives none
}

// Collision is one <collision> element of a link: a Geometry placed by
// Origin in the link frame.
type Collision struct {
	Name     string
	Origin   Pose
	Geometry Geometry
}

// LinkCapsule is a capsule fixed to a chain link: the points within Radius
// of the segment A–B, given in the link frame (m).
type LinkCapsule struct {
	Link      string // the link that carries the <collision> element
	ChainLink int    // index for FKLink of the chain link it moves with
	Seg       int    // movable joints between the chain base and that link
	A, B      [3]float64
	Radius    float64
}

// BoundingCapsule returns the smallest capsule along one of the geometry
// frame's axes that contains the shape, as segment end points in the frame
// the origin is given in (the link frame) and a radius. A cylinder becomes
// the capsule around its axis (it grows by the radius at both ends), a
// sphere a capsule of zero length, a box the capsule along its longest edge.
// Meshes have no bounding capsule: ok is false.
func (g Geometry) BoundingCapsule(origin Pose) (a, b [3]float64, radius float64, ok bool) {
	var axis int // geometry-frame axis of the segment
	var half float64
	switch g.Type {
	case Sphere:
		radius = g.Radius
	case Cylinder, Capsule:
		axis, half, radius = 2, g.Length/2, g.Radius
	case Box:
		axis = 0
		for k := 1; k < 3; k++ {
			if g.Size[k] > g.Size[axis] {
				axis = k
			}
		}
		var r2 float64
		for k := 0; k < 3; k++ {
			if k != axis {
				r2 += g.Size[k] * g.Size[k] / 4
			}
		}
		// The radius is the half diagonal of the cross-section, so the
		// segment must span the whole edge for the corners to be inside.
		radius = math.Sqrt(r2)
		half = g.Size[axis] / 2
	default:
		return a, b, 0, false
	}
	for k := 0; k < 3; k++ {
		d := origin.R[k][axis] * half
		a[k], b[k] = origin.P[k]-d, origin.P[k]+d
	}
	return a, b, radius, true
}

// CollisionCapsules returns a bounding capsule (see
// Geometry.BoundingCapsule) for every <collision> element of the model's
// links that move with the chain: links on the chain and links fixed to one
// of them through fixed joints only. It fails for mesh geometry and for
// collision geometry on a link the chain does not carry, since a safety
// check must not silently leave a body out.
func (c *Chain) CollisionCapsules(m *Model) ([]LinkCapsule, error) {
	parent := make(map[string]int, len(m.Joints))
	for i, j := range m.Joints {
		parent[j.Child] = i
	}
	var out []LinkCapsule
	for _, l := range m.Links {
		if len(l.Collisions) == 0 {
			continue
		}
		// Walk up fixed joints until a chain link, composing the offset.
		off := Identity()
		at := l.Name
		idx, onChain := c.LinkIndex(at)
		for !onChain {
			ji, ok := parent[at]
			if !ok || m.Joints[ji].Type.Movable() {
				return nil, fmt.Errorf("robot: link %q has <collision> geometry but does not move with chain %s→%s (want it on the chain or fixed to a chain link)",
					l.Name, c.base, c.tip)
			}
			j := &m.Joints[ji]
			compose(&off, &j.Origin, &off)
			at = j.Parent
			idx, onChain = c.LinkIndex(at)
		}
		for ci, col := range l.Collisions {
			o := off.Mul(col.Origin)
			a, b, r, ok := col.Geometry.BoundingCapsule(o)
			if !ok {
				return nil, fmt.Errorf("robot: link %q <collision> #%d: %s geometry has no capsule, want sphere, cylinder, capsule or box", l.Name, ci+1, col.Geometry.Type)
			}
			out = append(out, LinkCapsule{Link: l.Name, ChainLink: idx, Seg: c.links[idx].seg, A: a, B: b, Radius: r})
		}
	}
	return out, nil
}

// NumLinks returns the number of links along the chain (the length FKLinks
// wants).
func (c *Chain) NumLinks() int { return len(c.links) }

// FKLinks writes the pose of every chain link (base first, see LinkNames)
// into dst, which must have NumLinks entries, in one pass over the joints.
// It allocates nothing.
func (c *Chain) FKLinks(q []float64, dst []Pose) {
	c.checkQ(q)
	if len(dst) != len(c.links) {
		panic(fmt.Sprintf("robot: FKLinks: len(dst) = %d, want %d", len(dst), len(c.links)))
	}
	t := Identity()
	done := 0 // joints composed into t
	for li := range c.links {
		cl := &c.links[li]
		for ; done < cl.seg; done++ {
			s := &c.segs[done]
			if s.preIdent {
				if !s.prePZero {
					for r := 0; r < 3; r++ {
						t.P[r] += t.R[r][0]*s.pre.P[0] + t.R[r][1]*s.pre.P[1] + t.R[r][2]*s.pre.P[2]
					}
				}
			} else {
				compose(&t, &t, &s.pre)
			}
			if s.prism {
				var z [3]float64
				if s.kind == axisGeneral {
					for r := 0; r < 3; r++ {
						z[r] = t.R[r][0]*s.axis[0] + t.R[r][1]*s.axis[1] + t.R[r][2]*s.axis[2]
					}
				} else {
					k := int(s.kind)
					z = [3]float64{s.sign * t.R[0][k], s.sign * t.R[1][k], s.sign * t.R[2][k]}
				}
				for r := 0; r < 3; r++ {
					t.P[r] += z[r] * q[done]
				}
				continue
			}
			rotate(&t.R, s, q[done])
		}
		if cl.ident {
			dst[li] = t
		} else {
			compose(&dst[li], &t, &cl.off)
		}
	}
}

// XML shapes of <collision>.
type (
	xmlCollision struct {
		Name     *string      `xml:"name,attr"`
		Origin   *xmlOrigin   `xml:"origin"`
		Geometry *xmlGeometry `xml:"geometry"`
	}
	xmlGeometry struct {
		Sphere   *xmlShape `xml:"sphere"`
		Cylinder *xmlShape `xml:"cylinder"`
		Box      *xmlShape `xml:"box"`
		Capsule  *xmlShape `xml:"capsule"`
		Mesh     *xmlShape `xml:"mesh"`
	}
	xmlShape struct {
		Radius   *string `xml:"radius,attr"`
		Length   *string `xml:"length,attr"`
		Size     *string `xml:"size,attr"`
		Filename *string `xml:"filename,attr"`
		Scale    *string `xml:"scale,attr"`
	}
)

func parseCollision(link string, i int, xc xmlCollision) (Collision, error) {
	where := fmt.Sprintf("<link name=%q>: <collision> #%d", link, i+1)
	var col Collision
	if xc.Name != nil {
		col.Name = *xc.Name
	}
	origin, err := parseOrigin(xc.Origin)
	if err != nil {
		return col, fmt.Errorf("%s: %v", where, err)
	}
	col.Origin = origin
	g := xc.Geometry
	if g == nil {
		return col, fmt.Errorf("%s: missing <geometry>", where)
	}
	var shapes []string
	for _, s := range []struct {
		name string
		x    *xmlShape
	}{{"sphere", g.Sphere}, {"cylinder", g.Cylinder}, {"box", g.Box}, {"capsule", g.Capsule}, {"mesh", g.Mesh}} {
		if s.x != nil {
			shapes = append(shapes, s.name)
		}
	}
	if len(shapes) != 1 {
		return col, fmt.Errorf("%s: <geometry> has shapes %q, want exactly one of sphere, cylinder, box, capsule, mesh", where, shapes)
	}
	positive := func(s *string, name, shape string) (float64, error) {
		v, err := parseAttr(s, name)
		if err != nil {
			return 0, fmt.Errorf("%s: <%s>: %v", where, shape, err)
		}
		if v <= 0 {
			return 0, fmt.Errorf("%s: <%s>: attribute %s=%q: want > 0", where, shape, name, *s)
		}
		return v, nil
	}
	gm := &col.Geometry
	switch {
	case g.Sphere != nil:
		gm.Type = Sphere
		gm.Radius, err = positive(g.Sphere.Radius, "radius", "sphere")
	case g.Cylinder != nil, g.Capsule != nil:
		x, name := g.Cylinder, "cylinder"
		gm.Type = Cylinder
		if x == nil {
			x, name = g.Capsule, "capsule"
			gm.Type = Capsule
		}
		if gm.Radius, err = positive(x.Radius, "radius", name); err == nil {
			gm.Length, err = positive(x.Length, "length", name)
		}
	case g.Box != nil:
		gm.Type = Box
		if g.Box.Size == nil {
			return col, fmt.Errorf("%s: <box>: missing attribute size", where)
		}
		if gm.Size, err = parseVec3(*g.Box.Size); err != nil {
			return col, fmt.Errorf("%s: <box size=%q>: %v", where, *g.Box.Size, err)
		}
		for k, v := range gm.Size {
			if v <= 0 {
				return col, fmt.Errorf("%s: <box size=%q>: edge %d is %g, want > 0", where, *g.Box.Size, k+1, v)
			}
		}
	case g.Mesh != nil:
		gm.Type = Mesh
		if g.Mesh.Filename == nil || *g.Mesh.Filename == "" {
			return col, fmt.Errorf("%s: <mesh>: missing attribute filename", where)
		}
		gm.Filename = *g.Mesh.Filename
		gm.Scale = [3]float64{1, 1, 1}
		if g.Mesh.Scale != nil {
			if gm.Scale, err = parseVec3(*g.Mesh.Scale); err != nil {
				return col, fmt.Errorf("%s: <mesh scale=%q>: %v", where, *g.Mesh.Scale, err)
			}
		}
	}
	return col, err
}

// parseOrigin reads an optional <origin>; a missing one is the identity.
func parseOrigin(o *xmlOrigin) (Pose, error) {
	var xyz, rpy [3]float64
	if o != nil {
		var err error
		if o.XYZ != nil {
			if xyz, err = parseVec3(*o.XYZ); err != nil {
				return Pose{}, fmt.Errorf("<origin xyz=%q>: %v", *o.XYZ, err)
			}
		}
		if o.RPY != nil {
			if rpy, err = parseVec3(*o.RPY); err != nil {
				return Pose{}, fmt.Errorf("<origin rpy=%q>: %v", *o.RPY, err)
			}
		}
	}
	return Pose{P: xyz, R: rpyToR(rpy[0], rpy[1], rpy[2])}, nil
}
