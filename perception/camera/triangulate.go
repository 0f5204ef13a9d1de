package camera

import (
	"errors"
	"fmt"
	"math"
)

// MaxViews bounds the views of one triangulation, so that Triangulate works
// on fixed arrays and does not allocate.
const MaxViews = 8

// View is one camera's measurement of the ball: the (distorted) pixel centre
// of its silhouette.
type View struct {
	Cam  *Camera
	U, V float64
}

// Point is a triangulated ball position.
type Point struct {
	P Vec // world frame, m
	// ReprojPx is each view's reprojection error, px, in the order given.
	ReprojPx [MaxViews]float64
	MaxPx    float64 // the largest of them
	N        int     // views used
}

// Triangulation errors (wrapped with details).
var (
	ErrTooFewViews = errors.New("triangulate: need at least 2 views")
	ErrDegenerate  = errors.New("triangulate: rays (nearly) parallel or behind a camera")
)

// Triangulate finds the ball centre seen in views (≥ 2, ≤ MaxViews): rays
// through the undistorted pixels, their least-squares intersection, then
// Gauss–Newton on the reprojection error. With radius > 0 it also corrects
// the perspective bias of a sphere's silhouette: off the optical axis a
// sphere images as an ellipse whose centre lies radially outside the
// projection of the sphere's centre, by ≈ tanθ·sec²θ·(r/d)² in normalized
// units (0.3–0.5 px at 1.5 m and 40° off-axis for a tennis ball). The
// caller gates on the returned reprojection errors (the epipolar check for
// two views). It does not allocate.
func Triangulate(views []View, radius float64) (Point, error) {
	var pt Point
	n := len(views)
	if n < 2 {
		return pt, ErrTooFewViews
	}
	if n > MaxViews {
		return pt, fmt.Errorf("triangulate: %d views, at most %d", n, MaxViews)
	}
	var xn, yn [MaxViews]float64 // measured normalized coordinates
	for i, v := range views {
		x, y, ok := v.Cam.Undistort(v.U, v.V)
		if !ok {
			return pt, fmt.Errorf("triangulate: pixel (%.1f, %.1f) of camera %s: undistortion did not converge", v.U, v.V, v.Cam.Name)
		}
		xn[i], yn[i] = x, y
	}
	var tx, ty [MaxViews]float64 // normalized targets (bias-corrected)
	copy(tx[:], xn[:n])
	copy(ty[:], yn[:n])
	p, ok := intersect(views, &tx, &ty)
	if !ok {
		return pt, ErrDegenerate
	}
	passes := 1
	if radius > 0 {
		passes = 2
	}
	for pass := 0; pass < passes; pass++ {
		if pass > 0 {
			for i, v := range views {
				tx[i], ty[i] = sphereCentre(v.Cam, p, radius, xn[i], yn[i])
			}
			if p, ok = intersect(views, &tx, &ty); !ok {
				return pt, ErrDegenerate
			}
		}
		for it := 0; it < 3; it++ {
			if p, ok = gaussNewton(views, &tx, &ty, p); !ok {
				return pt, ErrDegenerate
			}
		}
	}
	pt.P, pt.N = p, n
	for i, v := range views {
		q := v.Cam.ToCamera(p)
		if q[2] <= 0 {
			return pt, ErrDegenerate
		}
		// Reprojection error in px of the corrected target; the exact
		// distortion at this scale is a uniform scale of ≈ fx.
		e := math.Hypot((q[0]/q[2]-tx[i])*v.Cam.K[0], (q[1]/q[2]-ty[i])*v.Cam.K[4])
		pt.ReprojPx[i] = e
		pt.MaxPx = math.Max(pt.MaxPx, e)
	}
	return pt, nil
}

