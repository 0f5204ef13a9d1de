package launch

import (
	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/fused"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// The fused controller (package fused) and its two one-mechanism variants
// for ablations: fused-params (learned MPC parameters only) and
// fused-residual (residual only). All read the fused section and plan with
// the mpc section.
func init() {
	for _, v := range []struct {
		name                string
		noParams, noResidue bool
	}{{"fused", false, false}, {"fused-params", false, true}, {"fused-residual", true, false}} {
		Register(v.name, func(rob *robot.Robot, cfg *Config) (control.Controller, error) {
			fc := cfg.Fused
			fc.NoLearnedParams = fc.NoLearnedParams || v.noParams
			fc.NoResidual = fc.NoResidual || v.noResidue
			ready := cfg.Sim.ReadyQ
			if ready == nil {
				ready = sim.DefaultReadyQ
			}
			rate := cfg.Sim.ControlRateHz
			if rate == 0 {
				rate = 250
			}
			return fused.New(v.name, fc, cfg.MPC, rob, ready, 1/rate)
		})
	}
}
