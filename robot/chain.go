package robot

import (
	"fmt"
	"math"
	"slices"
)

// Limits are per-joint bounds of a chain, indexed like the joint vector q.
// Position bounds Lower/Upper are in rad or m (±Inf for continuous joints),
// Vel in rad/s or m/s, Acc in rad/s² or m/s². A URDF carries no
// acceleration limits, so a Chain reports +Inf there; Load fills them from
// Config.
type Limits struct {
	Lower, Upper, Vel, Acc []float64
}

// Clone returns a deep copy of l.
func (l Limits) Clone() Limits {
	return Limits{
		Lower: slices.Clone(l.Lower),
		Upper: slices.Clone(l.Upper),
		Vel:   slices.Clone(l.Vel),
		Acc:   slices.Clone(l.Acc),
	}
}

// Within reports whether q lies inside the position bounds, widened by tol.
func (l Limits) Within(q []float64, tol float64) bool {
	for i, v := range q {
		if v < l.Lower[i]-tol || v > l.Upper[i]+tol {
			return false
		}
	}
	return true
}

// Clamp projects q onto the position bounds in place.
func (l Limits) Clamp(q []float64) {
	for i, v := range q {
		q[i] = math.Min(math.Max(v, l.Lower[i]), l.Upper[i])
	}
}

// axisKind selects the cheap column update for principal joint axes.
type axisKind uint8

const (
	axisX axisKind = iota
	axisY
	axisZ
	axisGeneral
)

// segment is one movable joint with the fixed transform that precedes it.
type segment struct {
	pre      Pose // previous joint's moved frame (or the base) → this joint's frame at q = 0
	preIdent bool // pre.R is the identity
	prePZero bool // pre.P is zero
	prism    bool
	kind     axisKind
	sign     float64    // ±1: principal axis direction
	axis     [3]float64 // unit axis in the joint frame
}

// chainLink is one link (frame) along the chain.
type chainLink struct {
	name  string
	seg   int  // how many movable joints precede the link
	off   Pose // moved frame of joint seg-1 (or the base when seg = 0) → link
	ident bool // off is the identity
}

// Chain is the serial kinematic chain from a base link to a tip link of a
// Model. Fixed joints are folded into precomputed transforms, so the cost of
// FK grows only with the number of movable joints.
//
// A Chain is immutable after construction: its methods may be called from
// any number of goroutines at once, and FK, FKLink and FKJacobian allocate
// nothing. They panic when a slice argument has the wrong length, as that is
// a programming error.
type Chain struct {
	base, tip string
	segs      []segment
	links     []chainLink
	names     []string
	limits    Limits
}

// Chain builds the serial chain from link base to link tip, which must be a
// descendant of base.
func (m *Model) Chain(base, tip string) (*Chain, error) {
	has := func(name string) bool {
		return slices.ContainsFunc(m.Links, func(l Link) bool { return l.Name == name })
	}
	if !has(base) {
		return nil, fmt.Errorf("robot: chain base link %q: no such link in robot %q", base, m.Name)
	}
	if !has(tip) {
		return nil, fmt.Errorf("robot: chain tip link %q: no such link in robot %q", tip, m.Name)
	}
	if base == tip {
		return nil, fmt.Errorf("robot: chain tip link %q equals the base, want a descendant of it", tip)
	}
	parent := make(map[string]int, len(m.Joints)) // child link → joint index
	for i, j := range m.Joints {
		parent[j.Child] = i
	}
	var path []int // joint indices, tip first
	for l := tip; l != base; {
		ji, ok := parent[l]
		if !ok {
			return nil, fmt.Errorf("robot: chain tip link %q is not reachable from base link %q (want a descendant of the base)", tip, base)
		}
		if len(path) > len(m.Joints) {
			return nil, fmt.Errorf("robot: joints above link %q form a loop", tip)
		}
		path = append(path, ji)
		l = m.Joints[ji].Parent
	}
	slices.Reverse(path)

	c := &Chain{base: base, tip: tip}
	c.links = append(c.links, chainLink{name: base, off: Identity(), ident: true})
	off := Identity()
	for _, ji := range path {
		j := &m.Joints[ji]
		compose(&off, &off, &j.Origin)
		if j.Type.Movable() {
			s := segment{pre: off, prism: j.Type == Prismatic, axis: j.Axis, kind: axisGeneral, sign: 1}
			s.preIdent = isIdentityR(&off.R)
			s.prePZero = off.P == [3]float64{}
			for k := 0; k < 3; k++ {
				if math.Abs(j.Axis[k]) == 1 {
					s.kind, s.sign = axisKind(k), j.Axis[k]
				}
			}
			c.segs = append(c.segs, s)
			c.names = append(c.names, j.Name)
			c.limits.Lower = append(c.limits.Lower, j.Lower)
			c.limits.Upper = append(c.limits.Upper, j.Upper)
			c.limits.Vel = append(c.limits.Vel, j.Velocity)
			c.limits.Acc = append(c.limits.Acc, math.Inf(1))
			off = Identity()
		}
		c.links = append(c.links, chainLink{
			name: j.Child, seg: len(c.segs), off: off,
			ident: isIdentityR(&off.R) && off.P == [3]float64{},
		})
	}
	return c, nil
}

