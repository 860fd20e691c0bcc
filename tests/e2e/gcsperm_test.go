package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/gcsiam"
)

// Case 11: the consumer under exactly the permissions terraform/iam.tf
// grants it on the lake (every case runs so, see newEnv), through a kill -9,
// a restart, and a replay of the whole topic that meets every window file
// and side object already written. Each create-only write of an existing
// name gets GCS's 412, and the consumer reads the object back to compare
// (storage.objects.get): the emulator must never answer 403, the read-back
// must have happened, and the lake must hold exactly the expected rows and
// side records, none twice.
func TestGCSPermissionsKillRestartReplay(t *testing.T) {
	e := newEnv(t, "malformed", envOption{})
	policy := lakeWriterPolicy(t)
	t.Logf("the emulator enforces terraform/iam.tf's lake_writer permissions: %v", policy.Permissions)
	wantSide := readSideExpectations(t, filepath.Join(e.cs.dir, "expected_rejected.txt"))
	rows := len(readExpected(t, e.expectedPath()))

	// The first run writes every window file and side object, and is killed.
	c1 := e.startConsumer("consumer-1")
	e.produceMessages()
	e.waitLake(rows, len(wantSide), 60*time.Second)
	c1.kill(t)

	// The restart resumes its group after the last commit.
	c2 := e.startConsumer("consumer-2")
	c2.waitLog(t, "partitions assigned", 30*time.Second)
	time.Sleep(2 * time.Second)
	c2.stop(t)

	// A replay of the topic from its start (a new group, as a redeploy that
	// lost its offsets): every name it writes exists.
	objects, err := e.gcs.Objects(e.gcs.Bucket(), "turnstile")
	if err != nil {
		t.Fatal(err)
	}
	creates, gets := e.gcs.Granted(gcsiam.ObjectsCreate), e.gcs.Granted(gcsiam.ObjectsGet)
	c3 := e.startConsumer("consumer-3", "--group", e.group+"-replay")
	deadline := time.Now().Add(60 * time.Second)
	for e.gcs.Granted(gcsiam.ObjectsCreate)-creates < len(objects) && !c3.exited() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // the read-back of the last 412
	if n := e.gcs.Denied(); n > 0 {
		t.Fatalf("the GCS emulator denied %d requests under terraform/iam.tf's lake_writer permissions %v; consumer-3:\n  %s",
			n, policy.Permissions, strings.Join(grepLines(c3.logs.String(), "403|denied|permission"), "\n  "))
	}
	if got := e.gcs.Granted(gcsiam.ObjectsCreate) - creates; got < len(objects) {
		t.Fatalf("the replay wrote %d objects in 60s, want at least the %d already in the lake; consumer-3's log:\n%s",
			got, len(objects), tail(c3.logs.String(), 30))
	}
	if e.gcs.Granted(gcsiam.ObjectsGet) == gets {
		t.Errorf("the replay read nothing back: the create-only writes of existing names did not happen (no 412 path)")
	}
	c3.stop(t)
	lc, err := e.readLake()
	if err != nil {
		t.Fatal(err)
	}
	e.checkRows(lc)
	e.checkSide(lc.rejected, wantSide)
	if after, err := e.gcs.Objects(e.gcs.Bucket(), "turnstile"); err != nil || len(after) != len(objects) {
		t.Errorf("the lake held %d objects before the replay and %d after (%v): the replay wrote new ones", len(objects), len(after), err)
	}
	t.Logf("the replay made %d writes and %d reads of existing objects, none denied",
		e.gcs.Granted(gcsiam.ObjectsCreate)-creates, e.gcs.Granted(gcsiam.ObjectsGet)-gets)
}
