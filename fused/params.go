package fused

import (
	_ "embed"
	"fmt"
	"math"

	"github.com/agilecatch/catch/mpc"
	"github.com/agilecatch/catch/policy"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// Layout of the parameter vector θ (docs/architecture.md §6, "fused").
//
// The first block is the context network of the learned MPC parameters: a
// linear layer from the ball context φ (NContext features and a bias) to
// one pre-activation u_i per tunable, u = clamp(W·[φ, 1], −3, 3); tunable i
// is its MPC default moved by u_i in the unit of that tunable (tunableMap).
// θ = 0 is the MPC's own configuration.
//
// The second block is the residual policy: a linear layer from the
// residual features (NResidualIn, with a bias) to the head-position
// correction c = ResidualMaxM·tanh(A·f), 3 outputs, and one more parameter
// that scales the time window before the catch in which the correction is
// brought in. θ = 0 corrects nothing.
//
// The last block is the gate: a linear score w·[φ, κ, η, λ, ς, 1] of the
// ball context, where κ = ((φ₁ − 0.58)/0.12)², clamped to 3, is how far
// the climb φ₁ lies from mid-elevation lobs, η = (z − 0.95 m)/0.1 m,
// clamped to ±1, says whether the ball was first seen high (released by
// hand) or low (a thrower), λ = (|y₀| − 0.15 m)/0.05 m, clamped to ±1, how
// far off the centre the ball crosses x = 0 (y₀), and ς = (v_h − 4.62
// m/s)/0.05 m/s, clamped to ±1, its horizontal speed v_h. The gate
// decides on the first fresh estimate when the score's sign does not
// hinge on λ and ς (whatever their values in [−1, 1]), else on the first
// estimate resting on gateMinObs observations (controller.go); the ES
// policy flies the throw when the score is positive, the MPC (with the
// two mechanisms above) otherwise. θ = 0 hands every throw to the MPC.
const (
	// NContext is the number of ball-context features (contextFeatures).
	NContext = 7
	// NTunables is the number of MPC tunables the context network sets.
	NTunables = 14
	// NResidualIn is the number of residual features (residualFeatures).
	NResidualIn = 7
	// ResidualMaxM bounds each component of the head correction, m.
	ResidualMaxM = 0.05

	nCtxW   = NTunables * (NContext + 1)
	nResW   = 3 * (NResidualIn + 1)
	nGateW  = NContext + 5
	offRes  = nCtxW
	offWin  = nCtxW + nResW
	offGate = offWin + 1
	NParams = nCtxW + nResW + 1 + nGateW // length of θ
)

// tunableMap says how pre-activation u moves tunable i from its default d:
// additively (d + scale·u) or multiplicatively (d·e^(scale·u)).
var tunableMap = [NTunables]struct {
	name  string
	scale float64
	mult  bool
}{
	{"catch_x_shift_m", 0.1, false},
	{"reach_pref_m", 0.05, false},
	{"catch_speed_mps", 0.2, true},
	{"catch_rel_speed_mps", 0.5, false},
	{"max_catch_speed_mps", 0.5, false},
	{"catch_speed_weight", 0.5, true},
	{"off_axis_weight", 0.5, true},
	{"pose_weight", 0.5, true},
	{"lambda", 0.5, true},
	{"effort_weight", 0.5, true},
	{"slow_down_s", 0.3, true},
	{"net_up_rad", 0.15, false},
	{"action_latency_s", 0.01, false},
	{"freeze_s", 0.5, true},
}

// TunableNames lists the tunables in θ's order (the rows of the context
// network).
func TunableNames() []string {
	out := make([]string, NTunables)
	for i, m := range tunableMap {
		out[i] = m.name
	}
	return out
}

// FreeSet returns the indices of θ in the named subset, for fine-tuning a
// few parameters (policy.TrainConfig.Free, `catch finetune fused --free`):
//
//   - gate: the gate's weights and bias;
//   - tunables: the context network's biases (each tunable moved alike for
//     every ball);
//   - residual: the residual's layer and window;
//   - decisive: the gate's bias and its weights on the thrower features
//     λ and ς (which thrower throws the ES policy flies), the biases
//     of the tunables that shape the catch itself (catch point shift,
//     catch speed and relative speed, the cradle's slow-down and net-up,
//     the compensated action latency), and the residual's window: ten
//     parameters, few enough for 40 steps of 30 throws to estimate a
//     gradient over.
func FreeSet(name string) ([]int, error) {
	bias := func(names ...string) []int {
		var idx []int
		for _, n := range names {
			for i, m := range tunableMap {
				if m.name == n {
					idx = append(idx, i*(NContext+1)+NContext)
				}
			}
		}
		return idx
	}
	var idx []int
	switch name {
	case "gate":
		for k := 0; k < nGateW; k++ {
			idx = append(idx, offGate+k)
		}
	case "tunables":
		idx = bias(TunableNames()...)
	case "residual":
		for k := 0; k <= nResW; k++ {
			idx = append(idx, offRes+k)
		}
	case "decisive":
		idx = append(idx, offGate+NContext+2, offGate+NContext+3, offGate+nGateW-1)
		idx = append(idx, bias("catch_x_shift_m", "catch_speed_mps", "catch_rel_speed_mps", "slow_down_s", "net_up_rad", "action_latency_s")...)
		idx = append(idx, offWin)
	default:
		return nil, fmt.Errorf("fused: subset %q, want gate, tunables, residual or decisive", name)
	}
	return idx, nil
}

// tunables is the MPC tunables as an array in tunableMap's order.
type tunables [NTunables]float64

func fromMPC(t *mpc.Tunables) tunables {
	return tunables{t.CatchXShiftM, t.ReachPrefM, t.CatchSpeed, t.CatchRelSpeed, t.MaxCatchSpeed,
		t.CatchSpeedWeight, t.OffAxisWeight, t.PoseWeight, t.Lambda, t.EffortWeight, t.SlowDownS, t.NetUpRad,
		t.ActionLatencyS, t.FreezeS}
}

func (a *tunables) toMPC(t *mpc.Tunables) {
	*t = mpc.Tunables{CatchXShiftM: a[0], ReachPrefM: a[1], CatchSpeed: a[2], CatchRelSpeed: a[3], MaxCatchSpeed: a[4],
		CatchSpeedWeight: a[5], OffAxisWeight: a[6], PoseWeight: a[7], Lambda: a[8], EffortWeight: a[9],
		SlowDownS: a[10], NetUpRad: a[11], ActionLatencyS: a[12], FreezeS: a[13]}
}

// mapTunables writes into dst the tunables for context phi under θ, from
// the defaults def.
func mapTunables(theta []float64, phi *[NContext]float64, def, dst *tunables) {
	for i := range tunableMap {
		w := theta[i*(NContext+1) : (i+1)*(NContext+1)]
		u := w[NContext]
		for k, f := range phi {
			u += w[k] * f
		}
		u = math.Max(-3, math.Min(3, u))
		m := &tunableMap[i]
		if m.mult {
			dst[i] = def[i] * math.Exp(m.scale*u)
		} else {
			dst[i] = def[i] + m.scale*u
		}
	}
}

// ClassName is the policy class of fused parameter files
// (policy.RegisterClass): a policy file {"version": 1, "class": "fused",
// "theta": [...]}. The classes fused-params and fused-residual have the
// same θ and train one mechanism only (the other off).
const ClassName = "fused"

// validateTheta checks θ's length and that it is finite.
func validateTheta(theta []float64) error {
	if len(theta) != NParams {
		return fmt.Errorf("fused: θ has %d values, want %d", len(theta), NParams)
	}
	for i, v := range theta {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("fused: θ[%d] = %v, want a finite number", i, v)
		}
	}
	return nil
}

