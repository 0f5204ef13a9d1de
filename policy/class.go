package policy

import (
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/robot"
)

// Policy classes: what a Policy's parameter vector means and which
// controller runs it. The trainer (BGS), checkpoints, policy files and the
// fine-tuning loop work on any class through Policy.Params,
// Policy.ObsLen, Policy.Normaliser and NewAgent; a new class adds its
// network to Policy and a case to those.
const (
	// ClassStructured is the structured policy (Net: the IK catch target,
	// the cradle profile and an MLP residual; Controller). A policy file
	// with no class is structured.
	ClassStructured = "structured"
)

// Classes lists the policy classes in the order the CLI shows them: the
// classes of this package, then the registered external ones by name.
func Classes() []string {
	out := []string{ClassStructured, ClassPaper}
	ext := make([]string, 0, len(external))
	for name := range external {
		ext = append(ext, name)
	}
	sort.Strings(ext)
	return append(out, ext...)
}

// ExternalClass is a policy class defined in a package this one must not
// import (package fused runs the MPC, docs/architecture.md §3). Its
// parameters are the policy's Theta; it has no observation normaliser
// (ObsLen 0). Register it with RegisterClass from the defining package's
// init.
type ExternalClass struct {
	// Prior returns a new policy's parameter vector (seed may draw it).
	Prior func(seed uint64) []float64
	// Validate checks a parameter vector of the class.
	Validate func(theta []float64) error
	// NewAgent builds the controller that flies pol (pol.Theta).
	NewAgent func(pol *Policy, rob *robot.Robot, controlRateHz float64) (Agent, error)
}

var external = map[string]ExternalClass{}

// RegisterClass adds an external policy class under name (call it from an
// init function; a second registration of a name replaces the first).
func RegisterClass(name string, c ExternalClass) { external[name] = c }

// Agent is a controller running a policy whose parameters the trainer can
// swap between rollouts. Like a Controller it is not safe for concurrent
// use; Step allocates nothing.
type Agent interface {
	control.Controller
	// SetParams makes the agent run params (the policy's length) instead
	// of the policy's own; nil restores the policy's.
	SetParams(params []float64)
	// SetRecord sends every observation to s (training statistics); nil
	// stops it.
	SetRecord(s *ObsStats)
	// SetPropsOverride replaces the ball properties the agent's own
	// predictor assumes, when it has one (training randomises the model
	// error with it); nil restores the input's.
	SetPropsOverride(p *ball.Props)
	// Stats returns the counters of the current trial.
	Stats() Stats
}

// NewAgent builds the controller of pol's class for the robot.
func NewAgent(pol *Policy, rob *robot.Robot, controlRateHz float64) (Agent, error) {
	switch pol.ClassName() {
	case ClassStructured:
		return NewController(pol, rob, controlRateHz)
	case ClassPaper:
		return NewPaperController(pol, rob, controlRateHz)
	}
	if c, ok := external[pol.ClassName()]; ok {
		return c.NewAgent(pol, rob, controlRateHz)
	}
	return nil, fmt.Errorf("policy: class %q: want one of %v", pol.Class, Classes())
}

// NewPolicyClass returns a new policy of the class: for structured the
// prior (NewPolicy with default features and the hidden width), for paper
// a randomly initialised network (NewPaperPolicy with the default
// architecture; hidden does not apply). seed draws the random weights.
func NewPolicyClass(class string, hidden int, seed uint64) (*Policy, error) {
	switch class {
	case "", ClassStructured:
		return NewPolicy(FeatureConfig{}, hidden, seed), nil
	case ClassPaper:
		return NewPaperPolicy(PaperConfig{}, seed), nil
	}
	if c, ok := external[class]; ok {
		return &Policy{Version: FileVersion, Class: class, Theta: c.Prior(seed)}, nil
	}
	return nil, fmt.Errorf("policy class %q: want one of %v", class, Classes())
}

// ClassName is the policy's class (structured when the file names none).
func (p *Policy) ClassName() string {
	if p.Class == "" {
		return ClassStructured
	}
	return p.Class
}

// Params is the flat parameter vector BGS optimises (shared: the trainer
// moves it in place).
func (p *Policy) Params() []float64 {
	if p.ClassName() == ClassPaper {
		return p.Paper.Params
	}
	if _, ok := external[p.ClassName()]; ok {
		return p.Theta
	}
	return p.Net.Params
}

// ObsLen is the length of the observation the class normalises and
// records (ObsStats).
func (p *Policy) ObsLen() int {
	if p.ClassName() == ClassPaper {
		return len(p.Paper.ObsMean)
	}
	if _, ok := external[p.ClassName()]; ok {
		return 0
	}
	return p.Net.In
}

// Normaliser returns the observation normaliser's mean and standard
// deviation (shared: the trainer sets them from running statistics).
func (p *Policy) Normaliser() (mean, std []float64) {
	if p.ClassName() == ClassPaper {
		return p.Paper.ObsMean, p.Paper.ObsStd
	}
	if _, ok := external[p.ClassName()]; ok {
		return nil, nil
	}
	return p.Net.ObsMean, p.Net.ObsStd
}

// NewPaperPolicy returns a paper-class policy with random weights drawn
// from seed (NewPaperNet).
func NewPaperPolicy(cfg PaperConfig, seed uint64) *Policy {
	rng := rand.New(rand.NewPCG(seed, 0x9a9e4))
	return &Policy{Version: FileVersion, Class: ClassPaper,
		Paper: NewPaperNet(cfg, func() float64 { return 2*rng.Float64() - 1 })}
}

// SetRecord implements Agent.
func (c *Controller) SetRecord(s *ObsStats) { c.Record = s }

// SetPropsOverride implements Agent.
func (c *Controller) SetPropsOverride(p *ball.Props) { c.PropsOverride = p }
