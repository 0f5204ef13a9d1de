package camera

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const infoDoc = `image_width: 1280
image_height: 1024
camera_name: cam0
camera_matrix:
  rows: 3
  cols: 3
  data: [700, 0, 640, 0, 699, 510, 0, 0, 1]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [-0.17, 0.06, 0.0004, -0.0003, -0.009]
rectification_matrix:
  rows: 3
  cols: 3
  data: [1, 0, 0, 0, 1, 0, 0, 0, 1]
projection_matrix:
  rows: 3
  cols: 4
  data: [700, 0, 640, 0, 0, 699, 510, 0, 0, 0, 1, 0]
`

func TestParseCameraInfo(t *testing.T) {
	in, name, err := ParseCameraInfo([]byte(infoDoc))
	require.NoError(t, err)
	require.Equal(t, "cam0", name)
	require.Equal(t, 1280, in.Width)
	require.Equal(t, PlumbBob, in.Model)
	require.Equal(t, -0.17, in.D[0])
	require.Equal(t, 699.0, in.K[4])

	// Round trip through MarshalCameraInfo.
	data, err := in.MarshalCameraInfo("cam0")
	require.NoError(t, err)
	in2, _, err := ParseCameraInfo(data)
	require.NoError(t, err)
	require.Equal(t, in, in2)
}

