// Package view writes the trial viewer: one self-contained HTML page that
// draws the robot from its URDF's visual geometry with three.js (embedded
// from the npm package three, MIT; no network at view time) and replays
// trial traces (package sim/trace) on it: the ball's true path, the
// estimate with its 2σ ellipsoid, the forecast fan (sampled quantiles with
// --forecast, else the estimate's ballistic path with its spread), the
// planned head path, a time slider, play at real or slowed speed, the
// judge's verdict and failure reason, and the list of trials to pick from.
//
// Page builds the page from trace files; `catch view` writes or serves it.
package view

import (
	"bytes"
	"embed"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/agilecatch/catch/internal/provenance"
	"github.com/agilecatch/catch/robot"
	"github.com/agilecatch/catch/sim/trace"
)

//go:embed assets/page.html assets/viewer.js assets/three.module.min.js
var assets embed.FS

// DefaultMax is the number of trials a page holds by default.
const DefaultMax = 24

// Options configures a page.
type Options struct {
	Robot *robot.Robot
	// Max bounds the trials embedded (default DefaultMax): from a
	// directory, a selection of caught and missed trials of every
	// (controller, scenario) pair.
	Max        int
	Provenance provenance.Record
}

// Files lists the trace files of arg: the file itself, or the *.csv
// traces of a directory in name order.
func Files(arg string) ([]string, error) {
	st, err := os.Stat(arg)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{arg}, nil
	}
	files, err := filepath.Glob(filepath.Join(arg, "*.csv"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no trace files (*.csv) in the directory", arg)
	}
	sort.Strings(files)
	return files, nil
}

// summary is what the selection needs from a trace without reading it all.
type summary struct {
	path             string
	controller, sc   string
	caught, catchble bool
}

func peek(path string) (summary, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return summary{}, err
	}
	s := summary{path: path}
	var info trace.TrialInfo
	var res struct {
		Caught    bool `json:"caught"`
		Catchable bool `json:"catchable"`
	}
	found := 0
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "# trial: "); ok {
			if err := json.Unmarshal([]byte(v), &info); err == nil {
				found++
			}
		} else if v, ok := strings.CutPrefix(l, "# result: "); ok {
			if err := json.Unmarshal([]byte(v), &res); err == nil {
				found++
			}
		}
	}
	if found < 2 {
		return s, fmt.Errorf("%s: not a complete trace (no trial or result line)", path)
	}
	s.controller, s.sc, s.caught, s.catchble = info.Controller, info.Scenario, res.Caught, res.Catchable
	return s, nil
}

// selectTrials keeps at most max of the traces: round-robin over
// (controller, scenario) pairs, alternating caught and missed (catchable
// misses first), in file order within each kind.
func selectTrials(all []summary, max int) []summary {
	if len(all) <= max {
		return all
	}
	type group struct{ caught, missed, other []summary }
	var keys []string
	groups := map[string]*group{}
	for _, s := range all {
		k := s.controller + "/" + s.sc
		g := groups[k]
		if g == nil {
			g = &group{}
			groups[k] = g
			keys = append(keys, k)
		}
		switch {
		case s.caught:
			g.caught = append(g.caught, s)
		case s.catchble:
			g.missed = append(g.missed, s)
		default:
			g.other = append(g.other, s)
		}
	}
	var out []summary
	for round := 0; len(out) < max; round++ {
		added := false
		for _, k := range keys {
			g := groups[k]
			// One trial per pair and round: caught on even rounds, missed on
			// odd ones, the other kinds when one runs out.
			order := []*[]summary{&g.caught, &g.missed, &g.other}
			if round%2 == 1 {
				order = []*[]summary{&g.missed, &g.caught, &g.other}
			}
			for _, list := range order {
				if len(out) < max && len(*list) > 0 {
					out = append(out, (*list)[0])
					*list = (*list)[1:]
					added = true
					break
				}
			}
		}
		if !added {
			break
		}
	}
	return out
}

// r4 writes a number rounded to 0.1 mm (or 0.1 ms), NaN as 0.
type r4 float64

func (v r4) MarshalJSON() ([]byte, error) {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("0"), nil
	}
	return strconv.AppendFloat(nil, math.Round(f*1e4)/1e4, 'f', -1, 64), nil
}

