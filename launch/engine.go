package launch

import (
	"fmt"
	"strings"

	"github.com/agilecatch/catch/sim"
	"github.com/agilecatch/catch/sim/mujoco"
)

// Engines lists the physics engines a run may simulate the world with
// (`--engine`): kinematic (package sim's own world, the fast default) and
// mujoco (package sim/mujoco).
func Engines() []string { return []string{"kinematic", "mujoco"} }

// NewEngine returns the named physics engine, configured from cfg (the
// mujoco section for the MuJoCo engine).
func NewEngine(name string, cfg *Config) (sim.Engine, error) {
	switch name {
	case "", "kinematic":
		return sim.Kinematic, nil
	case "mujoco":
		if err := cfg.MuJoCo.Check(); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		return mujoco.Engine{Config: cfg.MuJoCo}, nil
	}
	return nil, fmt.Errorf("unknown engine %q (accepted: %s)", name, strings.Join(Engines(), ", "))
}

// NewEngines parses a comma-separated list of engine names.
func NewEngines(list string, cfg *Config) ([]sim.Engine, error) {
	var out []sim.Engine
	seen := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if seen[n] {
			return nil, fmt.Errorf("engine %q listed twice", n)
		}
		seen[n] = true
		e, err := NewEngine(n, cfg)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no engine given (accepted: %s)", strings.Join(Engines(), ", "))
	}
	return out, nil
}
