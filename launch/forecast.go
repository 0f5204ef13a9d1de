package launch

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/forecast"
	"github.com/agilecatch/catch/forecast/ort"
	"github.com/agilecatch/catch/sim"
)

// SimForecaster adapts a forecast.Forecaster to the simulated world: it
// keeps the observation history of the current throw and forecasts after
// every new observation. Sampling noise is seeded from the throw itself,
// so a trial's results do not depend on which worker ran it.
type SimForecaster struct {
	f    forecast.Forecaster
	hist *forecast.History
	rng  *rand.Rand
	pcg  *rand.PCG
	in   forecast.Input
	// Errors counts forecasts that failed for a reason other than "not
	// enough input yet".
	Errors int
	close  func() error
}

// MaxForecastSamples bounds the samples of one forecast (the controller's
// buffers and the model's batch are sized by it; 256 is the default).
const MaxForecastSamples = 1 << 16

// NewSimForecaster builds the forecaster named by model — "physics" for the
// drag/Magnus baseline sampling the estimator's covariance, or the path of
// an interpolant model (FILE.onnx, run by ONNX Runtime) — with the given
// number of samples, and its output buffer.
func NewSimForecaster(model string, props ball.Props, samples int) (*SimForecaster, control.Forecast, error) {
	if samples <= 0 || samples > MaxForecastSamples {
		return nil, control.Forecast{}, fmt.Errorf("forecast samples: %d, want 1..%d", samples, MaxForecastSamples)
	}
	s := &SimForecaster{hist: forecast.NewHistory(256), pcg: rand.NewPCG(1, 2)}
	s.rng = rand.New(s.pcg)
	if model == "physics" {
		p, err := forecast.NewPhysics(props, forecast.PhysicsConfig{})
		if err != nil {
			return nil, control.Forecast{}, err
		}
		s.f = p
	} else {
		m, err := forecast.LoadModel(model)
		if err != nil {
			return nil, control.Forecast{}, err
		}
		if err := ort.Init(""); err != nil {
			return nil, control.Forecast{}, err
		}
		f, err := ort.NewForecaster(m, samples, forecast.SamplerConfig{}, ort.Config{})
		if err != nil {
			return nil, control.Forecast{}, err
		}
		s.f, s.close = f, f.Close
	}
	dt, h := s.f.Horizons()
	return s, forecast.NewBuffer(dt, h, samples), nil
}

// StartThrow implements sim.Forecaster.
func (s *SimForecaster) StartThrow(th *sim.Throw) error {
	s.hist.Reset()
	s.pcg.Seed(math.Float64bits(th.Init.V[0]), math.Float64bits(th.Init.V[2]))
	return nil
}

// Observe implements sim.Forecaster.
func (s *SimForecaster) Observe(t float64, p ball.Vec) { s.hist.Add(t, p) }

// Forecast implements sim.Forecaster.
func (s *SimForecaster) Forecast(now float64, est *ball.Estimate, dst *control.Forecast) bool {
	s.in = forecast.Input{Now: now, History: s.hist.Window(), Estimate: est}
	err := s.f.Forecast(&s.in, s.rng, dst)
	if err != nil && !errors.Is(err, forecast.ErrNoCondition) {
		s.Errors++
	}
	return err == nil
}

// Close frees the ONNX Runtime session.
func (s *SimForecaster) Close() error {
	if s.close != nil {
		return s.close()
	}
	return nil
}
