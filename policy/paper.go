package policy

import (
	"fmt"
	"math"
)

// ClassPaper is the reference system's policy class: a ball-history tower
// and a joint-history tower (two 1-D convolutions each over a short history
// of observations), fused by an MLP into joint position targets (PaperNet,
// PaperController). It has no catch-point search, IK target or hand-set
// catching motion: everything it does is learned from random weights.
const ClassPaper = "paper"

// Channels of one history sample of each tower.
const (
	paperBallCh  = 7  // ball estimate position (3, m), velocity (3, m/s), valid flag
	paperJointCh = 14 // measured q − q_ready (7, rad / m rail), measured q̇ (7)
	paperKernel  = 3  // convolution kernel width (time samples)
)

// PaperConfig is the paper network's architecture and action scaling; it
// is stored in the policy file. The zero value means the defaults.
type PaperConfig struct {
	// BallHist is the number of ball samples in the ball tower's history;
	// default 8. BallStride is their spacing in control ticks; default 4
	// (16 ms at 250 Hz: the tower sees the last 112 ms).
	BallHist   int `json:"ball_hist" yaml:"ball_hist"`
	BallStride int `json:"ball_stride" yaml:"ball_stride"`
	// JointHist and JointStride are the same for the joint tower; defaults
	// 8 and 2 (the last 56 ms).
	JointHist   int `json:"joint_hist" yaml:"joint_hist"`
	JointStride int `json:"joint_stride" yaml:"joint_stride"`
	// Channels is the width of each convolution layer; default 12.
	Channels int `json:"channels" yaml:"channels"`
	// Hidden is the fusion MLP's hidden width; default 16.
	Hidden int `json:"hidden" yaml:"hidden"`
	// RailScaleM and ArmScaleRad scale the network's tanh outputs into
	// joint position targets: target = q_ready + scale·tanh(out) (clipped
	// to the joint limits); defaults 0.8 m and 1.5 rad.
	RailScaleM  float64 `json:"rail_scale_m" yaml:"rail_scale_m"`
	ArmScaleRad float64 `json:"arm_scale_rad" yaml:"arm_scale_rad"`
	// ActionEvery is how many control ticks apart the network acts (the
	// targets are held in between while the servo and the decode run every
	// tick); default 4 (62.5 Hz at 250 Hz, near the reference policy's
	// 75 Hz).
	ActionEvery int `json:"action_every" yaml:"action_every"`
	// ServoTauS is the time constant of the joint position servo that turns
	// the targets into velocity commands (the actuation interface, like a
	// position-controlled arm's; the decode then keeps every command inside
	// the velocity, acceleration and position limits); default 0.04 s.
	ServoTauS float64 `json:"servo_tau_s" yaml:"servo_tau_s"`
}

func (c *PaperConfig) setDefaults() {
	defI := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defI(&c.BallHist, 8)
	defI(&c.BallStride, 4)
	defI(&c.JointHist, 8)
	defI(&c.JointStride, 2)
	defI(&c.Channels, 12)
	defI(&c.Hidden, 16)
	defI(&c.ActionEvery, 4)
	if c.RailScaleM == 0 {
		c.RailScaleM = 0.8
	}
	if c.ArmScaleRad == 0 {
		c.ArmScaleRad = 1.5
	}
	if c.ServoTauS == 0 {
		c.ServoTauS = 0.04
	}
}

// Validate reports the first bad field.
func (c PaperConfig) Validate() error {
	minHist := 2*(paperKernel-1) + 1 // two valid convolutions leave at least one sample
	switch {
	case c.BallHist < minHist || c.BallHist > 64:
		return fmt.Errorf("paper.ball_hist: %d, want [%d, 64]", c.BallHist, minHist)
	case c.JointHist < minHist || c.JointHist > 64:
		return fmt.Errorf("paper.joint_hist: %d, want [%d, 64]", c.JointHist, minHist)
	case c.BallStride < 1 || c.BallStride > 50:
		return fmt.Errorf("paper.ball_stride: %d, want [1, 50]", c.BallStride)
	case c.JointStride < 1 || c.JointStride > 50:
		return fmt.Errorf("paper.joint_stride: %d, want [1, 50]", c.JointStride)
	case c.Channels < 1 || c.Channels > 64:
		return fmt.Errorf("paper.channels: %d, want [1, 64]", c.Channels)
	case c.Hidden < 1 || c.Hidden > 256:
		return fmt.Errorf("paper.hidden: %d, want [1, 256]", c.Hidden)
	case c.ActionEvery < 1 || c.ActionEvery > 50:
		return fmt.Errorf("paper.action_every: %d, want [1, 50]", c.ActionEvery)
	case !(c.RailScaleM > 0 && c.RailScaleM <= 2):
		return fmt.Errorf("paper.rail_scale_m: %v, want (0, 2]", c.RailScaleM)
	case !(c.ArmScaleRad > 0 && c.ArmScaleRad <= math.Pi):
		return fmt.Errorf("paper.arm_scale_rad: %v, want (0, π]", c.ArmScaleRad)
	case !(c.ServoTauS >= 0.004 && c.ServoTauS <= 1):
		return fmt.Errorf("paper.servo_tau_s: %v, want [0.004, 1]", c.ServoTauS)
	}
	return nil
}