// DOF returns the number of movable joints, the length of q.
func (c *Chain) DOF() int { return len(c.segs) }

// Base returns the name of the chain's base link; poses are expressed in it.
func (c *Chain) Base() string { return c.base }

// Tip returns the name of the chain's tip link.
func (c *Chain) Tip() string { return c.tip }

// JointNames returns the names of the movable joints in q order.
func (c *Chain) JointNames() []string { return slices.Clone(c.names) }

// Limits returns a copy of the URDF joint limits (Acc is +Inf).
func (c *Chain) Limits() Limits { return c.limits.Clone() }

// LinkNames returns the names of the links along the chain, base first and
// tip last; the index of a name is its link index for FKLink.
func (c *Chain) LinkNames() []string {
	out := make([]string, len(c.links))
	for i, l := range c.links {
		out[i] = l.name
	}
	return out
}

// LinkIndex returns the index for FKLink of the named link along the chain.
func (c *Chain) LinkIndex(name string) (int, bool) {
	for i, l := range c.links {
		if l.name == name {
			return i, true
		}
	}
	return 0, false
}

// FK writes the pose of the tip frame in the base frame at joint positions q.
func (c *Chain) FK(q []float64, dst *Pose) {
	c.checkQ(q)
	c.walk(q, len(c.links)-1, dst, nil)
}

// FKLink writes the pose in the base frame of the chain's link with index
// link (0 is the base, see LinkIndex) at joint positions q.
func (c *Chain) FKLink(q []float64, link int, dst *Pose) {
	c.checkQ(q)
	if link < 0 || link >= len(c.links) {
		panic(fmt.Sprintf("robot: FKLink: link index %d out of range [0, %d)", link, len(c.links)))
	}
	c.walk(q, link, dst, nil)
}

// FKJacobian writes the tip pose into dst and the 6×n geometric Jacobian
// into jac (row-major, len 6·DOF): rows 0–2 map q̇ to the linear velocity of
// the tip origin, rows 3–5 to the angular velocity, both in the base frame.
func (c *Chain) FKJacobian(q []float64, dst *Pose, jac []float64) {
	c.checkQ(q)
	n := len(c.segs)
	if len(jac) != 6*n {
		panic(fmt.Sprintf("robot: FKJacobian: len(jac) = %d, want 6·%d", len(jac), n))
	}
	c.walk(q, len(c.links)-1, dst, jac)
	// walk left each joint's origin in rows 0–2 and its base-frame axis in
	// rows 3–5; turn them into the Jacobian columns.
	px, py, pz := dst.P[0], dst.P[1], dst.P[2]
	for i := range c.segs {
		zx, zy, zz := jac[3*n+i], jac[4*n+i], jac[5*n+i]
		if c.segs[i].prism {
			jac[i], jac[n+i], jac[2*n+i] = zx, zy, zz
			jac[3*n+i], jac[4*n+i], jac[5*n+i] = 0, 0, 0
			continue
		}
		dx, dy, dz := px-jac[i], py-jac[n+i], pz-jac[2*n+i]
		jac[i] = zy*dz - zz*dy
		jac[n+i] = zz*dx - zx*dz
		jac[2*n+i] = zx*dy - zy*dx
	}
}

