package robot

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func TestDefault(t *testing.T) {
	r, err := Default()
	require.NoError(t, err)
	require.Equal(t, "catcher", r.Model.Name)
	require.Equal(t, "world", r.Chain.Base())
	require.Equal(t, "head", r.Chain.Tip())
	require.Equal(t, 7, r.Chain.DOF())
	require.Equal(t, []float64{10, 25, 25, 25, 40, 40, 40}, r.Limits.Acc)
	require.Equal(t, r.Chain.Limits().Lower, r.Limits.Lower)
	require.Equal(t, Pocket{Across: 0.08, Along: 0.125}, r.Pocket)
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "irb120.urdf")
	require.NoError(t, os.WriteFile(path, []byte(irb120URDF), 0o600))

	cases := []struct {
		name     string
		cfg      Config
		base     string
		tip      string
		dof      int
		acc      []float64
		pocket   Pocket
		wantErr  string
		wantURDF bool // error wraps ErrURDF
	}{
		{name: "arm only from the shipped URDF", cfg: Config{BaseLink: "base_link", TipLink: "flange"},
			base: "base_link", tip: "flange", dof: 6, acc: []float64{25, 25, 25, 40, 40, 40}, pocket: Pocket{0.08, 0.125}},
		{name: "user URDF, root as default base", cfg: Config{URDF: path, TipLink: "tool0"},
			base: "base_link", tip: "tool0", dof: 6, acc: []float64{25, 25, 25, 40, 40, 40}, pocket: Pocket{0.08, 0.125}},
		{name: "explicit accelerations and pocket",
			cfg:  Config{AccLimits: []float64{1, 2, 3, 4, 5, 6, 7}, Pocket: PocketConfig{Across: 0.1, Along: 0.2}},
			base: "world", tip: "head", dof: 7, acc: []float64{1, 2, 3, 4, 5, 6, 7}, pocket: Pocket{0.1, 0.2}},
		{name: "missing file", cfg: Config{URDF: filepath.Join(dir, "nope.urdf")}, wantErr: "robot: urdf: robot: read URDF"},
		{name: "bad tip", cfg: Config{TipLink: "hand"}, wantErr: `base_link/tip_link: robot: chain tip link "hand": no such link`},
		{name: "default tip missing in user URDF", cfg: Config{URDF: path}, wantErr: `chain tip link "head": no such link`},
		{name: "acc count", cfg: Config{AccLimits: []float64{1, 2}}, wantErr: "acc_limits has 2 values, want 7 (joints [rail joint_1"},
		{name: "invalid config", cfg: Config{Pocket: PocketConfig{Along: -1}}, wantErr: "pocket.along"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Load(tc.cfg)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.base, r.Chain.Base())
			require.Equal(t, tc.tip, r.Chain.Tip())
			require.Equal(t, tc.dof, r.Chain.DOF())
			require.Equal(t, tc.acc, r.Limits.Acc)
			require.Equal(t, tc.pocket, r.Pocket)
		})
	}

	bad := filepath.Join(dir, "bad.urdf")
	require.NoError(t, os.WriteFile(bad, []byte(`<robot><link name="a"/><link name="b"/></robot>`), 0o600))
	_, err := Load(Config{URDF: bad})
	require.ErrorIs(t, err, ErrURDF)
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string // "" means valid
	}{
		{"zero value", Config{}, ""},
		{"explicit", Config{AccLimits: []float64{1}, Pocket: PocketConfig{Across: 0.1, Along: 0.1}}, ""},
		{"zero acceleration", Config{AccLimits: []float64{1, 0}}, "acc_limits[1] = 0"},
		{"negative acceleration", Config{AccLimits: []float64{-1}}, "acc_limits[0] = -1"},
		{"NaN acceleration", Config{AccLimits: []float64{math.NaN()}}, "acc_limits[0] = NaN"},
		{"Inf acceleration", Config{AccLimits: []float64{math.Inf(1)}}, "acc_limits[0] = +Inf"},
		{"negative across", Config{Pocket: PocketConfig{Across: -0.1}}, "pocket.across = -0.1 m"},
		{"NaN along", Config{Pocket: PocketConfig{Along: math.NaN()}}, "pocket.along = NaN m"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestConfigYAML(t *testing.T) {
	const doc = `
urdf: /opt/robot.urdf
base_link: base_link
tip_link: flange
acc_limits: [1, 2, 3, 4, 5, 6]
pocket: {across: 0.09, along: 0.13}
`
	var cfg Config
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&cfg))
	require.Equal(t, Config{
		URDF: "/opt/robot.urdf", BaseLink: "base_link", TipLink: "flange",
		AccLimits: []float64{1, 2, 3, 4, 5, 6}, Pocket: PocketConfig{Across: 0.09, Along: 0.13},
	}, cfg)
}

func TestPocketInside(t *testing.T) {
	p := Pocket{Across: 0.08, Along: 0.125}
	cases := []struct {
		x, z float64
		want bool
	}{
		{0, 0, true},
		{0.124, 0, true},
		{0.126, 0, false},
		{0, 0.079, true},
		{0, 0.081, false},
		{0.1, 0.06, false}, // (0.8)² + (0.75)² > 1
		{0.08, 0.05, true}, // (0.64)² + (0.625)² < 1
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, p.Inside(tc.x, tc.z), "(%g, %g)", tc.x, tc.z)
	}
}
