package robot

import "math"

// Pose is a rigid transform: a frame's origin P (m) and orientation R,
// both expressed in a reference frame (for the chain methods, the chain's
// base frame). The columns of R are the frame's x, y and z axes; R[i][j] is
// row i, column j. A point x in the frame is at P + R·x in the reference.
type Pose struct {
	P [3]float64
	R [3][3]float64
}

// Identity returns the identity transform.
func Identity() Pose {
	return Pose{R: [3][3]float64{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}}
}

// Mul returns a·b: the pose b, given relative to frame a, expressed in a's
// reference frame.
func (a Pose) Mul(b Pose) Pose {
	var out Pose
	compose(&out, &a, &b)
	return out
}

// Axis returns the frame's local axis k (0 x, 1 y, 2 z) in the reference
// frame: column k of R.
func (a Pose) Axis(k int) [3]float64 {
	return [3]float64{a.R[0][k], a.R[1][k], a.R[2][k]}
}

// Quaternion returns R as a unit quaternion (x, y, z, w) with w ≥ 0, the
// ROS geometry_msgs order.
func (a Pose) Quaternion() [4]float64 {
	r := &a.R
	var x, y, z, w float64
	// Shepperd's method: divide by the largest of the four candidates.
	switch tr := r[0][0] + r[1][1] + r[2][2]; {
	case tr > 0:
		s := 2 * math.Sqrt(tr+1)
		w = s / 4
		x = (r[2][1] - r[1][2]) / s
		y = (r[0][2] - r[2][0]) / s
		z = (r[1][0] - r[0][1]) / s
	case r[0][0] > r[1][1] && r[0][0] > r[2][2]:
		s := 2 * math.Sqrt(1+r[0][0]-r[1][1]-r[2][2])
		w = (r[2][1] - r[1][2]) / s
		x = s / 4
		y = (r[0][1] + r[1][0]) / s
		z = (r[0][2] + r[2][0]) / s
	case r[1][1] > r[2][2]:
		s := 2 * math.Sqrt(1+r[1][1]-r[0][0]-r[2][2])
		w = (r[0][2] - r[2][0]) / s
		x = (r[0][1] + r[1][0]) / s
		y = s / 4
		z = (r[1][2] + r[2][1]) / s
	default:
		s := 2 * math.Sqrt(1+r[2][2]-r[0][0]-r[1][1])
		w = (r[1][0] - r[0][1]) / s
		x = (r[0][2] + r[2][0]) / s
		y = (r[1][2] + r[2][1]) / s
		z = s / 4
	}
	if w < 0 {
		x, y, z, w = -x, -y, -z, -w
	}
	return [4]float64{x, y, z, w}
}

// compose sets dst = a·b. dst may alias a or b.
func compose(dst, a, b *Pose) {
	var p [3]float64
	var r [3][3]float64
	for i := 0; i < 3; i++ {
		ai := &a.R[i]
		p[i] = a.P[i] + ai[0]*b.P[0] + ai[1]*b.P[1] + ai[2]*b.P[2]
		for j := 0; j < 3; j++ {
			r[i][j] = ai[0]*b.R[0][j] + ai[1]*b.R[1][j] + ai[2]*b.R[2][j]
		}
	}
	dst.P, dst.R = p, r
}

func isIdentityR(r *[3][3]float64) bool {
	return *r == [3][3]float64{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}
}