type trialJSON struct {
	Name       string   `json:"name"`
	Controller string   `json:"controller"`
	Scenario   string   `json:"scenario"`
	Seed       uint64   `json:"seed"`
	Trial      int      `json:"trial"`
	Caught     bool     `json:"caught"`
	Failure    string   `json:"failure"`
	MissM      r4       `json:"miss_m"`
	CatchTimeS r4       `json:"catch_time_s"`
	YawDeg     r4       `json:"yaw_deg"`
	SpeedMPS   r4       `json:"speed_mps"`
	DOF        int      `json:"dof"`
	Focus      int      `json:"focus"`
	Truth      bool     `json:"truth"` // ball holds the true ball; false: the estimate (a converted trial log)
	T          []r4     `json:"t"`
	Q          []r4     `json:"q"`
	Ball       []r4     `json:"ball"`
	Head       []r4     `json:"head"`
	Est        []r4     `json:"est"`
	EstSD      []r4     `json:"est_sd"`
	Plan       [][]r4   `json:"plan"`
	FC         [][]r4   `json:"fc"`
	Status     []string `json:"status"`
	Events     []string `json:"events"`
}

func trialData(tr *trace.Trace) trialJSON {
	n := len(tr.Rows)
	res := &tr.Result
	d := trialJSON{Name: filepath.Base(tr.Path), Controller: tr.Info.Controller, Scenario: tr.Info.Scenario,
		Seed: tr.Info.Seed, Trial: tr.Info.Trial, Caught: res.Caught, Failure: res.Failure,
		MissM: r4(res.MissDistanceM), CatchTimeS: r4(res.CatchTimeS), YawDeg: r4(res.YawDeg),
		SpeedMPS: r4(res.HorizontalSpeed), DOF: tr.Info.DOF}
	if d.Failure == "" && !res.Caught {
		d.Failure = res.FailureReason()
	}
	if !tr.Complete {
		d.Failure = "incomplete trace"
	}
	best := math.Inf(1)
	hasFC := tr.Has("fc0_q50_x")
	d.Truth = n > 0 && !math.IsNaN(tr.Float(0, "ball_x"))
	last := [3]float64{math.NaN(), math.NaN(), math.NaN()}
	for i := range n {
		f := func(name string) r4 { return r4(tr.Float(i, name)) }
		d.T = append(d.T, f("t"))
		for j := range d.DOF {
			d.Q = append(d.Q, f("q"+strconv.Itoa(j)))
		}
		for k, c := range []string{"x", "y", "z"} {
			if d.Truth {
				d.Ball = append(d.Ball, f("ball_"+c))
			} else {
				// No ground truth: the ball is drawn at its estimate (held
				// between estimates).
				if v := tr.Float(i, "est_"+c); !math.IsNaN(v) && tr.String(i, "est_valid") == "1" {
					last[k] = v
				}
				d.Ball = append(d.Ball, r4(last[k]))
			}
			d.Head = append(d.Head, f("head_"+c))
		}
		if tr.String(i, "est_valid") == "1" {
			d.Est = append(d.Est, 1, f("est_x"), f("est_y"), f("est_z"), f("est_vx"), f("est_vy"), f("est_vz"))
			for _, c := range []string{"x", "y", "z", "vx", "vy", "vz"} {
				d.EstSD = append(d.EstSD, r4(math.Sqrt(math.Max(0, tr.Float(i, "est_cov_"+c+"_"+c)))))
			}
		} else {
			d.Est = append(d.Est, 0, 0, 0, 0, 0, 0, 0)
			d.EstSD = append(d.EstSD, 0, 0, 0, 0, 0, 0)
		}
		var plan []r4
		k, _ := strconv.Atoi(tr.String(i, "plan_n"))
		for p := range min(k, trace.PlanKnots) {
			for _, c := range []string{"x", "y", "z"} {
				plan = append(plan, f(fmt.Sprintf("plan%d_%s", p, c)))
			}
		}
		d.Plan = append(d.Plan, plan)
		if hasFC {
			var fc []r4
			for h := range trace.ForecastHorizons {
				if math.IsNaN(tr.Float(i, fmt.Sprintf("fc%d_q50_x", h))) {
					break
				}
				for _, q := range []string{"05", "50", "95"} {
					for _, c := range []string{"x", "y", "z"} {
						fc = append(fc, f(fmt.Sprintf("fc%d_q%s_%s", h, q, c)))
					}
				}
			}
			d.FC = append(d.FC, fc)
		}
		d.Status = append(d.Status, tr.String(i, "status"))
		d.Events = append(d.Events, tr.String(i, "event"))
		if tr.String(i, "caught") == "1" && best > -1 {
			d.Focus, best = i, -1
		}
		if best >= 0 {
			b := d.Ball[3*i:]
			dx := float64(b[0]) - tr.Float(i, "head_x")
			dy := float64(b[1]) - tr.Float(i, "head_y")
			dz := float64(b[2]) - tr.Float(i, "head_z")
			if dd := dx*dx + dy*dy + dz*dz; dd < best {
				d.Focus, best = i, dd
			}
		}
	}
	if !d.Truth {
		// Before the first estimate the ball is drawn where it is first seen.
		for k := range 3 {
			first := math.NaN()
			for i := k; i < len(d.Ball); i += 3 {
				if !math.IsNaN(float64(d.Ball[i])) {
					first = float64(d.Ball[i])
					break
				}
			}
			for i := k; i < len(d.Ball) && math.IsNaN(float64(d.Ball[i])); i += 3 {
				d.Ball[i] = r4(first)
			}
		}
	}
	return d
}

