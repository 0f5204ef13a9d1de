package triallog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"time"
)

// Version is the format version written in each Throw.
const Version = 1

// Throw is one throw's record: everything the controller loop read and did
// from the re-arm for the throw to the next one.
type Throw struct {
	Version int `json:"v"`
	// Source says where the run came from: "sim-over-ros" or "hardware".
	Source     string `json:"source"`
	Controller string `json:"controller"`
	// Run identifies the run (NewRunID) that wrote the record: the lines of
	// several runs appended to one file stay apart.
	Run string `json:"run,omitempty"`
	// Provenance is the writing binary's provenance record (build, command
	// line, config hash, seed; package internal/provenance), as JSON.
	Provenance json.RawMessage `json:"provenance,omitempty"`
	// Clock is "wall" (real time) or "lockstep" (joint-state stamps drive
	// the loop clock).
	Clock    string   `json:"clock"`
	PeriodNS int64    `json:"period_ns"`
	Joints   []string `json:"joints"`
	// Seq is the re-arm's throw index; EpochNS the release time (loop clock).
	Seq     uint32 `json:"seq"`
	EpochNS int64  `json:"epoch_ns"`
	// Ball names the ball set (package ball).
	Ball string `json:"ball"`
	// PrevCmdQ, PrevCmdQd and PrevNS are the command the loop wrote just
	// before this throw's first tick, and when: the safety filter's state,
	// which a replay starts from.
	PrevCmdQ  []float64 `json:"prev_cmd_q"`
	PrevCmdQd []float64 `json:"prev_cmd_qd"`
	PrevNS    int64     `json:"prev_ns"`
	// Caught is the catch sensor's last reading during the throw (nil: no
	// sensor message); CaughtNS when it turned true (loop clock).
	Caught   *bool  `json:"caught,omitempty"`
	CaughtNS int64  `json:"caught_ns,omitempty"`
	Ticks    []Tick `json:"ticks"`
	Obs      []Obs  `json:"obs"`
	// Complete is false when the record was cut short (the node stopped
	// mid-throw).
	Complete bool `json:"complete"`
}

// Tick is one control tick: the joint state the loop read, the command it
// wrote, and what it decided.
type Tick struct {
	NowNS int64 `json:"t_ns"`
	// StateOK is false when no joint state had arrived yet.
	StateOK   bool      `json:"state_ok"`
	StateAtNS int64     `json:"state_ns"`
	Q         []float64 `json:"q"`
	Qd        []float64 `json:"qd"`
	CmdQ      []float64 `json:"cmd_q"`
	CmdQd     []float64 `json:"cmd_qd"`
	// Mode and Code are the loop's mode and the controller's status.
	Mode string `json:"mode,omitempty"`
	Code string `json:"code,omitempty"`
	// Est is the ball estimate the controller saw (trial clock, s).
	Est *Estimate `json:"est,omitempty"`
	// EStop is set on the tick an e-stop request reached the loop.
	EStop bool `json:"estop,omitempty"`
	// RearmEpochNS is set on the first tick after the same throw was
	// re-armed again before any ball was seen (a sender re-sending a re-arm
	// it saw no acknowledgement for): the loop was re-armed with this epoch
	// (loop clock) just before the tick.
	RearmEpochNS int64 `json:"rearm_epoch_ns,omitempty"`
}

// Estimate is a ball estimate: position m, velocity m/s at time T (s, trial
// clock).
type Estimate struct {
	T float64    `json:"t"`
	P [3]float64 `json:"p"`
	V [3]float64 `json:"v"`
}

// Obs is a ball observation: captured at StampNS, received at ArriveNS (both
// loop clock), handed to the loop at tick Tick (an index into Throw.Ticks).
type Obs struct {
	StampNS  int64      `json:"t_ns"`
	ArriveNS int64      `json:"arrive_ns"`
	Tick     int        `json:"tick"`
	P        [3]float64 `json:"p"`
}

// Options configure a Writer. The zero value means the defaults.
type Options struct {
	// NoSync skips the fsync after each line (default: sync, so a power
	// loss keeps every line that Append returned for).
	NoSync bool
	// Check, when set, says whether a complete line already in the file is
	// a record of this log's kind; Open refuses a file whose first line
	// fails it. Default: CheckThrow.
	Check func(line []byte) error
}

// Writer appends JSON lines crash-safely (see the package doc).
type Writer struct {
	mu   sync.Mutex
	f    *os.File
	opt  Options
	path string
}

// maxLine bounds how much of an existing file Open reads to find its first
// line or a torn tail (a throw of a minute at 250 Hz is about 5 MB).
const maxLine = 64 << 20

