package policy

import (
	"fmt"
	"math"
)

// Layout of the structural parameters at the front of the parameter
// vector. Each raw value p maps to a physical one as base + scale·p (or
// base·exp(p) for the gains), so one perturbation σ means a comparable
// change everywhere and the zero vector is the hand-set prior.
const (
	pGain     = 0  // 7 joint gains K_j = GainBase·exp(p), 1/s
	pLead     = 7  // look-ahead L on the reference = 0.04 + 0.05·p s (action latency and tracking lag)
	pCradle   = 8  // head speed along the ball's flight at the catch = 2.0 + 1.0·p m/s (capped by the joints' limits)
	pPre      = 9  // time the head accelerates to that speed before the catch = 0.15 + 0.05·p s
	pPost     = 10 // time it decelerates to rest after the catch = 0.15 + 0.1·p s (at least what the limits need)
	pPlane    = 11 // x the catch region is centred on, x_c = 0.25 + 0.1·p m
	pFF       = 12 // feed-forward gain on ṡ·d = 1 + 0.5·p
	pTurn     = 13 // 7 joint offsets 0.3·p rad ramped in after the catch (net turns up)
	nStruct   = 20 // number of structural parameters
	nOut      = 7  // joint velocity outputs of the MLP
	resScale  = 1.0
	gainBase  = 8.0
	dofPolicy = 7
)

// Net is the policy network: the structural parameters above plus a
// one-hidden-layer tanh MLP over the normalised observation that outputs a
// joint velocity residual (rad/s, m/s for the rail).
type Net struct {
	In, Hidden int
	// Params is the flat vector BGS optimises: nStruct structural values,
	// then W1 (Hidden×In, row-major), b1 (Hidden), W2 (nOut×Hidden), b2 (nOut).
	Params []float64
	// ObsMean and ObsStd normalise the MLP input; they are running
	// statistics from training, not optimised by BGS.
	ObsMean, ObsStd []float64
}

// NumParams is the length of the parameter vector for the sizes.
func NumParams(in, hidden int) int { return nStruct + hidden*in + hidden + nOut*hidden + nOut }

// NewNet returns the prior network: structural parameters at zero (the
// hand-set values), W1 small random from rnd (in [-1, 1), scaled by
// 1/√in), W2 and the biases zero so the residual starts at zero.
func NewNet(in, hidden int, rnd func() float64) *Net {
	n := &Net{In: in, Hidden: hidden, Params: make([]float64, NumParams(in, hidden)),
		ObsMean: make([]float64, in), ObsStd: make([]float64, in)}
	w1 := n.Params[nStruct : nStruct+hidden*in]
	s := 1 / math.Sqrt(float64(in))
	for i := range w1 {
		w1[i] = s * rnd()
	}
	for i := range n.ObsStd {
		n.ObsStd[i] = 1
	}
	return n
}

// Validate checks the sizes.
func (n *Net) Validate() error {
	if n.In <= 0 || n.Hidden <= 0 {
		return fmt.Errorf("net: in %d, hidden %d: want > 0", n.In, n.Hidden)
	}
	if len(n.Params) != NumParams(n.In, n.Hidden) {
		return fmt.Errorf("net: %d params, want %d for in %d hidden %d", len(n.Params), NumParams(n.In, n.Hidden), n.In, n.Hidden)
	}
	if len(n.ObsMean) != n.In || len(n.ObsStd) != n.In {
		return fmt.Errorf("net: obs normaliser has %d/%d values, want %d", len(n.ObsMean), len(n.ObsStd), n.In)
	}
	for i, v := range n.Params {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("net: params[%d] = %v, want finite", i, v)
		}
	}
	for i, v := range n.ObsStd {
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("net: obs_std[%d] = %v, want > 0", i, v)
		}
	}
	return nil
}

// Clone returns a deep copy.
func (n *Net) Clone() *Net {
	c := *n
	c.Params = append([]float64(nil), n.Params...)
	c.ObsMean = append([]float64(nil), n.ObsMean...)
	c.ObsStd = append([]float64(nil), n.ObsStd...)
	return &c
}

// MLP evaluates the residual head on the raw observation obs (len In) into
// out (len 7), using norm (len In) and hidden (len Hidden) as scratch. It
// allocates nothing.
func (n *Net) MLP(params, obs, norm, hidden, out []float64) {
	in, h := n.In, n.Hidden
	w1 := params[nStruct : nStruct+h*in]
	b1 := params[nStruct+h*in : nStruct+h*in+h]
	w2 := params[nStruct+h*in+h : nStruct+h*in+h+nOut*h]
	b2 := params[nStruct+h*in+h+nOut*h:]
	for k := range norm[:in] {
		norm[k] = (obs[k] - n.ObsMean[k]) / n.ObsStd[k]
	}
	for i := 0; i < h; i++ {
		row := w1[i*in : (i+1)*in]
		s := b1[i]
		for k, w := range row {
			s += w * norm[k]
		}
		hidden[i] = math.Tanh(s)
	}
	for o := 0; o < nOut; o++ {
		row := w2[o*h : (o+1)*h]
		s := b2[o]
		for i, w := range row {
			s += w * hidden[i]
		}
		out[o] = resScale * s
	}
}
