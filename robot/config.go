package robot

import (
	_ "embed"
	"fmt"
	"math"
	"slices"
)

//go:embed urdf/catcher.urdf
var catcherURDF []byte

// ShippedURDF returns a copy of the URDF of the robot of docs/architecture.md section 4
// (rail + IRB 120T + lacrosse head), robot/urdf/catcher.urdf.
func ShippedURDF() []byte { return slices.Clone(catcherURDF) }

// Defaults for the values a URDF does not carry. None is published for the
// reference system; they are docs/architecture.md section 4's working assumptions.
const (
	DefaultTipLink      = "head"
	DefaultRailAcc      = 10.0  // m/s², prismatic joints
	DefaultArmAccProx   = 25.0  // rad/s², the first three revolute joints (IRB 120 axes 1–3)
	DefaultArmAccWrist  = 40.0  // rad/s², later revolute joints (axes 4–6)
	DefaultPocketAcross = 0.08  // m, semi-axis along the head's local z
	DefaultPocketAlong  = 0.125 // m, semi-axis along the head's local x (the stick)
)

// Config selects the robot description. The zero value means the shipped
// robot with every default.
type Config struct {
	// URDF is the path of a URDF file. Default "": the shipped
	// robot/urdf/catcher.urdf.
	URDF string `yaml:"urdf"`
	// BaseLink is the link the chain starts at; all poses are expressed in
	// it. Default "": the URDF's root link ("world" for the shipped robot).
	BaseLink string `yaml:"base_link"`
	// TipLink is the link the chain ends at. Default "head".
	TipLink string `yaml:"tip_link"`
	// AccLimits are the acceleration limits per chain joint in q order (m/s²
	// for prismatic, rad/s² for revolute joints), since a URDF has none.
	// Default empty: 10 m/s² for prismatic joints (the rail), 25 rad/s² for
	// the first three revolute joints, 40 rad/s² for the rest (docs/architecture.md
	// section 4 assumptions, not published data). When set, its length must
	// equal the chain's DOF.
	AccLimits []float64 `yaml:"acc_limits"`
	// Pocket is the head's pocket opening.
	Pocket PocketConfig `yaml:"pocket"`
}

// PocketConfig sizes the pocket ellipse. Zero fields mean the defaults.
type PocketConfig struct {
	// Across is the semi-axis along the head's local z, m. Default 0.08.
	Across float64 `yaml:"across"`
	// Along is the semi-axis along the head's local x (the stick), m.
	// Default 0.125.
	Along float64 `yaml:"along"`
}

// Validate checks the fields that can be checked without reading the URDF;
// errors name the field.
func (c Config) Validate() error {
	for i, a := range c.AccLimits {
		if !(a > 0) || math.IsInf(a, 0) {
			return fmt.Errorf("robot: acc_limits[%d] = %g: want a finite value > 0", i, a)
		}
	}
	if !(c.Pocket.Across >= 0) || math.IsInf(c.Pocket.Across, 0) {
		return fmt.Errorf("robot: pocket.across = %g m: want > 0 (0 for the default %g)", c.Pocket.Across, DefaultPocketAcross)
	}
	if !(c.Pocket.Along >= 0) || math.IsInf(c.Pocket.Along, 0) {
		return fmt.Errorf("robot: pocket.along = %g m: want > 0 (0 for the default %g)", c.Pocket.Along, DefaultPocketAlong)
	}
	return nil
}

// Pocket is the head's pocket opening: an ellipse in the head frame's x–z
// plane, centred on the head origin, with the net normal along local y.
type Pocket struct {
	Across float64 // semi-axis along local z, m
	Along  float64 // semi-axis along local x, m
}

// Inside reports whether the point with head-local coordinates (x, z), m,
// lies within the opening.
func (p Pocket) Inside(x, z float64) bool {
	u, v := x/p.Along, z/p.Across
	return u*u+v*v <= 1
}

// Robot is a loaded robot description: the model, the chain the controllers
// use, its full limits (URDF plus configured accelerations) and the pocket.
// It is read-only after Load and may be shared between goroutines.
type Robot struct {
	Model  *Model
	Chain  *Chain
	Limits Limits
	Pocket Pocket
}

// Default loads the shipped robot with every default.
func Default() (*Robot, error) { return Load(Config{}) }

// Load validates cfg, reads the URDF and builds the chain.
func Load(cfg Config) (*Robot, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var m *Model
	var err error
	if cfg.URDF == "" {
		if m, err = ParseURDF(catcherURDF); err != nil {
			return nil, fmt.Errorf("robot: shipped URDF: %w", err)
		}
	} else if m, err = LoadURDF(cfg.URDF); err != nil {
		return nil, fmt.Errorf("robot: urdf: %w", err)
	}
	base, tip := cfg.BaseLink, cfg.TipLink
	if base == "" {
		base = m.Root
	}
	if tip == "" {
		tip = DefaultTipLink
	}
	c, err := m.Chain(base, tip)
	if err != nil {
		return nil, fmt.Errorf("robot: base_link/tip_link: %w", err)
	}
	lim := c.Limits()
	switch {
	case len(cfg.AccLimits) == 0:
		revolute := 0
		for i, s := range c.segs {
			switch {
			case s.prism:
				lim.Acc[i] = DefaultRailAcc
			case revolute < 3:
				lim.Acc[i] = DefaultArmAccProx
				revolute++
			default:
				lim.Acc[i] = DefaultArmAccWrist
			}
		}
	case len(cfg.AccLimits) != c.DOF():
		return nil, fmt.Errorf("robot: acc_limits has %d values, want %d (joints %v)", len(cfg.AccLimits), c.DOF(), c.names)
	default:
		copy(lim.Acc, cfg.AccLimits)
	}
	p := Pocket{Across: cfg.Pocket.Across, Along: cfg.Pocket.Along}
	if p.Across == 0 {
		p.Across = DefaultPocketAcross
	}
	if p.Along == 0 {
		p.Along = DefaultPocketAlong
	}
	return &Robot{Model: m, Chain: c, Limits: lim, Pocket: p}, nil
}
