package policy

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// FileVersion is the policy file format version.
const FileVersion = 1

// Policy is a trained (or prior) policy: feature settings and network. It
// is what a policy file holds, as JSON.
type Policy struct {
	Version int `json:"version"`
	// Class is the policy class (ClassStructured when empty).
	Class string `json:"class,omitempty"`
	// Features and Net are the structured class's.
	Features FeatureConfig `json:"features"`
	Net      *Net          `json:"net,omitempty"`
	// Theta is the parameter vector of an external class (ExternalClass);
	// empty for the classes of this package.
	Theta []float64 `json:"theta,omitempty"`
	// Paper is the paper class's network.
	Paper *PaperNet `json:"paper,omitempty"`
	// Trained records how the policy was made (informational).
	Trained *TrainInfo `json:"trained,omitempty"`
}

// TrainInfo describes the training run that produced a policy.
type TrainInfo struct {
	Scenarios   []string `json:"scenarios"`
	Seed        uint64   `json:"seed"`
	Iterations  int      `json:"iterations"`
	Episodes    int64    `json:"episodes"`
	EvalSuccess float64  `json:"eval_success"`
	WallS       float64  `json:"wall_s"`
	// Provenance is the training command's provenance record (the
	// binary's build, command line, config hash and seed), as JSON.
	Provenance json.RawMessage `json:"provenance,omitempty"`
}

// MarshalJSON / UnmarshalJSON of Net use these field names.
type netJSON struct {
	In      int       `json:"in"`
	Hidden  int       `json:"hidden"`
	Params  []float64 `json:"params"`
	ObsMean []float64 `json:"obs_mean"`
	ObsStd  []float64 `json:"obs_std"`
}

// MarshalJSON implements json.Marshaler.
func (n *Net) MarshalJSON() ([]byte, error) {
	return json.Marshal(netJSON{n.In, n.Hidden, n.Params, n.ObsMean, n.ObsStd})
}

// UnmarshalJSON implements json.Unmarshaler.
func (n *Net) UnmarshalJSON(b []byte) error {
	var j netJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*n = Net{In: j.In, Hidden: j.Hidden, Params: j.Params, ObsMean: j.ObsMean, ObsStd: j.ObsStd}
	return nil
}

// DefaultHidden is the MLP's hidden width of a new policy.
const DefaultHidden = 32

