// Package light holds the subcommands of catch that link no C library —
// `catch kin` (forward kinematics) and `catch qp` (the planner's QP solver on
// files) — and the exit-status convention every catch subcommand follows.
//
// Both binaries register these commands: the full program (cmd/catch, linked
// with OpenCV and MuJoCo) and the front end (cmd/catch/front, pure Go), which
// runs them itself and hands every other subcommand to the full program. The
// dynamic linker loads the full program's ≈270 shared libraries before main
// runs (≈0.2 s and ≈100 MiB); scripted use of kin and qp, one process per
// pose or file, should not pay that.
// Nothing here may import a package that uses cgo: the front end's test
// checks that its binary needs no shared library besides the C library.
package light

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// RunError marks an error of a valid run (exit status 1), as opposed to bad
// input (exit status 2).
type RunError struct{ Err error }

func (e RunError) Error() string { return e.Err.Error() }
func (e RunError) Unwrap() error { return e.Err }

// Failed wraps err as a run failure, so Run returns 1; nil stays nil.
func Failed(err error) error {
	if err == nil {
		return nil
	}
	return RunError{err}
}

// Run executes root with args, prints an error as one line "catch: …" on
// stderr and returns the exit status: 0 on success, 1 when a valid run failed
// (RunError, or a panic in a subcommand), 2 when the input was wrong.
func Run(root *cobra.Command, args []string, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "catch: internal error: %v\n", r)
			code = 1
		}
	}()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "catch: %v\n", err)
	var re RunError
	if errors.As(err, &re) {
		return 1
	}
	return 2
}

// NewRoot is the top command `catch` with the given version string, the
// project's flag-error wording and no completion command; callers add the
// subcommands.
func NewRoot(version string) *cobra.Command {
	root := &cobra.Command{
		Use:           "catch",
		Short:         "Real-time ball-catching controller: simulated trials, benchmarks, ROS nodes",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		if c == root {
			return fmt.Errorf("%w (see 'catch --help')", err)
		}
		return fmt.Errorf("%s: %w (see '%s --help')", c.CommandPath(), err, c.CommandPath())
	})
	root.CompletionOptions.DisableDefaultCmd = true
	return root
}
