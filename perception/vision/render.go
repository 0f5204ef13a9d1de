package vision

import (
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"gocv.io/x/gocv"

	"github.com/agilecatch/catch/perception/camera"
)

// RenderConfig configures the Renderer. The zero value means the defaults on
// each field.
type RenderConfig struct {
	// BallBGR is the ball's albedo in BGR at full light, 0–255. Default
	// (55, 225, 205): a tennis ball's optic yellow (OpenCV hue ≈ 34).
	BallBGR [3]float64 `yaml:"ball_bgr"`
	// Ambient is the light on the ball's shadowed side, as a fraction of
	// full light; default 0.35.
	Ambient float64 `yaml:"ambient"`
	// LightDir is the direction toward the light in the world; default
	// (−0.3, 0.2, 1) (overhead, slightly behind the robot).
	LightDir camera.Vec `yaml:"light_dir"`
	// NoiseStd is the sensor noise σ per channel, 8-bit counts; default 2.
	// A negative value turns noise off.
	NoiseStd float64 `yaml:"noise_std"`
	// ExposureS is the exposure time over which the ball moves (motion
	// blur), s; default 0 (no blur).
	ExposureS float64 `yaml:"exposure_s"`
	// Supersample is the anti-aliasing samples per pixel axis; default 4.
	Supersample int `yaml:"supersample"`
	// Background is an image file (a photograph) behind every camera's
	// view: resized to 6% wider than the frame and cropped, each camera's
	// crop shifted by 2% of the width (the parallax of a far wall); empty
	// means a generated textured scene per camera.
	Background string `yaml:"background"`
	// Clutter adds what a lab holds (scene.go): two tennis balls lying on
	// the floor and one rolling slowly (3D, seen by every camera), a
	// swaying yellow shirt, a round yellow logo, an orange cone, an
	// occluding pole in front of the flight, and lighting that drifts and
	// flickers by up to ±8%.
	Clutter bool `yaml:"clutter"`
	// Distractors adds objects that a careless detector would take for the
	// ball: a ball-coloured strip, an oversized ball-coloured disc, a moving
	// orange disc, a moving grey ball, and in the first camera only a
	// moving ball-coloured, ball-sized disc that no other camera sees.
	Distractors bool `yaml:"distractors"`
	// Seed seeds the background and the noise.
	Seed uint64 `yaml:"seed"`
}

// WithDefaults returns c with every zero field set to its default.
func (c RenderConfig) WithDefaults() RenderConfig {
	if c.BallBGR == [3]float64{} {
		c.BallBGR = [3]float64{55, 225, 205}
	}
	if c.Ambient == 0 {
		c.Ambient = 0.35
	}
	if c.LightDir == (camera.Vec{}) {
		c.LightDir = camera.Vec{-0.3, 0.2, 1}
	}
	if c.NoiseStd == 0 {
		c.NoiseStd = 2
	}
	if c.Supersample == 0 {
		c.Supersample = 4
	}
	return c
}

// Validate reports the first bad field.
func (c RenderConfig) Validate() error {
	c = c.WithDefaults()
	for i, v := range c.BallBGR {
		if !(v >= 0 && v <= 255) {
			return fmt.Errorf("render: ball_bgr[%d] = %v, want [0, 255]", i, v)
		}
	}
	if !(c.Ambient > 0 && c.Ambient <= 1) {
		return fmt.Errorf("render: ambient = %v, want (0, 1]", c.Ambient)
	}
	if !(c.NoiseStd < 50) {
		return fmt.Errorf("render: noise_std = %v, want < 50 counts", c.NoiseStd)
	}
	if !(c.ExposureS >= 0 && c.ExposureS < 0.1) {
		return fmt.Errorf("render: exposure_s = %v, want [0, 0.1)", c.ExposureS)
	}
	if c.Supersample < 1 || c.Supersample > 16 {
		return fmt.Errorf("render: supersample = %d, want 1..16", c.Supersample)
	}
	l := c.LightDir
	if !(l[0]*l[0]+l[1]*l[1]+l[2]*l[2] > 0) {
		return errors.New("render: light_dir is zero")
	}
	return nil
}

