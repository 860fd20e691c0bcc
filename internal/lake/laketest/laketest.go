// Package laketest is the acceptance suite of lake.Bucket: the contract that
// every backend keeps (docs/lake.md, "The Bucket interface"). A backend
// outside package lake passes it too; lake runs it on its own backends
// (memory, folder, GCS against the fake in internal/gcstest), in the style of
// thanos-io/objstore's objtesting.
package laketest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/turnstile-stream/turnstile-stream/internal/lake"
)

// Run checks the Bucket contract on the buckets newBucket returns, one
// subtest per part of it. Each subtest calls newBucket once, with its own t,
// and wants a new, empty bucket: one that holds no object.
func Run(t *testing.T, newBucket func(t *testing.T) lake.Bucket) {
	t.Helper()
	t.Run("Contract", func(t *testing.T) { testContract(t, newBucket(t)) })
	t.Run("ReplaceIsAtomic", func(t *testing.T) { testReplaceIsAtomic(t, newBucket(t)) })
	t.Run("SinkPutSideNeverLosesARecord", func(t *testing.T) { testSinkPutSideNeverLosesARecord(t, newBucket(t)) })
}

// testContract checks Put, Get, List and Create: whole objects, listing by
// prefix in name order, harmless and replacing overwrites, Create that never
// replaces, the same name checks everywhere, and a cancelled context.
func testContract(t *testing.T, b lake.Bucket) {
	ctx := t.Context()
	objects := map[string][]byte{
		"turnstile/20240722T101500_p0.csv.gz":                 []byte("first"),
		"turnstile/20240722T101500_p1.csv.gz":                 {0x1f, 0x8b, 0, 0xff, '\n'},
		"turnstile/dt=2024-07-22/20240722T101500_p0.csv.gz":   []byte("hive"),
		"turnstile_rejected/p0_00000000000000000042.jsonl.gz": []byte("side"),
		"other/empty": {},
	}
	for n, data := range objects {
		if err := b.Put(ctx, n, data); err != nil {
			t.Fatalf("Put(%s): %v", n, err)
		}
	}
	for n, want := range objects {
		got, err := b.Get(ctx, n)
		if err != nil {
			t.Fatalf("Get(%s): %v", n, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Get(%s) = %q, want %q", n, got, want)
		}
	}

	lists := []struct {
		prefix string
		want   []string
	}{
		{"turnstile/", []string{
			"turnstile/20240722T101500_p0.csv.gz",
			"turnstile/20240722T101500_p1.csv.gz",
			"turnstile/dt=2024-07-22/20240722T101500_p0.csv.gz",
		}},
		{"turnstile", []string{
			"turnstile/20240722T101500_p0.csv.gz",
			"turnstile/20240722T101500_p1.csv.gz",
			"turnstile/dt=2024-07-22/20240722T101500_p0.csv.gz",
			"turnstile_rejected/p0_00000000000000000042.jsonl.gz",
		}},
		{"turnstile/2024", []string{
			"turnstile/20240722T101500_p0.csv.gz",
			"turnstile/20240722T101500_p1.csv.gz",
		}},
		{"turnstile_rejected/", []string{"turnstile_rejected/p0_00000000000000000042.jsonl.gz"}},
		{"nothing/", []string{}},
		{"", []string{
			"other/empty",
			"turnstile/20240722T101500_p0.csv.gz",
			"turnstile/20240722T101500_p1.csv.gz",
			"turnstile/dt=2024-07-22/20240722T101500_p0.csv.gz",
			"turnstile_rejected/p0_00000000000000000042.jsonl.gz",
		}},
	}
	for _, l := range lists {
		got, err := b.List(ctx, l.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", l.prefix, err)
		}
		if !slices.Equal(got, l.want) {
			t.Errorf("List(%q) = %q, want %q", l.prefix, got, l.want)
		}
	}

	// Overwrite with the same bytes: harmless.
	n := "turnstile/20240722T101500_p0.csv.gz"
	if err := b.Put(ctx, n, []byte("first")); err != nil {
		t.Fatalf("Put again: %v", err)
	}
	if got, err := b.Get(ctx, n); err != nil || string(got) != "first" {
		t.Errorf("Get after same-bytes Put = %q, %v", got, err)
	}
	// Overwrite with other bytes: replaced.
	if err := b.Put(ctx, n, []byte("second")); err != nil {
		t.Fatalf("Put other bytes: %v", err)
	}
	if got, err := b.Get(ctx, n); err != nil || string(got) != "second" {
		t.Errorf("Get after overwrite = %q, %v", got, err)
	}
	if got, _ := b.List(ctx, "turnstile/"); len(got) != 3 {
		t.Errorf("List after overwrites = %q, want 3 names", got)
	}

	// Create stores a new object, and never replaces one.
	c := "turnstile_rejected/p0_00000000000000000007.jsonl.gz"
	if err := b.Create(ctx, c, []byte("one")); err != nil {
		t.Fatalf("Create(new): %v", err)
	}
	if got, err := b.Get(ctx, c); err != nil || string(got) != "one" {
		t.Errorf("Get after Create = %q, %v", got, err)
	}
	for _, data := range []string{"two", "one"} {
		if err := b.Create(ctx, c, []byte(data)); !errors.Is(err, lake.ErrExist) || !errors.Is(err, fs.ErrExist) {
			t.Errorf("Create(existing, %q) = %v, want lake.ErrExist", data, err)
		}
	}
	if got, err := b.Get(ctx, c); err != nil || string(got) != "one" {
		t.Errorf("Get after a refused Create = %q, %v; want the first content", got, err)
	}
	if err := b.Create(ctx, n, []byte("third")); !errors.Is(err, lake.ErrExist) {
		t.Errorf("Create over a Put object = %v, want lake.ErrExist", err)
	}
	if got, _ := b.List(ctx, "turnstile_rejected/"); len(got) != 2 {
		t.Errorf("List after Create = %q, want 2 names (no temporary files)", got)
	}
	if err := b.Create(ctx, "a/.tmp", []byte("x")); err == nil || errors.Is(err, lake.ErrExist) {
		t.Errorf("Create(bad name) = %v, want a name error", err)
	}

	// Missing object.
	_, err := b.Get(ctx, "turnstile/missing.csv.gz")
	if !errors.Is(err, lake.ErrNotExist) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Get(missing) error = %v, want lake.ErrNotExist", err)
	}

	// Invalid names are refused the same way everywhere.
	for _, bad := range []string{"", "/abs", "a//b", "a/../b", ".hidden", "a/.tmp", "dir/"} {
		if err := b.Put(ctx, bad, []byte("x")); err == nil {
			t.Errorf("Put(%q) succeeded, want an error", bad)
		}
	}

	// A cancelled context fails.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Put(cctx, "turnstile/cancelled", []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Put(cancelled ctx) = %v, want context.Canceled", err)
	}
	if err := b.Create(cctx, "turnstile/cancelled", []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Create(cancelled ctx) = %v, want context.Canceled", err)
	}
}