// ObsLen is the length of the flat observation: the ball history
// (BallHist × 7, oldest sample first) then the joint history
// (JointHist × 14, oldest first).
func (c PaperConfig) ObsLen() int { return c.BallHist*paperBallCh + c.JointHist*paperJointCh }

// layout gives the offsets of the parameter blocks.
type paperLayout struct {
	bw1, bb1, bw2, bb2 int // ball tower conv weights [C][Cin][K] and biases
	jw1, jb1, jw2, jb2 int // joint tower
	fw1, fb1, fw2, fb2 int // fusion MLP: [H][F], [H], [7][H], [7]
	lb2, lj2, feat     int // output lengths of the towers' second layers, fused features
	n                  int
}

func (c PaperConfig) layout() paperLayout {
	C, K, H := c.Channels, paperKernel, c.Hidden
	var l paperLayout
	k := 0
	take := func(n int) int { o := k; k += n; return o }
	l.bw1, l.bb1 = take(C*paperBallCh*K), take(C)
	l.bw2, l.bb2 = take(C*C*K), take(C)
	l.jw1, l.jb1 = take(C*paperJointCh*K), take(C)
	l.jw2, l.jb2 = take(C*C*K), take(C)
	l.lb2 = c.BallHist - 2*(K-1)
	l.lj2 = c.JointHist - 2*(K-1)
	l.feat = C*l.lb2 + C*l.lj2
	l.fw1, l.fb1 = take(H*l.feat), take(H)
	l.fw2, l.fb2 = take(nOut*H), take(nOut)
	l.n = k
	return l
}

// NumParams is the length of the parameter vector.
func (c PaperConfig) NumParams() int { return c.layout().n }

// PaperNet is the paper class's network: two convolution towers and the
// fusion MLP over the normalised observation. Its output is tanh-squashed
// joint position targets in [−1, 1] (scaled by PaperConfig).
type PaperNet struct {
	Config PaperConfig `json:"config"`
	// Params is the flat vector BGS optimises (see layout).
	Params []float64 `json:"params"`
	// ObsMean and ObsStd normalise the observation; running statistics
	// from training, not optimised by BGS.
	ObsMean []float64 `json:"obs_mean"`
	ObsStd  []float64 `json:"obs_std"`
}

// NewPaperNet returns a randomly initialised network: convolution and
// first fusion weights uniform in ±1/√fan-in (from rnd in [−1, 1)), biases
// and the output layer zero, so the untrained policy holds the ready pose
// and BGS starts from a network whose features already vary with the input.
func NewPaperNet(cfg PaperConfig, rnd func() float64) *PaperNet {
	cfg.setDefaults()
	l := cfg.layout()
	n := &PaperNet{Config: cfg, Params: make([]float64, l.n),
		ObsMean: make([]float64, cfg.ObsLen()), ObsStd: make([]float64, cfg.ObsLen())}
	C, K := cfg.Channels, paperKernel
	fill := func(off, count, fanIn int) {
		s := 1 / math.Sqrt(float64(fanIn))
		for i := off; i < off+count; i++ {
			n.Params[i] = s * rnd()
		}
	}
	fill(l.bw1, C*paperBallCh*K, paperBallCh*K)
	fill(l.bw2, C*C*K, C*K)
	fill(l.jw1, C*paperJointCh*K, paperJointCh*K)
	fill(l.jw2, C*C*K, C*K)
	fill(l.fw1, cfg.Hidden*l.feat, l.feat)
	for i := range n.ObsStd {
		n.ObsStd[i] = 1
	}
	return n
}