// BallState is what the renderer needs of the ball at a frame: the centre at
// mid-exposure and its velocity (for motion blur), world frame.
type BallState struct {
	P, V   camera.Vec
	Radius float64 // m
	// Hidden leaves the ball out (before a throw or after it left).
	Hidden bool
}

// Renderer draws simulated camera frames: a static background per camera,
// the ball as the true perspective image of a shaded sphere (ray-cast
// through the lens model, anti-aliased, optionally motion-blurred), optional
// distractors, and Gaussian sensor noise. It can draw just a rectangle of a
// frame (the rest of dst is left as it was), which is what camera-fidelity
// simulation uses to keep each frame cheap. Not safe for concurrent use.
type Renderer struct {
	cfg   RenderConfig
	rig   *camera.Rig
	bg    [][]byte // per camera, BGR, Width×Height
	light []camera.Vec
	noise []int8
	rng   *rand.Rand
	// corner grid scratch (normalized coordinates at pixel corners)
	gx, gy []float64
}

// noiseLen is the noise table length: rows start at random offsets in it.
const noiseLen = 1 << 18

// NewRenderer prepares backgrounds and noise for every camera of rig.
func NewRenderer(cfg RenderConfig, rig *camera.Rig) (*Renderer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if rig == nil || len(rig.Cameras) == 0 {
		return nil, errors.New("render: rig has no cameras")
	}
	r := &Renderer{cfg: cfg, rig: rig, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5eed))}
	var file gocv.Mat
	if cfg.Background != "" {
		file = gocv.IMRead(cfg.Background, gocv.IMReadColor)
		if file.Empty() {
			file.Close()
			return nil, fmt.Errorf("render: background %s: not an image OpenCV reads", cfg.Background)
		}
		defer file.Close()
	}
	l := cfg.LightDir
	ln := math.Sqrt(l[0]*l[0] + l[1]*l[1] + l[2]*l[2])
	for i, c := range rig.Cameras {
		var bg []byte
		if cfg.Background != "" {
			m := gocv.NewMat()
			ww := int(math.Round(1.06 * float64(c.Width)))
			gocv.Resize(file, &m, image.Pt(ww, c.Height), 0, 0, gocv.InterpolationArea)
			x0 := int(math.Round((0.03 + 0.02*(float64(i)-0.5)) * float64(c.Width)))
			x0 = max(0, min(ww-c.Width, x0))
			crop := m.Region(image.Rect(x0, 0, x0+c.Width, c.Height))
			cm := crop.Clone()
			bg = append([]byte(nil), cm.ToBytes()...)
			cm.Close()
			crop.Close()
			m.Close()
		} else {
			bg = generateBackground(c.Width, c.Height, rand.New(rand.NewPCG(cfg.Seed, uint64(i)+1)))
		}
		r.bg = append(r.bg, bg)
		// light direction in the optical frame
		w := camera.Vec{l[0] / ln, l[1] / ln, l[2] / ln}
		var lc camera.Vec
		for k := 0; k < 3; k++ {
			e := c.DirToWorld(camera.Vec{b2f(k == 0), b2f(k == 1), b2f(k == 2)})
			lc[k] = e[0]*w[0] + e[1]*w[1] + e[2]*w[2]
		}
		r.light = append(r.light, lc)
	}
	r.noise = make([]int8, noiseLen)
	if cfg.NoiseStd > 0 {
		nr := rand.New(rand.NewPCG(cfg.Seed, 0x4015e))
		for i := range r.noise {
			r.noise[i] = int8(max(-127, min(127, math.Round(cfg.NoiseStd*nr.NormFloat64()))))
		}
	}
	return r, nil
}

// Config returns the configuration in use, defaults applied.
func (r *Renderer) Config() RenderConfig { return r.cfg }

