package bench

import (
	"reflect"
	"testing"
)

func TestResumeAt(t *testing.T) {
	for _, c := range []struct{ count, n, workers, want int }{
		{605100, 1000000, 2, 603000}, // 1210 whole batches, less 2 per writer
		{0, 1000, 1, 0},
		{700, 1000, 1, 0},      // 1 batch, less 2: start over
		{1500, 1000, 1, 500},   // 3 batches, less 2
		{10000, 3000, 1, 3000}, // more objects than documents: done
	} {
		if got := resumeAt(c.count, c.n, 500, c.workers); got != c.want {
			t.Errorf("resumeAt(%d, %d, 500, %d) = %d, want %d", c.count, c.n, c.workers, got, c.want)
		}
	}
}

// A resumed push draws the same documents and vectors as an
// uninterrupted one from the resume point on.
func TestSynthSkip(t *testing.T) {
	vocab := []string{"해열제", "두통", "복용", "주의", "임부", "금기"}
	whole := newSynth(vocab, 1200, 8)
	whole.batch(0, 500)
	whole.batch(500, 1000)
	wantDocs, wantVecs := whole.batch(1000, 1200)

	resumed := newSynth(vocab, 1200, 8)
	resumed.skip(1000, 500)
	gotDocs, gotVecs := resumed.batch(1000, 1200)
	if !reflect.DeepEqual(gotDocs, wantDocs) || !reflect.DeepEqual(gotVecs, wantVecs) {
		t.Fatalf("resumed batch differs: first vector %v, want %v", gotVecs[0][:3], wantVecs[0][:3])
	}
	fresh := newSynth(vocab, 1200, 8)
	if _, v := fresh.batch(1000, 1200); reflect.DeepEqual(v, wantVecs) {
		t.Fatal("a batch drawn without skipping has the same vectors: the test cannot tell")
	}
}
