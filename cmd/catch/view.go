package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agilecatch/catch/view"
)

func init() {
	var (
		out, serve, cfgPath string
		maxTrials           int
	)
	cmd := &cobra.Command{
		Use:   "view TRACE|DIR",
		Short: "Write (or serve) a 3-D trial viewer page from traces of 'catch sim|bench --trace'",
		Long: `Builds one self-contained HTML page (three.js embedded, no network needed)
that replays trial traces on the robot drawn from its URDF's visual geometry:
the ball's true path, the estimate with its 2σ ellipsoid, the forecast fan,
the planned head path, a time slider, play at real or slowed speed, the
judge's verdict and failure reason, and the trials to pick from. From a
directory it takes a selection of caught and missed trials of every
(controller, scenario) pair (--max). Writes --out (default: DIR/index.html,
or TRACE with .html), or with --serve ADDR serves the page on a loopback
address until interrupted.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := view.Files(args[0])
			if err != nil {
				return fmt.Errorf("view: %w", err)
			}
			if maxTrials <= 0 {
				return fmt.Errorf("--max %d: want > 0", maxTrials)
			}
			if serve != "" {
				if err := loopback(serve); err != nil {
					return err
				}
			}
			cfg, rob, err := loadConfigRobot(cfgPath)
			if err != nil {
				return err
			}
			page, err := view.Page(files, view.Options{Robot: rob, Max: maxTrials, Provenance: record(&cfg, 0)})
			if err != nil {
				return err
			}
			if serve != "" {
				return servePage(cmd, serve, page)
			}
			// A local copy: the flag's variable outlives this run in-process.
			dst := out
			if dst == "" {
				if st, _ := os.Stat(args[0]); st != nil && st.IsDir() {
					dst = filepath.Join(args[0], "index.html")
				} else {
					dst = strings.TrimSuffix(args[0], filepath.Ext(args[0])) + ".html"
				}
			}
			if err := os.WriteFile(dst, page, 0o644); err != nil {
				return failed(fmt.Errorf("--out: %w", err))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d traces, %.1f MB)\n", dst, len(files), float64(len(page))/1e6)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "HTML file to write (default: DIR/index.html, or TRACE with .html)")
	f.StringVar(&serve, "serve", "", "serve the page on this loopback address (e.g. 127.0.0.1:8080) instead of writing it")
	f.IntVar(&maxTrials, "max", view.DefaultMax, "trials the page holds (a selection of caught and missed per controller and scenario)")
	f.StringVar(&cfgPath, "config", "", "run configuration YAML (the robot's URDF)")
	root.AddCommand(cmd)
}

// loopback rejects a --serve address that is not on the loopback interface.
func loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--serve %q: want HOST:PORT on loopback, e.g. 127.0.0.1:8080", addr)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--serve %q: only loopback addresses are served (127.0.0.1, ::1, localhost)", addr)
	}
	return nil
}

func servePage(cmd *cobra.Command, addr string, page []byte) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return failed(fmt.Errorf("--serve: %w", err))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" && r.URL.Path != "/index.html" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signalContext(cmd.Context())
	defer stop()
	fmt.Fprintf(cmd.OutOrStdout(), "serving http://%s/ (Ctrl-C stops)\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return failed(err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return failed(err)
	}
	return nil
}
