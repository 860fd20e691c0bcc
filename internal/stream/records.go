package stream

import (
	"fmt"
	"strings"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/ridership"
	"github.com/turnstile-stream/turnstile-stream/internal/turnstile"
	"github.com/turnstile-stream/turnstile-stream/internal/window"
)

// Records is a record type: what the consumer's kinds of records differ in,
// and nothing else. It says how a message value parses into what the window
// engine takes, how the engine's key bytes decode and sort, how a closed
// (window, key) row is written to the lake and to the emit topic, and how a
// key is named in logs. The Driver, the Processor, the window engine, the
// write-behind, the fencing epochs, the side outputs and the commit
// metadata are the same for every record type (docs/consumer-pipeline.md,
// "Record types").
//
// TurnstileRecords and RidershipRecords are the two the consumer knows
// (RecordsNamed); a RecordType is one.
type Records interface {
	// Name names the record type: "turnstile" or "ridership".
	Name() string
	// Indexed reports whether the type's window files may carry the pandas
	// index column (Config.Index).
	Indexed() bool
	columns() string
	newParser() func(value []byte, rec *window.Record) error
	newTable(seed uint64) keyTable
	describeKey(key []byte) string
}

// Message is one message for the emit topic: a closed (window, key) row as
// its record type encodes it.
type Message struct {
	Key, Value []byte
	Headers    []turnstile.Header
}

// RecordType is a Records whose window rows carry keys of type K.
type RecordType[K any] struct {
	// TypeName is what Name returns.
	TypeName string
	// NewParser returns a parse function for one goroutine. The function
	// fills rec from a message value, reusing rec's buffers (rec.Key must
	// decode with DecodeKey; rec.Dedup tells records of the same time
	// apart), or returns why the value is rejected: a
	// *turnstile.RejectError, whose Reason goes to the side output and the
	// metrics.
	NewParser func() func(value []byte, rec *window.Record) error
	// DecodeKey and CompareKeys are the key table's (window.NewKeys).
	DecodeKey   func(b []byte) (K, error)
	CompareKeys func(a, b *K) int
	// DescribeKey names a record's key bytes in a log line.
	DescribeKey func(b []byte) string
	// Columns is the header of a window file without the index column;
	// with it (Index), the header is "," + Columns.
	Columns string
	// Index is whether the window files may carry the index column: without
	// it Config.Index is ignored.
	Index bool
	// AppendRow appends the lake row (Columns, no index column and no line
	// ending) of a closed row of the window [start, end) to dst.
	AppendRow func(dst []byte, start, end int64, row *window.Row[K]) []byte
	// Message encodes a closed row of the window [start, end) for the emit
	// topic.
	Message func(start, end int64, row *window.Row[K]) Message
}

// Name implements Records.
func (t *RecordType[K]) Name() string { return t.TypeName }

// Indexed implements Records.
func (t *RecordType[K]) Indexed() bool { return t.Index }

func (t *RecordType[K]) columns() string { return t.Columns }

func (t *RecordType[K]) newParser() func([]byte, *window.Record) error { return t.NewParser() }

func (t *RecordType[K]) describeKey(key []byte) string { return t.DescribeKey(key) }

func (t *RecordType[K]) newTable(seed uint64) keyTable {
	return &typedTable[K]{rt: t, keys: window.NewKeys(seed, t.DecodeKey, t.CompareKeys)}
}

// keyTable is a record type's window.Keys, shared by the engines of a
// Processor's partitions.
type keyTable interface {
	newEngine(spec window.Spec, partition int32) engine
	Live() int
}

// engine is a window.Engine whose closed windows come out as closedWindow.
type engine interface {
	Add(rec *window.Record, offset int64) (window.Result, error)
	Emit(emit func(*closedWindow) error) error
	Flush(emit func(*closedWindow) error) error
	Advance(seconds int64)
	Ready() bool
	Watermark() int64
	Restore(wm int64)
	MinOpenOffset() (int64, bool)
	OpenWindows() int
	OpenCells() int
	Release()
}

// closedWindow is a closed window handed to the write-behind: its end, the
// offsets of its records, and its rows in a slice of their own.
type closedWindow struct {
	End                  int64
	MinOffset, MaxOffset int64
	Rows                 windowRows
}

// windowRows are the rows of one closed window: the lake writes them
// (lake.Rows), the emit topic takes their messages.
type windowRows interface {
	Len() int
	AppendRow(dst []byte, i int) []byte
	appendMessages(dst []Message) []Message
}

type typedTable[K any] struct {
	rt   *RecordType[K]
	keys *window.Keys[K]
}

func (t *typedTable[K]) newEngine(spec window.Spec, partition int32) engine {
	return typedEngine[K]{Engine: window.New(spec, t.keys, partition), rt: t.rt}
}

func (t *typedTable[K]) Live() int { return t.keys.Live() }

type typedEngine[K any] struct {
	*window.Engine[K]
	rt *RecordType[K]
}

func (e typedEngine[K]) Emit(emit func(*closedWindow) error) error {
	return e.Engine.Emit(func(c *window.Closed[K]) error { return emit(e.closed(c)) })
}

func (e typedEngine[K]) Flush(emit func(*closedWindow) error) error {
	return e.Engine.Flush(func(c *window.Closed[K]) error { return emit(e.closed(c)) })
}

