package launch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/mpc"
	"github.com/agilecatch/catch/policy"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
)

// Config is the one YAML file that configures a run. Every section is
// optional; a missing section means that package's defaults. Unknown keys
// are rejected.
type Config struct {
	Robot robot.Config `yaml:"robot"`
	Sim   sim.Config   `yaml:"sim"`
	// Node configures the ROS nodes and the real-time loop (launch/node.go).
	Node NodeConfig `yaml:"node"`
	MPC  mpc.Config `yaml:"mpc"`
	// ES selects the ES policy file (default: the shipped policy) and the
	// trainer settings.
	ES policy.Config `yaml:"es"`
}

// LoadConfig reads a run configuration; an empty path gives the defaults.
func LoadConfig(path string) (Config, error) {
	var c Config
	if path == "" {
		return c, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	if err := c.Robot.Validate(); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Factory builds a controller for a robot.
type Factory func(rob *robot.Robot, cfg *Config) (control.Controller, error)

var registry = map[string]Factory{
	"hold": func(*robot.Robot, *Config) (control.Controller, error) { return &control.Hold{}, nil },
}

// Register adds a controller factory under a name.
func Register(name string, f Factory) { registry[name] = f }

// Controllers lists the registered controller names, sorted.
func Controllers() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// NewController builds the named controller.
func NewController(name string, rob *robot.Robot, cfg *Config) (control.Controller, error) {
	f, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("unknown controller %q (accepted: %s)", name, strings.Join(Controllers(), ", "))
	}
	return f(rob, cfg)
}
