package vision

import (
	"errors"
	"fmt"
	"math"

	"gocv.io/x/gocv"

	"github.com/agilecatch/catch/forecast/ort"
	"github.com/agilecatch/catch/perception/ballnet"
)

// BallCrop writes the classifier's input for candidate c of frame (8-bit
// BGR) into dst (ballnet.In values): a square of ballnet.CropScale blob
// radii (at least 3 px of radius) centred on the blob, resampled
// bilinearly to ballnet.Size² (edge pixels repeated beyond the frame),
// planar B, G, R, scaled to value/255 − 0.5. Training (TrainingCrops) and
// scoring (Classifier) use this one function.
func BallCrop(frame gocv.Mat, c Candidate, dst []float32) error {
	if len(dst) < ballnet.In {
		return fmt.Errorf("ballcrop: dst holds %d values, want %d", len(dst), ballnet.In)
	}
	if frame.Type() != gocv.MatTypeCV8UC3 {
		return fmt.Errorf("ballcrop: frame type %v, want 8-bit BGR", frame.Type())
	}
	pix, err := frame.DataPtrUint8()
	if err != nil {
		return fmt.Errorf("ballcrop: %w", err)
	}
	W, H := frame.Cols(), frame.Rows()
	stride := W * 3
	side := ballnet.CropScale * math.Max(c.Radius, 3)
	step := side / ballnet.Size
	const plane = ballnet.Size * ballnet.Size
	for j := 0; j < ballnet.Size; j++ {
		y := c.V + (float64(j)+0.5)*step - side/2
		y0 := math.Floor(y)
		fy := y - y0
		ya, yb := clampInt(int(y0), H-1), clampInt(int(y0)+1, H-1)
		for i := 0; i < ballnet.Size; i++ {
			x := c.U + (float64(i)+0.5)*step - side/2
			x0 := math.Floor(x)
			fx := x - x0
			xa, xb := clampInt(int(x0), W-1), clampInt(int(x0)+1, W-1)
			for ch := 0; ch < 3; ch++ {
				p00 := float64(pix[ya*stride+xa*3+ch])
				p01 := float64(pix[ya*stride+xb*3+ch])
				p10 := float64(pix[yb*stride+xa*3+ch])
				p11 := float64(pix[yb*stride+xb*3+ch])
				v := (p00*(1-fx)+p01*fx)*(1-fy) + (p10*(1-fx)+p11*fx)*fy
				dst[ch*plane+j*ballnet.Size+i] = float32(v/255 - 0.5)
			}
		}
	}
	return nil
}

func clampInt(v, hi int) int {
	if v < 0 {
		return 0
	}
	if v > hi {
		return hi
	}
	return v
}

// ClassifierBatch is the crops one ONNX Runtime run scores: a full-frame
// search's candidates of one camera (DetectorConfig.MaxCandidates is 8 by
// default) in one run, a tracking ROI's one or two in one.
const ClassifierBatch = 8

// Classifier scores candidates with a ballnet model (the shipped
// perception/models/ball.onnx unless told otherwise) through ONNX Runtime,
// one thread. Only setup allocates. Not safe for concurrent use: one per
// Detector.
type Classifier struct {
	s *ort.Session
}

// NewClassifier loads ONNX Runtime (ort.Init: ONNXRUNTIME_LIB or .deps,
// `make deps`) and sets up a session for model.
func NewClassifier(model []byte) (*Classifier, error) {
	if len(model) == 0 {
		return nil, errors.New("classifier: empty model")
	}
	if err := ort.Init(""); err != nil {
		return nil, fmt.Errorf("classifier: %w", err)
	}
	s, err := ort.NewSession(model,
		[]ort.Tensor{{Name: ballnet.InputName, Shape: []int64{ClassifierBatch, ballnet.Channels, ballnet.Size, ballnet.Size}}},
		[]ort.Tensor{{Name: ballnet.OutputName, Shape: []int64{ClassifierBatch, 1}}}, ort.Config{})
	if err != nil {
		return nil, fmt.Errorf("classifier: %w", err)
	}
	return &Classifier{s: s}, nil
}

// Close frees the session.
func (c *Classifier) Close() error { return c.s.Close() }

// Score sets the Score of every candidate from its crop of frame.
func (c *Classifier) Score(frame gocv.Mat, cands []Candidate) error {
	in := c.s.Input(0)
	for at := 0; at < len(cands); at += ClassifierBatch {
		n := min(ClassifierBatch, len(cands)-at)
		for k := 0; k < n; k++ {
			if err := BallCrop(frame, cands[at+k], in[k*ballnet.In:(k+1)*ballnet.In]); err != nil {
				return err
			}
		}
		if err := c.s.Run(); err != nil {
			return fmt.Errorf("classifier: %w", err)
		}
		out := c.s.Output(0)
		for k := 0; k < n; k++ {
			cands[at+k].Score = float64(out[k])
		}
	}
	return nil
}

// ScoreCrops writes into dst the score of each crop of crops (ballnet.In
// values each, BallCrop's layout).
func (c *Classifier) ScoreCrops(crops []float32, dst []float64) error {
	n := len(crops) / ballnet.In
	if len(crops) != n*ballnet.In || len(dst) < n {
		return fmt.Errorf("classifier: %d crop values and %d scores, want a multiple of %d and one score per crop", len(crops), len(dst), ballnet.In)
	}
	in := c.s.Input(0)
	for at := 0; at < n; at += ClassifierBatch {
		k := min(ClassifierBatch, n-at)
		copy(in, crops[at*ballnet.In:(at+k)*ballnet.In])
		if err := c.s.Run(); err != nil {
			return fmt.Errorf("classifier: %w", err)
		}
		out := c.s.Output(0)
		for i := 0; i < k; i++ {
			dst[at+i] = float64(out[i])
		}
	}
	return nil
}