// Validate checks the sizes and values.
func (n *PaperNet) Validate() error {
	if err := n.Config.Validate(); err != nil {
		return err
	}
	if want := n.Config.NumParams(); len(n.Params) != want {
		return fmt.Errorf("paper: %d params, want %d", len(n.Params), want)
	}
	if in := n.Config.ObsLen(); len(n.ObsMean) != in || len(n.ObsStd) != in {
		return fmt.Errorf("paper: obs normaliser has %d/%d values, want %d", len(n.ObsMean), len(n.ObsStd), in)
	}
	for i, v := range n.Params {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("paper: params[%d] = %v, want finite", i, v)
		}
	}
	for i, v := range n.ObsStd {
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("paper: obs_std[%d] = %v, want > 0", i, v)
		}
	}
	return nil
}

// Clone returns a deep copy.
func (n *PaperNet) Clone() *PaperNet {
	c := *n
	c.Params = append([]float64(nil), n.Params...)
	c.ObsMean = append([]float64(nil), n.ObsMean...)
	c.ObsStd = append([]float64(nil), n.ObsStd...)
	return &c
}

// paperScratch is the forward pass's working memory.
type paperScratch struct {
	norm, b1, b2, j1, j2, h []float64
}

func newPaperScratch(c PaperConfig) *paperScratch {
	C := c.Channels
	return &paperScratch{norm: make([]float64, c.ObsLen()),
		b1: make([]float64, C*(c.BallHist-paperKernel+1)), b2: make([]float64, C*(c.BallHist-2*paperKernel+2)),
		j1: make([]float64, C*(c.JointHist-paperKernel+1)), j2: make([]float64, C*(c.JointHist-2*paperKernel+2)),
		h: make([]float64, c.Hidden)}
}

// conv1d is a valid 1-D convolution with tanh: x is [L][cin] when
// timeMajor (the observation layout) or [cin][L] otherwise (a previous
// layer's output), w is [cout][cin][K], y is [cout][L−K+1].
func conv1d(x []float64, L, cin int, timeMajor bool, w, b []float64, cout int, y []float64) {
	K := paperKernel
	lo := L - K + 1
	for o := 0; o < cout; o++ {
		wo := w[o*cin*K : (o+1)*cin*K]
		for t := 0; t < lo; t++ {
			s := b[o]
			for ci := 0; ci < cin; ci++ {
				wk := wo[ci*K : (ci+1)*K]
				for k, wv := range wk {
					if timeMajor {
						s += wv * x[(t+k)*cin+ci]
					} else {
						s += wv * x[ci*L+t+k]
					}
				}
			}
			y[o*lo+t] = math.Tanh(s)
		}
	}
}

// forward evaluates the network with params on the raw observation obs
// into out (7 values in [−1, 1]). It allocates nothing.
func (n *PaperNet) forward(params, obs []float64, s *paperScratch, out []float64) {
	c := n.Config
	l := c.layout()
	C := c.Channels
	for k := range s.norm {
		s.norm[k] = (obs[k] - n.ObsMean[k]) / n.ObsStd[k]
	}
	nb := c.BallHist * paperBallCh
	ball, joint := s.norm[:nb], s.norm[nb:]
	lb1, lj1 := c.BallHist-paperKernel+1, c.JointHist-paperKernel+1
	conv1d(ball, c.BallHist, paperBallCh, true, params[l.bw1:l.bb1], params[l.bb1:l.bw2], C, s.b1)
	conv1d(s.b1, lb1, C, false, params[l.bw2:l.bb2], params[l.bb2:l.jw1], C, s.b2)
	conv1d(joint, c.JointHist, paperJointCh, true, params[l.jw1:l.jb1], params[l.jb1:l.jw2], C, s.j1)
	conv1d(s.j1, lj1, C, false, params[l.jw2:l.jb2], params[l.jb2:l.fw1], C, s.j2)
	nb2 := len(s.b2)
	for i := 0; i < c.Hidden; i++ {
		row := params[l.fw1+i*l.feat : l.fw1+(i+1)*l.feat]
		v := params[l.fb1+i]
		for k, x := range s.b2 {
			v += row[k] * x
		}
		for k, x := range s.j2 {
			v += row[nb2+k] * x
		}
		s.h[i] = math.Tanh(v)
	}
	for o := 0; o < nOut; o++ {
		row := params[l.fw2+o*c.Hidden : l.fw2+(o+1)*c.Hidden]
		v := params[l.fb2+o]
		for i, x := range s.h {
			v += row[i] * x
		}
		out[o] = math.Tanh(v)
	}
}
