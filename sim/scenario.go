package sim

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/agilecatch/catch/ball"
)

// Range is a uniform distribution on [lo, hi]; lo == hi is a fixed value.
type Range [2]float64

func (r Range) sample(rng *rand.Rand) float64 {
	if r[1] == r[0] {
		return r[0]
	}
	return r[0] + (r[1]-r[0])*rng.Float64()
}

func (r Range) validate(field string) error {
	if math.IsNaN(r[0]) || math.IsNaN(r[1]) || math.IsInf(r[0], 0) || math.IsInf(r[1], 0) {
		return fmt.Errorf("%s: %v is not finite", field, r)
	}
	if r[1] < r[0] {
		return fmt.Errorf("%s: [%g, %g] has lo > hi", field, r[0], r[1])
	}
	return nil
}

// Normal is a Gaussian distribution.
type Normal struct {
	Mean float64 `yaml:"mean"`
	Std  float64 `yaml:"std"`
}

// Observation configures state-fidelity perception: 3D ball positions at the
// camera rate with Gaussian noise, a fixed latency and random dropouts.
type Observation struct {
	RateHz    float64 `yaml:"rate_hz"`    // default 125
	NoiseM    float64 `yaml:"noise_m"`    // per-axis σ, default 0.003
	LatencyMS float64 `yaml:"latency_ms"` // capture → estimator, default 8
	Dropout   float64 `yaml:"dropout"`    // probability a frame is lost, default 0.01
}

// Scenario is a named, seeded distribution of throws. Two modes:
//
//   - thrower: a machine at the exit point throws toward −x with a horizontal
//     speed and yaw; the vertical speed is solved so the ball crosses the rail
//     plane (x = 0) at a height drawn from ArrivalZ;
//   - aimed: a human aims at a point of the catch region (plus scatter) with
//     an elevation angle; the speed is solved (with drag) to reach the aim
//     point, then human noise perturbs speed and direction.
//
// Zero-valued optional fields take the defaults documented on each field.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Ball names a property set of package ball (tennis, lacrosse, foam,
	// table-tennis); default tennis.
	Ball string `yaml:"ball"`
	// Mode is thrower (default) or aimed.
	Mode  string `yaml:"mode"`
	ExitX Range  `yaml:"exit_x_m"`
	ExitY Range  `yaml:"exit_y_m"`
	ExitZ Range  `yaml:"exit_z_m"`

	// thrower mode
	HorizontalSpeed Normal `yaml:"horizontal_speed_mps"`
	// YawDeg is the heading range; negative yaw sends the ball to the
	// robot's right (−y).
	YawDeg Range `yaml:"yaw_deg"`
	// RightFraction, when set, is the probability of a throw to the right
	// (yaw drawn from [YawDeg[0], 0]); otherwise yaw is uniform on YawDeg.
	RightFraction *float64 `yaml:"right_fraction"`
	ArrivalZ      Range    `yaml:"arrival_z_m"`

	// aimed mode
	TargetX      Range   `yaml:"target_x_m"`
	TargetY      Range   `yaml:"target_y_m"`
	TargetZ      Range   `yaml:"target_z_m"`
	ScatterM     float64 `yaml:"scatter_m"` // uniform ± on target y and z
	ElevationDeg Range   `yaml:"elevation_deg"`
	SpeedNoise   float64 `yaml:"speed_noise"`   // relative σ of the speed
	DirNoiseDeg  float64 `yaml:"dir_noise_deg"` // σ of azimuth and elevation

	// SpinRPS is the spin magnitude in revolutions per second about a
	// uniformly random axis (both modes).
	SpinRPS Range `yaml:"spin_rps"`

	Observation Observation `yaml:"observation"`
	// ActionLatencyMS is the delay from a command to the arm acting on it;
	// default 20.
	ActionLatencyMS float64 `yaml:"action_latency_ms"`

	props ball.Props
}

// Throw is one sampled throw with everything a trial needs from the scenario.
type Throw struct {
	Ball     ball.Props
	Init     ball.State // at release, t = 0
	YawDeg   float64    // heading of the horizontal velocity (HeadingDeg), both modes
	Obs      Observation
	ActLatS  float64 // action latency, s
	Scenario string
}

//go:embed scenarios/*.yaml
var builtinFS embed.FS

var builtins map[string]*Scenario

