package ridership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxPageSize is the largest $limit the SODA API takes.
const MaxPageSize = 50000

// DefaultSODAURL is the data.ny.gov portal, home of the ridership datasets.
const DefaultSODAURL = "https://data.ny.gov"

// Order is the $order of every page: transit_timestamp, then the rest of the
// row's natural key, which makes the order total (see the package doc).
const Order = "transit_timestamp,station_complex_id,payment_method,fare_class_category"

// client fetches pages of one dataset from a SODA endpoint, retrying 429s,
// 5xx answers and transport errors with exponential backoff.
type client struct {
	resource   string // BASE/resource/DATASET.json
	token      string // X-App-Token; never logged
	http       *http.Client
	log        *slog.Logger
	sleep      func(ctx context.Context, d time.Duration) error
	retryBase  time.Duration // first backoff
	retryMax   time.Duration // longest backoff (and longest Retry-After honoured)
	maxRetries int           // retries of one page before giving up
}

func newClient(base, dataset, token string, hc *http.Client, log *slog.Logger) (*client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("SODA URL %q: want http(s)://HOST", base)
	}
	if dataset == "" || strings.ContainsAny(dataset, "/?#. ") {
		return nil, fmt.Errorf("dataset %q: want a dataset ID such as 5wq4-mkjj", dataset)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute}
	}
	return &client{
		resource: strings.TrimSuffix(u.String(), "/") + "/resource/" + dataset + ".json",
		token:    token, http: hc, log: log, sleep: sleepCtx,
		retryBase: time.Second, retryMax: 2 * time.Minute, maxRetries: 10,
	}, nil
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// httpError is an answer that is not 200.
type httpError struct {
	status     int
	body       string
	retryAfter time.Duration // from Retry-After; 0 = none
}

func (e *httpError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.status, e.body)
}

func (e *httpError) retryable() bool {
	return e.status == http.StatusTooManyRequests || e.status >= 500
}

// page fetches one page: rows matching where, in Order, at most limit.
func (c *client) page(ctx context.Context, where string, limit int) ([]json.RawMessage, error) {
	q := url.Values{}
	if where != "" {
		q.Set("$where", where)
	}
	q.Set("$order", Order)
	q.Set("$limit", strconv.Itoa(limit))
	u := c.resource + "?" + q.Encode()
	backoff := c.retryBase
	for attempt := 0; ; attempt++ {
		rows, err := c.get(ctx, u)
		if err == nil {
			return rows, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var he *httpError
		retry := !errors.As(err, &he) || he.retryable()
		if !retry {
			if he.status == http.StatusForbidden || he.status == http.StatusUnauthorized {
				return nil, fmt.Errorf("SODA %s: %w (check the app token)", c.resource, err)
			}
			return nil, fmt.Errorf("SODA %s: %w", c.resource, err)
		}
		if attempt >= c.maxRetries {
			return nil, fmt.Errorf("SODA %s: giving up after %d retries: %w", c.resource, attempt, err)
		}
		wait := backoff
		if he != nil && he.retryAfter > 0 {
			wait = min(he.retryAfter, c.retryMax)
		}
		c.log.Warn("SODA request failed; retrying", "url", c.resource, "err", err, "retry_in", wait.String(), "attempt", attempt+1)
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
		backoff = min(2*backoff, c.retryMax)
	}
}

// get sends one GET and decodes a 200 answer as a JSON array of rows.
func (c *client) get(ctx context.Context, u string) ([]json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("X-App-Token", c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, &httpError{status: resp.StatusCode, body: strings.TrimSpace(string(body)), retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	var rows []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&rows); err != nil {
		return nil, fmt.Errorf("decode the answer as a JSON array of rows: %w", err)
	}
	return rows, nil
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