// intersect is the point nearest (least squares) to the rays through the
// normalized coordinates.
func intersect(views []View, tx, ty *[MaxViews]float64) (Vec, bool) {
	var a [3][3]float64
	var b Vec
	for i, v := range views {
		d := unit(v.Cam.DirToWorld(Vec{tx[i], ty[i], 1}))
		c := v.Cam.Position
		for r := 0; r < 3; r++ {
			for s := 0; s < 3; s++ {
				m := -d[r] * d[s]
				if r == s {
					m++
				}
				a[r][s] += m
				b[r] += m * c[s]
			}
		}
	}
	return solve3(a, b)
}

// gaussNewton takes one step on Σ‖π(p) − target‖² in normalized units.
func gaussNewton(views []View, tx, ty *[MaxViews]float64, p Vec) (Vec, bool) {
	var jtj [3][3]float64
	var jtr Vec
	for i, v := range views {
		q := v.Cam.ToCamera(p)
		if q[2] <= 1e-6 {
			return p, false
		}
		iz := 1 / q[2]
		rx, ry := q[0]*iz-tx[i], q[1]*iz-ty[i]
		// ∂(x/z)/∂p = (e_x − (x/z) e_z)ᵀ R_cwᵀ / z; rows of R_cw are the
		// camera axes in world coordinates.
		var jx, jy Vec
		for k := 0; k < 3; k++ {
			ax, ay, az := v.Cam.rwc[k][0], v.Cam.rwc[k][1], v.Cam.rwc[k][2]
			jx[k] = (ax - q[0]*iz*az) * iz
			jy[k] = (ay - q[1]*iz*az) * iz
		}
		for r := 0; r < 3; r++ {
			for s := 0; s < 3; s++ {
				jtj[r][s] += jx[r]*jx[s] + jy[r]*jy[s]
			}
			jtr[r] += jx[r]*rx + jy[r]*ry
		}
	}
	dp, ok := solve3(jtj, jtr)
	if !ok {
		return p, false
	}
	return Vec{p[0] - dp[0], p[1] - dp[1], p[2] - dp[2]}, true
}

// sphereCentre maps the measured silhouette centre (normalized x, y) of a
// sphere of radius r near world point p to the projection of its centre.
// A cone of half-angle α about an axis θ off the optical axis cuts the image
// plane in an ellipse whose centre lies at m = ½(tan(θ+α) + tan(θ−α)) along
// the radial direction; solve for θ by Newton's method.
func sphereCentre(c *Camera, p Vec, r, x, y float64) (float64, float64) {
	q := c.ToCamera(p)
	d := norm(q)
	m := math.Hypot(x, y)
	if d <= r || m < 1e-9 {
		return x, y
	}
	alpha := math.Asin(r / d)
	th := math.Atan(m)
	for it := 0; it < 4; it++ {
		tp, tm := math.Tan(th+alpha), math.Tan(th-alpha)
		f := 0.5*(tp+tm) - m
		df := 0.5 * (1 + tp*tp + 1 + tm*tm)
		th -= f / df
	}
	s := math.Tan(th) / m
	return x * s, y * s
}

func solve3(a [3][3]float64, b Vec) (Vec, bool) {
	c00 := a[1][1]*a[2][2] - a[1][2]*a[2][1]
	c01 := a[1][2]*a[2][0] - a[1][0]*a[2][2]
	c02 := a[1][0]*a[2][1] - a[1][1]*a[2][0]
	det := a[0][0]*c00 + a[0][1]*c01 + a[0][2]*c02
	if !(math.Abs(det) > 1e-15) || !finite(det) {
		return Vec{}, false
	}
	inv := [3][3]float64{
		{c00, a[0][2]*a[2][1] - a[0][1]*a[2][2], a[0][1]*a[1][2] - a[0][2]*a[1][1]},
		{c01, a[0][0]*a[2][2] - a[0][2]*a[2][0], a[0][2]*a[1][0] - a[0][0]*a[1][2]},
		{c02, a[0][1]*a[2][0] - a[0][0]*a[2][1], a[0][0]*a[1][1] - a[0][1]*a[1][0]},
	}
	var x Vec
	for i := 0; i < 3; i++ {
		x[i] = (inv[i][0]*b[0] + inv[i][1]*b[1] + inv[i][2]*b[2]) / det
	}
	return x, true
}