// CheckThrow accepts a Throw line: a JSON object with a version ("v" ≥ 1)
// and ticks.
func CheckThrow(line []byte) error {
	var h struct {
		V     int             `json:"v"`
		Ticks json.RawMessage `json:"ticks"`
	}
	if err := json.Unmarshal(line, &h); err != nil {
		return fmt.Errorf("not JSON (%v)", err)
	}
	if h.V < 1 || h.Ticks == nil {
		return errors.New(`not a throw record (no "v" and "ticks")`)
	}
	return nil
}

// NewRunID returns an identifier for one run of a program writing a log:
// UTC start time, process id and 32 random bits, so the records of runs
// appended to one file stay apart.
func NewRunID() string {
	return fmt.Sprintf("%s-%d-%08x", time.Now().UTC().Format("20060102T150405Z"), os.Getpid(), rand.Uint32())
}

// Open opens path for appending (creating it). An existing non-empty file
// must be a log of this kind: its first line must pass opt.Check, and a
// partial last line (a crashed writer's) is cut off only when it looks like
// the start of a JSON record; anything else is refused and left untouched.
func Open(path string, opt Options) (*Writer, error) {
	if opt.Check == nil {
		opt.Check = CheckThrow
	}
	if err := inspect(path, opt.Check); err != nil {
		return nil, err
	}
	if _, err := Repair(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("trial log: %w", err)
	}
	return &Writer{f: f, opt: opt, path: path}, nil
}

// inspect refuses an existing file that is not a regular file or whose
// first complete line fails check.
func inspect(path string, check func([]byte) error) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("trial log: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("trial log %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("trial log %s: not a regular file (%s)", path, st.Mode().Type())
	}
	if st.Size() == 0 {
		return nil
	}
	br := bufio.NewReaderSize(f, 1<<16)
	var line []byte
	for len(bytes.TrimSpace(line)) == 0 {
		line, err = readLine(br)
		if err == io.EOF {
			// No complete line: the whole file is a tail, which Repair
			// judges (a torn first record, or not a log at all).
			return nil
		}
		if err != nil {
			return fmt.Errorf("trial log %s: %w", path, err)
		}
	}
	if err := check(line); err != nil {
		return fmt.Errorf("trial log %s: %d bytes that are not a log of this kind: first line %v; refusing to append (choose another file)", path, st.Size(), err)
	}
	return nil
}

// readLine reads one line up to maxLine bytes; io.EOF when the input ends
// before a newline.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		line = append(line, frag...)
		if err == nil {
			return line, nil
		}
		if err != bufio.ErrBufferFull {
			return line, err
		}
		if len(line) > maxLine {
			return nil, fmt.Errorf("a line longer than %d MiB", maxLine>>20)
		}
	}
}

// tornRecord reports whether tail can be the start of a line a Writer
// wrote: JSON text starts with '{' and never holds a raw control byte.
func tornRecord(tail []byte) bool {
	if len(tail) == 0 || tail[0] != '{' {
		return false
	}
	for _, c := range tail {
		if c < 0x20 && c != '\t' {
			return false
		}
	}
	return true
}

// Repair truncates path after its last newline and returns how many bytes
// it cut: a torn line from a crash. It refuses (cutting nothing) when those
// bytes do not look like the start of a JSON record, or exceed maxLine.
func Repair(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("trial log %s: %w", path, err)
	}
	size := st.Size()
	end := size
	buf := make([]byte, 64<<10)
	for end > 0 && size-end <= maxLine {
		n := int64(len(buf))
		if n > end {
			n = end
		}
		if _, err := f.ReadAt(buf[:n], end-n); err != nil {
			return 0, fmt.Errorf("trial log %s: %w", path, err)
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			end = end - n + int64(i) + 1
			break
		}
		end -= n
	}
	if end == size {
		return 0, nil
	}
	if size-end > maxLine {
		return 0, fmt.Errorf("trial log %s: no newline in its last %d MiB: not a trial log; refusing to cut it", path, maxLine>>20)
	}
	tail := make([]byte, size-end)
	if _, err := f.ReadAt(tail, end); err != nil {
		return 0, fmt.Errorf("trial log %s: %w", path, err)
	}
	if !tornRecord(tail) {
		return 0, fmt.Errorf("trial log %s: its last %d bytes are not a torn JSON record: not a trial log; refusing to cut it", path, len(tail))
	}
	if err := f.Truncate(end); err != nil {
		return 0, fmt.Errorf("trial log %s: cutting a torn last line: %w", path, err)
	}
	return size - end, f.Sync()
}

