package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/forecast"
)

// selectFlags are the --split, --fold and --not-fold flags that pick recorded files.
type selectFlags struct{ split, fold, notFold string }

func (s *selectFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&s.split, "split", "all", "recorded files to use, by their index i in the sorted listing: all, tuning (i%5 ≠ 4) or heldout (i%5 = 4: every fifth file)")
	fl.StringVar(&s.fold, "fold", "", "K/N: of the files --split keeps, only fold K of N (0-based; file j of them is in fold j%N)")
	fl.StringVar(&s.notFold, "not-fold", "", "K/N: of the files --split keeps, all but fold K of N (the training side of --fold K/N)")
}

func (s *selectFlags) parse() (forecast.FileSelect, error) {
	sel := forecast.FileSelect{Split: s.split}
	if s.fold != "" && s.notFold != "" {
		return sel, fmt.Errorf("give at most one of --fold and --not-fold")
	}
	f, name := s.fold, "--fold"
	if s.notFold != "" {
		f, name, sel.Exclude = s.notFold, "--not-fold", true
	}
	if f != "" {
		k, n, ok := strings.Cut(f, "/")
		var err1, err2 error
		sel.Fold, err1 = strconv.Atoi(k)
		sel.Folds, err2 = strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil {
			return sel, fmt.Errorf("%s %q: want K/N, e.g. 0/5", name, f)
		}
	}
	if err := sel.Validate(); err != nil {
		return sel, fmt.Errorf("--split/%s: %w", name, err)
	}
	return sel, nil
}

// read parses the selection and reads the selected recorded flights of trajectories
// (forecast.ReadFlights), printing the read report's warnings on stderr.
func (s *selectFlags) read(trajectories string) ([]forecast.Flight, forecast.ReadReport, forecast.FileSelect, error) {
	fs, err := s.parse()
	if err != nil {
		return nil, forecast.ReadReport{}, fs, err
	}
	flights, rep, err := forecast.ReadFlights(trajectories, forecast.CutConfig{Select: fs})
	if err != nil {
		return nil, rep, fs, err
	}
	for _, m := range rep.Warnings() {
		fmt.Fprintf(os.Stderr, "catch: warning: %s\n", m)
	}
	return flights, rep, fs, nil
}

// recordedBall is loadBall for a command reading --trajectories, which needs --ball.
func recordedBall(name string) (ball.Props, error) {
	if name == "" {
		return ball.Props{}, fmt.Errorf("--trajectories needs --ball (one of %s, or a ball YAML file)", strings.Join(ball.SetNames(), ", "))
	}
	return loadBall(name)
}

// loadBall returns a named ball set, or the ball set of a YAML file (as `catch fit ball`
// writes it).
func loadBall(name string) (ball.Props, error) {
	if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
		f, err := os.Open(name)
		if err != nil {
			return ball.Props{}, fmt.Errorf("--ball: %w", err)
		}
		defer f.Close()
		p, err := ball.ParseProps(f)
		if err != nil {
			return ball.Props{}, fmt.Errorf("--ball %s: %w", name, err)
		}
		return p, nil
	}
	p, err := ball.ByName(name)
	if err != nil {
		return p, fmt.Errorf("--ball: %w (or a ball YAML file)", err)
	}
	return p, nil
}

// fitBallOut is the JSON of `catch fit ball`.
type fitBallOut struct {
	Trajectories string              `json:"trajectories"`
	Selection    string              `json:"selection"`
	Base         string              `json:"base"`
	Read         forecast.ReadReport `json:"read"`
	Fit          ball.FitResult      `json:"fit"`
	// Spin is the distribution of the fitted spins in the heading frame (x′ along the
	// horizontal velocity, z′ up), rad/s, relative to the set's C_l.
	SpinMean [3]float64 `json:"spin_heading_mean_radps"`
	SpinStd  [3]float64 `json:"spin_heading_std_radps"`
	// Check is the residual check on other files (--check-split), when asked for.
	Check   *residualCheck `json:"check,omitempty"`
	Seconds float64        `json:"seconds"`
	Out     string         `json:"out,omitempty"`
}

// residualCheck compares the fitted set with the base set on files it was not fitted to:
// each flight's state and spin refitted with the coefficients held.
type residualCheck struct {
	Selection string  `json:"selection"`
	Flights   int     `json:"flights"`
	FittedRMS float64 `json:"fitted_rms_m"` // mean over flights of the per-axis RMS
	BaseRMS   float64 `json:"base_rms_m"`
}