// Prior returns the prior parameter file: θ = 0, the MPC's configuration
// and no residual.
func Prior() *policy.Policy {
	return &policy.Policy{Version: policy.FileVersion, Class: ClassName, Theta: make([]float64, NParams)}
}

// checkClass refuses a policy file of another class.
func checkClass(p *policy.Policy) error {
	switch p.ClassName() {
	case ClassName, ClassName + "-params", ClassName + "-residual", ClassName + "-gate":
		return nil
	}
	return fmt.Errorf("fused: the policy file is of class %q, want %q", p.ClassName(), ClassName)
}

var (
	//go:embed shipped/fused_policy.json
	shipped []byte
	//go:embed shipped/fused_policy_mujoco.json
	shippedMuJoCo []byte
)

// Shipped returns the parameters shipped with the binary
// (fused/shipped/fused_policy.json), chosen and trained in the kinematic
// world.
func Shipped() (*policy.Policy, error) {
	return ShippedFor("")
}

// ShippedFor returns the shipped parameters for an engine: "" or
// "kinematic" those of Shipped, "mujoco" those fine-tuned in the MuJoCo
// engine from them (fused/shipped/fused_policy_mujoco.json: the gate
// refitted by `catch finetune fused`, which hands the ES policy fewer
// throws there; README, "Fused controller").
func ShippedFor(engine string) (*policy.Policy, error) {
	var data []byte
	switch engine {
	case "", "kinematic":
		data = shipped
	case "mujoco":
		data = shippedMuJoCo
	default:
		return nil, fmt.Errorf("fused: no shipped parameters for engine %q, want kinematic or mujoco", engine)
	}
	p, err := policy.ParsePolicy(data)
	if err == nil {
		err = checkClass(p)
	}
	if err != nil {
		return nil, fmt.Errorf("fused: shipped parameters (%s): %w", engine, err)
	}
	return p, nil
}

// LoadFile reads a fused parameter file (a policy file of class fused).
func LoadFile(path string) (*policy.Policy, error) {
	p, err := policy.LoadFile(path)
	if err != nil {
		return nil, err
	}
	if err := checkClass(p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

func init() {
	for _, v := range []struct {
		name                         string
		noParams, noResidual, noGate bool
	}{{ClassName, false, false, false}, {ClassName + "-params", false, true, true},
		{ClassName + "-residual", true, false, true}, {ClassName + "-gate", true, true, false}} {
		policy.RegisterClass(v.name, policy.ExternalClass{
			Prior:    func(uint64) []float64 { return make([]float64, NParams) },
			Validate: validateTheta,
			NewAgent: func(pol *policy.Policy, rob *robot.Robot, rate float64) (policy.Agent, error) {
				if rate == 0 {
					rate = 250
				}
				cfg := Config{NoLearnedParams: v.noParams, NoResidual: v.noResidual, NoGate: v.noGate}
				return newWith(v.name, cfg, pol, mpc.Config{}, rob, sim.DefaultReadyQ, 1/rate)
			},
		})
	}
}
