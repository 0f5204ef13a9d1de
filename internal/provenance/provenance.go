// Package provenance says where an output came from: the build that made it
// (module path and version, VCS revision and whether the tree was modified,
// read from the binary's build information), the command line, the SHA-256
// of the run's effective configuration and the random seed.
//
// Every file the binary writes that holds numbers (results, trial logs,
// traces, trained policies and models, plots) carries a Record: JSON
// outputs embed it, CSV outputs start with "# " comment lines (Comment),
// PNG plots hold it in a tEXt chunk (StampPNG).
package provenance

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"runtime/debug"
	"strings"
)

// Build identifies the binary.
type Build struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Revision string `json:"vcs_revision,omitempty"`
	Time     string `json:"vcs_time,omitempty"`
	Modified bool   `json:"vcs_modified,omitempty"`
	Go       string `json:"go"`
}

// Set by the linker (the Makefile's build passes -X with git's answers),
// for toolchains and builds that do not stamp VCS information themselves
// (GOFLAGS=-buildvcs=false, a worktree the go command does not read).
var (
	revision string // commit hash
	modified string // "true" when the tree had uncommitted changes
	vcsTime  string // commit time, RFC 3339
)

// ReadBuild reads the running binary's build information. Fields the
// build did not record (a test binary has no VCS stamp) stay empty.
func ReadBuild() Build {
	b := readBuildInfo()
	if b.Revision == "" && revision != "" {
		b.Revision, b.Modified, b.Time = revision, modified == "true", vcsTime
	}
	return b
}

func readBuildInfo() Build {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Build{Module: "unknown", Version: "unknown"}
	}
	b := Build{Module: bi.Main.Path, Version: bi.Main.Version, Go: bi.GoVersion}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// String is the one line `catch --version` prints.
func (b Build) String() string {
	var s strings.Builder
	mod := b.Module
	if mod == "" {
		mod = "catch"
	}
	fmt.Fprintf(&s, "%s %s", mod, orUnknown(b.Version))
	if b.Revision != "" {
		fmt.Fprintf(&s, " revision %s", b.Revision)
		if b.Modified {
			s.WriteString(" (modified)")
		}
		if b.Time != "" {
			fmt.Fprintf(&s, " %s", b.Time)
		}
	} else {
		s.WriteString(" (no VCS revision recorded)")
	}
	fmt.Fprintf(&s, " %s", b.Go)
	return s.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// Record is the provenance of one output.
type Record struct {
	Build
	// Command is the command line (the program name first).
	Command []string `json:"command"`
	// ConfigSHA256 is the hash of the effective configuration (HashConfig).
	ConfigSHA256 string `json:"config_sha256"`
	Seed         uint64 `json:"seed"`
}

// New returns the record of a run of this binary.
func New(command []string, configSHA256 string, seed uint64) Record {
	return Record{Build: ReadBuild(), Command: append([]string(nil), command...), ConfigSHA256: configSHA256, Seed: seed}
}

// HashConfig is the hex SHA-256 of a configuration's canonical form (the
// caller's encoding of the effective configuration, defaults included).
func HashConfig(canonical []byte) string {
	h := sha256.Sum256(canonical)
	return hex.EncodeToString(h[:])
}

// JSON is the record on one line.
func (r Record) JSON() string {
	data, err := json.Marshal(r)
	if err != nil {
		// Only strings, a bool and an integer: cannot fail.
		panic(err)
	}
	return string(data)
}

// Comment is the record as CSV comment lines ("# provenance: {json}\n"),
// which readers skip with their comment character set to '#'.
func (r Record) Comment() string { return "# provenance: " + r.JSON() + "\n" }

// Markdown is the record as a short paragraph for reports.
func (r Record) Markdown() string {
	return fmt.Sprintf("Provenance: `%s`; command `%s`; config SHA-256 `%s`; seed %d.\n",
		r.Build.String(), strings.Join(r.Command, " "), r.ConfigSHA256, r.Seed)
}

// pngKeyword is the tEXt keyword StampPNG writes.
const pngKeyword = "catch-provenance"

// StampPNG adds the record to a PNG file as a tEXt chunk right after the
// header chunk, so image viewers keep showing the picture and `exiftool`
// or ReadPNG show where it came from.
func StampPNG(path string, r Record) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	const ihdrEnd = 8 + 4 + 4 + 13 + 4
	if len(data) < ihdrEnd || !bytes.Equal(data[:8], []byte("\x89PNG\r\n\x1a\n")) || string(data[12:16]) != "IHDR" {
		return fmt.Errorf("%s: not a PNG file", path)
	}
	body := append([]byte(pngKeyword+"\x00"), r.JSON()...)
	chunk := make([]byte, 0, 12+len(body))
	chunk = binary.BigEndian.AppendUint32(chunk, uint32(len(body)))
	chunk = append(chunk, "tEXt"...)
	chunk = append(chunk, body...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	out := make([]byte, 0, len(data)+len(chunk))
	out = append(out, data[:ihdrEnd]...)
	out = append(out, chunk...)
	out = append(out, data[ihdrEnd:]...)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadPNG returns the record StampPNG wrote into a PNG file.
func ReadPNG(path string) (Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Record{}, err
	}
	for off := 8; off+12 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[off:]))
		if off+12+n > len(data) {
			break
		}
		typ, body := string(data[off+4:off+8]), data[off+8:off+8+n]
		if typ == "tEXt" && bytes.HasPrefix(body, []byte(pngKeyword+"\x00")) {
			var r Record
			if err := json.Unmarshal(body[len(pngKeyword)+1:], &r); err != nil {
				return Record{}, fmt.Errorf("%s: provenance chunk: %w", path, err)
			}
			return r, nil
		}
		off += 12 + n
	}
	return Record{}, fmt.Errorf("%s: no provenance chunk", path)
}
