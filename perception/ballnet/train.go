package ballnet

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Samples is a labelled set of crops: X holds len(Y) crops of In values
// each (the package doc's layout), Y is 1 for the ball and 0 for anything
// else.
type Samples struct {
	X []float32
	Y []float32
}

// Len is the number of crops.
func (s *Samples) Len() int { return len(s.Y) }

// Add appends one crop.
func (s *Samples) Add(crop []float32, y float32) {
	s.X = append(s.X, crop[:In]...)
	s.Y = append(s.Y, y)
}

// Validate checks the shapes and labels.
func (s *Samples) Validate() error {
	if len(s.X) != len(s.Y)*In {
		return fmt.Errorf("ballnet: %d crop values for %d labels, want %d per crop", len(s.X), len(s.Y), In)
	}
	var pos, neg int
	for i, y := range s.Y {
		switch y {
		case 1:
			pos++
		case 0:
			neg++
		default:
			return fmt.Errorf("ballnet: label %d is %v, want 0 or 1", i, y)
		}
	}
	if pos == 0 || neg == 0 {
		return fmt.Errorf("ballnet: %d ball and %d other crops, want some of each", pos, neg)
	}
	return nil
}

// TrainConfig configures Train. The zero value means the defaults.
type TrainConfig struct {
	C1     int     `yaml:"c1"`     // first convolution's channels; default 8
	C2     int     `yaml:"c2"`     // second convolution's channels; default 16
	Epochs int     `yaml:"epochs"` // passes over the crops; default 30
	Batch  int     `yaml:"batch"`  // crops per Adam step; default 64
	LR     float64 `yaml:"lr"`     // Adam's step size, decayed linearly to a tenth; default 0.003
	Seed   uint64  `yaml:"seed"`   // initial weights and the crops' order
}

// WithDefaults returns c with every zero field set to its default.
func (c TrainConfig) WithDefaults() TrainConfig {
	if c.C1 == 0 {
		c.C1 = 8
	}
	if c.C2 == 0 {
		c.C2 = 16
	}
	if c.Epochs == 0 {
		c.Epochs = 30
	}
	if c.Batch == 0 {
		c.Batch = 64
	}
	if c.LR == 0 {
		c.LR = 0.003
	}
	return c
}

// Validate reports the first bad field.
func (c TrainConfig) Validate() error {
	c = c.WithDefaults()
	if c.C1 < 1 || c.C1 > 64 || c.C2 < 1 || c.C2 > 64 {
		return fmt.Errorf("ballnet: c1 %d, c2 %d, want 1..64", c.C1, c.C2)
	}
	if c.Epochs < 1 || c.Epochs > 10000 {
		return fmt.Errorf("ballnet: epochs %d, want 1..10000", c.Epochs)
	}
	if c.Batch < 1 || c.Batch > 1<<16 {
		return fmt.Errorf("ballnet: batch %d, want 1..65536", c.Batch)
	}
	if !(c.LR > 0 && c.LR < 1) {
		return fmt.Errorf("ballnet: lr %v, want (0, 1)", c.LR)
	}
	return nil
}

// Report is what Train measured on its own crops (not evidence of how the
// classifier generalises: see the held-out evaluation in
// perception/vision).
type Report struct {
	Params    int       `json:"params"`
	Ball      int       `json:"ball_crops"`
	Other     int       `json:"other_crops"`
	Loss      float64   `json:"final_loss"` // class-balanced cross-entropy of the last epoch
	BallAcc   float64   `json:"ball_acc"`   // ball crops scored > 0.5, after training
	OtherAcc  float64   `json:"other_acc"`  // other crops scored < 0.5, after training
	EpochLoss []float64 `json:"epoch_loss"` // per epoch
}

