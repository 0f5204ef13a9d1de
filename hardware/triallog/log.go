package triallog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
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
}

// Writer appends JSON lines crash-safely (see the package doc).
type Writer struct {
	mu   sync.Mutex
	f    *os.File
	opt  Options
	path string
}

// Open opens path for appending (creating it), first cutting off a partial
// last line that a crashed writer left.
func Open(path string, opt Options) (*Writer, error) {
	if _, err := Repair(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("trial log: %w", err)
	}
	return &Writer{f: f, opt: opt, path: path}, nil
}

// Repair truncates path after its last newline and returns how many bytes
// it cut (a torn line from a crash).
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
	for end > 0 {
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
	if err := f.Truncate(end); err != nil {
		return 0, fmt.Errorf("trial log %s: cutting a torn last line: %w", path, err)
	}
	return size - end, f.Sync()
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
	if w.f == nil {
		return fmt.Errorf("trial log %s: closed", w.path)
	}
	// One write of the whole line: O_APPEND places it atomically at the end.
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("trial log %s: %w", w.path, err)
	}
	if !w.opt.NoSync {
		if err := w.f.Sync(); err != nil {
			return fmt.Errorf("trial log %s: %w", w.path, err)
		}
	}
	return nil
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
