package robot

import "math"

// Transform returns the pose of joint j's child frame in its parent's
// frame at joint value q (rad or m; ignored for a fixed joint): the
// joint's origin, then the rotation about or translation along its axis.
func (j *Joint) Transform(q float64) Pose {
	var m Pose
	switch j.Type {
	case Revolute, Continuous:
		// Rodrigues' formula for the rotation by q about the unit axis.
		x, y, z := j.Axis[0], j.Axis[1], j.Axis[2]
		c, s := math.Cos(q), math.Sin(q)
		t := 1 - c
		m.R = [3][3]float64{
			{t*x*x + c, t*x*y - s*z, t*x*z + s*y},
			{t*x*y + s*z, t*y*y + c, t*y*z - s*x},
			{t*x*z - s*y, t*y*z + s*x, t*z*z + c},
		}
	case Prismatic:
		m = Identity()
		m.P = [3]float64{j.Axis[0] * q, j.Axis[1] * q, j.Axis[2] * q}
	default:
		return j.Origin
	}
	return j.Origin.Mul(m)
}

// JointValues maps the chain's joint values q onto every joint of the
// model (joints off the chain, and fixed joints, at 0), in m.Joints order.
func (m *Model) JointValues(c *Chain, q []float64, dst []float64) []float64 {
	dst = dst[:0]
	names := c.JointNames()
	for _, j := range m.Joints {
		v := 0.0
		for i, n := range names {
			if n == j.Name && i < len(q) {
				v = q[i]
				break
			}
		}
		dst = append(dst, v)
	}
	return dst
}