// Reseed restarts the noise sequence (and distractor phases) from seed.
func (r *Renderer) Reseed(seed uint64) { r.rng = rand.New(rand.NewPCG(r.cfg.Seed, seed)) }

// Render draws camera ci's frame at time t (s; it moves the distractors)
// into dst, an 8-bit BGR Mat of the camera's size (allocated when it is not),
// within rect; an empty rect means the whole frame.
func (r *Renderer) Render(ci int, t float64, b BallState, rect image.Rectangle, dst *gocv.Mat) error {
	if ci < 0 || ci >= len(r.rig.Cameras) {
		return fmt.Errorf("render: camera index %d, rig has %d", ci, len(r.rig.Cameras))
	}
	c := r.rig.Cameras[ci]
	W, H := c.Width, c.Height
	if dst.Rows() != H || dst.Cols() != W || dst.Type() != gocv.MatTypeCV8UC3 {
		dst.Close()
		*dst = gocv.NewMatWithSize(H, W, gocv.MatTypeCV8UC3)
	}
	full := image.Rect(0, 0, W, H)
	if rect.Empty() {
		rect = full
	}
	rect = rect.Intersect(full)
	if rect.Empty() {
		return nil
	}
	pix, err := dst.DataPtrUint8()
	if err != nil {
		return fmt.Errorf("render: %w", err)
	}
	stride := W * 3
	bg := r.bg[ci]
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		o := y*stride + rect.Min.X*3
		copy(pix[o:o+rect.Dx()*3], bg[o:o+rect.Dx()*3])
	}
	if r.cfg.Clutter {
		r.drawClutter(ci, t, b.Radius, pix, stride, rect)
	}
	if r.cfg.Distractors {
		r.drawDistractors(ci, t, pix, stride, rect)
	}
	if !b.Hidden {
		r.drawBall(ci, b, pix, stride, rect)
	}
	if r.cfg.Clutter {
		r.drawPole(ci, pix, stride, rect)
		if g := r.lightGain(t); g != 1 {
			gi := int(math.Round(g * 1024))
			for y := rect.Min.Y; y < rect.Max.Y; y++ {
				row := pix[y*stride+rect.Min.X*3 : y*stride+rect.Max.X*3]
				for i, p := range row {
					row[i] = uint8(min(255, (int(p)*gi+512)>>10))
				}
			}
		}
	}
	if r.cfg.NoiseStd > 0 {
		n := rect.Dx() * 3
		for y := rect.Min.Y; y < rect.Max.Y; y++ {
			o := y*stride + rect.Min.X*3
			off := r.rng.IntN(noiseLen - n)
			row := pix[o : o+n]
			nz := r.noise[off : off+n]
			for i, p := range row {
				v := int(p) + int(nz[i])
				if v < 0 {
					v = 0
				} else if v > 255 {
					v = 255
				}
				row[i] = uint8(v)
			}
		}
	}
	return nil
}

// BallRect is the pixel bounding box of the ball's image in camera ci (its
// silhouette plus the motion-blur streak, 2 px margin); empty when the ball
// is behind the camera.
func (r *Renderer) BallRect(ci int, b BallState) image.Rectangle {
	c := r.rig.Cameras[ci]
	q := c.ToCamera(b.P)
	if q[2] <= b.Radius*1.5 {
		return image.Rectangle{}
	}
	// Silhouette points on a circle of radius 1.1 r perpendicular to the
	// line of sight, at both ends of the exposure.
	minU, minV, maxU, maxV := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	dir := unit3(q)
	e1 := unit3(cross3(dir, camera.Vec{0, 1, 0}))
	e2 := cross3(dir, e1)
	half := r.cfg.ExposureS / 2
	vc := c.ToCamera(camera.Vec{c.Position[0] + b.V[0], c.Position[1] + b.V[1], c.Position[2] + b.V[2]})
	for _, tau := range []float64{-half, half} {
		ctr := camera.Vec{q[0] + vc[0]*tau, q[1] + vc[1]*tau, q[2] + vc[2]*tau}
		for k := 0; k < 12; k++ {
			a := float64(k) * math.Pi / 6
			s, co := math.Sincos(a)
			p := camera.Vec{}
			for j := 0; j < 3; j++ {
				p[j] = ctr[j] + 1.1*b.Radius*(co*e1[j]+s*e2[j])
			}
			if p[2] <= 1e-3 {
				return image.Rectangle{}
			}
			u, v := c.Distort(p[0]/p[2], p[1]/p[2])
			minU, maxU = math.Min(minU, u), math.Max(maxU, u)
			minV, maxV = math.Min(minV, v), math.Max(maxV, v)
		}
	}
	lim := 1e5
	if !(minU > -lim && maxU < lim && minV > -lim && maxV < lim) {
		return image.Rectangle{}
	}
	return image.Rect(int(math.Floor(minU))-2, int(math.Floor(minV))-2, int(math.Ceil(maxU))+3, int(math.Ceil(maxV))+3)
}

