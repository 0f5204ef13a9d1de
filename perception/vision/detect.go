package vision

import (
	"errors"
	"fmt"
	"image"
	"math"
	"sort"

	"gocv.io/x/gocv"
)

// Detection modes.
const (
	ModeColor = "color" // HSV threshold on the ball's colour
	ModeBgSub = "bgsub" // difference from a running-average background
)

// DetectorConfig configures a Detector. The zero value means the defaults
// on each field.
type DetectorConfig struct {
	// Mode is ModeColor (default) or ModeBgSub.
	Mode string `yaml:"mode"`
	// Hue is the ball's hue range in OpenCV units (degrees / 2); default
	// [22, 48] around a tennis ball's ≈34.
	Hue [2]float64 `yaml:"hue"`
	// SatMin and ValMin are the least saturation and value (0–255) of a
	// ball pixel; defaults 90 and 45 (the shadowed side of the ball keeps
	// V ≈ 80 under the default lighting).
	SatMin float64 `yaml:"sat_min"`
	ValMin float64 `yaml:"val_min"`
	// BgThreshold is the grey-level difference from the background that
	// marks a moving pixel (bgsub mode); default 20 (the grey of a BGR
	// difference underweights blue, so a ball that differs mostly in blue
	// must still clear it; sensor noise is σ ≈ 2). BgAlpha is the
	// background's update rate per frame; default 0.05.
	BgThreshold float64 `yaml:"bg_threshold"`
	BgAlpha     float64 `yaml:"bg_alpha"`
	// Downscale is the stride of the full-frame search: candidates are found
	// on a frame subsampled by this factor and then measured at full
	// resolution in a window around each; default 4 (a ball of ≥ 4 px
	// radius still covers a few samples). 1 searches at full resolution.
	Downscale int `yaml:"downscale"`
	// MinRadiusPx and MaxRadiusPx gate the blob's equivalent radius;
	// defaults 2 and 40 px.
	MinRadiusPx float64 `yaml:"min_radius_px"`
	MaxRadiusPx float64 `yaml:"max_radius_px"`
	// MinFill gates roundness: blob area over the area of its minimum
	// enclosing circle (1 for a disc, ≈ 0.27 for a 4.5:1 strip); default
	// 0.55.
	MinFill float64 `yaml:"min_fill"`
	// MaxCandidates bounds the candidates returned per frame; default 4.
	MaxCandidates int `yaml:"max_candidates"`
}

// WithDefaults returns c with every zero field set to its default.
func (c DetectorConfig) WithDefaults() DetectorConfig {
	if c.Mode == "" {
		c.Mode = ModeColor
	}
	if c.Hue == [2]float64{} {
		c.Hue = [2]float64{22, 48}
	}
	if c.SatMin == 0 {
		c.SatMin = 90
	}
	if c.ValMin == 0 {
		c.ValMin = 45
	}
	if c.BgThreshold == 0 {
		c.BgThreshold = 20
	}
	if c.BgAlpha == 0 {
		c.BgAlpha = 0.05
	}
	if c.Downscale == 0 {
		c.Downscale = 4
	}
	if c.MinRadiusPx == 0 {
		c.MinRadiusPx = 2
	}
	if c.MaxRadiusPx == 0 {
		c.MaxRadiusPx = 40
	}
	if c.MinFill == 0 {
		c.MinFill = 0.55
	}
	if c.MaxCandidates == 0 {
		c.MaxCandidates = 4
	}
	return c
}