func init() {
	builtins = map[string]*Scenario{}
	entries, err := builtinFS.ReadDir("scenarios")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		data, err := builtinFS.ReadFile(path.Join("scenarios", e.Name()))
		if err != nil {
			panic(err)
		}
		s, err := ParseScenario(data)
		if err != nil {
			panic(fmt.Sprintf("built-in scenario %s: %v", e.Name(), err))
		}
		builtins[s.Name] = s
	}
}

// Names lists the built-in scenarios, sorted.
func Names() []string {
	out := make([]string, 0, len(builtins))
	for n := range builtins {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Lookup returns a built-in scenario by name, or loads a scenario file when
// name ends in .yaml or .yml.
func Lookup(name string) (*Scenario, error) {
	if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("scenario file: %w", err)
		}
		s, err := ParseScenario(data)
		if err != nil {
			return nil, fmt.Errorf("scenario file %s: %w", name, err)
		}
		return s, nil
	}
	s, ok := builtins[name]
	if !ok {
		return nil, fmt.Errorf("unknown scenario %q (accepted: %s, or a .yaml file)", name, strings.Join(Names(), ", "))
	}
	c := *s
	return &c, nil
}

// ParseScenario reads a scenario from YAML, rejecting unknown keys, fills in
// defaults and validates it.
func ParseScenario(data []byte) (*Scenario, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, errors.New("EOF")) || err.Error() == "EOF" {
			return nil, errors.New("empty scenario")
		}
		return nil, err
	}
	if err := s.setDefaults(); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *Scenario) setDefaults() error {
	if s.Ball == "" {
		s.Ball = "tennis"
	}
	if s.Mode == "" {
		s.Mode = "thrower"
	}
	if s.Observation.RateHz == 0 {
		s.Observation.RateHz = 125
	}
	if s.Observation.NoiseM == 0 {
		s.Observation.NoiseM = 0.003
	}
	if s.Observation.LatencyMS == 0 {
		s.Observation.LatencyMS = 8
	}
	if s.ActionLatencyMS == 0 {
		s.ActionLatencyMS = 20
	}
	p, err := ball.ByName(s.Ball)
	if err != nil {
		return fmt.Errorf("ball: %w", err)
	}
	s.props = p
	return nil
}

// Validate reports the first bad field.
func (s *Scenario) Validate() error {
	if s.Name == "" {
		return errors.New("name: missing")
	}
	ranges := []struct {
		f string
		r Range
	}{{"exit_x_m", s.ExitX}, {"exit_y_m", s.ExitY}, {"exit_z_m", s.ExitZ}, {"spin_rps", s.SpinRPS}}
	switch s.Mode {
	case "thrower":
		ranges = append(ranges, struct {
			f string
			r Range
		}{"yaw_deg", s.YawDeg}, struct {
			f string
			r Range
		}{"arrival_z_m", s.ArrivalZ})
		if !(s.HorizontalSpeed.Mean > 0.5 && s.HorizontalSpeed.Mean < 40) || !(s.HorizontalSpeed.Std >= 0 && s.HorizontalSpeed.Std < 5) {
			return fmt.Errorf("horizontal_speed_mps: %+v, want mean in (0.5, 40) m/s and std in [0, 5)", s.HorizontalSpeed)
		}
		if s.ArrivalZ[0] <= 0 {
			return fmt.Errorf("arrival_z_m: %v, want heights above the floor", s.ArrivalZ)
		}
		if s.YawDeg[0] < -60 || s.YawDeg[1] > 60 {
			return fmt.Errorf("yaw_deg: %v, want within [-60, 60]", s.YawDeg)
		}
		if s.RightFraction != nil {
			if f := *s.RightFraction; !(f >= 0 && f <= 1) || s.YawDeg[0] > 0 || s.YawDeg[1] < 0 {
				return fmt.Errorf("right_fraction: %v, want [0, 1] with yaw_deg spanning 0", f)
			}
		}
	case "aimed":
		ranges = append(ranges, []struct {
			f string
			r Range
		}{{"target_x_m", s.TargetX}, {"target_y_m", s.TargetY}, {"target_z_m", s.TargetZ}, {"elevation_deg", s.ElevationDeg}}...)
		if s.ElevationDeg[0] <= -30 || s.ElevationDeg[1] >= 80 {
			return fmt.Errorf("elevation_deg: %v, want within (-30, 80)", s.ElevationDeg)
		}
		if s.ScatterM < 0 || s.SpeedNoise < 0 || s.DirNoiseDeg < 0 {
			return errors.New("scatter_m, speed_noise, dir_noise_deg: want ≥ 0")
		}
	default:
		return fmt.Errorf("mode: %q, want thrower or aimed", s.Mode)
	}
	for _, r := range ranges {
		if err := r.r.validate(r.f); err != nil {
			return err
		}
	}
	if s.ExitX[0] <= 0.5 {
		return fmt.Errorf("exit_x_m: %v, want the thrower more than 0.5 m in front of the robot", s.ExitX)
	}
	if s.ExitZ[0] <= 0 {
		return fmt.Errorf("exit_z_m: %v, want above the floor", s.ExitZ)
	}
	o := s.Observation
	if !(o.RateHz >= 10 && o.RateHz <= 2000) {
		return fmt.Errorf("observation.rate_hz: %v, want [10, 2000]", o.RateHz)
	}
	if !(o.NoiseM >= 0 && o.NoiseM < 0.2) {
		return fmt.Errorf("observation.noise_m: %v, want [0, 0.2)", o.NoiseM)
	}
	if !(o.LatencyMS >= 0 && o.LatencyMS < 500) {
		return fmt.Errorf("observation.latency_ms: %v, want [0, 500)", o.LatencyMS)
	}
	if !(o.Dropout >= 0 && o.Dropout < 1) {
		return fmt.Errorf("observation.dropout: %v, want [0, 1)", o.Dropout)
	}
	if !(s.ActionLatencyMS >= 0 && s.ActionLatencyMS < 500) {
		return fmt.Errorf("action_latency_ms: %v, want [0, 500)", s.ActionLatencyMS)
	}
	if s.SpinRPS[0] < 0 || s.SpinRPS[1] > 200 {
		return fmt.Errorf("spin_rps: %v, want within [0, 200]", s.SpinRPS)
	}
	return nil
}

