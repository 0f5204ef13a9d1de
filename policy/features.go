package policy

import (
	"fmt"
	"math"
)

// FeatureConfig sets the observation the network sees. It is stored in the
// policy file, since a trained network only fits the features it was
// trained on. The zero value means the defaults.
type FeatureConfig struct {
	// NHist is the number of measured joint-position samples in the
	// history; default 3.
	NHist int `json:"n_hist" yaml:"n_hist"`
	// HistStride is the spacing of the history samples in control ticks;
	// default 2 (8 ms at 250 Hz).
	HistStride int `json:"hist_stride" yaml:"hist_stride"`
	// NPred is the number of predicted ball states (position, velocity) in
	// the observation; default 5.
	NPred int `json:"n_pred" yaml:"n_pred"`
	// PredDtS is the spacing of the predicted states from the estimate's
	// time, s; default 0.1. It must be a multiple of 20 ms (the predictor's
	// step).
	PredDtS float64 `json:"pred_dt_s" yaml:"pred_dt_s"`
	// RailOffsetM is how far from the intercept, toward the robot's centre
	// line, the IK seed puts the rail carriage: a ball to the right gets the
	// carriage left of it and the head right of the carriage, and vice
	// versa. This picks the whole-body configuration and so the catch
	// modality (both sides are used: throws to the right are caught on the
	// right side, throws to the left on the left); default 0.2 m.
	RailOffsetM float64 `json:"rail_offset_m" yaml:"rail_offset_m"`
	// RailOffsetWidthM smooths the side switch near the centre line
	// (offset = −RailOffsetM·tanh(y/width)); default 0.05 m.
	RailOffsetWidthM float64 `json:"rail_offset_width_m" yaml:"rail_offset_width_m"`
	// ZMinM is the lowest catch point considered: the predictor's search
	// for the catch point stops where the ball drops below it; default
	// 0.4 m.
	ZMinM float64 `json:"z_min_m" yaml:"z_min_m"`
	// DescentMaxDeg is the steepest descent (angle of the ball's velocity
	// below the horizontal) at which a catch point scores as well as a
	// level one; steeper points score worse by ((descent − max)/width)².
	// A falling lob met where it drops steeply needs the net facing up,
	// which the arm cannot do at the centre of the catch region, so the
	// head meets it earlier, higher up and further out; default 45°.
	DescentMaxDeg float64 `json:"descent_max_deg" yaml:"descent_max_deg"`
	// DescentWidthDeg is that width; default 10°.
	DescentWidthDeg float64 `json:"descent_width_deg" yaml:"descent_width_deg"`
	// SpinFitMinLift: for a ball whose Magnus coefficient k_l
	// (ball.Props.Coeffs, a = k_l·ω×v) is at least this, the planner flies
	// the estimate with the spin inferred from its velocity changes
	// (perception.SpinFit). Default 0.003: the foam (0.006) and
	// table-tennis (0.008) balls qualify; a tennis ball's (0.0012) lift hides
	// in the estimate's noise, and fitting it only adds noise. 1 turns the
	// fit off.
	SpinFitMinLift float64 `json:"spin_fit_min_lift" yaml:"spin_fit_min_lift"`
	// FreezeS stops re-planning this long before the predicted catch, so a
	// ball already in the net does not move the plan; default 0.04 s.
	FreezeS float64 `json:"freeze_s" yaml:"freeze_s"`
}

func (c *FeatureConfig) setDefaults() {
	if c.NHist == 0 {
		c.NHist = 3
	}
	if c.HistStride == 0 {
		c.HistStride = 2
	}
	if c.NPred == 0 {
		c.NPred = 5
	}
	if c.PredDtS == 0 {
		c.PredDtS = 0.1
	}
	if c.RailOffsetM == 0 {
		c.RailOffsetM = 0.2
	}
	if c.RailOffsetWidthM == 0 {
		c.RailOffsetWidthM = 0.05
	}
	if c.ZMinM == 0 {
		c.ZMinM = 0.4
	}
	if c.DescentMaxDeg == 0 {
		c.DescentMaxDeg = 45
	}
	if c.DescentWidthDeg == 0 {
		c.DescentWidthDeg = 10
	}
	if c.SpinFitMinLift == 0 {
		c.SpinFitMinLift = 0.003
	}
	if c.FreezeS == 0 {
		c.FreezeS = 0.04
	}
}

