package forecast

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/hardware/triallog"
)

// Flight is one recorded flight: capture times (s) and positions (m), increasing in time.
type Flight struct {
	Name string
	T    []float64
	P    []ball.Vec
}

// CutConfig says where recorded flights are cut and which recordings are believed.
type CutConfig struct {
	// MaxGap cuts at a gap between observations longer than this, s; default 0.1.
	MaxGap float64
	// MinDuration drops pieces shorter than this, s; default 0.2.
	MinDuration float64
	// Gravity is the expected |g| along −z, m/s², for the axis check; default 9.81.
	Gravity float64
	// NoAxisCheck turns off the gravity-axis check (for recordings with no free flight).
	NoAxisCheck bool
	// Select picks a directory's files by their place in its sorted listing.
	Select FileSelect
}

// FileSelect picks files of a directory by their index in its sorted listing: a fixed
// split by file, so that no flight of a held-out file is ever fitted or trained on.
type FileSelect struct {
	// Split is "" or "all" (every file), "tuning" (index i with i%5 ≠ 4) or "heldout"
	// (i%5 = 4: every fifth file, o80_robot_ball_005, 010, …, 050 of mpi_pam).
	Split string
	// Folds > 1 divides the files Split keeps into folds by their index j among them
	// (fold j%Folds); Fold (0-based) is kept, or with Exclude every other fold is.
	Folds, Fold int
	Exclude     bool
}

// Validate reports a bad field.
func (s FileSelect) Validate() error {
	switch s.Split {
	case "", "all", "tuning", "heldout":
	default:
		return fmt.Errorf("forecast: split %q, want all, tuning or heldout", s.Split)
	}
	if s.Folds < 0 || s.Folds == 1 || (s.Folds > 1 && (s.Fold < 0 || s.Fold >= s.Folds)) {
		return fmt.Errorf("forecast: fold %d of %d, want 0 ≤ fold < folds and folds ≥ 2 (or 0: no folds)", s.Fold, s.Folds)
	}
	return nil
}

// apply returns the selected files of a sorted listing.
func (s FileSelect) apply(files []string) []string {
	var kept []string
	for i, f := range files {
		held := i%5 == 4
		if (s.Split == "tuning" && held) || (s.Split == "heldout" && !held) {
			continue
		}
		kept = append(kept, f)
	}
	if s.Folds < 2 {
		return kept
	}
	var out []string
	for j, f := range kept {
		if (j%s.Folds == s.Fold) != s.Exclude {
			out = append(out, f)
		}
	}
	return out
}

// String describes the selection, for provenance.
func (s FileSelect) String() string {
	out := s.Split
	if out == "" {
		out = "all"
	}
	if s.Folds > 1 {
		not := ""
		if s.Exclude {
			not = "all but "
		}
		out += fmt.Sprintf(", %sfold %d of %d", not, s.Fold, s.Folds)
	}
	return out
}

func (c CutConfig) withDefaults() CutConfig {
	if c.MaxGap == 0 {
		c.MaxGap = 0.1
	}
	if c.MinDuration == 0 {
		c.MinDuration = 0.2
	}
	if c.Gravity == 0 {
		c.Gravity = 9.81
	}
	return c
}

// ReadReport counts what ReadFlights read, kept and dropped.
type ReadReport struct {
	Files     int         `json:"files"`      // files selected
	Selection string      `json:"selection"`  // which (FileSelect)
	FilesRead int         `json:"files_read"` // files that gave flights
	Skipped   []FileIssue `json:"files_skipped,omitempty"`
	Rows      int         `json:"rows"` // observations read from the files kept
	// Duplicates are rows with the previous row's time stamp (dropped: the first is kept);
	// OutOfOrder rows with an earlier stamp than the previous kept row (dropped).
	Duplicates int `json:"rows_duplicate_stamp"`
	OutOfOrder int `json:"rows_out_of_order"`
	// Pieces are the flights kept; ShortPieces the pieces dropped as shorter than
	// MinDuration; Gaps and Bounces the cuts made.
	Pieces      int `json:"pieces"`
	ShortPieces int `json:"pieces_too_short"`
	Gaps        int `json:"cuts_at_gaps"`
	Bounces     int `json:"cuts_at_bounces"`
	// Accel is the mean fitted acceleration of the kept flights (a quadratic per flight and
	// axis), m/s²: gravity plus the mean drag and Magnus.
	Accel ball.Vec `json:"mean_acceleration_mps2"`
}

