package ort

import (
	"fmt"

	"github.com/agilecatch/catch/forecast"
)

// Net runs one of forecast's exported networks (the drift or the flow map) through ONNX
// Runtime; it implements forecast.Net. The batch is fixed at setup: Forward with fewer rows
// runs the full batch and returns the first rows. Not safe for concurrent use.
type Net struct {
	s       *Session
	in, out int
	batch   int
}

// NewNet sets up a session for an exported MLP (input "in" [batch, in], output name out).
func NewNet(model []byte, output string, in, out, batch int, cfg Config) (*Net, error) {
	s, err := NewSession(model,
		[]Tensor{{Name: "in", Shape: []int64{int64(batch), int64(in)}}},
		[]Tensor{{Name: output, Shape: []int64{int64(batch), int64(out)}}}, cfg)
	if err != nil {
		return nil, err
	}
	return &Net{s: s, in: in, out: out, batch: batch}, nil
}

// In implements forecast.Net.
func (n *Net) In() int { return n.in }

// Out implements forecast.Net.
func (n *Net) Out() int { return n.out }

// Forward implements forecast.Net; it converts to float32 and back.
func (n *Net) Forward(dst, in []float64, batch int) error {
	if batch > n.batch {
		return fmt.Errorf("ort: net: batch %d exceeds the session's %d", batch, n.batch)
	}
	x := n.s.Input(0)
	for i, v := range in[:batch*n.in] {
		x[i] = float32(v)
	}
	if err := n.s.Run(); err != nil {
		return err
	}
	y := n.s.Output(0)
	for i := range dst[:batch*n.out] {
		dst[i] = float64(y[i])
	}
	return nil
}

// Close releases the session.
func (n *Net) Close() error { return n.s.Close() }

// Forecaster is the interpolant forecaster with its networks on ONNX Runtime.
type Forecaster struct {
	*forecast.Interpolant
	nets []*Net
}

// NewForecaster sets up ONNX Runtime sessions for the model's drift (and flow map) at a
// batch of samples and returns the forecaster. [Init] must have been called.
func NewForecaster(m *forecast.Model, samples int, sc forecast.SamplerConfig, cfg Config) (*Forecaster, error) {
	d := m.Meta.D()
	f := &Forecaster{}
	ok := false
	defer func() {
		if !ok {
			f.Close()
		}
	}()
	b, err := m.DriftONNX()
	if err != nil {
		return nil, err
	}
	drift, err := NewNet(b, "drift", 1+d+forecast.CondDim, d, samples, cfg)
	if err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	f.nets = append(f.nets, drift)
	var flow forecast.Net
	if m.Flow != nil {
		b, err := m.FlowONNX()
		if err != nil {
			return nil, err
		}
		fn, err := NewNet(b, "flow", 2+d+forecast.CondDim, d, samples, cfg)
		if err != nil {
			return nil, fmt.Errorf("flow map: %w", err)
		}
		f.nets = append(f.nets, fn)
		flow = fn
	}
	f.Interpolant, err = forecast.NewInterpolant(m, drift, flow, sc)
	if err != nil {
		return nil, err
	}
	ok = true
	return f, nil
}

// Close releases the sessions.
func (f *Forecaster) Close() error {
	for _, n := range f.nets {
		n.Close()
	}
	f.nets = nil
	return nil
}