func (c *Chain) checkQ(q []float64) {
	if len(q) != len(c.segs) {
		panic(fmt.Sprintf("robot: len(q) = %d, want %d (joints %v)", len(q), len(c.segs), c.names))
	}
}

// walk composes the transforms from the base to link and writes the result
// to dst. With jac non-nil it also stores, per joint i, the joint origin in
// rows 0–2 and the base-frame axis in rows 3–5 of column i.
func (c *Chain) walk(q []float64, link int, dst *Pose, jac []float64) {
	cl := &c.links[link]
	n := len(c.segs)
	t := Identity()
	for i := 0; i < cl.seg; i++ {
		s := &c.segs[i]
		if s.preIdent {
			if !s.prePZero {
				for r := 0; r < 3; r++ {
					t.P[r] += t.R[r][0]*s.pre.P[0] + t.R[r][1]*s.pre.P[1] + t.R[r][2]*s.pre.P[2]
				}
			}
		} else {
			compose(&t, &t, &s.pre)
		}
		var z [3]float64
		if s.kind == axisGeneral {
			for r := 0; r < 3; r++ {
				z[r] = t.R[r][0]*s.axis[0] + t.R[r][1]*s.axis[1] + t.R[r][2]*s.axis[2]
			}
		} else {
			k := int(s.kind)
			z = [3]float64{s.sign * t.R[0][k], s.sign * t.R[1][k], s.sign * t.R[2][k]}
		}
		if jac != nil {
			jac[i], jac[n+i], jac[2*n+i] = t.P[0], t.P[1], t.P[2]
			jac[3*n+i], jac[4*n+i], jac[5*n+i] = z[0], z[1], z[2]
		}
		if s.prism {
			for r := 0; r < 3; r++ {
				t.P[r] += z[r] * q[i]
			}
			continue
		}
		rotate(&t.R, s, q[i])
	}
	if !cl.ident {
		compose(&t, &t, &cl.off)
	}
	*dst = t
}

// rotate sets R = R·Rot(axis, q) for a revolute joint.
func rotate(R *[3][3]float64, s *segment, q float64) {
	sn, cs := math.Sincos(q)
	sn *= s.sign
	switch s.kind {
	case axisX:
		for r := 0; r < 3; r++ {
			a, b := R[r][1], R[r][2]
			R[r][1], R[r][2] = cs*a+sn*b, cs*b-sn*a
		}
	case axisY:
		for r := 0; r < 3; r++ {
			a, b := R[r][0], R[r][2]
			R[r][0], R[r][2] = cs*a-sn*b, cs*b+sn*a
		}
	case axisZ:
		for r := 0; r < 3; r++ {
			a, b := R[r][0], R[r][1]
			R[r][0], R[r][1] = cs*a+sn*b, cs*b-sn*a
		}
	default:
		// Rodrigues: M = cI + s[a]× + (1−c)aaᵀ.
		x, y, z := s.axis[0], s.axis[1], s.axis[2]
		v := 1 - cs
		m := [3][3]float64{
			{cs + v*x*x, v*x*y - sn*z, v*x*z + sn*y},
			{v*x*y + sn*z, cs + v*y*y, v*y*z - sn*x},
			{v*x*z - sn*y, v*y*z + sn*x, cs + v*z*z},
		}
		for r := 0; r < 3; r++ {
			a0, a1, a2 := R[r][0], R[r][1], R[r][2]
			R[r][0] = a0*m[0][0] + a1*m[1][0] + a2*m[2][0]
			R[r][1] = a0*m[0][1] + a1*m[1][1] + a2*m[2][1]
			R[r][2] = a0*m[0][2] + a1*m[1][2] + a2*m[2][2]
		}
	}
}