// Validate reports the first bad field.
func (c DetectorConfig) Validate() error {
	c = c.WithDefaults()
	if c.Mode != ModeColor && c.Mode != ModeBgSub {
		return fmt.Errorf("detector: mode %q, want %s or %s", c.Mode, ModeColor, ModeBgSub)
	}
	if !(c.Hue[0] >= 0 && c.Hue[0] < c.Hue[1] && c.Hue[1] <= 180) {
		return fmt.Errorf("detector: hue %v, want 0 ≤ lo < hi ≤ 180", c.Hue)
	}
	if !(c.SatMin >= 0 && c.SatMin <= 255 && c.ValMin >= 0 && c.ValMin <= 255) {
		return fmt.Errorf("detector: sat_min %v / val_min %v, want [0, 255]", c.SatMin, c.ValMin)
	}
	if !(c.BgThreshold > 0 && c.BgThreshold < 255) || !(c.BgAlpha > 0 && c.BgAlpha <= 1) {
		return fmt.Errorf("detector: bg_threshold %v / bg_alpha %v, want (0, 255) and (0, 1]", c.BgThreshold, c.BgAlpha)
	}
	if c.Downscale < 1 || c.Downscale > 16 {
		return fmt.Errorf("detector: downscale %d, want 1..16", c.Downscale)
	}
	if !(c.MinRadiusPx > 0 && c.MinRadiusPx < c.MaxRadiusPx) {
		return fmt.Errorf("detector: min_radius_px %v, max_radius_px %v, want 0 < min < max", c.MinRadiusPx, c.MaxRadiusPx)
	}
	if !(c.MinFill >= 0 && c.MinFill < 1) {
		return fmt.Errorf("detector: min_fill %v, want [0, 1)", c.MinFill)
	}
	if c.MaxCandidates < 1 || c.MaxCandidates > 64 {
		return fmt.Errorf("detector: max_candidates %d, want 1..64", c.MaxCandidates)
	}
	return nil
}

// Candidate is one ball-like blob.
type Candidate struct {
	U, V   float64 // sub-pixel centre of the blob (area centroid), px, distorted image
	Radius float64 // equivalent radius √(area/π), px
	Fill   float64 // area / minimum enclosing circle area
}

// Detector finds ball candidates in one camera's frames. It keeps its
// scratch images (and in bgsub mode the background) between frames, so one
// Detector serves one camera; not safe for concurrent use.
type Detector struct {
	cfg                        DetectorConfig
	small, smallHSV, smallMask gocv.Mat
	win, winHSV, winMask, tmp  gocv.Mat
	bg, smallBg                gocv.Mat
	kernel                     gocv.Mat
	lo, hi                     gocv.Scalar
	cands                      []Candidate
	wins                       []image.Rectangle
}

// NewDetector returns a Detector; Close frees its images.
func NewDetector(cfg DetectorConfig) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	d := &Detector{
		cfg: cfg, small: gocv.NewMat(), smallHSV: gocv.NewMat(), smallMask: gocv.NewMat(),
		win: gocv.NewMat(), winHSV: gocv.NewMat(), winMask: gocv.NewMat(), tmp: gocv.NewMat(),
		bg: gocv.NewMat(), smallBg: gocv.NewMat(),
		kernel: gocv.GetStructuringElement(gocv.MorphEllipse, image.Pt(3, 3)),
		lo:     gocv.NewScalar(cfg.Hue[0], cfg.SatMin, cfg.ValMin, 0),
		hi:     gocv.NewScalar(cfg.Hue[1], 255, 255, 0),
	}
	return d, nil
}

// Config returns the configuration in use, defaults applied.
func (d *Detector) Config() DetectorConfig { return d.cfg }

// Close frees the detector's images.
func (d *Detector) Close() error {
	for _, m := range []*gocv.Mat{&d.small, &d.smallHSV, &d.smallMask, &d.win, &d.winHSV, &d.winMask, &d.tmp, &d.bg, &d.smallBg, &d.kernel} {
		m.Close()
	}
	return nil
}

