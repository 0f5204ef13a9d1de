package trace

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/agilecatch/catch/sim"
)

// Trace is a trace file read back.
type Trace struct {
	Path       string
	Provenance json.RawMessage
	Info       TrialInfo
	// Result is the "# result:" line; Complete is false when the file has
	// none (a trial cut short).
	Result   sim.TrialResult
	Complete bool
	Header   []string
	Rows     [][]string
	col      map[string]int
}

// Read parses a trace file.
func Read(path string) (*Trace, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t := &Trace{Path: path}
	for _, l := range bytes.Split(data, []byte("\n")) {
		s := string(l)
		switch {
		case strings.HasPrefix(s, "# provenance: "):
			t.Provenance = json.RawMessage(strings.TrimPrefix(s, "# provenance: "))
		case strings.HasPrefix(s, "# trial: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(s, "# trial: ")), &t.Info); err != nil {
				return nil, fmt.Errorf("%s: trial line: %w", path, err)
			}
		case strings.HasPrefix(s, "# result: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(s, "# result: ")), &t.Result); err != nil {
				return nil, fmt.Errorf("%s: result line: %w", path, err)
			}
			t.Complete = true
		}
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) == 0 || len(rows[0]) == 0 || rows[0][0] != "t" {
		return nil, fmt.Errorf("%s: not a trace (no header row starting with t)", path)
	}
	t.Header, t.Rows = rows[0], rows[1:]
	t.col = make(map[string]int, len(t.Header))
	for i, h := range t.Header {
		t.col[h] = i
	}
	if t.Info.DOF == 0 {
		for _, h := range t.Header {
			if strings.HasPrefix(h, "q") && !strings.HasPrefix(h, "qd") {
				t.Info.DOF++
			}
		}
	}
	return t, nil
}

// Has reports whether the trace has a column.
func (t *Trace) Has(name string) bool { _, ok := t.col[name]; return ok }

// Float is a numeric cell; NaN when empty, missing or not a number.
func (t *Trace) Float(row int, name string) float64 {
	k, ok := t.col[name]
	if !ok || row < 0 || row >= len(t.Rows) || t.Rows[row][k] == "" {
		return math.NaN()
	}
	v, err := strconv.ParseFloat(t.Rows[row][k], 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// String is a text cell ("" when missing).
func (t *Trace) String(row int, name string) string {
	k, ok := t.col[name]
	if !ok || row < 0 || row >= len(t.Rows) {
		return ""
	}
	return t.Rows[row][k]
}