// FileIssue is a file ReadFlights skipped and why.
type FileIssue struct {
	File   string `json:"file"`
	Reason string `json:"reason"`
}

// Warnings are one-line summaries of what was dropped, for a CLI to print.
func (r *ReadReport) Warnings() []string {
	var w []string
	for _, s := range r.Skipped {
		w = append(w, "skipped "+s.Reason)
	}
	if r.Duplicates > 0 || r.OutOfOrder > 0 {
		w = append(w, fmt.Sprintf("dropped %d rows with a repeated time stamp and %d out of order (of %d)", r.Duplicates, r.OutOfOrder, r.Rows))
	}
	if r.ShortPieces > 0 {
		w = append(w, fmt.Sprintf("dropped %d flight pieces shorter than the minimum duration (kept %d)", r.ShortPieces, r.Pieces))
	}
	return w
}

// ReadFlights reads recorded flights from one file or from every *.csv and *.jsonl file of
// a directory. A CSV file needs a header with `t` (s) or `t_ns` (ns) and `x,y,z` or
// `x_m,y_m,z_m` (m); other columns are ignored. A .jsonl file is a trial log of package
// triallog: each throw's ball observations become a recording. Rows with a repeated or an
// earlier time stamp are dropped and counted. Recordings are cut into flights at gaps
// longer than MaxGap and at bounces (a local minimum of height, or a jump of the velocity).
//
// Each file is checked before it is believed: time steps and speeds must be those of a
// ball in m and s (a hint names the unit they look like otherwise), and the mean fitted
// acceleration must show gravity along −z (else the axis it shows along is named). A single
// file that fails is an error; in a directory it is skipped and listed in the report, and
// only a directory with no usable file is an error.
func ReadFlights(path string, cut CutConfig) ([]Flight, ReadReport, error) {
	cut = cut.withDefaults()
	var rep ReadReport
	st, err := os.Stat(path)
	if err != nil {
		return nil, rep, fmt.Errorf("forecast: trajectories: %w", err)
	}
	files := []string{path}
	if st.IsDir() {
		files = nil
		for _, pat := range []string{"*.csv", "*.jsonl"} {
			m, err := filepath.Glob(filepath.Join(path, pat))
			if err != nil {
				return nil, rep, err
			}
			files = append(files, m...)
		}
		sort.Strings(files)
		if len(files) == 0 {
			return nil, rep, fmt.Errorf("forecast: trajectories: no *.csv or *.jsonl files in %s", path)
		}
		if err := cut.Select.Validate(); err != nil {
			return nil, rep, err
		}
		n := len(files)
		if files = cut.Select.apply(files); len(files) == 0 {
			return nil, rep, fmt.Errorf("forecast: trajectories %s: the selection %s keeps none of its %d files", path, cut.Select, n)
		}
	} else if cut.Select.Split != "" && cut.Select.Split != "all" || cut.Select.Folds > 1 {
		return nil, rep, fmt.Errorf("forecast: trajectories %s: a split or fold selects files of a directory, not of one file", path)
	}
	rep.Files = len(files)
	rep.Selection = cut.Select.String()
	var out []Flight
	var accSum ball.Vec
	var accN float64
	for _, f := range files {
		fl, fr, err := readFile(f, cut)
		if err != nil {
			if !st.IsDir() {
				return nil, rep, err
			}
			rep.Skipped = append(rep.Skipped, FileIssue{File: filepath.Base(f), Reason: err.Error()})
			continue
		}
		rep.FilesRead++
		rep.Rows += fr.Rows
		rep.Duplicates += fr.Duplicates
		rep.OutOfOrder += fr.OutOfOrder
		rep.Pieces += fr.Pieces
		rep.ShortPieces += fr.ShortPieces
		rep.Gaps += fr.Gaps
		rep.Bounces += fr.Bounces
		for k := 0; k < 3; k++ {
			accSum[k] += fr.Accel[k] * float64(fr.Pieces)
		}
		accN += float64(fr.Pieces)
		out = append(out, fl...)
	}
	if accN > 0 {
		rep.Accel = ball.Vec{accSum[0] / accN, accSum[1] / accN, accSum[2] / accN}
	}
	if len(out) == 0 {
		msg := fmt.Sprintf("forecast: trajectories %s: no flight of at least %g s", path, cut.MinDuration)
		if len(rep.Skipped) > 0 {
			msg += fmt.Sprintf(" (%d of %d files skipped; first: %s)", len(rep.Skipped), rep.Files, rep.Skipped[0].Reason)
		}
		return nil, rep, errors.New(msg)
	}
	return out, rep, nil
}