// Write writes p, which must be one whole JSON line (newline included), in
// one write(2), then syncs unless Options.NoSync: a Writer is an io.Writer
// for producers that encode their own lines.
func (w *Writer) Write(p []byte) (int, error) {
	if len(p) == 0 || p[len(p)-1] != '\n' || bytes.IndexByte(p[:len(p)-1], '\n') >= 0 {
		return 0, fmt.Errorf("trial log %s: a write must be exactly one line", w.path)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.write(p)
}

func (w *Writer) write(b []byte) (int, error) {
	if w.f == nil {
		return 0, fmt.Errorf("trial log %s: closed", w.path)
	}
	// One write of the whole line: O_APPEND places it atomically at the end.
	n, err := w.f.Write(b)
	if err != nil {
		return n, fmt.Errorf("trial log %s: %w", w.path, err)
	}
	if !w.opt.NoSync {
		if err := w.f.Sync(); err != nil {
			return n, fmt.Errorf("trial log %s: %w", w.path, err)
		}
	}
	return n, nil
}

// Append writes v as one JSON line.
func (w *Writer) Append(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("trial log %s: %w", w.path, err)
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err = w.write(b)
	return err
}

// Close closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// Stats count what Scan saw.
type Stats struct {
	Lines int `json:"lines"` // complete lines handed to the callback
	// Truncated is 1 when the input ended in a partial line (no newline),
	// which was skipped.
	Truncated int `json:"truncated"`
}

// Scan calls fn for each complete (newline-terminated) non-empty line of r.
// A last line without a newline is a torn write and is never passed to fn.
func Scan(r io.Reader, fn func(line []byte) error) (Stats, error) {
	var st Stats
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			if len(bytes.TrimSpace(line)) > 0 {
				st.Truncated = 1
			}
			return st, nil
		}
		if err != nil {
			return st, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		st.Lines++
		if err := fn(line); err != nil {
			return st, fmt.Errorf("line %d: %w", st.Lines, err)
		}
	}
}

// Validate reports the first inconsistency of a record: a period ≤ 0, no
// joints, a tick whose joint vectors do not have one value per joint,
// ticks (or their joint-state stamps) going back in time, or an
// observation pointing at no tick.
func (th *Throw) Validate() error {
	if th.PeriodNS <= 0 {
		return fmt.Errorf("period_ns %d, want > 0", th.PeriodNS)
	}
	n := len(th.Joints)
	if n == 0 {
		return errors.New("no joints")
	}
	for i := range th.Ticks {
		tk := &th.Ticks[i]
		for _, v := range []struct {
			name string
			x    []float64
		}{{"q", tk.Q}, {"qd", tk.Qd}, {"cmd_q", tk.CmdQ}, {"cmd_qd", tk.CmdQd}} {
			if len(v.x) != 0 && len(v.x) != n {
				return fmt.Errorf("tick %d: %s has %d values, want one per joint (%d)", i, v.name, len(v.x), n)
			}
		}
		if tk.StateOK && len(tk.Q) != n {
			return fmt.Errorf("tick %d: state_ok without a joint state", i)
		}
		if i > 0 {
			prev := &th.Ticks[i-1]
			if tk.NowNS <= prev.NowNS {
				return fmt.Errorf("tick %d at %d ns is not after tick %d at %d ns", i, tk.NowNS, i-1, prev.NowNS)
			}
			if tk.StateOK && prev.StateOK && tk.StateAtNS < prev.StateAtNS {
				return fmt.Errorf("tick %d: joint state stamped %d ns, before the previous tick's %d ns", i, tk.StateAtNS, prev.StateAtNS)
			}
		}
	}
	for j, o := range th.Obs {
		if o.Tick < 0 || o.Tick >= len(th.Ticks) {
			return fmt.Errorf("observation %d: tick %d, want 0..%d", j, o.Tick, len(th.Ticks)-1)
		}
	}
	return nil
}

// ValidateThrows validates each throw (Validate), naming the first bad one
// by its position in the log and its seq: for readers that use the ticks
// (latency, replay); readers of observations alone need not.
func ValidateThrows(throws []Throw) error {
	for i := range throws {
		if err := throws[i].Validate(); err != nil {
			return fmt.Errorf("record %d (throw %d): %w", i+1, throws[i].Seq, err)
		}
	}
	return nil
}

// ReadThrows reads every complete line of a trial log as a Throw.
func ReadThrows(path string) ([]Throw, Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Stats{}, fmt.Errorf("trial log: %w", err)
	}
	defer f.Close()
	var out []Throw
	st, err := Scan(f, func(line []byte) error {
		var th Throw
		if err := json.Unmarshal(line, &th); err != nil {
			return err
		}
		if th.Version != Version {
			return fmt.Errorf("format version %d, want %d", th.Version, Version)
		}
		out = append(out, th)
		return nil
	})
	if err != nil {
		return out, st, fmt.Errorf("trial log %s: %w", path, err)
	}
	return out, st, nil
}
