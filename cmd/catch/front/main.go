// Command front is the catch that `make build` installs as bin/catch: a pure
// Go program that starts in a few milliseconds. It runs the subcommands that
// need no C library itself (kin, qp, --version; see package light) and
// replaces itself (execve, same process id, arguments, environment and
// standard streams) with the full program for every other command line. The
// full program, cmd/catch linked with OpenCV and MuJoCo, is catch-full in the
// same directory as this binary; its dynamic linker alone spends ≈0.2 s and
// ≈100 MiB loading ≈270 shared libraries before main runs.
//
// Exit status: that of the command, or 1 when the full program cannot be
// started.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/agilecatch/catch/cmd/catch/internal/light"
	"github.com/agilecatch/catch/internal/provenance"
)

// fullName is the file name of the full program beside this binary.
const fullName = "catch-full"

// handled reports whether the command line runs here rather than in the full
// program: its first word is a light subcommand or --version.
func handled(args []string) bool {
	if len(args) == 0 {
		return false
	}
	switch args[0] {
	case "kin", "qp", "--version":
		return true
	}
	return false
}

func main() {
	args := os.Args[1:]
	if handled(args) {
		root := light.NewRoot(provenance.ReadBuild().String())
		root.AddCommand(light.Kin(), light.QP())
		os.Exit(light.Run(root, args, os.Stderr))
	}
	os.Exit(execFull(args, os.Stderr))
}

// execFull replaces this process with the full program; it returns only when
// that fails, with exit status 1 after one line on stderr.
func execFull(args []string, stderr io.Writer) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "catch: cannot locate this binary to start %s: %v\n", fullName, err)
		return 1
	}
	full := filepath.Join(filepath.Dir(self), fullName)
	argv := append([]string{os.Args[0]}, args...)
	err = syscall.Exec(full, argv, os.Environ())
	fmt.Fprintf(stderr, "catch: this command runs in %s (linked with OpenCV and MuJoCo; `make build` puts it beside bin/catch): %v\n", full, err)
	return 1
}
