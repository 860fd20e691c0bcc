package ridership

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/mta"
)

// headerIndex maps the columns of a CSV export's header to SourceColumns.
// A name matches when it is equal after trimming spaces and a UTF-8 byte
// order mark, lower-casing, and turning spaces into underscores: the export
// of data.ny.gov writes the API field names (transit_timestamp, ...) and
// capitalises some (Georeference); older exports spelled names out
// ("Transit Timestamp"). Other columns (transit_mode, latitude, longitude,
// Georeference, a pandas index) are ignored. It returns an error naming the
// missing columns.
func headerIndex(header []string) ([numCols]int, error) {
	var idx [numCols]int
	for i := range idx {
		idx[i] = -1
	}
	for j, name := range header {
		name = strings.TrimPrefix(name, "\ufeff")
		name = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), " ", "_")
		for i, col := range SourceColumns {
			if name == col {
				if idx[i] >= 0 {
					return idx, fmt.Errorf("column %s appears twice", col)
				}
				idx[i] = j
			}
		}
	}
	var missing []string
	for i, j := range idx {
		if j < 0 {
			missing = append(missing, SourceColumns[i])
		}
	}
	if len(missing) > 0 {
		return idx, fmt.Errorf("header lacks column(s) %s (is this an hourly ridership export?)", strings.Join(missing, ", "))
	}
	return idx, nil
}

// replay sends the rows of the CSV exports in cfg.Inputs, file by file, in
// file order. Rows outside [From, To) are left out.
func replay(ctx context.Context, cfg *Config, sender Sender) error {
	ins, err := mta.Resolve(ctx, cfg.Inputs, cfg.Logger)
	if err != nil {
		return fmt.Errorf("ridership: %w", err)
	}
	defer ins.Close()
	for _, in := range ins.List {
		if err := replayInput(ctx, cfg, sender, in); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
	}
	return nil
}

func replayInput(ctx context.Context, cfg *Config, sender Sender, in mta.Input) error {
	began := time.Now()
	rc, err := in.Open(ctx)
	if err != nil {
		return fmt.Errorf("ridership: %s: %w", in.Name, err)
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 256<<10)
	var r io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("ridership: %s: %w", in.Name, err)
		}
		defer gz.Close()
		r = gz
	}
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("ridership: %s: read header: %w", in.Name, err)
	}
	idx, err := headerIndex(header)
	if err != nil {
		return fmt.Errorf("ridership: %s: %w", in.Name, err)
	}
	cr.FieldsPerRecord = len(header)
	var read, sent, bad, outside int64
	var key, value []byte
	for {
		if ctx.Err() != nil {
			return nil
		}
		fields, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			read++
			bad++
			cfg.Counters.Read.Add(1)
			cfg.Counters.Skipped.Add(1)
			fmt.Fprintf(cfg.Rejects, "%s:%d: %v\n", in.Name, pe.Line, pe.Err)
			continue
		}
		if err != nil {
			return fmt.Errorf("ridership: %s: %w", in.Name, err)
		}
		read++
		cfg.Counters.Read.Add(1)
		var rw row
		for i, j := range idx {
			rw.val[i], rw.present[i] = fields[j], true
		}
		rec, rerr := rw.record()
		if rerr != nil {
			bad++
			cfg.Counters.Skipped.Add(1)
			fmt.Fprintf(cfg.Rejects, "%s:%d: %v: %s\n", in.Name, line, rerr, strings.Join(fields, ","))
			continue
		}
		if t := time.Unix(rec.Timestamp, 0); !cfg.From.IsZero() && t.Before(cfg.From) || !cfg.To.IsZero() && !t.Before(cfg.To) {
			outside++
			continue
		}
		key = append(key[:0], rec.StationComplexID...)
		value = AppendValue(value[:0], &rec)
		if err := sender.Send(ctx, key, value); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("ridership: send %s: %w", key, err)
		}
		sent++
	}
	cfg.Logger.Info("replayed ridership export", "file", in.Name, "read", read, "sent", sent, "bad", bad,
		"out_of_range", outside, "took", time.Since(began).Round(time.Millisecond).String())
	return nil
}
