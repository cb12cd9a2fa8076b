package bufpool

import "testing"

func TestGetCapacityClasses(t *testing.T) {
	for _, tc := range []struct{ n, wantCap int }{
		{0, 64}, {1, 64}, {64, 64}, {65, 128}, {1300, 2048}, {1 << 20, 1 << 20},
	} {
		b := Get(tc.n)
		if len(b) != tc.n || cap(b) != tc.wantCap {
			t.Errorf("Get(%d): len %d cap %d, want len %d cap %d", tc.n, len(b), cap(b), tc.n, tc.wantCap)
		}
		Put(b)
	}
	if b := Get(1<<20 + 1); len(b) != 1<<20+1 {
		t.Fatalf("oversized Get: len %d", len(b))
	}
}

func TestPutIgnoresForeignSlices(t *testing.T) {
	Put(make([]byte, 100)) // capacity 100 is not a class size: dropped, no panic
	Put(nil)
	if b := Get(100); cap(b) != 128 {
		t.Fatalf("cap %d, want 128", cap(b))
	}
}

func BenchmarkGetPut(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Put(Get(1300))
	}
}