// Detect finds ball candidates in frame (8-bit BGR), within roi when it is
// not empty (tracking) or over the whole frame (searching), and appends them
// to dst[:0], most ball-like (largest) first. In bgsub mode every call also
// updates the background with the full frame, so call it on every frame.
func (d *Detector) Detect(frame gocv.Mat, roi image.Rectangle, dst []Candidate) ([]Candidate, error) {
	dst = dst[:0]
	if frame.Empty() {
		return dst, errors.New("detector: empty frame")
	}
	if t := frame.Type(); t != gocv.MatTypeCV8UC3 {
		return dst, fmt.Errorf("detector: frame type %v, want 8-bit BGR (CV_8UC3)", t)
	}
	full := image.Rect(0, 0, frame.Cols(), frame.Rows())
	if d.cfg.Mode == ModeBgSub {
		if d.bg.Rows() != frame.Rows() || d.bg.Cols() != frame.Cols() {
			frame.CopyTo(&d.bg)
			return dst, nil
		}
		defer gocv.AddWeighted(frame, d.cfg.BgAlpha, d.bg, 1-d.cfg.BgAlpha, 0, &d.bg)
	}
	if !roi.Empty() {
		roi = roi.Intersect(full)
		if roi.Empty() {
			return dst, nil
		}
		dst = d.refine(frame, roi, dst)
	} else {
		d.wins = d.wins[:0]
		ds := d.cfg.Downscale
		sz := image.Pt(frame.Cols()/ds, frame.Rows()/ds)
		if ds == 1 {
			d.wins = append(d.wins, full)
		} else {
			if d.cfg.Mode == ModeBgSub {
				gocv.Resize(frame, &d.small, sz, 0, 0, gocv.InterpolationNearestNeighbor)
				gocv.Resize(d.bg, &d.smallBg, sz, 0, 0, gocv.InterpolationNearestNeighbor)
				d.threshold(d.small, d.smallBg, &d.smallHSV, &d.smallMask)
			} else if err := d.stridedColorMask(frame, sz); err != nil {
				return dst, err
			}
			cs := gocv.FindContours(d.smallMask, gocv.RetrievalExternal, gocv.ChainApproxSimple)
			for i := 0; i < cs.Size(); i++ {
				r := gocv.BoundingRect(cs.At(i))
				// The full-resolution window: the blob plus one stride and
				// room for the blob's true extent between samples.
				m := ds + 2
				w := image.Rect(r.Min.X*ds-m, r.Min.Y*ds-m, r.Max.X*ds+m, r.Max.Y*ds+m).Intersect(full)
				if float64(r.Dx()*ds) > 2.5*d.cfg.MaxRadiusPx || float64(r.Dy()*ds) > 2.5*d.cfg.MaxRadiusPx {
					continue // far too large to be the ball
				}
				d.wins = append(d.wins, w)
			}
			cs.Close()
		}
		for _, w := range d.wins {
			dst = d.refine(frame, w, dst)
		}
	}
	sort.SliceStable(dst, func(i, j int) bool { return dst[i].Radius > dst[j].Radius })
	if len(dst) > d.cfg.MaxCandidates {
		dst = dst[:d.cfg.MaxCandidates]
	}
	return dst, nil
}

// threshold writes the ball mask of img (colour) or of its difference from
// the background (bgsub).
func (d *Detector) threshold(img, bg gocv.Mat, hsv, mask *gocv.Mat) {
	if d.cfg.Mode == ModeColor {
		gocv.CvtColor(img, hsv, gocv.ColorBGRToHSV)
		gocv.InRangeWithScalar(*hsv, d.lo, d.hi, mask)
		return
	}
	gocv.AbsDiff(img, bg, hsv)
	gocv.CvtColor(*hsv, mask, gocv.ColorBGRToGray)
	gocv.Threshold(*mask, mask, float32(d.cfg.BgThreshold), 255, gocv.ThresholdBinary)
}

