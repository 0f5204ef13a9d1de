package camera

import (
	"fmt"
	"math"
)

// Vec is a 3-vector, m.
type Vec = [3]float64

// Camera is a calibrated camera placed in the world. Its optical frame has z
// forward along the optical axis, x right and y down in the image (the ROS
// optical-frame convention).
type Camera struct {
	Name string
	Intrinsics
	// Position is the optical centre in the world frame, m.
	Position Vec
	// Orientation is the optical frame's rotation in the world, quaternion
	// (qx, qy, qz, qw).
	Orientation [4]float64
	// rwc is the world-from-camera rotation (columns are the optical axes
	// in world coordinates).
	rwc [3][3]float64
}

// New returns a camera with the given calibration and pose. The quaternion
// is normalised; a zero or non-finite one is an error.
func New(name string, in Intrinsics, pos Vec, quat [4]float64) (*Camera, error) {
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("camera %s: %w", name, err)
	}
	n := math.Sqrt(quat[0]*quat[0] + quat[1]*quat[1] + quat[2]*quat[2] + quat[3]*quat[3])
	if !(n > 1e-9) || !finite(n) {
		return nil, fmt.Errorf("camera %s: pose orientation %v, want a non-zero quaternion [qx, qy, qz, qw]", name, quat)
	}
	for i, p := range pos {
		if !finite(p) {
			return nil, fmt.Errorf("camera %s: pose position[%d] = %v, want finite", name, i, p)
		}
	}
	for i := range quat {
		quat[i] /= n
	}
	c := &Camera{Name: name, Intrinsics: in, Position: pos, Orientation: quat}
	c.rwc = quatToMat(quat)
	return c, nil
}

// LookAt returns the orientation quaternion of an optical frame at pos whose
// z axis points at target, with image "up" (−y) as close to world +z as
// possible.
func LookAt(pos, target Vec) [4]float64 {
	z := unit(sub(target, pos))
	x := unit(cross(z, Vec{0, 0, 1})) // right
	if !(norm(x) > 0.5) {
		x = Vec{0, -1, 0}
	}
	y := cross(z, x) // down
	var m [3][3]float64
	for i := 0; i < 3; i++ {
		m[i][0], m[i][1], m[i][2] = x[i], y[i], z[i]
	}
	return matToQuat(m)
}

// ToCamera maps a world point into the optical frame.
func (c *Camera) ToCamera(p Vec) Vec {
	d := sub(p, c.Position)
	r := &c.rwc
	return Vec{
		r[0][0]*d[0] + r[1][0]*d[1] + r[2][0]*d[2],
		r[0][1]*d[0] + r[1][1]*d[1] + r[2][1]*d[2],
		r[0][2]*d[0] + r[1][2]*d[1] + r[2][2]*d[2],
	}
}

// DirToWorld rotates a direction from the optical frame into the world.
func (c *Camera) DirToWorld(d Vec) Vec {
	r := &c.rwc
	return Vec{
		r[0][0]*d[0] + r[0][1]*d[1] + r[0][2]*d[2],
		r[1][0]*d[0] + r[1][1]*d[1] + r[1][2]*d[2],
		r[2][0]*d[0] + r[2][1]*d[1] + r[2][2]*d[2],
	}
}

// Project maps a world point to distorted pixel coordinates; ok is false
// when the point is not in front of the camera (z ≤ 1 mm).
func (c *Camera) Project(p Vec) (u, v float64, ok bool) {
	q := c.ToCamera(p)
	if q[2] <= 1e-3 {
		return 0, 0, false
	}
	u, v = c.Distort(q[0]/q[2], q[1]/q[2])
	return u, v, true
}

// InImage reports whether pixel (u, v) lies at least margin px inside the
// image.
func (c *Camera) InImage(u, v, margin float64) bool {
	return u >= margin-0.5 && v >= margin-0.5 && u <= float64(c.Width)-0.5-margin && v <= float64(c.Height)-0.5-margin
}

// Sees reports whether a sphere of radius r at p projects wholly inside the
// image (its centre at least the sphere's pixel radius plus margin inside).
func (c *Camera) Sees(p Vec, r, margin float64) bool {
	q := c.ToCamera(p)
	if q[2] <= r+0.05 {
		return false
	}
	u, v, _ := c.Project(p)
	rp := c.K[0] * r / q[2] * (1 + (q[0]*q[0]+q[1]*q[1])/(q[2]*q[2]))
	return c.InImage(u, v, rp+margin)
}

// Ray returns the world direction (unit) of the ray through pixel (u, v);
// ok is false when undistortion does not converge.
func (c *Camera) Ray(u, v float64) (Vec, bool) {
	x, y, ok := c.Undistort(u, v)
	return unit(c.DirToWorld(Vec{x, y, 1})), ok
}

func quatToMat(q [4]float64) [3][3]float64 {
	x, y, z, w := q[0], q[1], q[2], q[3]
	return [3][3]float64{
		{1 - 2*(y*y+z*z), 2 * (x*y - z*w), 2 * (x*z + y*w)},
		{2 * (x*y + z*w), 1 - 2*(x*x+z*z), 2 * (y*z - x*w)},
		{2 * (x*z - y*w), 2 * (y*z + x*w), 1 - 2*(x*x+y*y)},
	}
}

func matToQuat(m [3][3]float64) [4]float64 {
	tr := m[0][0] + m[1][1] + m[2][2]
	var x, y, z, w float64
	switch {
	case tr > 0:
		s := math.Sqrt(tr+1) * 2
		w = s / 4
		x = (m[2][1] - m[1][2]) / s
		y = (m[0][2] - m[2][0]) / s
		z = (m[1][0] - m[0][1]) / s
	case m[0][0] > m[1][1] && m[0][0] > m[2][2]:
		s := math.Sqrt(1+m[0][0]-m[1][1]-m[2][2]) * 2
		w = (m[2][1] - m[1][2]) / s
		x = s / 4
		y = (m[0][1] + m[1][0]) / s
		z = (m[0][2] + m[2][0]) / s
	case m[1][1] > m[2][2]:
		s := math.Sqrt(1+m[1][1]-m[0][0]-m[2][2]) * 2
		w = (m[0][2] - m[2][0]) / s
		x = (m[0][1] + m[1][0]) / s
		y = s / 4
		z = (m[1][2] + m[2][1]) / s
	default:
		s := math.Sqrt(1+m[2][2]-m[0][0]-m[1][1]) * 2
		w = (m[1][0] - m[0][1]) / s
		x = (m[0][2] + m[2][0]) / s
		y = (m[1][2] + m[2][1]) / s
		z = s / 4
	}
	return [4]float64{x, y, z, w}
}

func sub(a, b Vec) Vec     { return Vec{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }
func dot(a, b Vec) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }
func norm(a Vec) float64   { return math.Sqrt(dot(a, a)) }
func cross(a, b Vec) Vec {
	return Vec{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}
func unit(a Vec) Vec {
	n := norm(a)
	if n == 0 {
		return a
	}
	return Vec{a[0] / n, a[1] / n, a[2] / n}
}
