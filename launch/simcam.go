package launch

import (
	"image"

	"gocv.io/x/gocv"

	"github.com/agilecatch/catch/hardware/ros"
	"github.com/agilecatch/catch/perception/camera"
	"github.com/agilecatch/catch/perception/vision"
)

// simCam renders simarm's camera frames. Each camera keeps its frame between
// renders and only the region around the ball (its previous and current
// image) is redrawn per frame: the pixels there are those of a full render
// (background, shaded anti-aliased ball, sensor noise); the rest of the
// frame keeps the noise of the throw's first, full render.
type simCam struct {
	cfg    CameraStreamConfig
	rig    *camera.Rig
	r      *vision.Renderer
	frames []gocv.Mat
	prev   []image.Rectangle // ball region drawn in the last frame, per camera
	radius float64
	full   bool     // next render redraws whole frames
	bayer  [][]byte // bayer_rggb8: each camera's mosaic, kept like frames
}

func newSimCam(cfg CameraStreamConfig, radius float64) (*simCam, error) {
	cfg = cfg.WithDefaults()
	rig, err := cfg.Rig(nil)
	if err != nil {
		return nil, err
	}
	r, err := vision.NewRenderer(vision.RenderConfig{Seed: 1}, rig)
	if err != nil {
		return nil, err
	}
	c := &simCam{cfg: cfg, rig: rig, r: r, radius: radius}
	for _, cm := range rig.Cameras {
		c.frames = append(c.frames, gocv.NewMat())
		c.prev = append(c.prev, image.Rectangle{})
		if cfg.Encoding == "bayer_rggb8" {
			c.bayer = append(c.bayer, make([]byte, cm.Width*cm.Height))
		}
	}
	return c, nil
}

func (c *simCam) names() []string {
	out := make([]string, len(c.rig.Cameras))
	for i, cm := range c.rig.Cameras {
		out[i] = cm.Name
	}
	return out
}

func (c *simCam) close() {
	for i := range c.frames {
		c.frames[i].Close()
	}
}

// startThrow reseeds the sensor noise and redraws whole frames next.
func (c *simCam) startThrow(i int) error {
	c.r.Reseed(uint64(i) + 1)
	c.full = true
	return nil
}

// render draws every camera's frame of time t (s into the throw) with the
// ball at p moving at v and returns copies of the pixels (in the stream's
// encoding, stamps unset).
func (c *simCam) render(t float64, p, v camera.Vec, hidden bool) ([]ros.Image, error) {
	b := vision.BallState{P: p, V: v, Radius: c.radius, Hidden: hidden}
	out := make([]ros.Image, len(c.rig.Cameras))
	for ci, cm := range c.rig.Cameras {
		var rect image.Rectangle
		cur := image.Rectangle{}
		if !hidden {
			cur = c.r.BallRect(ci, b).Intersect(image.Rect(0, 0, cm.Width, cm.Height))
		}
		if !c.full {
			rect = c.prev[ci].Union(cur)
			if rect.Empty() {
				rect = image.Rect(0, 0, 1, 1) // nothing moved: one pixel (an empty rect means the whole frame)
			}
		}
		if err := c.r.Render(ci, t, b, rect, &c.frames[ci]); err != nil {
			return nil, err
		}
		c.prev[ci] = cur
		m := c.frames[ci]
		if c.bayer == nil {
			out[ci] = ros.Image{Width: m.Cols(), Height: m.Rows(), Encoding: "bgr8", Step: m.Cols() * 3, Data: m.ToBytes()}
			continue
		}
		bgr, err := m.DataPtrUint8()
		if err != nil {
			return nil, err
		}
		if rect.Empty() {
			rect = image.Rect(0, 0, m.Cols(), m.Rows())
		}
		mosaicRGGB(bgr, m.Cols(), rect, c.bayer[ci])
		out[ci] = ros.Image{Width: m.Cols(), Height: m.Rows(), Encoding: "bayer_rggb8", Step: m.Cols(), Data: append([]byte(nil), c.bayer[ci]...)}
	}
	c.full = false
	return out, nil
}

// mosaicRGGB writes the RGGB colour-filter mosaic of the region r of a BGR
// image (w pixels wide, 3 bytes per pixel) into dst (w bytes per row): red
// at even rows and even columns, blue at odd rows and odd columns, green
// elsewhere, as a Bayer sensor sees the scene.
func mosaicRGGB(bgr []byte, w int, r image.Rectangle, dst []byte) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := y * w
		for x := r.Min.X; x < r.Max.X; x++ {
			ch := 1 // green
			switch {
			case y%2 == 0 && x%2 == 0:
				ch = 2 // red
			case y%2 == 1 && x%2 == 1:
				ch = 0 // blue
			}
			dst[row+x] = bgr[3*(row+x)+ch]
		}
	}
}