// refine measures the blobs of window w at full resolution.
func (d *Detector) refine(frame gocv.Mat, w image.Rectangle, dst []Candidate) []Candidate {
	reg := frame.Region(w)
	defer reg.Close()
	if d.cfg.Mode == ModeBgSub {
		bgr := d.bg.Region(w)
		bgr.CopyTo(&d.tmp)
		bgr.Close()
	}
	d.threshold(reg, d.tmp, &d.winHSV, &d.winMask)
	// Opening removes isolated noise pixels and thin fringes.
	gocv.MorphologyEx(d.winMask, &d.win, gocv.MorphOpen, d.kernel)
	mask, err := d.win.DataPtrUint8()
	if err != nil {
		return dst
	}
	cs := gocv.FindContours(d.win, gocv.RetrievalExternal, gocv.ChainApproxSimple)
	defer cs.Close()
	stride := d.win.Cols()
	for i := 0; i < cs.Size(); i++ {
		c := cs.At(i)
		r := gocv.BoundingRect(c)
		var m00, m10, m01 float64
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := mask[y*stride : y*stride+stride]
			for x := r.Min.X; x < r.Max.X; x++ {
				if row[x] != 0 {
					m00++
					m10 += float64(x)
					m01 += float64(y)
				}
			}
		}
		if m00 == 0 {
			continue
		}
		rad := math.Sqrt(m00 / math.Pi)
		if rad < d.cfg.MinRadiusPx || rad > d.cfg.MaxRadiusPx {
			continue
		}
		_, _, re := gocv.MinEnclosingCircle(c)
		// The contour runs through boundary pixel centres: the blob reaches
		// half a pixel further.
		rEnc := float64(re) + 0.5
		fill := m00 / (math.Pi * rEnc * rEnc)
		if fill < d.cfg.MinFill {
			continue
		}
		dst = append(dst, Candidate{
			U: float64(w.Min.X) + m10/m00, V: float64(w.Min.Y) + m01/m00,
			Radius: rad, Fill: math.Min(1, fill),
		})
	}
	return dst
}

// stridedColorMask writes into smallMask the colour test of every
// Downscale-th pixel of every Downscale-th row: the HSV thresholds computed
// in Go on the sampled BGR values only (OpenCV would convert the whole
// frame), with 20% slack on saturation and 3 units on hue so that the coarse
// stage passes everything the full-resolution refinement may accept.
func (d *Detector) stridedColorMask(frame gocv.Mat, sz image.Point) error {
	if d.smallMask.Rows() != sz.Y || d.smallMask.Cols() != sz.X || d.smallMask.Type() != gocv.MatTypeCV8U {
		d.smallMask.Close()
		d.smallMask = gocv.NewMatWithSize(sz.Y, sz.X, gocv.MatTypeCV8U)
	}
	src, err := frame.DataPtrUint8()
	if err != nil {
		return fmt.Errorf("detector: frame: %w", err)
	}
	dst, err := d.smallMask.DataPtrUint8()
	if err != nil {
		return fmt.Errorf("detector: mask: %w", err)
	}
	ds := d.cfg.Downscale
	stride := frame.Cols() * 3
	vmin := int(d.cfg.ValMin)
	smin := 0.8 * d.cfg.SatMin / 255
	h0, h1 := 2*(d.cfg.Hue[0]-3), 2*(d.cfg.Hue[1]+3) // degrees
	if h0 <= 0 || h1 >= 120 {
		return d.colorMaskCV(frame, sz)
	}
	for y := 0; y < sz.Y; y++ {
		row := src[y*ds*stride:]
		out := dst[y*sz.X : (y+1)*sz.X]
		clear(out)
		for x := range out {
			o := x * ds * 3
			b, g, r := int(row[o]), int(row[o+1]), int(row[o+2])
			// Fast reject: every hue in (0°, 120°) has blue as the
			// minimum, and the ball's range lies inside it.
			if r <= b || g <= b {
				continue
			}
			mx, mn := max(g, r), b
			if mx < vmin || float64(mx-mn) < smin*float64(mx) {
				continue
			}
			dd := float64(mx - mn)
			var h float64
			if r >= g {
				h = 60 * float64(g-b) / dd
			} else {
				h = 120 + 60*float64(b-r)/dd
			}
			if h >= h0 && h <= h1 {
				out[x] = 255
			}
		}
	}
	return nil
}

// colorMaskCV is the strided colour mask through OpenCV, for hue ranges
// outside (0°, 120°) where stridedColorMask's fast reject does not hold.
func (d *Detector) colorMaskCV(frame gocv.Mat, sz image.Point) error {
	gocv.Resize(frame, &d.small, sz, 0, 0, gocv.InterpolationNearestNeighbor)
	d.threshold(d.small, d.smallBg, &d.smallHSV, &d.smallMask)
	return nil
}
