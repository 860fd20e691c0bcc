package kafka

import (
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/turnstile-stream/turnstile-stream/internal/kafkatest"
	"github.com/turnstile-stream/turnstile-stream/internal/lake"
)

// TestDeadLetterRoundTrip writes side records through the dead-letter topic
// of an embedded broker and reads them back: each message is keyed by the
// source, carries its kind, and its value decodes to the record written,
// byte for byte, a value that is not UTF-8 included (it used to arrive with
// U+FFFD in place of the bad bytes).
func TestDeadLetterRoundTrip(t *testing.T) {
	broker, err := kafkatest.Start(kafkatest.Topics(1, "dlq"))
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	dl, err := OpenDeadLetter(Properties{"bootstrap.servers": broker.Addr(), "enable.metrics.push": "false"}, "test", "dlq", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	p := int32(3)
	recs := []lake.SideRecord{
		{Reason: "bad_encoding", Detail: "value is not valid UTF-8", Source: "p3", Partition: &p, Offset: 41, Value: "A002,\xff\xfe,\x00end\n"},
		{Reason: "field_count", Detail: "got 3 fields, want 13", Source: "p3", Partition: &p, Offset: 42, Value: `not,a,"<record>" & more`},
	}
	late := []lake.SideRecord{{Reason: "late", Source: "p3", Partition: &p, Offset: 43, Value: "v", WindowEnd: "2024-07-22T10:15:00Z"}}
	if err := dl.Write(t.Context(), lake.Rejected, "p3", 41, recs); err != nil {
		t.Fatal(err)
	}
	if err := dl.Write(t.Context(), lake.Late, "p3", 43, late); err != nil {
		t.Fatal(err)
	}
	want := map[int64]struct {
		rec  lake.SideRecord
		kind lake.SideKind
	}{41: {recs[0], lake.Rejected}, 42: {recs[1], lake.Rejected}, 43: {late[0], lake.Late}}
	got := consume(t, broker.Addr(), "dlq", len(want))
	if len(got) != len(want) {
		t.Fatalf("read %d messages, want %d", len(got), len(want))
	}
	for _, m := range got {
		var rec lake.SideRecord
		if err := json.Unmarshal(m.Value, &rec); err != nil {
			t.Fatalf("value %q: %v", m.Value, err)
		}
		w, ok := want[rec.Offset]
		if !ok {
			t.Fatalf("unexpected record %+v", rec)
		}
		if rec.Value != w.rec.Value || rec.Reason != w.rec.Reason || rec.Detail != w.rec.Detail || rec.Source != w.rec.Source ||
			rec.WindowEnd != w.rec.WindowEnd || rec.Partition == nil || *rec.Partition != p {
			t.Errorf("offset %d: got %+v, want %+v", rec.Offset, rec, w.rec)
		}
		line, _ := w.rec.MarshalJSON()
		if string(m.Value) != string(line) {
			t.Errorf("offset %d: value %s, want the side file's line %s", rec.Offset, m.Value, line)
		}
		if string(m.Key) != "p3" {
			t.Errorf("offset %d: key %q, want p3", rec.Offset, m.Key)
		}
		if len(m.Headers) != 1 || m.Headers[0].Key != "kind" || string(m.Headers[0].Value) != string(w.kind) {
			t.Errorf("offset %d: headers %v, want kind=%s", rec.Offset, m.Headers, w.kind)
		}
	}
}
