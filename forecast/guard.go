package forecast

import (
	"errors"
	"math/rand/v2"

	"github.com/agilecatch/catch/control"
)

// Guarded forecasts with the interpolant where the window's condition lies inside the
// model's training envelope (Meta.InRange) and with the fallback (the physics baseline)
// elsewhere, and where the interpolant has no condition yet. A learned model asked about
// balls faster, slower or spinning harder than it was trained on extrapolates badly; the
// physics sampler does not. Like every Forecaster it is owned by one goroutine; Forecast
// does not allocate beyond its parts.
type Guarded struct {
	model    *Interpolant
	fallback Forecaster
	cond     [CondDim]float64
	// Stats of the calls so far.
	Stats GuardStats
	// Last says how the last Forecast was made.
	Last GuardDecision
}

// GuardDecision is how one forecast was made.
type GuardDecision int

const (
	// UsedModel: the condition was inside the envelope.
	UsedModel GuardDecision = iota
	// OutOfRange: the condition was outside; the fallback forecast.
	OutOfRange
	// NoCondition: the interpolant had no condition; the fallback forecast.
	NoCondition
)

// GuardStats count the decisions; Outside[k] counts the out-of-range calls whose first
// coordinate outside was k (CondNames).
type GuardStats struct {
	Model, OutOfRange, NoCondition int
	Outside                        [CondDim]int
}

// NewGuarded returns the guarded forecaster; model and fallback must forecast the same
// horizons.
func NewGuarded(model *Interpolant, fallback Forecaster) (*Guarded, error) {
	if model == nil || fallback == nil {
		return nil, errors.New("forecast: guarded: model and fallback are required")
	}
	d1, h1 := model.Horizons()
	d2, h2 := fallback.Horizons()
	if d1 != d2 || h1 != h2 {
		return nil, errors.New("forecast: guarded: the model's and the fallback's horizons differ")
	}
	if model.Meta().CondKind != "" {
		return nil, errors.New("forecast: guarded: the model conditions on an estimate (a Residual's model), not the window fit")
	}
	return &Guarded{model: model, fallback: fallback}, nil
}

// Horizons implements Forecaster.
func (g *Guarded) Horizons() (float64, int) { return g.model.Horizons() }

// Forecast implements Forecaster.
func (g *Guarded) Forecast(in *Input, rng *rand.Rand, dst *control.Forecast) error {
	if !g.model.Condition(in, g.cond[:]) {
		g.Last = NoCondition
		g.Stats.NoCondition++
		return g.fallback.Forecast(in, rng, dst)
	}
	if ok, k := g.model.Meta().InRange(g.cond[:]); !ok {
		g.Last = OutOfRange
		g.Stats.OutOfRange++
		g.Stats.Outside[k]++
		return g.fallback.Forecast(in, rng, dst)
	}
	g.Last = UsedModel
	g.Stats.Model++
	return g.model.Forecast(in, rng, dst)
}
