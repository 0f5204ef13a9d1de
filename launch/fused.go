package launch

import (
	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/fused"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// The fused controller (package fused) and its one-mechanism variants for
// ablations: fused-params (learned MPC parameters only), fused-residual
// (residual only) and fused-gate (the gate between the MPC and the ES
// policy only). All read the fused section, plan with the mpc section and
// hand throws to es.policy (or the shipped ES policy) unless
// fused.es_policy names another.
func init() {
	for _, v := range []struct {
		name                        string
		noParams, noResidue, noGate bool
	}{{"fused", false, false, false}, {"fused-params", false, true, true}, {"fused-residual", true, false, true},
		{"fused-gate", true, true, false}} {
		Register(v.name, func(rob *robot.Robot, cfg *Config) (control.Controller, error) {
			fc := cfg.Fused
			fc.NoLearnedParams = fc.NoLearnedParams || v.noParams
			fc.NoResidual = fc.NoResidual || v.noResidue
			fc.NoGate = fc.NoGate || v.noGate
			if fc.ESPolicy == "" {
				fc.ESPolicy = cfg.ES.Policy
			}
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
