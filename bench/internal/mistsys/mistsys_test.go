package mistsys

import (
	"testing"
	"time"

	"github.com/mistnet/mist/bench/internal/systest"
)

func TestDriver(t *testing.T) {
	sys := New()
	defer sys.Close()
	systest.Exercise(t, sys, systest.Expect{Reliable: true, Swarm: 20})
}

func TestWaiterBacksOff(t *testing.T) {
	var w waiter
	for range spinPolls {
		w.wait()
	}
	if w.sleep != 0 {
		t.Fatalf("slept during the spin phase (next sleep %v)", w.sleep)
	}
	var sleeps []time.Duration
	for range 10 {
		w.wait()
		sleeps = append(sleeps, w.sleep)
	}
	for i := 1; i < len(sleeps); i++ {
		if sleeps[i] < sleeps[i-1] {
			t.Fatalf("sleep shrank: %v", sleeps)
		}
	}
	if sleeps[0] != minSleep || sleeps[len(sleeps)-1] != maxSleep {
		t.Fatalf("sleeps %v, want %v growing to %v", sleeps, minSleep, maxSleep)
	}
	w.reset()
	if w.spins != 0 || w.sleep != 0 {
		t.Fatalf("reset left %+v", w)
	}
}
