// Package ridership is the producer side of the MTA Subway Hourly Ridership
// source (data.ny.gov datasets wujg-7c2s, 2020-2024, and 5wq4-mkjj, from
// 2025): it follows a dataset through the Socrata SODA API as a stream, or
// replays its CSV exports, and publishes one Kafka message per row to the
// topic mta-ridership, keyed by station_complex_id. Run is the entry point.
// It also holds the codec of the consumer's ridership rows (Consumer rows,
// below).
//
// # Message
//
// A message value is one CSV record (see the Field constants and
// AppendValue; Parse reads it back, strictly). Record.ID is RecordID of the
// row's natural key (transit_timestamp, station_complex_id, payment_method,
// fare_class_category): the same row gets the same ID from the API or from
// a CSV export, and again after a restart, so the consumer drops repeats.
//
// # Following the API
//
// Pages are asked for with $order=Order (transit_timestamp, then the rest of
// the natural key, which makes the order total as long as the natural key is
// unique) and $where strictly after the cursor, the Order columns of the
// last row taken, compared as a tuple (Cursor.After): rows tied on
// transit_timestamp at a page edge are neither skipped nor repeated. A full
// page is followed at once by the next; a short page is the end of the data
// for now: with To set the run ends there, otherwise it asks again every
// PollInterval, forever. 429 and 5xx answers and transport errors are
// retried with exponential backoff (1 s doubling to 2 min, or the
// Retry-After the server sends), up to 10 times per page. The app token goes
// in the X-App-Token header and is never logged. A bad row (a missing
// field, a timestamp or count that does not parse) is written to the
// Rejects writer with its reason, counted as skipped, and passed over.
//
// # Restart
//
// The cursor lives in the state file, written atomically (temporary file,
// fsync, rename) after the page's messages are delivered, that is, after
// the Sender's Flush: a row is in the state file only once its message is in
// Kafka. On start the poller resumes after the saved cursor. A crash between
// the delivery of a page and the state write re-sends at most that one
// page; its messages carry the same IDs and the consumer drops them. On
// SIGINT/SIGTERM (ctx cancelled) Run stops mid-page, flushes, and, when
// every message was delivered, saves the cursor of the last row sent, so a
// clean stop re-sends nothing. Recovering the cursor from Kafka is not done:
// without a state file a run starts again at From.
//
// # Replay
//
// Inputs are CSV exports (…/rows.csv?accessType=DOWNLOAD, or /resource/ID.csv),
// plain or gzip, given as files, directories, globs or gs:// prefixes (read
// as internal/mta reads turnstile files). The header is matched by name (see
// headerIndex); transit_timestamp may be "01/02/2006 03:04:05 PM" (the
// export's form) or the API's "2006-01-02T15:04:05.000". Rows are sent in
// file order: a replay does not sort, so an export out of time order makes
// records late for the consumer's watermark.
//
// # Consumer rows
//
// The consumer (apps/consumer --source ridership, stream.RidershipRecords)
// windows the messages with Parse: it groups them by Key (AppendKey is the
// engine's key bytes, DecodeKey and CompareKeys its decode and row order),
// sums ridership and transfers, and drops repeats by Record.ID. A closed
// (window, key) is a WindowRow: AppendWindowRow writes it as a lake row of
// LakeColumns (no index column) and ParseWindowRow reads it back;
// EncodeWindowMessage and DecodeWindowMessage are its emit-topic message.
// A value Parse refuses is rejected with reason ReasonValue.
package ridership