// testReplaceIsAtomic checks Replace: it creates an absent object, replaces
// one only when its function allows it, leaves a refused one whole, and, with
// many writers racing on one name, each replacing only what it judged, every
// write builds on the one before: no write is lost between a writer's read
// and its write.
func testReplaceIsAtomic(t *testing.T, b lake.Bucket) {
	ctx := t.Context()
	obj := "turnstile/replace.csv.gz"
	always := func([]byte) bool { return true }
	if err := b.Replace(ctx, obj, []byte("1"), always); err != nil {
		t.Fatalf("Replace(absent): %v", err)
	}
	var judged []byte
	err := b.Replace(ctx, obj, []byte("2"), func(cur []byte) bool { judged = cur; return false })
	if !errors.Is(err, lake.ErrRefused) {
		t.Errorf("refused Replace = %v, want lake.ErrRefused", err)
	}
	if string(judged) != "1" {
		t.Errorf("Replace judged %q, want the stored %q", judged, "1")
	}
	if got, _ := b.Get(ctx, obj); string(got) != "1" {
		t.Errorf("after a refused Replace the object holds %q, want %q", got, "1")
	}

	// A counter: each writer replaces n with n+1 only if it still
	// reads n. Without an atomic Replace two writers read the same n
	// and one increment is lost.
	const writers, rounds = 4, 5
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < rounds; {
				cur, err := b.Get(ctx, obj)
				if err != nil {
					t.Error(err)
					return
				}
				n, _ := strconv.Atoi(string(cur))
				next := []byte(strconv.Itoa(n + 1))
				err = b.Replace(ctx, obj, next, func(now []byte) bool { return bytes.Equal(now, cur) })
				switch {
				case err == nil:
					done++
				case !errors.Is(err, lake.ErrRefused):
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got, _ := b.Get(ctx, obj); string(got) != strconv.Itoa(1+writers*rounds) {
		t.Errorf("counter after %d increments = %s, want %d: a Replace landed on an object it did not judge", writers*rounds, got, 1+writers*rounds)
	}
}

// testSinkPutSideNeverLosesARecord writes side records through a lake.Sink
// over the bucket as two writers of one partition do when their batches
// differ: one writes offsets 15, 20 and 25
// from offset 15 and commits past 25; the other (a replay after a crash, or
// an instance that lost the partition in a rebalance and has not noticed
// yet) read only up to offset 17 and writes 15 alone from offset 15. Then
// both write their batches again. Every record must stay in the lake (repeats
// are allowed: side output is at least once), no object may change once
// written, and writing a batch again adds no object.
func testSinkPutSideNeverLosesARecord(t *testing.T, b lake.Bucket) {
	rec := func(off int64) lake.SideRecord {
		return lake.SideRecord{Reason: "field_count", Source: "p0", Partition: ptr(int32(0)), Offset: off, Value: fmt.Sprint("v", off)}
	}
	batches := []struct {
		first int64
		recs  []lake.SideRecord
	}{
		{15, []lake.SideRecord{rec(15), rec(20), rec(25)}},
		{15, []lake.SideRecord{rec(15)}}, // same first offset, fewer records
		{15, []lake.SideRecord{rec(15), rec(20), rec(25)}},
		{15, []lake.SideRecord{rec(15)}},
	}
	ctx := t.Context()
	sink := &lake.Sink{Bucket: b, Layout: lake.Layout{Prefix: "turnstile"}}
	written := map[string][]byte{}
	for i, batch := range batches {
		obj, _, err := sink.PutSide(ctx, lake.Rejected, "p0", batch.first, batch.recs)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		for n, data := range written {
			if got, err := b.Get(ctx, n); err != nil || !bytes.Equal(got, data) {
				t.Errorf("batch %d (%s) changed %s, written before", i, obj, n)
			}
		}
		data, err := b.Get(ctx, obj)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := lake.DecodeSide(data); err != nil || !slices.Equal(offsets(got), offsets(batch.recs)) {
			t.Fatalf("batch %d: %s holds offsets %v, %v; want %v", i, obj, offsets(got), err, offsets(batch.recs))
		}
		written[obj] = data
	}
	names, err := b.List(ctx, sink.Layout.SidePrefix(lake.Rejected))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, n := range names {
		data, _ := b.Get(ctx, n)
		recs, err := lake.DecodeSide(data)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		for _, r := range recs {
			seen[r.Offset] = true
		}
	}
	for _, off := range []int64{15, 20, 25} {
		if !seen[off] {
			t.Errorf("the record at offset %d is lost; side objects %v", off, names)
		}
	}
	if len(names) != 2 {
		t.Errorf("side objects %v, want 2: one per distinct batch", names)
	}
}

func offsets(recs []lake.SideRecord) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.Offset
	}
	return out
}

func ptr[T any](v T) *T { return &v }
