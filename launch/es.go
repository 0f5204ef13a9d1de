package launch

import (
	"fmt"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/policy"
	"github.com/agilecatch/catch/robot"
)

// The ES policy controller: the policy file named by es.policy, or the
// shipped one. The file is read once per controller built; a sim run builds
// one per worker.
func init() {
	Register("es", func(rob *robot.Robot, cfg *Config) (control.Controller, error) {
		if err := cfg.ES.Validate(); err != nil {
			return nil, err
		}
		pol, err := cfg.ES.Load()
		if err != nil {
			return nil, err
		}
		c, err := policy.NewAgent(pol, rob, cfg.Sim.ControlRateHz)
		if err != nil {
			return nil, fmt.Errorf("es: %w", err)
		}
		return c, nil
	})
}

// The es-paper controller: the paper-class policy learned from scratch
// (es.paper_policy, or the shipped one).
func init() {
	Register("es-paper", func(rob *robot.Robot, cfg *Config) (control.Controller, error) {
		if err := cfg.ES.Validate(); err != nil {
			return nil, err
		}
		pol, err := cfg.ES.LoadPaper()
		if err != nil {
			return nil, err
		}
		c, err := policy.NewAgent(pol, rob, cfg.Sim.ControlRateHz)
		if err != nil {
			return nil, fmt.Errorf("es-paper: %w", err)
		}
		return c, nil
	})
}