// BallProps returns the scenario's ball.
func (s *Scenario) BallProps() ball.Props { return s.props }

// Sample draws one throw.
func (s *Scenario) Sample(rng *rand.Rand) Throw {
	th := Throw{
		Ball:     s.props,
		Obs:      s.Observation,
		ActLatS:  s.ActionLatencyMS / 1000,
		Scenario: s.Name,
	}
	p0 := ball.Vec{s.ExitX.sample(rng), s.ExitY.sample(rng), s.ExitZ.sample(rng)}
	w := randomSpin(rng, s.SpinRPS)
	switch s.Mode {
	case "aimed":
		th.Init, th.YawDeg = s.sampleAimed(rng, p0, w)
	default:
		th.Init, th.YawDeg = s.sampleThrower(rng, p0, w)
	}
	return th
}

func randomSpin(rng *rand.Rand, rps Range) ball.Vec {
	mag := rps.sample(rng) * 2 * math.Pi
	if mag == 0 {
		return ball.Vec{}
	}
	// Uniform direction on the sphere.
	z := 2*rng.Float64() - 1
	phi := 2 * math.Pi * rng.Float64()
	r := math.Sqrt(1 - z*z)
	return ball.Vec{mag * r * math.Cos(phi), mag * r * math.Sin(phi), mag * z}
}

func (s *Scenario) sampleThrower(rng *rand.Rand, p0, w ball.Vec) (ball.State, float64) {
	vh := s.HorizontalSpeed.Mean + s.HorizontalSpeed.Std*rng.NormFloat64()
	if vh < 0.5 {
		vh = 0.5
	}
	var yaw float64
	if s.RightFraction != nil {
		if rng.Float64() < *s.RightFraction {
			yaw = Range{s.YawDeg[0], 0}.sample(rng)
		} else {
			yaw = Range{0, s.YawDeg[1]}.sample(rng)
		}
	} else {
		yaw = s.YawDeg.sample(rng)
	}
	za := s.ArrivalZ.sample(rng)
	y := yaw * math.Pi / 180
	vx, vy := -vh*math.Cos(y), vh*math.Sin(y)
	// Solve the vertical speed for the arrival height by the secant method
	// on the full drag/Magnus model.
	height := func(vz float64) float64 {
		st := ball.State{P: p0, V: ball.Vec{vx, vy, vz}, W: w}
		z, _, ok := crossPlane(&s.props, st, 0, 5)
		if !ok {
			return -10
		}
		return z
	}
	T := p0[0] / vh
	g := ball.StandardGravity
	a := (za - p0[2] + 0.5*g*T*T) / T
	b := a + 0.5
	fa, fb := height(a)-za, height(b)-za
	for i := 0; i < 30 && math.Abs(fb) > 1e-5; i++ {
		if fb == fa {
			break
		}
		a, b, fa = b, b-fb*(b-a)/(fb-fa), fb
		fb = height(b) - za
	}
	return ball.State{P: p0, V: ball.Vec{vx, vy, b}, W: w}, yaw
}

