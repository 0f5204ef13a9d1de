package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
)

// syncBuf is a bytes.Buffer safe for the server goroutine and the test.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// --serve serves the page on loopback until the context ends.
func TestServePage(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := &cobra.Command{}
	cmd.SetContext(ctx)
	var out syncBuf
	cmd.SetOut(&out)
	done := make(chan error, 1)
	go func() { done <- servePage(cmd, "127.0.0.1:0", []byte("<html>viewer</html>")) }()
	var url string
	require.Eventually(t, func() bool {
		s := out.String()
		if i := strings.Index(s, "http://"); i >= 0 {
			url = strings.Fields(s[i:])[0]
			return true
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"), url)
	resp, err := http.Get(url)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, "<html>viewer</html>", string(body))
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	resp, err = http.Get(url + "other")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not stop with its context")
	}
}