type poseJSON struct {
	R [3][3]r4 `json:"R"`
	P [3]r4    `json:"P"`
}

func pose(p robot.Pose) poseJSON {
	var o poseJSON
	for i := range 3 {
		o.P[i] = r4(p.P[i])
		for j := range 3 {
			o.R[i][j] = r4(p.R[i][j])
		}
	}
	return o
}

type robotJSON struct {
	Root   string   `json:"root"`
	Chain  []string `json:"chain"`
	Joints []struct {
		Name   string   `json:"name"`
		Type   string   `json:"type"`
		Parent string   `json:"parent"`
		Child  string   `json:"child"`
		Origin poseJSON `json:"origin"`
		Axis   [3]r4    `json:"axis"`
	} `json:"joints"`
	Visuals []visualJSON `json:"visuals"`
	Meshes  []string     `json:"meshes"`
}

type visualJSON struct {
	Link   string   `json:"link"`
	Kind   string   `json:"kind"`
	Size   []r4     `json:"size,omitempty"`
	Mesh   int      `json:"mesh"`
	Scale  [3]r4    `json:"scale"`
	Origin poseJSON `json:"origin"`
	Color  [4]r4    `json:"color"`
}

// robotData converts the robot's kinematic tree and visual geometry for
// the page; meshes become base64 little-endian float32 triangle vertices.
func robotData(rob *robot.Robot) (robotJSON, error) {
	m := rob.Model
	out := robotJSON{Root: m.Root, Chain: rob.Chain.JointNames()}
	for _, j := range m.Joints {
		var jj = struct {
			Name   string   `json:"name"`
			Type   string   `json:"type"`
			Parent string   `json:"parent"`
			Child  string   `json:"child"`
			Origin poseJSON `json:"origin"`
			Axis   [3]r4    `json:"axis"`
		}{Name: j.Name, Type: j.Type.String(), Parent: j.Parent, Child: j.Child, Origin: pose(j.Origin)}
		for k := range 3 {
			jj.Axis[k] = r4(j.Axis[k])
		}
		out.Joints = append(out.Joints, jj)
	}
	meshIndex := map[string]int{}
	for _, l := range m.Links {
		for _, v := range l.Visuals {
			vj := visualJSON{Link: l.Name, Kind: v.Geometry.Type.String(), Origin: pose(v.Origin), Mesh: -1, Scale: [3]r4{1, 1, 1}}
			c := v.RGBA
			if c[3] == 0 {
				c = [4]float64{0.7, 0.7, 0.7, 1} // no colour given
			}
			for k := range 4 {
				vj.Color[k] = r4(c[k])
			}
			g := v.Geometry
			switch g.Type {
			case robot.Box:
				vj.Size = []r4{r4(g.Size[0]), r4(g.Size[1]), r4(g.Size[2])}
			case robot.Sphere:
				vj.Size = []r4{r4(g.Radius)}
			case robot.Cylinder:
				vj.Size = []r4{r4(g.Radius), r4(g.Length), 0}
			case robot.Capsule: // drawn as its cylinder
				vj.Kind = "cylinder"
				vj.Size = []r4{r4(g.Radius), r4(g.Length + 2*g.Radius), 0}
			case robot.Mesh:
				k, ok := meshIndex[g.Filename]
				if !ok {
					data, err := robot.ReadMesh(m, g.Filename)
					if err != nil {
						return out, err
					}
					tri, err := stlTriangles(data)
					if err != nil {
						return out, fmt.Errorf("view: mesh %s: %w", g.Filename, err)
					}
					k = len(out.Meshes)
					meshIndex[g.Filename] = k
					out.Meshes = append(out.Meshes, base64.StdEncoding.EncodeToString(tri))
				}
				vj.Mesh = k
				vj.Scale = [3]r4{r4(g.Scale[0]), r4(g.Scale[1]), r4(g.Scale[2])}
			}
			out.Visuals = append(out.Visuals, vj)
		}
	}
	return out, nil
}