func (s *Scenario) sampleAimed(rng *rand.Rand, p0, w ball.Vec) (ball.State, float64) {
	g := ball.StandardGravity
	for attempt := 0; ; attempt++ {
		tgt := ball.Vec{s.TargetX.sample(rng), s.TargetY.sample(rng), s.TargetZ.sample(rng)}
		tgt[1] += s.ScatterM * (2*rng.Float64() - 1)
		tgt[2] += s.ScatterM * (2*rng.Float64() - 1)
		el := s.ElevationDeg.sample(rng) * math.Pi / 180
		dx, dy := tgt[0]-p0[0], tgt[1]-p0[1]
		d := math.Hypot(dx, dy)
		h := tgt[2] - p0[2]
		den := 2 * math.Cos(el) * math.Cos(el) * (d*math.Tan(el) - h)
		if den <= 0 && attempt < 50 {
			continue // this elevation cannot reach the aim point; a human would throw again
		}
		az := math.Atan2(dy, dx)
		dir := func(speed float64) ball.Vec {
			return ball.Vec{speed * math.Cos(el) * math.Cos(az), speed * math.Cos(el) * math.Sin(az), speed * math.Sin(el)}
		}
		v := math.Sqrt(g * d * d / math.Max(den, 1e-3))
		// The thrower compensates for drag: secant on the speed so the ball
		// passes the aim point's height at its horizontal distance.
		miss := func(speed float64) float64 {
			st := ball.State{P: p0, V: dir(speed), W: w}
			z, _, ok := crossPlane(&s.props, st, tgt[0], 5)
			if !ok {
				return -10
			}
			return z - tgt[2]
		}
		a, b := v, v*1.05
		fa, fb := miss(a), miss(b)
		for i := 0; i < 30 && math.Abs(fb) > 1e-4; i++ {
			if fb == fa {
				break
			}
			a, b, fa = b, b-fb*(b-a)/(fb-fa), fb
			if b < 0.5 {
				b = 0.5
			}
			fb = miss(b)
		}
		speed := b * (1 + s.SpeedNoise*rng.NormFloat64())
		nAz := az + s.DirNoiseDeg*math.Pi/180*rng.NormFloat64()
		nEl := el + s.DirNoiseDeg*math.Pi/180*rng.NormFloat64()
		vel := ball.Vec{speed * math.Cos(nEl) * math.Cos(nAz), speed * math.Cos(nEl) * math.Sin(nAz), speed * math.Sin(nEl)}
		return ball.State{P: p0, V: vel, W: w}, HeadingDeg(vel)
	}
}

// HeadingDeg is the heading of a throw's horizontal velocity v, degrees in
// (−180, 180]: 0 straight at the robot (toward −x), negative toward the
// robot's right (−y), the convention of Scenario.YawDeg. Both throw modes
// report it, so yaw bins pool them without an angle wrap.
func HeadingDeg(v ball.Vec) float64 {
	return math.Atan2(v[1], -v[0]) * 180 / math.Pi
}

// crossPlane flies st until it crosses the plane x = x0 moving toward −x and
// returns the height there and the time; ok is false when it hits the floor
// or tMax passes first.
func crossPlane(p *ball.Props, st ball.State, x0, tMax float64) (z, t float64, ok bool) {
	// 5 ms RK4 steps: the flight is smooth and the result only sets the
	// throw's aim; the trial itself integrates at 1 ms.
	const dt = 5e-3
	for t < tMax {
		prev := st
		p.Step(&st, dt)
		t += dt
		if st.P[0] <= x0 && prev.P[0] > x0 {
			f := (prev.P[0] - x0) / (prev.P[0] - st.P[0])
			return prev.P[2] + f*(st.P[2]-prev.P[2]), t - dt + f*dt, true
		}
		if st.P[2] < 0 {
			return 0, t, false
		}
	}
	return 0, t, false
}