func TestParseCameraInfoErrors(t *testing.T) {
	drop := func(key string) string {
		// remove the key and its indented block
		var out []string
		skip := false
		for _, l := range strings.Split(infoDoc, "\n") {
			if strings.HasPrefix(l, key+":") {
				skip = true
				continue
			}
			if skip && strings.HasPrefix(l, "  ") {
				continue
			}
			skip = false
			out = append(out, l)
		}
		return strings.Join(out, "\n")
	}
	for _, tc := range []struct{ name, doc, want string }{
		{"no width", drop("image_width"), "image_width missing"},
		{"no height", drop("image_height"), "image_height missing"},
		{"no K", drop("camera_matrix"), "camera_matrix missing"},
		{"no model", drop("distortion_model"), "distortion_model missing"},
		{"no D", drop("distortion_coefficients"), "distortion_coefficients missing"},
		{"no R", drop("rectification_matrix"), "rectification_matrix missing"},
		{"no P", drop("projection_matrix"), "projection_matrix missing"},
		{"bad model", strings.Replace(infoDoc, "plumb_bob", "fisheye", 1), "distortion_model"},
		{"short K", strings.Replace(infoDoc, "data: [700, 0, 640, 0, 699, 510, 0, 0, 1]", "data: [700, 0, 640]", 1), "camera_matrix is 3×3 with 3 values"},
		{"zero focal", strings.Replace(infoDoc, "data: [700, 0, 640, 0, 699", "data: [0, 0, 640, 0, 699", 1), "focal"},
		{"not yaml", "{{{", "camera_info"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ParseCameraInfo([]byte(tc.doc))
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestRigSaveLoad(t *testing.T) {
	dir := t.TempDir()
	rig := DefaultRig()
	path := filepath.Join(dir, "cameras.yaml")
	require.NoError(t, rig.Save(path))
	got, err := LoadRig(path)
	require.NoError(t, err)
	require.Len(t, got.Cameras, 2)
	for i, c := range got.Cameras {
		want := rig.Cameras[i]
		require.Equal(t, want.Name, c.Name)
		require.Equal(t, want.Intrinsics, c.Intrinsics)
		p := Vec{2, 0.3, 1.1}
		u0, v0, _ := want.Project(p)
		u1, v1, _ := c.Project(p)
		// YAML keeps full float64 precision.
		require.InDelta(t, u0, u1, 1e-9)
		require.InDelta(t, v0, v1, 1e-9)
	}
	require.NotNil(t, got.Find("cam1"))
	require.Nil(t, got.Find("nope"))
}

func TestLoadRigErrors(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cam0.yaml"), []byte(infoDoc), 0o644))
	for _, tc := range []struct{ name, doc, want string }{
		{"empty", "cameras: []\n", "none listed"},
		{"unknown key", "cameras:\n  - name: a\n    calibration: cam0.yaml\n    pose: {position: [0,0,0], orientation: [0,0,0,1]}\n    fov: 3\n", "fov"},
		{"no calibration", "cameras:\n  - name: a\n    pose: {position: [0,0,0], orientation: [0,0,0,1]}\n", "calibration missing"},
		{"missing file", "cameras:\n  - name: a\n    calibration: nope.yaml\n    pose: {position: [0,0,0], orientation: [0,0,0,1]}\n", "nope.yaml"},
		{"no pose", "cameras:\n  - name: a\n    calibration: cam0.yaml\n", "pose missing"},
		{"short position", "cameras:\n  - name: a\n    calibration: cam0.yaml\n    pose: {position: [0,0], orientation: [0,0,0,1]}\n", "pose.position"},
		{"zero quaternion", "cameras:\n  - name: a\n    calibration: cam0.yaml\n    pose: {position: [0,0,0], orientation: [0,0,0,0]}\n", "quaternion"},
		{"duplicate", "cameras:\n  - name: a\n    calibration: cam0.yaml\n    pose: {position: [0,0,0], orientation: [0,0,0,1]}\n  - name: a\n    calibration: cam0.yaml\n    pose: {position: [0,0,0], orientation: [0,0,0,1]}\n", "twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "rig.yaml")
			require.NoError(t, os.WriteFile(p, []byte(tc.doc), 0o644))
			_, err := LoadRig(p)
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err := LoadRig(filepath.Join(dir, "missing.yaml"))
	require.Error(t, err)
}

func TestLookAt(t *testing.T) {
	pos, target := Vec{-0.9, 1, 1.7}, Vec{2, 0, 0.9}
	c, err := New("c", DefaultIntrinsics(0), pos, LookAt(pos, target))
	require.NoError(t, err)
	q := c.ToCamera(target)
	// The target is on the optical axis (x = y = 0) in front; 1e-12 m: rounding.
	require.InDelta(t, 0, q[0], 1e-12)
	require.InDelta(t, 0, q[1], 1e-12)
	require.Greater(t, q[2], 0.0)
	// A point above the target images above it (smaller v).
	_, v0, _ := c.Project(target)
	_, v1, _ := c.Project(Vec{2, 0, 1.2})
	require.Less(t, v1, v0)
}

// TestTriangulate checks noise-free exactness, noise propagation, the sphere
// silhouette correction and the degenerate cases.
func TestTriangulate(t *testing.T) {
	rig := DefaultRig()
	rng := rand.New(rand.NewPCG(7, 7))
	var corr, raw float64
	for i := 0; i < 60; i++ {
		p := Vec{0.2 + 3.6*rng.Float64(), 1.2*rng.Float64() - 0.6, 0.6 + 0.9*rng.Float64()}
		var views [2]View
		for k, c := range rig.Cameras {
			u, v, ok := c.Project(p)
			require.True(t, ok)
			views[k] = View{Cam: c, U: u, V: v}
		}
		pt, err := Triangulate(views[:], 0)
		require.NoError(t, err)
		// Exact pixels: 1e-7 m covers the undistortion tolerance (1e-9 px).
		require.InDelta(t, 0, dist(pt.P, p), 1e-7)
		require.Less(t, pt.MaxPx, 1e-6)

		// Silhouette centres: a sphere's image centre lies off the
		// projection of its centre; with the radius the bias is removed.
		const r = 0.0335
		for k, c := range rig.Cameras {
			u, v := silhouetteCentre(c, p, r)
			views[k] = View{Cam: c, U: u, V: v}
		}
		pt, err = Triangulate(views[:], r)
		require.NoError(t, err)
		// 0.15 mm: the grid centroid and the lens distortion across the
		// silhouette remain.
		require.InDelta(t, 0, dist(pt.P, p), 1.5e-4, "point %v", p)
		corr += dist(pt.P, p)
		pt, err = Triangulate(views[:], 0)
		require.NoError(t, err)
		raw += dist(pt.P, p)
	}
	// The correction removes most of the bias.
	require.Less(t, corr, raw/3, "mean error corrected %.3g m, uncorrected %.3g m", corr/60, raw/60)
	_, err := Triangulate(nil, 0)
	require.ErrorIs(t, err, ErrTooFewViews)
	c := rig.Cameras[0]
	_, err = Triangulate([]View{{Cam: c, U: 600, V: 500}, {Cam: c, U: 600, V: 500}}, 0)
	require.ErrorIs(t, err, ErrDegenerate)
}

// silhouetteCentre is the centroid of a sphere's image by brute force: the
// mean of a fine grid of normalized image points whose rays hit the sphere,
// then distorted to pixels (as the detector's centroid is undistorted).
func silhouetteCentre(c *Camera, p Vec, r float64) (float64, float64) {
	q := c.ToCamera(p)
	x0, y0 := q[0]/q[2], q[1]/q[2]
	h := 2.5 * r / q[2] * (1 + x0*x0 + y0*y0)
	const n = 300
	var sx, sy, cnt float64
	for j := 0; j < n; j++ {
		for i := 0; i < n; i++ {
			x := x0 - h + 2*h*(float64(i)+0.5)/n
			y := y0 - h + 2*h*(float64(j)+0.5)/n
			d := Vec{x, y, 1}
			cd := dot(q, d)
			if dot(q, q)-cd*cd/dot(d, d) <= r*r {
				sx += x
				sy += y
				cnt++
			}
		}
	}
	return c.Distort(sx/cnt, sy/cnt)
}

func dist(a, b Vec) float64 { return norm(sub(a, b)) }
