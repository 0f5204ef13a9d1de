package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestViewWritesAPageFromTraces(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tr")
	code, _ := runOut(t, "sim", "--controller", "hold", "--trials", "3", "--seed", "2", "--trace", dir)
	require.Equal(t, 0, code)
	code, out := runOut(t, "view", dir)
	require.Equal(t, 0, code)
	require.Contains(t, out, "index.html (3 traces")
	page, err := os.ReadFile(filepath.Join(dir, "index.html"))
	require.NoError(t, err)
	require.Contains(t, string(page), `"controller":"hold"`)
	require.Contains(t, string(page), `<script type="importmap">`)
	require.NotContains(t, string(page), "https://", "no network at view time")

	one := filepath.Join(dir, "hold_nominal_s2_t00001.csv")
	code, _ = runOut(t, "view", one, "--max", "1")
	require.Equal(t, 0, code)
	_, err = os.Stat(strings.TrimSuffix(one, ".csv") + ".html")
	require.NoError(t, err)

	for _, args := range [][]string{
		{"view", filepath.Join(dir, "missing")},
		{"view", t.TempDir()},
		{"view", dir, "--serve", "0.0.0.0:8080"},
		{"view", dir, "--serve", "example.com:80"},
		{"view", dir, "--max", "0"},
		{"view"},
	} {
		code, _ := runOut(t, args...)
		require.Equal(t, 2, code, "%q", args)
	}
	require.NoError(t, loopback("127.0.0.1:0"))
	require.NoError(t, loopback("[::1]:8080"))
	require.NoError(t, loopback("localhost:8080"))
}
