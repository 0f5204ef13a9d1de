package launch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/fused"
	"github.com/agilecatch/catch/internal/provenance"
	"github.com/agilecatch/catch/mpc"
	"github.com/agilecatch/catch/policy"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim"
	"github.com/agilecatch/catch/sim/mujoco"
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
	// Fused configures the fused controller (package fused: parameter
	// file, mechanisms on or off); it plans with the mpc section.
	Fused fused.Config `yaml:"fused"`
	// MuJoCo sets the MuJoCo engine's physical parameters (servo gains,
	// net softness; package sim/mujoco), used with --engine mujoco.
	MuJoCo mujoco.Config `yaml:"mujoco"`
}

// DefaultConfig returns the run configuration's defaults: every section's
// zero value (its package's defaults) except sim.estimator.estimate_spin,
// which is on: the estimator tracks the ball's spin (Magnus lift) for every
// controller. Light-ball throws gain 4–7 points for the MPC and the ES
// policy and no scenario loses beyond noise (README, "The spin-tracking
// estimator"); `sim: {estimator: {estimate_spin: false}}` restores the
// drag-only filter.
func DefaultConfig() Config {
	var c Config
	c.Sim.Estimator.EstimateSpin = true
	return c
}

// LoadConfig reads a run configuration over DefaultConfig; an empty path
// gives the defaults. Relative file paths in it (robot.urdf, es.policy,
// es.paper_policy, es.train scenario files, mpc.dump_dir, node.trial_log)
// are taken relative to the configuration file's directory, so a config
// works from any working directory. Errors name the YAML key and line, not
// Go types.
func LoadConfig(path string) (Config, error) {
	c := DefaultConfig()
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
		return c, fmt.Errorf("config %s: %s", path, yamlError(err))
	}
	c.resolvePaths(filepath.Dir(path))
	if err := c.Robot.Validate(); err != nil {
		return c, fmt.Errorf("config %s: robot: %w", path, err)
	}
	return c, nil
}

// Check validates the sections that need the loaded robot (sim), so that a
// bad value is reported before a run starts rather than by its first trial.
func (c *Config) Check(rob *robot.Robot) error {
	if err := c.Sim.Check(rob); err != nil {
		return fmt.Errorf("config: sim: %w", err)
	}
	if err := c.ES.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := c.Fused.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := c.MuJoCo.Check(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// ForEngine returns the configuration the simulator runs its controllers
// with in the named engine: a copy whose es and fused sections run the
// shipped policy and θ fine-tuned in that engine (policy.ShippedFor,
// fused.ShippedFor) unless the configuration names a file or a shipped
// one itself. The fused controller's ES branch stays the kinematic
// policy (its gate was fine-tuned with it) unless es.policy or
// fused.es_policy names one. The configuration hash (provenance) stays
// that of the file the user gave.
func (c *Config) ForEngine(engine string) *Config {
	out := *c
	if engine != "mujoco" {
		return &out
	}
	if out.Fused.Params == "" && out.Fused.Shipped == "" {
		out.Fused.Shipped = engine
	}
	if out.ES.Policy == "" && out.ES.Shipped == "" {
		out.ES.Shipped = engine
	}
	return &out
}

// Hash is the SHA-256 (hex) of the configuration as YAML, the config
// fingerprint that outputs record (package provenance).
func (c *Config) Hash() string {
	data, err := yaml.Marshal(c)
	if err != nil {
		return "unhashable: " + err.Error()
	}
	return provenance.HashConfig(data)
}

func (c *Config) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&c.Robot.URDF)
	abs(&c.ES.Policy)
	abs(&c.ES.PaperPolicy)
	abs(&c.Fused.Params)
	abs(&c.MPC.DumpDir)
	abs(&c.Node.TrialLog)
	isFile := func(s string) bool { return strings.HasSuffix(s, ".yaml") || strings.HasSuffix(s, ".yml") }
	for i := range c.ES.Train.Scenarios {
		if isFile(c.ES.Train.Scenarios[i]) {
			abs(&c.ES.Train.Scenarios[i])
		}
	}
	if isFile(c.ES.Train.EvalScenario) {
		abs(&c.ES.Train.EvalScenario)
	}
}

var (
	unknownField = regexp.MustCompile(`field (\S+) not found in type \S+`)
	badType      = regexp.MustCompile("cannot unmarshal !!(\\w+) `([^`]*)` into (\\S+)")
	yamlKinds    = map[string]string{"str": "text", "int": "an integer", "float": "a number", "bool": "true or false",
		"seq": "a list", "map": "a mapping", "null": "nothing", "timestamp": "a date"}
)

// yamlError rewrites a YAML decoding error into one line that names keys
// and expected kinds of value instead of Go types.
func yamlError(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return strings.TrimPrefix(err.Error(), "yaml: ")
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		m = unknownField.ReplaceAllString(m, "unknown key \"$1\"")
		m = badType.ReplaceAllStringFunc(m, func(s string) string {
			g := badType.FindStringSubmatch(s)
			return fmt.Sprintf("value %q is %s, want %s", g[2], kindOf(yamlKinds[g[1]], g[1]), goKind(g[3]))
		})
		msgs[i] = m
	}
	return strings.Join(msgs, "; ")
}

func kindOf(k, tag string) string {
	if k == "" {
		return tag
	}
	return k
}

// goKind names what a Go type accepts in YAML words.
func goKind(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a mapping"
	case t == "string":
		return "text"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.Contains(t, "."):
		return "a mapping or value of the documented form"
	}
	return t
}

// LoadControllerConfig is LoadConfig for the controller node. Without a
// file the node is meant for an arm nobody has configured it for: it
// withholds commands until an arming request passes (node.require_arm), and
// the loop sends nothing before the first joint state.
func LoadControllerConfig(path string) (Config, error) {
	c, err := LoadConfig(path)
	if path == "" {
		c.Node.RequireArm = true
	}
	return c, err
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