// NewPolicy returns the prior policy for the feature settings (zero value:
// defaults): structural parameters at their hand-set values and a zero MLP
// residual. seed draws the first-layer weights.
func NewPolicy(fc FeatureConfig, hidden int, seed uint64) *Policy {
	fc.setDefaults()
	if hidden <= 0 {
		hidden = DefaultHidden
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	net := NewNet(fc.ObsLen(dofPolicy), hidden, func() float64 { return 2*rng.Float64() - 1 })
	return &Policy{Version: FileVersion, Features: fc, Net: net}
}

// Validate checks the policy's consistency.
func (p *Policy) Validate() error {
	if p == nil {
		return errors.New("policy: no policy")
	}
	if p.Version != FileVersion {
		return fmt.Errorf("policy: version %d, want %d", p.Version, FileVersion)
	}
	if c, ok := external[p.ClassName()]; ok {
		if p.Net != nil {
			return fmt.Errorf("policy: class %q has no network, the file has one", p.Class)
		}
		return c.Validate(p.Theta)
	}
	switch p.ClassName() {
	case ClassStructured:
	case ClassPaper:
		if p.Paper == nil || p.Net != nil {
			return errors.New("policy: a paper-class policy has a paper network and no structured one")
		}
		if err := p.Paper.Validate(); err != nil {
			return fmt.Errorf("policy: %w", err)
		}
		return nil
	default:
		return fmt.Errorf("policy: class %q: want one of %v", p.Class, Classes())
	}
	if p.Net == nil {
		return errors.New("policy: no network")
	}
	if err := p.Features.Validate(); err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	if err := p.Net.Validate(); err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	if want := p.Features.ObsLen(dofPolicy); p.Net.In != want {
		return fmt.Errorf("policy: net input %d, want %d for the features", p.Net.In, want)
	}
	return nil
}

// Clone returns a deep copy.
func (p *Policy) Clone() *Policy {
	c := *p
	if p.Net != nil {
		c.Net = p.Net.Clone()
	}
	c.Theta = append([]float64(nil), p.Theta...)
	if p.Paper != nil {
		c.Paper = p.Paper.Clone()
	}
	if p.Trained != nil {
		t := *p.Trained
		c.Trained = &t
	}
	return &c
}

// ParsePolicy reads a policy from JSON, rejecting unknown fields.
func ParsePolicy(data []byte) (*Policy, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Policy
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// LoadFile reads a policy file.
func LoadFile(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy file: %w", err)
	}
	p, err := ParsePolicy(data)
	if err != nil {
		return nil, fmt.Errorf("policy file %s: %w", path, err)
	}
	return p, nil
}

// Save writes the policy to path atomically (temporary file + rename).
func (p *Policy) Save(path string) error {
	data, err := json.MarshalIndent(p, "", " ")
	if err != nil {
		return err
	}
	return writeAtomic(path, append(data, '\n'))
}

// writeAtomic writes data to a temporary file next to path, syncs it and
// renames it over path, so a crash leaves either the old or the new file.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	err = f.Chmod(0o644)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

//go:embed shipped/es_policy.json
var shippedJSON []byte

// Shipped returns the trained policy shipped in the repository
// (policy/shipped/es_policy.json), the default of `--controller es`.
func Shipped() (*Policy, error) {
	p, err := ParsePolicy(shippedJSON)
	if err != nil {
		return nil, fmt.Errorf("shipped policy: %w", err)
	}
	return p, nil
}

// ShippedFor returns the shipped es policy for an engine: "" or
// "kinematic" that of Shipped, "mujoco" that policy fine-tuned in the
// MuJoCo engine (policy/shipped/es_policy_mujoco.json; its Trained record
// gives the `catch finetune es` command).
func ShippedFor(engine string) (*Policy, error) {
	switch engine {
	case "", "kinematic":
		return Shipped()
	case "mujoco":
	default:
		return nil, fmt.Errorf("no shipped es policy for engine %q, want kinematic or mujoco", engine)
	}
	data, err := shippedFiles.ReadFile("shipped/es_policy_mujoco.json")
	if err == nil {
		var p *Policy
		if p, err = ParsePolicy(data); err == nil {
			return p, nil
		}
	}
	return nil, fmt.Errorf("shipped es policy (mujoco): %w", err)
}

// shippedFiles holds the shipped policy files; es_paper.json is read from
// it by name, so a checkout without it still builds (es-paper then says
// the file is missing).
//
//go:embed shipped/*.json
var shippedFiles embed.FS

// ShippedPaper returns the paper-class policy learned from scratch that is
// shipped in the repository (policy/shipped/es_paper.json; how it was made:
// its Trained record and the package doc), the default of
// `--controller es-paper`.
func ShippedPaper() (*Policy, error) {
	data, err := shippedFiles.ReadFile("shipped/es_paper.json")
	if err != nil {
		return nil, fmt.Errorf("shipped paper policy: %w", err)
	}
	p, err := ParsePolicy(data)
	if err != nil {
		return nil, fmt.Errorf("shipped paper policy: %w", err)
	}
	if p.ClassName() != ClassPaper {
		return nil, fmt.Errorf("shipped paper policy: class %q, want %q", p.ClassName(), ClassPaper)
	}
	return p, nil
}

// Origin describes where a policy came from, on one line: the training
// command, seed, episodes, steps, best eval and the binary's revision, from
// its Trained record ("untrained" without one).
func (p *Policy) Origin() string {
	t := p.Trained
	if t == nil {
		return "untrained (no training record)"
	}
	var prov struct {
		Command  []string `json:"command"`
		Revision string   `json:"vcs_revision"`
		Modified bool     `json:"vcs_modified"`
	}
	cmd, rev := "(not recorded)", "(not recorded)"
	if len(t.Provenance) > 0 && json.Unmarshal(t.Provenance, &prov) == nil {
		if len(prov.Command) > 0 {
			cmd = strings.Join(prov.Command, " ")
		}
		if prov.Revision != "" {
			rev = prov.Revision
			if prov.Modified {
				rev += " (modified)"
			}
		}
	}
	return fmt.Sprintf("class %s; command `%s`; seed %d; %d training episodes in %d steps (%.0f s); best eval mix success %.3f; commit %s",
		p.ClassName(), cmd, t.Seed, t.Episodes, t.Iterations, t.WallS, t.EvalSuccess, rev)
}

// Config selects the policies the es and es-paper controllers run, and
// holds the trainer settings. The zero value means the shipped policies
// and default training.
type Config struct {
	// Policy is the es controller's policy file (any class); default "":
	// the shipped structured policy.
	Policy string `yaml:"policy"`
	// PaperPolicy is the es-paper controller's policy file (paper class);
	// default "": the shipped paper policy.
	PaperPolicy string `yaml:"paper_policy"`
	// Shipped names the shipped es policy run when Policy is empty:
	// "kinematic" (policy/shipped/es_policy.json, trained in the kinematic
	// world) or "mujoco" (policy/shipped/es_policy_mujoco.json, that policy
	// fine-tuned in the MuJoCo engine; ShippedFor). Default "": kinematic,
	// except that the simulator's commands run the mujoco one in the MuJoCo
	// engine (launch.Config.ForEngine).
	Shipped string `yaml:"shipped"`
	// Train configures `catch train es`.
	Train TrainConfig `yaml:"train"`
}

// Validate reports the first bad field.
func (c Config) Validate() error {
	if _, err := ShippedFor(c.Shipped); err != nil {
		return fmt.Errorf("es.shipped: %w", err)
	}
	if err := c.Train.Validate(); err != nil {
		return fmt.Errorf("es.train: %w", err)
	}
	return nil
}

// Load returns the configured policy: the file named by Policy, or the
// shipped one Shipped names.
func (c Config) Load() (*Policy, error) {
	if c.Policy == "" {
		return ShippedFor(c.Shipped)
	}
	return LoadFile(c.Policy)
}

// LoadPaper returns the es-paper controller's policy: the file named by
// PaperPolicy (which must be of the paper class), or the shipped one.
func (c Config) LoadPaper() (*Policy, error) {
	if c.PaperPolicy == "" {
		return ShippedPaper()
	}
	p, err := LoadFile(c.PaperPolicy)
	if err != nil {
		return nil, err
	}
	if p.ClassName() != ClassPaper {
		return nil, fmt.Errorf("policy file %s: class %q, want %q for es-paper", c.PaperPolicy, p.ClassName(), ClassPaper)
	}
	return p, nil
}
