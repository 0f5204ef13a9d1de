//go:build !linux

package control

import "time"

func nap(d time.Duration) { time.Sleep(d) }

func realtimeThread(int) (func(), error) { return func() {}, nil }