// Train fits a network to the crops by Adam on the class-balanced binary
// cross-entropy, single-threaded and seeded: the same crops and config give
// the same weights, bit for bit. progress, when not nil, is called after
// each epoch.
func Train(s *Samples, cfg TrainConfig, progress func(epoch int, loss float64)) (*Net, *Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, nil, err
	}
	cfg = cfg.WithDefaults()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xba11))
	n, err := New(cfg.C1, cfg.C2, rng)
	if err != nil {
		return nil, nil, err
	}
	rep := &Report{Params: len(n.P)}
	for _, y := range s.Y {
		if y == 1 {
			rep.Ball++
		} else {
			rep.Other++
		}
	}
	// Each class weighs half the loss.
	wPos, wNeg := 0.5/float64(rep.Ball), 0.5/float64(rep.Other)
	N := s.Len()
	order := make([]int, N)
	for i := range order {
		order[i] = i
	}
	g := make([]float64, len(n.P))
	m := make([]float64, len(n.P))
	v := make([]float64, len(n.P))
	const b1, b2, eps = 0.9, 0.999, 1e-8
	steps := cfg.Epochs * ((N + cfg.Batch - 1) / cfg.Batch)
	step := 0
	n.ensure()
	for ep := 0; ep < cfg.Epochs; ep++ {
		rng.Shuffle(N, func(i, j int) { order[i], order[j] = order[j], order[i] })
		var loss float64
		for at := 0; at < N; at += cfg.Batch {
			end := min(at+cfg.Batch, N)
			clear(g)
			var bw float64
			for _, k := range order[at:end] {
				if s.Y[k] == 1 {
					bw += wPos
				} else {
					bw += wNeg
				}
			}
			for _, k := range order[at:end] {
				z := n.Logit(s.X[k*In : (k+1)*In])
				y, w := float64(s.Y[k]), wNeg
				if y == 1 {
					w = wPos
				}
				// Cross-entropy with logits, stable for large |z|.
				loss += w * (math.Max(z, 0) - z*y + math.Log1p(math.Exp(-math.Abs(z))))
				n.backward(w/bw*(sigmoid(z)-y), g)
			}
			step++
			lr := cfg.LR * (1 - 0.9*float64(step-1)/float64(max(1, steps-1)))
			c1, c2 := 1-math.Pow(b1, float64(step)), 1-math.Pow(b2, float64(step))
			for i := range n.P {
				m[i] = b1*m[i] + (1-b1)*g[i]
				v[i] = b2*v[i] + (1-b2)*g[i]*g[i]
				n.P[i] -= lr * (m[i] / c1) / (math.Sqrt(v[i]/c2) + eps)
			}
		}
		rep.EpochLoss = append(rep.EpochLoss, loss)
		rep.Loss = loss
		if progress != nil {
			progress(ep+1, loss)
		}
		if math.IsNaN(loss) {
			return nil, nil, errors.New("ballnet: training diverged (loss NaN); lower lr")
		}
	}
	n.RoundToFloat32()
	var okPos, okNeg int
	for k := 0; k < N; k++ {
		z := n.Logit(s.X[k*In : (k+1)*In])
		if s.Y[k] == 1 && z > 0 {
			okPos++
		} else if s.Y[k] == 0 && z < 0 {
			okNeg++
		}
	}
	rep.BallAcc = float64(okPos) / float64(rep.Ball)
	rep.OtherAcc = float64(okNeg) / float64(rep.Other)
	return n, rep, nil
}

// Separation measures how scores (probabilities) of ball crops pos and
// other crops neg separate: the fractions over and under 0.5, and the area
// under the ROC curve (the probability that a random ball crop outscores a
// random other one, ties counting half).
func Separation(pos, neg []float64) (posAcc, negAcc, auc float64) {
	if len(pos) == 0 || len(neg) == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	for _, p := range pos {
		if p > 0.5 {
			posAcc++
		}
	}
	for _, p := range neg {
		if p < 0.5 {
			negAcc++
		}
	}
	n := slices.Clone(neg)
	slices.Sort(n)
	var wins float64
	for _, p := range pos {
		lo, _ := slices.BinarySearch(n, p)
		hi := lo
		for hi < len(n) && n[hi] == p {
			hi++
		}
		wins += float64(lo) + 0.5*float64(hi-lo)
	}
	return posAcc / float64(len(pos)), negAcc / float64(len(neg)), wins / float64(len(pos)*len(neg))
}