func init() {
	parent := &cobra.Command{Use: "fit", Short: "Fit models to recorded data", Args: cobra.NoArgs}
	var (
		trajectories, ballName, out, checkSplit string
		fixG, asJSON                            bool
		seed                                    uint64
		sel                                     selectFlags
	)
	cmd := &cobra.Command{
		Use:   "ball --trajectories DIR --ball NAME [--split tuning] [--out FILE.yaml]",
		Short: "Fit a ball's drag coefficient and g (and each flight's spin) to recorded flights",
		Long: `Reads recorded flights (as catch forecast eval does: cut at gaps, bounces and
hits) and fits the drag coefficient C_d and g of the --ball set by least squares
over every observation, each flight's initial position, velocity and spin
solved with them. From positions alone only the product of C_l and the spin is
determined, so C_l stays the base set's and the spins are relative to it. Prints
C_d and g with their 1σ (from the curvature: optimistic when the tracker's noise
is correlated in time), the residual RMS, the spins' distribution in the heading
frame, and with --check-split the residuals of the fitted and the base set on
other files. --out writes the fitted set as YAML (load it with --ball FILE.yaml).
The fit is deterministic; --seed is recorded only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if trajectories == "" {
				return fmt.Errorf("--trajectories: required")
			}
			if ballName == "" {
				return fmt.Errorf("--ball: required (one of %s, or a ball YAML file)", strings.Join(ball.SetNames(), ", "))
			}
			if out != "" && !strings.HasSuffix(out, ".yaml") {
				return fmt.Errorf("--out %q: want a FILE.yaml path", out)
			}
			base, err := loadBall(ballName)
			if err != nil {
				return err
			}
			fs, err := sel.parse()
			if err != nil {
				return err
			}
			var check forecast.FileSelect
			if checkSplit != "" {
				check = forecast.FileSelect{Split: checkSplit}
				if err := check.Validate(); err != nil {
					return fmt.Errorf("--check-split: %w", err)
				}
			}
			start := time.Now()
			flights, rep, err := forecast.ReadFlights(trajectories, forecast.CutConfig{Select: fs})
			if err != nil {
				return err
			}
			for _, w := range rep.Warnings() {
				fmt.Fprintf(os.Stderr, "catch: warning: %s\n", w)
			}
			res, err := ball.Fit(base, tracks(flights), ball.FitConfig{FixGravity: fixG})
			if err != nil {
				return failed(err)
			}
			o := fitBallOut{Trajectories: trajectories, Selection: fs.String(), Base: ballName, Read: rep, Fit: res}
			o.SpinMean, o.SpinStd = spinStats(res.Tracks)
			if checkSplit != "" {
				cf, _, err := forecast.ReadFlights(trajectories, forecast.CutConfig{Select: check})
				if err != nil {
					return fmt.Errorf("--check-split: %w", err)
				}
				tr := tracks(cf)
				rc := residualCheck{Selection: check.String(), Flights: len(tr)}
				for _, f := range ball.Residuals(res.Props, tr, ball.FitConfig{}) {
					rc.FittedRMS += f.RMS / float64(len(tr))
				}
				for _, f := range ball.Residuals(base, tr, ball.FitConfig{}) {
					rc.BaseRMS += f.RMS / float64(len(tr))
				}
				o.Check = &rc
			}
			o.Seconds = time.Since(start).Seconds()
			if out != "" {
				if err := writeBallYAML(out, &o, seed, cmd.CommandPath()); err != nil {
					return failed(err)
				}
				o.Out = out
			}
			return printFitBall(cmd.OutOrStdout(), &o, asJSON)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&trajectories, "trajectories", "", "recorded flights: a CSV file, a trial log or a directory of them")
	fl.StringVar(&ballName, "ball", "", "base ball set (mass, radius, C_l, spin decay kept): a set name or a ball YAML file")
	fl.StringVar(&out, "out", "", "write the fitted ball set to FILE.yaml")
	fl.StringVar(&checkSplit, "check-split", "", "also report the residuals of the fitted and the base set on this split (e.g. heldout)")
	fl.BoolVar(&fixG, "fix-gravity", false, "keep the base set's g (default: fit it; it absorbs the tracker's scale errors)")
	fl.Uint64Var(&seed, "seed", 1, "recorded in the output only (the fit is deterministic)")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	sel.add(fl)
	parent.AddCommand(cmd)
	root.AddCommand(parent)
}

func tracks(fl []forecast.Flight) []ball.Track {
	out := make([]ball.Track, len(fl))
	for i, f := range fl {
		out[i] = ball.Track{Name: f.Name, T: f.T, P: f.P}
	}
	return out
}

// spinStats are the mean and σ of the heading-frame spins, each component trimmed to its
// central 90% (a few flights with no curvature to speak of get spins the prior alone sets).
func spinStats(tf []ball.TrackFit) (mean, std [3]float64) {
	for k := 0; k < 3; k++ {
		var v []float64
		for _, t := range tf {
			v = append(v, t.Heading[k])
		}
		sort.Float64s(v)
		lo, hi := len(v)/20, len(v)-len(v)/20
		v = v[lo:hi]
		for _, x := range v {
			mean[k] += x / float64(len(v))
		}
		for _, x := range v {
			std[k] += (x - mean[k]) * (x - mean[k]) / float64(len(v))
		}
		std[k] = math.Sqrt(std[k])
	}
	return mean, std
}

func writeBallYAML(path string, o *fitBallOut, seed uint64, command string) error {
	p := o.Fit.Props
	if p.Name == "" || !strings.HasSuffix(p.Name, "-fit") {
		p.Name = strings.TrimSuffix(filepath.Base(path), ".yaml")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Ball set fitted by `%s` (seed %d) to %s, files %s:\n", command, seed, o.Trajectories, o.Selection)
	fmt.Fprintf(&b, "# %d flights, %d observations (%d gated as outliers), residual RMS %.2f mm per axis.\n", len(o.Fit.Tracks), o.Fit.N, o.Fit.Dropped, o.Fit.RMS*1000)
	fmt.Fprintf(&b, "# C_d %.4f ± %.4f, g %.4f ± %.4f m/s² (1σ from the curvature), base %s.\n", p.Cd, o.Fit.CdStd, p.Gravity, o.Fit.GStd, o.Base)
	fmt.Fprintf(&b, "# C_l is the base set's (not separable from the spin); fitted spins in the heading frame,\n")
	fmt.Fprintf(&b, "# mean (%.0f, %.0f, %.0f) rad/s, σ (%.0f, %.0f, %.0f).\n", o.SpinMean[0], o.SpinMean[1], o.SpinMean[2], o.SpinStd[0], o.SpinStd[1], o.SpinStd[2])
	fmt.Fprintf(&b, "name: %s\nmass_kg: %g\nradius_m: %g\ndrag_coefficient: %.6f\nlift_coefficient: %g\nspin_decay_per_s: %g\n", p.Name, p.Mass, p.Radius, p.Cd, p.Cl, p.SpinDecay)
	if p.AirDensity != 0 {
		fmt.Fprintf(&b, "air_density_kgm3: %g\n", p.AirDensity)
	}
	if p.Gravity != 0 {
		fmt.Fprintf(&b, "gravity_mps2: %.6f\n", p.Gravity)
	}
	if _, err := ball.ParseProps(strings.NewReader(b.String())); err != nil {
		return fmt.Errorf("fit ball: the written set does not load back: %w", err)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func printFitBall(w io.Writer, o *fitBallOut, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(o)
	}
	r := &o.Fit
	fmt.Fprintf(w, "%s (files %s): %d flights, %d observations, %d gated as outliers, %d iterations, %.1f s\n",
		o.Trajectories, o.Selection, len(r.Tracks), r.N, r.Dropped, r.Iterations, o.Seconds)
	fmt.Fprintf(w, "C_d %.4f ± %.4f   g %.4f ± %.4f m/s²   (correlation %.2f; base %s: C_d %.4f)\n", r.Props.Cd, r.CdStd, r.Props.Gravity, r.GStd, r.Corr, o.Base, baseCd(o.Base))
	fmt.Fprintf(w, "residual RMS %.2f mm per axis\n", r.RMS*1000)
	fmt.Fprintf(w, "spin in the heading frame (C_l %.3f): mean (%.0f, %.0f, %.0f) rad/s, σ (%.0f, %.0f, %.0f)\n", r.Props.Cl,
		o.SpinMean[0], o.SpinMean[1], o.SpinMean[2], o.SpinStd[0], o.SpinStd[1], o.SpinStd[2])
	if o.Check != nil {
		fmt.Fprintf(w, "on %s (%d flights, refitting each flight's state): fitted set RMS %.2f mm, base set %.2f mm\n",
			o.Check.Selection, o.Check.Flights, o.Check.FittedRMS*1000, o.Check.BaseRMS*1000)
	}
	if o.Out != "" {
		fmt.Fprintf(w, "wrote %s\n", o.Out)
	}
	return nil
}

func baseCd(name string) float64 {
	p, err := loadBall(name)
	if err != nil {
		return math.NaN()
	}
	return p.Cd
}