// readFile reads, cleans, checks and cuts one file.
func readFile(path string, cut CutConfig) ([]Flight, ReadReport, error) {
	var rep ReadReport
	var recs []recording
	var err error
	if strings.HasSuffix(path, ".jsonl") {
		recs, err = readTrialLog(path)
	} else {
		var r recording
		r, err = readCSV(path)
		recs = []recording{r}
	}
	if err != nil {
		return nil, rep, err
	}
	base := filepath.Base(path)
	var out []Flight
	for _, r := range recs {
		t, p, dup, ooo := cleanStamps(r.t, r.p)
		rep.Rows += len(r.t)
		rep.Duplicates += dup
		rep.OutOfOrder += ooo
		if len(r.t) > 0 && float64(dup+ooo) > 0.2*float64(len(r.t)) {
			return nil, rep, fmt.Errorf("forecast: trajectories %s: %d of %d rows have a repeated or earlier time stamp: is the time column the capture time?", base, dup+ooo, len(r.t))
		}
		if err := checkUnits(base, r.timeUnit, t, p, cut); err != nil {
			return nil, rep, err
		}
		pieces, gaps, bounces, short := cutFlights(t, p, cut)
		rep.Gaps += gaps
		rep.Bounces += bounces
		rep.ShortPieces += short
		for i, fl := range pieces {
			if len(recs) == 1 {
				fl.Name = fmt.Sprintf("%s:%d", base, i)
			} else {
				fl.Name = fmt.Sprintf("%s:%s:%d", base, r.name, i)
			}
			out = append(out, fl)
		}
	}
	rep.Pieces = len(out)
	if len(out) == 0 {
		return nil, rep, fmt.Errorf("forecast: trajectories %s: no flight of at least %g s (%d rows, %d pieces too short)", base, cut.MinDuration, rep.Rows, rep.ShortPieces)
	}
	var acc ball.Vec
	var n float64
	for _, fl := range out {
		a, ok := FitAcceleration(fl.T, fl.P)
		if !ok {
			continue
		}
		for k := 0; k < 3; k++ {
			acc[k] += a[k]
		}
		n++
	}
	if n > 0 {
		rep.Accel = ball.Vec{acc[0] / n, acc[1] / n, acc[2] / n}
		if !cut.NoAxisCheck {
			if err := checkGravity(base, rep.Accel, cut.Gravity); err != nil {
				return nil, rep, err
			}
		}
	}
	return out, rep, nil
}

// recording is one file's (or one logged throw's) raw observations.
type recording struct {
	name     string
	t        []float64
	p        []ball.Vec
	timeUnit string // the header's time column, for hints
}

func readCSV(path string) (recording, error) {
	rec0 := recording{}
	base := filepath.Base(path)
	f, err := os.Open(path)
	if err != nil {
		return rec0, fmt.Errorf("forecast: trajectories: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	if b, err := br.Peek(1); err == nil && b[0] == '{' {
		return rec0, fmt.Errorf("forecast: trajectories %s: a JSON file, not CSV: name a trial log *.jsonl", base)
	}
	r := csv.NewReader(br)
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return rec0, fmt.Errorf("forecast: trajectories %s: no header line: %w", base, err)
	}
	head = append([]string(nil), head...) // the reader reuses its record slice
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimSpace(strings.ToLower(h))] = i
	}
	pick := func(names ...string) int {
		for _, n := range names {
			if i, ok := col[n]; ok {
				return i
			}
		}
		return -1
	}
	it, tScale, unit := pick("t"), 1.0, "t"
	if it < 0 {
		it, tScale, unit = pick("t_ns"), 1e-9, "t_ns"
	}
	ix, iy, iz := pick("x", "x_m"), pick("y", "y_m"), pick("z", "z_m")
	if it < 0 || ix < 0 || iy < 0 || iz < 0 {
		return rec0, fmt.Errorf("forecast: trajectories %s: header %q lacks a time column (t in s or t_ns in ns) or a position column (x,y,z or x_m,y_m,z_m in m)", base, strings.Join(head, ","))
	}
	out := recording{timeUnit: unit}
	var t0 int64
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rec0, fmt.Errorf("forecast: trajectories %s: %w", base, err)
		}
		var t float64
		if tScale == 1 {
			t, err = strconv.ParseFloat(strings.TrimSpace(rec[it]), 64)
		} else {
			// ns timestamps are ~1.7e18: subtract the first before converting to keep precision.
			var ns int64
			ns, err = strconv.ParseInt(strings.TrimSpace(rec[it]), 10, 64)
			if err == nil {
				if len(out.t) == 0 {
					t0 = ns
				}
				t = float64(ns-t0) * 1e-9
			}
		}
		if err != nil || !finite(t) {
			return rec0, fmt.Errorf("forecast: trajectories %s line %d: time %q is not a number", base, line, rec[it])
		}
		var p ball.Vec
		for k, i := range []int{ix, iy, iz} {
			p[k], err = strconv.ParseFloat(strings.TrimSpace(rec[i]), 64)
			if err != nil || !finite(p[k]) {
				return rec0, fmt.Errorf("forecast: trajectories %s line %d: %s %q is not a number", base, line, head[i], rec[i])
			}
		}
		out.t = append(out.t, t)
		out.p = append(out.p, p)
	}
	if len(out.t) == 0 {
		return rec0, fmt.Errorf("forecast: trajectories %s: no data rows", base)
	}
	return out, nil
}

