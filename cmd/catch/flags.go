package main

import (
	"fmt"
	"math"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/agilecatch/catch/launch"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// countValue is an int flag bounded to [lo, hi], checked when the command
// line is parsed, before anything is sized by it: a count such as 2e9
// throws is a one-line error (exit 2), not Go's out-of-memory crash. It
// accepts integers and integral floats (1e5).
type countValue struct {
	v      *int
	lo, hi int
}

func (c countValue) String() string {
	if c.v == nil {
		return "0"
	}
	return strconv.Itoa(*c.v)
}

func (c countValue) Type() string { return "int" }

func (c countValue) Set(s string) error {
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%q is not an integer", s)
		}
		if f < float64(c.lo) || f > float64(c.hi) {
			return fmt.Errorf("%s is out of range: want %d..%d", s, c.lo, c.hi)
		}
		v = int64(f)
	}
	if v < int64(c.lo) || v > int64(c.hi) {
		return fmt.Errorf("%s is out of range: want %d..%d", s, c.lo, c.hi)
	}
	*c.v = int(v)
	return nil
}

// countFlag defines an int flag with default def bounded to [lo, hi].
func countFlag(fs *pflag.FlagSet, p *int, name string, def, lo, hi int, usage string) {
	*p = def
	fs.Var(countValue{p, lo, hi}, name, fmt.Sprintf("%s (%d..%d)", usage, lo, hi))
}

// loadConfigRobot loads the run configuration at path (defaults when
// empty) and the robot it names, the first step of most commands.
func loadConfigRobot(path string) (launch.Config, *robot.Robot, error) {
	cfg, err := launch.LoadConfig(path)
	if err != nil {
		return launch.Config{}, nil, err
	}
	rob, err := robot.Load(cfg.Robot)
	if err != nil {
		return launch.Config{}, nil, err
	}
	return cfg, rob, nil
}

// trialSetup resolves what a command that flies trials needs besides its
// controller: the scenario, the robot the configuration names (checked
// against it) and the physics engine.
func trialSetup(scenario, engine string, cfg *launch.Config) (*sim.Scenario, *robot.Robot, sim.Engine, error) {
	sc, err := sim.Lookup(scenario)
	if err != nil {
		return nil, nil, nil, err
	}
	rob, err := robot.Load(cfg.Robot)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cfg.Check(rob); err != nil {
		return nil, nil, nil, err
	}
	eng, err := launch.NewEngine(engine, cfg)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--engine: %w", err)
	}
	return sc, rob, eng, nil
}
