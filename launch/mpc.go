package launch

import (
	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/mpc"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

func init() {
	Register("mpc", func(rob *robot.Robot, cfg *Config) (control.Controller, error) {
		ready := cfg.Sim.ReadyQ
		if ready == nil {
			ready = sim.DefaultReadyQ
		}
		return mpc.New(cfg.MPC, rob, ready)
	})
}