// readTrialLog reads the ball observations of each throw of a trial log (capture stamps,
// loop clock).
func readTrialLog(path string) ([]recording, error) {
	base := filepath.Base(path)
	throws, _, err := triallog.ReadThrows(path)
	if err != nil {
		return nil, fmt.Errorf("forecast: trajectories %s: %w", base, err)
	}
	var out []recording
	for _, th := range throws {
		if len(th.Obs) == 0 {
			continue
		}
		r := recording{name: fmt.Sprintf("throw%d", th.Seq), timeUnit: "t_ns"}
		for _, o := range th.Obs {
			r.t = append(r.t, float64(o.StampNS-th.Obs[0].StampNS)*1e-9)
			r.p = append(r.p, ball.Vec(o.P))
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("forecast: trajectories %s: the trial log has %d throws and no ball observations", base, len(throws))
	}
	return out, nil
}

// cleanStamps drops rows whose stamp repeats the previous kept row's (the first is kept)
// or goes back in time, and counts both.
func cleanStamps(t []float64, p []ball.Vec) (tt []float64, pp []ball.Vec, dup, ooo int) {
	tt = make([]float64, 0, len(t))
	pp = make([]ball.Vec, 0, len(p))
	for i := range t {
		if n := len(tt); n > 0 && t[i] <= tt[n-1] {
			if t[i] == tt[n-1] {
				dup++
			} else {
				ooo++
			}
			continue
		}
		tt = append(tt, t[i])
		pp = append(pp, p[i])
	}
	return tt, pp, dup, ooo
}

// checkUnits rejects recordings whose median time step or speed no ball in s and m shows,
// naming the unit they look like.
func checkUnits(base, unit string, t []float64, p []ball.Vec, cut CutConfig) error {
	if len(t) < 3 {
		return nil
	}
	dts := make([]float64, 0, len(t)-1)
	sp := make([]float64, 0, len(t)-1)
	for i := 1; i < len(t); i++ {
		d := t[i] - t[i-1]
		dts = append(dts, d)
		dp := ball.Vec{p[i][0] - p[i-1][0], p[i][1] - p[i-1][1], p[i][2] - p[i-1][2]}
		sp = append(sp, math.Sqrt(dp[0]*dp[0]+dp[1]*dp[1]+dp[2]*dp[2])/d)
	}
	sort.Float64s(dts)
	sort.Float64s(sp)
	mdt, msp := dts[len(dts)/2], sp[len(sp)/2]
	switch {
	case mdt > cut.MaxGap:
		hint := "are the times in ms? `t` is seconds, `t_ns` nanoseconds"
		if unit == "t_ns" {
			hint = "are the t_ns values in another unit? they should be nanoseconds"
		}
		return fmt.Errorf("forecast: trajectories %s: median time step %.4g s is longer than the %g s gap that cuts flights (cameras run at 30–1000 Hz): %s", base, mdt, cut.MaxGap, hint)
	case mdt < 1e-4:
		hint := "are the t_ns values in µs? they should be nanoseconds"
		if unit == "t" {
			hint = "are the times in µs or ns under a `t` (seconds) header? use `t_ns` for ns"
		}
		return fmt.Errorf("forecast: trajectories %s: median time step %.3g s is shorter than any camera's (≥ 0.1 ms): %s", base, mdt, hint)
	case msp > 100:
		return fmt.Errorf("forecast: trajectories %s: median speed %.4g m/s is faster than any thrown ball: are the positions in mm? they should be metres", base, msp)
	}
	return nil
}

// checkGravity rejects a recording whose mean acceleration does not show gravity along −z
// and names the axis it shows along. Drag and Magnus move the mean by a few m/s² (a fast
// spinning table-tennis ball by up to ≈ g), never by turning it onto another axis.
func checkGravity(base string, a ball.Vec, g float64) error {
	axes := [3]string{"x", "y", "z"}
	if a[2] < -0.5*g && a[2] > -2.5*g {
		return nil
	}
	k := 0
	for j := 1; j < 3; j++ {
		if math.Abs(a[j]) > math.Abs(a[k]) {
			k = j
		}
	}
	sign := "−"
	if a[k] > 0 {
		sign = "+"
	}
	what := fmt.Sprintf("gravity appears along %s%s", sign, axes[k])
	switch {
	case k == 2:
		what = "gravity appears along +z: is z pointing down?"
		if a[2] < 0 {
			what = fmt.Sprintf("the vertical acceleration %.1f m/s² is not gravity's %.2f: are the positions in another unit, or the times?", a[2], -g)
		}
	default:
		what += fmt.Sprintf(": are %s and z swapped? z must point up", axes[k])
	}
	return fmt.Errorf("forecast: trajectories %s: mean fitted acceleration (%.1f, %.1f, %.1f) m/s²; %s", base, a[0], a[1], a[2], what)
}

// trimFit is the number of samples the start of a piece is checked against, and trimTol
// how far (m) its first sample may lie from their quadratic: ≈ 5σ of a tracker's noise.
const (
	trimFit  = 12
	trimSkip = 2
	trimTol  = 0.006
)

// trimN reports whether sample a lies off the quadratic through samples a+trimSkip+1 …
// a+trimSkip+trimFit extrapolated back to it (skipping the next few, which may be in
// contact too).
func trimN(t []float64, p []ball.Vec, a int) bool {
	c, ok := fitQuadratic(t[a+trimSkip+1:a+trimSkip+1+trimFit], p[a+trimSkip+1:a+trimSkip+1+trimFit])
	if !ok {
		return false
	}
	x := t[a] - c.tm
	var d2 float64
	for k := 0; k < 3; k++ {
		d := p[a][k] - (c.c0[k] + c.c1[k]*x + c.c2[k]*x*x/2)
		d2 += d * d
	}
	return d2 > trimTol*trimTol
}

// quadratic is p(t) = c0 + c1·τ + ½c2·τ² per axis, τ = t − tm.
type quadratic struct {
	tm         float64
	c0, c1, c2 ball.Vec
}

func fitQuadratic(t []float64, p []ball.Vec) (quadratic, bool) {
	n := len(t)
	q := quadratic{tm: (t[0] + t[n-1]) / 2}
	var s [5]float64
	var r [3][3]float64
	for i := range t {
		x := t[i] - q.tm
		pw := 1.0
		for k := 0; k < 5; k++ {
			s[k] += pw
			pw *= x
		}
		for c := 0; c < 3; c++ {
			r[c][0] += p[i][c]
			r[c][1] += p[i][c] * x
			r[c][2] += p[i][c] * x * x / 2
		}
	}
	A := [3][3]float64{
		{s[0], s[1], s[2] / 2},
		{s[1], s[2], s[3] / 2},
		{s[2] / 2, s[3] / 2, s[4] / 4},
	}
	for c := 0; c < 3; c++ {
		x, ok := solve3(A, r[c])
		if !ok {
			return q, false
		}
		q.c0[c], q.c1[c], q.c2[c] = x[0], x[1], x[2]
	}
	return q, true
}

// FitAcceleration fits a quadratic to each axis of a flight by least squares and returns
// its second derivative (m/s²); false when the flight has fewer than 5 samples or spans
// under 0.05 s.
func FitAcceleration(t []float64, p []ball.Vec) (ball.Vec, bool) {
	n := len(t)
	if n < 5 || t[n-1]-t[0] < 0.05 {
		return ball.Vec{}, false
	}
	q, ok := fitQuadratic(t, p)
	return q.c2, ok
}

// solve3 solves a 3×3 system by Cramer's rule.
func solve3(a [3][3]float64, b [3]float64) ([3]float64, bool) {
	det := func(m [3][3]float64) float64 {
		return m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) - m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) + m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
	}
	d := det(a)
	if d == 0 || !finite(d) {
		return [3]float64{}, false
	}
	var x [3]float64
	for c := 0; c < 3; c++ {
		m := a
		for r := 0; r < 3; r++ {
			m[r][c] = b[r]
		}
		x[c] = det(m) / d
	}
	return x, true
}