// drawBall ray-casts the sphere through every sub-sample of the pixels in
// its bounding box: rays come from the undistorted pixel-corner grid,
// interpolated bilinearly inside each pixel (the lens map is linear to
// < 1e-6 px over one pixel).
func (r *Renderer) drawBall(ci int, b BallState, pix []byte, stride int, rect image.Rectangle) {
	c := r.rig.Cameras[ci]
	box := r.BallRect(ci, b).Intersect(rect)
	if box.Empty() {
		return
	}
	gw, gh := box.Dx()+1, box.Dy()+1
	if cap(r.gx) < gw*gh {
		r.gx = make([]float64, gw*gh)
		r.gy = make([]float64, gw*gh)
	}
	gx, gy := r.gx[:gw*gh], r.gy[:gw*gh]
	for j := 0; j < gh; j++ {
		for i := 0; i < gw; i++ {
			// corner of pixel (x, y) is at (x − ½, y − ½)
			x, y, _ := c.Undistort(float64(box.Min.X+i)-0.5, float64(box.Min.Y+j)-0.5)
			gx[j*gw+i], gy[j*gw+i] = x, y
		}
	}
	q := c.ToCamera(b.P)
	vc := c.ToCamera(camera.Vec{c.Position[0] + b.V[0], c.Position[1] + b.V[1], c.Position[2] + b.V[2]})
	L := r.light[ci]
	S := r.cfg.Supersample
	ns := S * S
	r2 := b.Radius * b.Radius
	amb := r.cfg.Ambient
	alb := r.cfg.BallBGR
	for py := box.Min.Y; py < box.Max.Y; py++ {
		j := py - box.Min.Y
		for px := box.Min.X; px < box.Max.X; px++ {
			i := px - box.Min.X
			x00, y00 := gx[j*gw+i], gy[j*gw+i]
			x10, y10 := gx[j*gw+i+1], gy[j*gw+i+1]
			x01, y01 := gx[(j+1)*gw+i], gy[(j+1)*gw+i]
			x11, y11 := gx[(j+1)*gw+i+1], gy[(j+1)*gw+i+1]
			var cov float64
			var col [3]float64
			for s := 0; s < ns; s++ {
				fu := (float64(s%S) + 0.5) / float64(S)
				fv := (float64(s/S) + 0.5) / float64(S)
				dx := (1-fv)*((1-fu)*x00+fu*x10) + fv*((1-fu)*x01+fu*x11)
				dy := (1-fv)*((1-fu)*y00+fu*y10) + fv*((1-fu)*y01+fu*y11)
				ctr := q
				if r.cfg.ExposureS > 0 {
					// stratified exposure times, decorrelated from position
					k := (s*7 + 3) % ns
					tau := ((float64(k)+0.5)/float64(ns) - 0.5) * r.cfg.ExposureS
					ctr = camera.Vec{q[0] + vc[0]*tau, q[1] + vc[1]*tau, q[2] + vc[2]*tau}
				}
				dd := dx*dx + dy*dy + 1
				cd := ctr[0]*dx + ctr[1]*dy + ctr[2]
				h := ctr[0]*ctr[0] + ctr[1]*ctr[1] + ctr[2]*ctr[2] - cd*cd/dd
				if h > r2 || cd <= 0 {
					continue
				}
				th := cd/dd - math.Sqrt((r2-h)/dd)
				nx := (th*dx - ctr[0]) / b.Radius
				ny := (th*dy - ctr[1]) / b.Radius
				nz := (th - ctr[2]) / b.Radius
				lam := nx*L[0] + ny*L[1] + nz*L[2]
				shade := amb + (1-amb)*math.Max(0, lam)
				cov++
				col[0] += alb[0] * shade
				col[1] += alb[1] * shade
				col[2] += alb[2] * shade
			}
			if cov == 0 {
				continue
			}
			o := py*stride + px*3
			a := cov / float64(ns)
			for k := 0; k < 3; k++ {
				v := float64(pix[o+k])*(1-a) + col[k]/float64(ns)
				pix[o+k] = uint8(math.Min(255, math.Round(v)))
			}
		}
	}
}

