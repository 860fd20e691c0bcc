package ridership

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/turnstile-stream/turnstile-stream/internal/publish"
)

// literalLayout formats --from and --to as SoQL floating timestamp literals.
const literalLayout = "2006-01-02T15:04:05"

// poller follows one dataset through the API, page by page.
type poller struct {
	cfg      *Config
	client   *client
	sender   Sender
	counters *publish.Counters
	log      *slog.Logger
	rejects  io.Writer
	wait     func(ctx context.Context, d time.Duration) error // between polls

	cur   Cursor // the last row taken: sent or rejected
	saved Cursor // the cursor in the state file
	pages int
}

func newPoller(cfg *Config, sender Sender) (*poller, error) {
	base := cfg.SODAURL
	if base == "" {
		base = DefaultSODAURL
	}
	c, err := newClient(base, cfg.Dataset, cfg.AppToken, cfg.HTTPClient, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("ridership: %w", err)
	}
	p := &poller{cfg: cfg, client: c, sender: sender, counters: cfg.Counters, log: cfg.Logger, rejects: cfg.Rejects, wait: sleepCtx}
	if cfg.sleep != nil {
		p.wait, c.sleep = cfg.sleep, cfg.sleep
	}
	if cfg.StateFile != "" {
		st, err := LoadState(cfg.StateFile)
		if err != nil {
			return nil, fmt.Errorf("ridership: %w", err)
		}
		if st.Dataset != "" && st.Dataset != cfg.Dataset {
			return nil, fmt.Errorf("ridership: state file %s follows dataset %s, not %s (use another --state-file)", cfg.StateFile, st.Dataset, cfg.Dataset)
		}
		p.cur, p.saved = st.Cursor, st.Cursor
	}
	return p, nil
}

// where returns the $where of the next page: after the cursor, within
// [From, To).
func (p *poller) where() string {
	var conds []string
	if !p.cur.IsZero() {
		conds = append(conds, p.cur.After())
	}
	if !p.cfg.From.IsZero() {
		conds = append(conds, "transit_timestamp >= "+soqlString(p.cfg.From.UTC().Format(literalLayout)))
	}
	if !p.cfg.To.IsZero() {
		conds = append(conds, "transit_timestamp < "+soqlString(p.cfg.To.UTC().Format(literalLayout)))
	}
	return strings.Join(conds, " AND ")
}

// save writes the cursor to the state file when it moved.
func (p *poller) save() error {
	if p.cfg.StateFile == "" || p.cur == p.saved {
		return nil
	}
	if err := SaveState(p.cfg.StateFile, State{Dataset: p.cfg.Dataset, Cursor: p.cur}); err != nil {
		return fmt.Errorf("ridership: %w", err)
	}
	p.saved = p.cur
	return nil
}

// run polls until ctx ends, or, with To set, until a page comes back short.
// It returns nil when ctx is cancelled.
func (p *poller) run(ctx context.Context) error {
	limit := p.cfg.PageSize
	if limit == 0 {
		limit = MaxPageSize
	}
	interval := p.cfg.PollInterval
	if interval == 0 {
		interval = DefaultPollInterval
	}
	attrs := []any{"dataset", p.cfg.Dataset, "url", p.client.resource, "page_size", limit, "app_token", p.cfg.AppToken != ""}
	if !p.cur.IsZero() {
		attrs = append(attrs, "resume_after", p.cur.TransitTimestamp)
	}
	p.log.Info("following ridership dataset", attrs...)
	if p.cfg.AppToken == "" {
		p.log.Warn("no SODA app token: the API may answer 429 Too Many Requests often (set --app-token-file or " + TokenEnv + ")")
	}
	for {
		n, err := p.page(ctx, limit)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if n == limit {
			continue // more rows are waiting
		}
		if !p.cfg.To.IsZero() {
			p.log.Info("reached the end of the data before --to", "to", p.cfg.To.Format(time.DateTime))
			return nil
		}
		if err := p.wait(ctx, interval); err != nil {
			return nil
		}
	}
}

// page fetches, sends and checkpoints one page, and returns its row count.
func (p *poller) page(ctx context.Context, limit int) (int, error) {
	rows, err := p.client.page(ctx, p.where(), limit)
	if err != nil {
		return 0, err
	}
	p.pages++
	start := p.cur
	var sent, bad int
	var key, value []byte
	var prev Cursor
	for i, raw := range rows {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		r, rerr := decodeJSONRow(raw)
		cur, hasCur := cursorOf(&r)
		var rec Record
		if rerr == nil {
			rec, rerr = r.record()
		}
		if hasCur && i > 0 && cur == prev {
			p.log.Warn("two rows share the same order key; rows may be skipped at page edges", "cursor", cur)
		}
		prev = cur
		if rerr != nil {
			bad++
			p.counters.Read.Add(1)
			p.counters.Skipped.Add(1)
			fmt.Fprintf(p.rejects, "dataset %s page %d row %d: %v: %s\n", p.cfg.Dataset, p.pages, i+1, rerr, oneLine(raw))
			if hasCur {
				p.cur = cur
			}
			continue
		}
		key = append(key[:0], rec.StationComplexID...)
		value = AppendValue(value[:0], &rec)
		if err := p.sender.Send(ctx, key, value); err != nil {
			return 0, fmt.Errorf("ridership: send %s: %w", key, err)
		}
		p.counters.Read.Add(1)
		p.cur = cur
		sent++
	}
	if sent > 0 {
		if err := p.sender.Flush(ctx); err != nil {
			return 0, fmt.Errorf("ridership: delivery of page %d: %w", p.pages, err)
		}
	}
	if err := p.save(); err != nil {
		return 0, err
	}
	p.log.Info("ridership page", "page", p.pages, "rows", len(rows), "sent", sent, "bad", bad,
		"total_read", p.counters.Read.Load(), "total_sent", p.counters.Sent.Load(), "cursor", p.cur.TransitTimestamp)
	if len(rows) == limit && p.cur == start {
		return 0, fmt.Errorf("ridership: a full page of %d rows did not move the cursor (rows without the order columns?)", len(rows))
	}
	return len(rows), nil
}

// oneLine returns raw JSON without line breaks, for the reject output.
func oneLine(raw []byte) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(string(raw))
}