// Validate reports the first bad field.
func (c FeatureConfig) Validate() error {
	switch {
	case c.NHist < 1 || c.NHist > 32:
		return fmt.Errorf("features.n_hist: %d, want [1, 32]", c.NHist)
	case c.HistStride < 1 || c.HistStride > 50:
		return fmt.Errorf("features.hist_stride: %d, want [1, 50]", c.HistStride)
	case c.NPred < 1 || c.NPred > 64:
		return fmt.Errorf("features.n_pred: %d, want [1, 64]", c.NPred)
	case !(c.PredDtS >= predStep) || c.PredDtS > 0.5 || math.Abs(c.PredDtS/predStep-math.Round(c.PredDtS/predStep)) > 1e-6:
		return fmt.Errorf("features.pred_dt_s: %v, want a multiple of %v s up to 0.5", c.PredDtS, predStep)
	case !(c.RailOffsetM >= 0 && c.RailOffsetM < 1):
		return fmt.Errorf("features.rail_offset_m: %v, want [0, 1)", c.RailOffsetM)
	case !(c.RailOffsetWidthM > 0 && c.RailOffsetWidthM < 1):
		return fmt.Errorf("features.rail_offset_width_m: %v, want (0, 1)", c.RailOffsetWidthM)
	case !(c.ZMinM >= 0 && c.ZMinM < 3):
		return fmt.Errorf("features.z_min_m: %v, want [0, 3)", c.ZMinM)
	case c.DescentMaxDeg == 0 && c.DescentWidthDeg == 0:
		return fmt.Errorf("features.descent_max_deg and descent_width_deg: missing (a policy file from before they existed: add 45 and 10, the defaults, or retrain)")
	case !(c.DescentMaxDeg > 0 && c.DescentMaxDeg <= 90):
		return fmt.Errorf("features.descent_max_deg: %v, want (0, 90]", c.DescentMaxDeg)
	case !(c.DescentWidthDeg > 0 && c.DescentWidthDeg <= 90):
		return fmt.Errorf("features.descent_width_deg: %v, want (0, 90]", c.DescentWidthDeg)
	case c.SpinFitMinLift == 0:
		return fmt.Errorf("features.spin_fit_min_lift: missing (a policy file from before it existed: add 0.003, the default, or retrain)")
	case !(c.SpinFitMinLift > 0 && c.SpinFitMinLift <= 1):
		return fmt.Errorf("features.spin_fit_min_lift: %v, want (0, 1]", c.SpinFitMinLift)
	case !(c.FreezeS >= 0 && c.FreezeS < 0.5):
		return fmt.Errorf("features.freeze_s: %v, want [0, 0.5)", c.FreezeS)
	}
	return nil
}

// ObsLen is the observation length for a chain of dof joints:
//
//	q_cmd − q_ready                      dof
//	measured q − q_ready, NHist samples  NHist·dof
//	measured q̇                          dof
//	predicted ball (p, v), NPred states  6·NPred
//	q_ref − q_cmd (the IK feature)       dof
//	time to catch, plan valid            2
func (c FeatureConfig) ObsLen(dof int) int { return dof*(3+c.NHist) + 6*c.NPred + 2 }

// predStep is the predictor's RK4 step, s: a ball flight is smooth enough
// that 20 ms steps agree with the 1 ms simulation to about a millimetre
// over a second.
const predStep = 0.02

// predMaxS bounds how far ahead the predictor looks for an intercept.
const predMaxS = 1.5