// stlTriangles returns a binary STL's triangle vertices as little-endian
// float32 x, y, z triples (normals are recomputed by the page).
func stlTriangles(data []byte) ([]byte, error) {
	if len(data) < 84 {
		return nil, fmt.Errorf("not a binary STL (%d bytes)", len(data))
	}
	n := int(binary.LittleEndian.Uint32(data[80:84]))
	if len(data) != 84+50*n {
		if bytes.HasPrefix(data, []byte("solid")) {
			return nil, fmt.Errorf("ASCII STL is not read; convert it to binary STL")
		}
		return nil, fmt.Errorf("binary STL with %d triangles needs %d bytes, have %d", n, 84+50*n, len(data))
	}
	out := make([]byte, 0, n*36)
	for i := range n {
		rec := data[84+50*i:]
		out = append(out, rec[12:48]...) // 3 vertices × 3 float32, after the normal
	}
	return out, nil
}

// Page builds the viewer page for the trace files.
func Page(files []string, opts Options) ([]byte, error) {
	if opts.Robot == nil {
		return nil, fmt.Errorf("view: no robot")
	}
	if opts.Max <= 0 {
		opts.Max = DefaultMax
	}
	var all []summary
	for _, f := range files {
		s, err := peek(f)
		if err != nil {
			return nil, err
		}
		all = append(all, s)
	}
	sel := selectTrials(all, opts.Max)
	data := struct {
		Provenance provenance.Record `json:"provenance"`
		Total      int               `json:"total"`
		Robot      robotJSON         `json:"robot"`
		Trials     []trialJSON       `json:"trials"`
	}{Provenance: opts.Provenance, Total: len(all)}
	var err error
	if data.Robot, err = robotData(opts.Robot); err != nil {
		return nil, err
	}
	for _, s := range sel {
		tr, err := trace.Read(s.path)
		if err != nil {
			return nil, err
		}
		if tr.Info.DOF != len(data.Robot.Chain) {
			return nil, fmt.Errorf("%s: %d joints, the robot has %d (view it with the run's --config)", s.path, tr.Info.DOF, len(data.Robot.Chain))
		}
		data.Trials = append(data.Trials, trialData(tr))
	}
	js, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	// The JSON sits in a <script> block: "</" must not close it.
	js = bytes.ReplaceAll(js, []byte("</"), []byte(`<\/`))
	page, err := assets.ReadFile("assets/page.html")
	if err != nil {
		return nil, err
	}
	three, err := assets.ReadFile("assets/three.module.min.js")
	if err != nil {
		return nil, err
	}
	viewer, err := assets.ReadFile("assets/viewer.js")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(page) + len(js) + len(three)*4/3 + len(viewer))
	rest := page
	for _, part := range []struct {
		mark string
		fill []byte
	}{{"{{DATA}}", js}, {"{{THREE}}", []byte(base64.StdEncoding.EncodeToString(three))}, {"{{VIEWER}}", viewer}} {
		before, after, ok := bytes.Cut(rest, []byte(part.mark))
		if !ok {
			return nil, fmt.Errorf("view: page template lacks %s", part.mark)
		}
		b.Write(before)
		b.Write(part.fill)
		rest = after
	}
	b.Write(rest)
	return b.Bytes(), nil
}