// cutFlights splits a recording at gaps and bounces. A bounce (or a hit) shows as a local
// minimum of the height with the ball falling before and rising after, or as a velocity
// jump; both are judged on 3-sample differences so that tracker noise does not cut. It
// returns the pieces of at least MinDuration and counts the cuts and the short pieces.
func cutFlights(t []float64, p []ball.Vec, cut CutConfig) (out []Flight, gaps, bounces, short int) {
	const k = 3       // samples each side for the velocity estimates
	const vzMin = 0.3 // m/s: falling before and rising after a bounce
	const jump = 1.5  // m/s: velocity change that no free flight makes in 2·k samples
	// A gap longer than gapCheck (≈ 4 frames at 180 Hz) is checked for an unseen contact;
	// drag and Magnus change a thrown ball's velocity by at most aeroMax m/s per second.
	const gapCheck, aeroMax = 0.02, 15.0
	cuts := []int{0}
	contact := map[int]bool{} // cuts at a bounce drop the contact sample itself
	vel := func(a, b int) ball.Vec {
		d := t[b] - t[a]
		return ball.Vec{(p[b][0] - p[a][0]) / d, (p[b][1] - p[a][1]) / d, (p[b][2] - p[a][2]) / d}
	}
	last := 0
	for i := 1; i < len(t); i++ {
		if t[i]-t[i-1] > cut.MaxGap {
			cuts = append(cuts, i)
			gaps++
			last = i
			continue
		}
		// Across a short gap (a few missed frames) the contact itself may be unseen:
		// compare the velocities on either side, gravity taken out.
		if t[i]-t[i-1] > gapCheck && i-1-k >= last && i+k < len(t) {
			vb, va := vel(i-1-k, i-1), vel(i, i+k)
			dt := (t[i]+t[i+k])/2 - (t[i-1-k]+t[i-1])/2
			vb[2] -= 9.81 * dt
			dv := math.Sqrt((va[0]-vb[0])*(va[0]-vb[0]) + (va[1]-vb[1])*(va[1]-vb[1]) + (va[2]-vb[2])*(va[2]-vb[2]))
			if dv > jump+aeroMax*dt {
				cuts = append(cuts, i)
				bounces++
				last = i
				continue
			}
		}
		if i-k < last || i+k >= len(t) {
			continue
		}
		// no gap inside the stencil
		if t[i+k]-t[i-k] > 2*float64(k)*cut.MaxGap {
			continue
		}
		vb, va := vel(i-k, i), vel(i, i+k)
		dv := math.Sqrt((va[0]-vb[0])*(va[0]-vb[0]) + (va[1]-vb[1])*(va[1]-vb[1]) + (va[2]-vb[2])*(va[2]-vb[2]))
		if (vb[2] < -vzMin && va[2] > vzMin) || dv > jump+9.81*(t[i+k]-t[i-k]) {
			cuts = append(cuts, i)
			bounces++
			contact[i] = true
			last = i
			i += k
		}
	}
	cuts = append(cuts, len(t))
	for j := 0; j+1 < len(cuts); j++ {
		a, b := cuts[j], cuts[j+1]
		if contact[a] {
			a++
		}
		// A hit or a launch is not instantaneous: the first samples after it may still be
		// in contact (accelerating). Drop them while they miss the free flight that the
		// following samples show.
		for a+trimSkip+trimFit < b && trimN(t, p, a) {
			a++
		}
		if b-a < 2 || t[b-1]-t[a] < cut.MinDuration {
			short++
			continue
		}
		out = append(out, Flight{T: append([]float64(nil), t[a:b]...), P: append([]ball.Vec(nil), p[a:b]...)})
	}
	return out, gaps, bounces, short
}