// distractor is a flat 2D object in one camera's image.
type distractor struct {
	cam    int // −1: all cameras
	disc   bool
	cx, cy float64 // centre, px
	ax, ay float64 // motion amplitude, px
	w      float64 // angular rate, rad/s
	rx, ry float64 // half-sizes (disc: rx = radius)
	bgr    [3]float64
	shaded bool
}

var distractors = []distractor{
	{cam: -1, cx: 260, cy: 300, rx: 32, ry: 7, bgr: [3]float64{55, 225, 205}},                             // ball-coloured strip (shape gate)
	{cam: -1, disc: true, cx: 1080, cy: 180, rx: 70, bgr: [3]float64{55, 225, 205}, shaded: true},         // oversized ball-coloured disc (size gate)
	{cam: -1, disc: true, cx: 900, cy: 760, ax: 250, ay: 60, w: 3, rx: 12, bgr: [3]float64{20, 110, 240}}, // orange ball (hue gate)
	{cam: -1, disc: true, cx: 420, cy: 820, ax: 120, ay: 90, w: 5, rx: 11, bgr: [3]float64{200, 200, 205}, shaded: true},
	{cam: 0, disc: true, cx: 230, cy: 560, ax: 60, ay: 120, w: 2, rx: 8, bgr: [3]float64{55, 225, 205}, shaded: true}, // one-camera ball twin (epipolar gate)
}

func (r *Renderer) drawDistractors(ci int, t float64, pix []byte, stride int, rect image.Rectangle) {
	for _, d := range distractors {
		if d.cam >= 0 && d.cam != ci {
			continue
		}
		cx := d.cx + d.ax*math.Sin(d.w*t)
		cy := d.cy + d.ay*math.Sin(0.7*d.w*t+1)
		ry := d.ry
		if d.disc {
			ry = d.rx
		}
		box := image.Rect(int(cx-d.rx)-1, int(cy-ry)-1, int(cx+d.rx)+2, int(cy+ry)+2).Intersect(rect)
		const S = 4
		for py := box.Min.Y; py < box.Max.Y; py++ {
			for px := box.Min.X; px < box.Max.X; px++ {
				var cov, shade float64
				for s := 0; s < S*S; s++ {
					x := float64(px) + (float64(s%S)+0.5)/S - 0.5 - cx
					y := float64(py) + (float64(s/S)+0.5)/S - 0.5 - cy
					in := math.Abs(x) <= d.rx && math.Abs(y) <= ry
					if d.disc {
						in = x*x+y*y <= d.rx*d.rx
					}
					if !in {
						continue
					}
					cov++
					sh := 1.0
					if d.shaded {
						sh = 0.45 + 0.55*math.Max(0, 1-((x+0.3*d.rx)*(x+0.3*d.rx)+(y+0.4*d.rx)*(y+0.4*d.rx))/(1.6*d.rx*d.rx))
					}
					shade += sh
				}
				if cov == 0 {
					continue
				}
				a := cov / (S * S)
				o := py*stride + px*3
				for k := 0; k < 3; k++ {
					v := float64(pix[o+k])*(1-a) + d.bgr[k]*shade/(S*S)
					pix[o+k] = uint8(math.Min(255, math.Round(v)))
				}
			}
		}
	}
}