// closed copies a closed window out of the engine: Closed.Rows is only
// valid during the emit callback.
func (e typedEngine[K]) closed(c *window.Closed[K]) *closedWindow {
	return &closedWindow{End: c.End, MinOffset: c.MinOffset, MaxOffset: c.MaxOffset,
		Rows: &typedRows[K]{rt: e.rt, start: c.Start, end: c.End, rows: append([]window.Row[K](nil), c.Rows...)}}
}

type typedRows[K any] struct {
	rt         *RecordType[K]
	start, end int64
	rows       []window.Row[K]
}

func (r *typedRows[K]) Len() int { return len(r.rows) }

func (r *typedRows[K]) AppendRow(dst []byte, i int) []byte {
	return r.rt.AppendRow(dst, r.start, r.end, &r.rows[i])
}

func (r *typedRows[K]) appendMessages(dst []Message) []Message {
	for i := range r.rows {
		dst = append(dst, r.rt.Message(r.start, r.end, &r.rows[i]))
	}
	return dst
}

// TurnstileRecords returns the turnstile record type, the default: message
// values are turnstile CSV records (turnstile.Parser), windows group by
// turnstile.Key and sum ENTRIES and EXITS, duplicates are told apart by
// (ID, STATION), window files have turnstile.LakeColumns (with the index
// column on request), and emitted rows are turnstile window messages.
func TurnstileRecords() Records { return turnstileRecords }

var turnstileRecords = &RecordType[turnstile.Key]{
	TypeName: "turnstile",
	NewParser: func() func([]byte, *window.Record) error {
		var (
			parser turnstile.Parser
			msg    turnstile.Message
		)
		return func(value []byte, rec *window.Record) error {
			if err := parser.Parse(value, &msg); err != nil {
				return err
			}
			windowRecord(&msg, rec)
			return nil
		}
	},
	DecodeKey:   turnstile.DecodeKey,
	CompareKeys: turnstile.CompareKeys,
	DescribeKey: func(b []byte) string {
		var f [len(turnstile.KeyFields)][]byte
		turnstile.SplitKey(b, &f)
		return turnstile.TurnstileKey(string(f[0]), string(f[1]), string(f[2]))
	},
	Columns: turnstile.LakeColumns,
	Index:   true,
	AppendRow: func(dst []byte, _, end int64, row *window.Row[turnstile.Key]) []byte {
		c := turnstile.WindowCount{Key: row.Key, End: end, Entries: row.Entries, Exits: row.Exits}
		return turnstile.AppendWindowCount(dst, &c)
	},
	Message: func(start, end int64, row *window.Row[turnstile.Key]) Message {
		c := turnstile.WindowCount{Key: row.Key, End: end, Entries: row.Entries, Exits: row.Exits}
		key, value, headers := turnstile.EncodeWindowMessage(&c, time.Duration(end-start)*time.Second)
		return Message{Key: key, Value: value, Headers: headers}
	},
}

// RidershipRecords returns the hourly ridership record type: message values
// are ridership.Parse's; windows group by ridership.Key and sum ridership
// (as Entries) and transfers (as Exits); duplicates are told apart by the
// record's ID; window files have ridership.LakeColumns and never the index
// column; emitted rows are ridership window messages
// (ridership.EncodeWindowMessage). A value Parse refuses is rejected with
// reason ridership.ReasonValue.
func RidershipRecords() Records { return ridershipRecords }

var ridershipRecords = &RecordType[ridership.Key]{
	TypeName: "ridership",
	NewParser: func() func([]byte, *window.Record) error {
		var r ridership.Record
		return func(value []byte, rec *window.Record) error {
			if err := ridership.Parse(value, &r); err != nil {
				return &turnstile.RejectError{Reason: ridership.ReasonValue, Detail: err.Error()}
			}
			k := r.GroupKey()
			*rec = window.Record{Time: r.Timestamp, Entries: r.Ridership, Exits: r.Transfers,
				Key: ridership.AppendKey(rec.Key[:0], &k), Dedup: append(rec.Dedup[:0], r.ID...)}
			return nil
		}
	},
	DecodeKey:   ridership.DecodeKey,
	CompareKeys: ridership.CompareKeys,
	DescribeKey: func(b []byte) string {
		k, err := ridership.DecodeKey(b)
		if err != nil {
			return fmt.Sprintf("%q", b)
		}
		return strings.Join([]string{k.StationComplexID, k.PaymentMethod, k.FareClassCategory}, "|")
	},
	Columns: ridership.LakeColumns,
	AppendRow: func(dst []byte, start, end int64, row *window.Row[ridership.Key]) []byte {
		r := ridershipRow(start, end, row)
		return ridership.AppendWindowRow(dst, &r)
	},
	Message: func(start, end int64, row *window.Row[ridership.Key]) Message {
		r := ridershipRow(start, end, row)
		key, value, headers := ridership.EncodeWindowMessage(&r)
		return Message{Key: key, Value: value, Headers: headers}
	},
}

func ridershipRow(start, end int64, row *window.Row[ridership.Key]) ridership.WindowRow {
	return ridership.WindowRow{Key: row.Key, Start: start, End: end, Ridership: row.Entries, Transfers: row.Exits}
}

// RecordsNamed returns the record type of a name: "turnstile" or
// "ridership".
func RecordsNamed(name string) (Records, error) {
	switch name {
	case "turnstile":
		return TurnstileRecords(), nil
	case "ridership":
		return RidershipRecords(), nil
	}
	return nil, fmt.Errorf("record type %q: want turnstile or ridership", name)
}
