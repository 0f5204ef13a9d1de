package ball

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Named property sets. Values marked "assumed" have no published measurement
// behind them; they are engineering guesses chosen to give the described
// behaviour and should be replaced by a fit to logged flights when one exists.
// Sources are compiled in the project's reference data (ball_aero_constants.csv):
// ITF Rules of Tennis App. I, NCAA/NFHS lacrosse rules, Cross & Lindsey 2014,
// Mehta, Alam & Subic 2008, MPI-IS intelligent-soft-robots/ball_models.
var sets = [...]Props{
	{
		// Light foam practice ball (docs/architecture.md §5: ≈20 g, Ø 70 mm). No
		// published coefficients: all aerodynamic values are assumed. The low
		// mass/area ratio makes drag and lift about 3× a tennis ball's.
		Name:      "foam",
		Mass:      0.020, // kg, docs/architecture.md
		Radius:    0.035, // m, Ø 70 mm, docs/architecture.md
		Cd:        0.5,   // assumed: rough-sphere subcritical value
		Cl:        1.5,   // assumed: strong Magnus response (spin-parameter form)
		SpinDecay: 0.5,   // 1/s, assumed: light, rough ball loses spin fast
	},
	{
		// Solid rubber lacrosse ball. Mass and size from NCAA/NFHS rules
		// (5–5¼ oz, 7¾–8 in circumference). No lacrosse drag or lift
		// measurement was found: C_d is the smooth-sphere subcritical value
		// (Achenbach 1972, Re ≈ 5e4–1.5e5) and C_l = 1 (C_L ≈ spin parameter)
		// is assumed, as is the spin decay.
		Name:      "lacrosse",
		Mass:      0.145,  // kg, NCAA 141.7–148.8 g
		Radius:    0.0315, // m, Ø 63 mm (NCAA 62.7–64.7 mm)
		Cd:        0.5,    // assumed: smooth sphere, subcritical
		Cl:        1.0,    // assumed
		SpinDecay: 0.01,   // 1/s, assumed: heavy smooth ball
	},
	{
		// MPI-IS table-tennis model fitted to recorded flights
		// (intelligent-soft-robots/ball_models, config/config.toml, commit
		// ebe35cf0, BSD-3-Clause); mass per ITTF Laws 2.3.2.
		Name:       "table-tennis",
		Mass:       0.0027,
		Radius:     0.02,
		Cd:         0.47016899,
		Cl:         1.46968343,
		SpinDecay:  0.005054473513775579,
		AirDensity: 1.18,
		Gravity:    9.80801,
	},
	{
		// Tennis ball. Mass and size: ITF Rules of Tennis App. I (56.0–59.4 g,
		// Ø 65.4–68.6 mm). C_d 0.55 per docs/architecture.md, between the free-flight
		// 0.507 ± 0.024 (Cross & Lindsey 2014) and the wind-tunnel 0.6–0.7
		// for new balls (Mehta, Alam & Subic 2008). C_l = 1 in the
		// spin-parameter form (C_L ≈ r|ω|/|v|) is assumed: published lift
		// rises with spin but per-shot values were not retrieved. Spin decay
		// is assumed.
		Name:      "tennis",
		Mass:      0.058,
		Radius:    0.0335,
		Cd:        0.55,
		Cl:        1.0,  // assumed
		SpinDecay: 0.05, // 1/s, assumed: a few % per second
	},
}

// Sets returns the named property sets, sorted by name.
func Sets() []Props {
	out := make([]Props, len(sets))
	copy(out, sets[:])
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SetNames returns the names of the property sets, sorted.
func SetNames() []string {
	s := Sets()
	names := make([]string, len(s))
	for i, p := range s {
		names[i] = p.Name
	}
	return names
}

// ErrUnknownSet is wrapped by ByName when the name is not a set.
var ErrUnknownSet = errors.New("unknown ball set")

// ByName returns the property set with the given name.
func ByName(name string) (Props, error) {
	for _, p := range sets {
		if p.Name == name {
			return p, nil
		}
	}
	return Props{}, fmt.Errorf("%w %q, want one of %s", ErrUnknownSet, name, strings.Join(SetNames(), ", "))
}

// propsFields are the YAML keys of Props, for rejecting unknown keys.
var propsFields = []string{
	"name", "mass_kg", "radius_m", "drag_coefficient", "lift_coefficient",
	"spin_decay_per_s", "air_density_kgm3", "gravity_mps2",
}

// UnmarshalYAML reads Props from either a set name (`ball: tennis`) or a
// mapping of Props fields. When the mapping's name is a set, fields it leaves
// out take that set's values, so `{name: tennis, drag_coefficient: 0.6}`
// overrides one value. Unknown keys are rejected. UnmarshalYAML does not
// validate; call Validate (ParseProps does).
func (p *Props) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.ScalarNode {
		var name string
		if err := node.Decode(&name); err != nil {
			return fmt.Errorf("ball: line %d: %w", node.Line, err)
		}
		set, err := ByName(name)
		if err != nil {
			return fmt.Errorf("ball: line %d: %w", node.Line, err)
		}
		*p = set
		return nil
	}
	if node.Kind != yaml.MappingNode {
		return fmt.Errorf("ball: line %d: want a set name or a mapping of ball properties", node.Line)
	}
	var out Props
	for i := 0; i+1 < len(node.Content); i += 2 {
		key := node.Content[i].Value
		known := false
		for _, f := range propsFields {
			known = known || key == f
		}
		if !known {
			return fmt.Errorf("ball: line %d: unknown field %q, want one of %s",
				node.Content[i].Line, key, strings.Join(propsFields, ", "))
		}
		if key == "name" {
			if set, err := ByName(node.Content[i+1].Value); err == nil {
				out = set
			}
		}
	}
	type plain Props // no UnmarshalYAML: avoids recursion
	pl := plain(out)
	if err := node.Decode(&pl); err != nil {
		return fmt.Errorf("ball: %w", err)
	}
	*p = Props(pl)
	return nil
}

// ParseProps reads one Props value from YAML (see UnmarshalYAML) and
// validates it.
func ParseProps(r io.Reader) (Props, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Props{}, fmt.Errorf("ball: reading properties: %w", err)
	}
	var p Props
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return Props{}, fmt.Errorf("ball: parsing properties: %w", err)
	}
	if err := p.Validate(); err != nil {
		return Props{}, err
	}
	return p, nil
}