// generateBackground draws a muted indoor scene: a wall and a floor with
// smooth value-noise texture, panels and furniture-like blocks in low
// saturation, fine grain and a few hard edges, so that colour thresholds
// and background models meet real structure.
func generateBackground(w, h int, rng *rand.Rand) []byte {
	img := make([]float64, w*h*3)
	horizon := float64(h) * (0.55 + 0.1*rng.Float64())
	wall := [3]float64{150 + 20*rng.Float64(), 140, 128}
	floor := [3]float64{118, 100 + 10*rng.Float64(), 84} // blue-grey: no hue near the ball's
	noise := newValueNoise(rng, 64)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			base := wall
			if float64(y) > horizon {
				base = floor
			}
			n := 0.55*noise.at(float64(x)/160, float64(y)/160) + 0.3*noise.at(float64(x)/37+17, float64(y)/37+5) + 0.15*noise.at(float64(x)/9+3, float64(y)/9+11)
			f := 0.75 + 0.5*n
			o := (y*w + x) * 3
			for k := 0; k < 3; k++ {
				img[o+k] = base[k] * f
			}
		}
	}
	// panels and blocks: random greys and desaturated colours
	for b := 0; b < 14; b++ {
		x0, y0 := rng.IntN(w), rng.IntN(h)
		bw, bh := 40+rng.IntN(260), 30+rng.IntN(200)
		g := 40 + 170*rng.Float64()
		col := [3]float64{g * (0.85 + 0.3*rng.Float64()), g * (0.85 + 0.3*rng.Float64()), g * (0.85 + 0.3*rng.Float64())}
		for y := y0; y < min(h, y0+bh); y++ {
			for x := x0; x < min(w, x0+bw); x++ {
				o := (y*w + x) * 3
				t := 0.9 + 0.2*noise.at(float64(x)/23, float64(y)/23)
				for k := 0; k < 3; k++ {
					img[o+k] = col[k] * t
				}
			}
		}
	}
	out := make([]byte, len(img))
	for i, v := range img {
		out[i] = uint8(max(0, min(255, math.Round(v))))
	}
	return out
}

// valueNoise is a smooth 2D noise on a periodic lattice.
type valueNoise struct {
	n int
	v []float64
}

func newValueNoise(rng *rand.Rand, n int) *valueNoise {
	v := make([]float64, n*n)
	for i := range v {
		v[i] = rng.Float64()
	}
	return &valueNoise{n: n, v: v}
}

func (vn *valueNoise) at(x, y float64) float64 {
	xi, yi := math.Floor(x), math.Floor(y)
	fx, fy := x-xi, y-yi
	fx = fx * fx * (3 - 2*fx)
	fy = fy * fy * (3 - 2*fy)
	n := vn.n
	i0, j0 := ((int(xi)%n)+n)%n, ((int(yi)%n)+n)%n
	i1, j1 := (i0+1)%n, (j0+1)%n
	a, b := vn.v[j0*n+i0], vn.v[j0*n+i1]
	c, d := vn.v[j1*n+i0], vn.v[j1*n+i1]
	return (1-fy)*((1-fx)*a+fx*b) + fy*((1-fx)*c+fx*d)
}

func unit3(a camera.Vec) camera.Vec {
	n := math.Sqrt(a[0]*a[0] + a[1]*a[1] + a[2]*a[2])
	return camera.Vec{a[0] / n, a[1] / n, a[2] / n}
}

func cross3(a, b camera.Vec) camera.Vec {
	return camera.Vec{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}
