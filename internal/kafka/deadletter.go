package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/turnstile-stream/turnstile-stream/internal/lake"
)

// DeadLetter is the consumer's stream.SideWriter for --dead-letter-topic: it
// writes rejected and late records to a dead-letter topic, one message per
// record: the key is the source ("p3"), the header kind is the side kind
// (rejected or late), and the value is the record's one encoding,
// lake.SideRecord.MarshalJSON (a lake side file's line), so that a value that
// is not UTF-8 arrives byte for byte. Write waits for every delivery before
// it returns. A crash
// between delivery and the commit can repeat records in the topic (at least
// once: each record carries its partition and offset, the key to drop a
// repeat); the lake side output does not have this gap. When some records of
// a batch fail, Write returns an error and the next Write of the same batch
// sends only the records not yet delivered.
type DeadLetter struct {
	producer *ckafka.Producer
	topic    string
	timeout  time.Duration // for the delivery reports of one Write

	delivered map[sideKey]bool  // records of the failing batch already delivered
	done      []<-chan struct{} // closed once the producer's logs and events are handled
}

// OpenDeadLetter creates the dead-letter producer (deadLetterConfig: client.id
// CLIENT-dead-letter, idempotent) for topic. Its librdkafka logs and client
// errors go to log. A configuration librdkafka refuses is a *ConfigError.
// Close releases the producer.
func OpenDeadLetter(props Properties, client, topic string, log *slog.Logger) (*DeadLetter, error) {
	cm := deadLetterConfig(props, client)
	p, auth, err := newProducer(cm, log)
	if err != nil {
		return nil, &ConfigError{What: "dead-letter producer", Err: err}
	}
	events := make(chan struct{})
	go func() {
		defer close(events)
		for ev := range p.Events() {
			switch e := ev.(type) {
			case ckafka.OAuthBearerTokenRefresh:
				auth.refresh(p)
			case ckafka.Error:
				log.Warn("dead-letter producer error", "err", e)
			}
		}
	}()
	return &DeadLetter{producer: p, topic: topic, timeout: 30 * time.Second,
		done: []<-chan struct{}{forwardLogs(p.Logs(), log), events}}, nil
}

// Close closes the producer.
func (s *DeadLetter) Close() {
	s.producer.Close()
	for _, d := range s.done {
		<-d
	}
}

type sideKey struct {
	kind   lake.SideKind
	source string
	offset int64
}

// Write produces recs and waits for their delivery reports. It returns nil
// once every record is delivered; when some records fail, it returns an error
// and the next Write of the same batch sends only the records not yet
// delivered.
func (s *DeadLetter) Write(ctx context.Context, kind lake.SideKind, source string, firstOffset int64, recs []lake.SideRecord) error {
	deliveries := make(chan ckafka.Event, len(recs))
	sent := 0
	for i := range recs {
		if s.delivered[sideKey{kind, source, recs[i].Offset}] {
			continue
		}
		value, err := recs[i].MarshalJSON()
		if err != nil {
			return err
		}
		err = s.producer.Produce(&ckafka.Message{
			TopicPartition: ckafka.TopicPartition{Topic: &s.topic, Partition: ckafka.PartitionAny},
			Key:            []byte(source),
			Value:          value,
			Headers:        []ckafka.Header{{Key: "kind", Value: []byte(kind)}},
			Opaque:         recs[i].Offset,
		}, deliveries)
		if err != nil {
			return fmt.Errorf("dead-letter topic %s: %w", s.topic, err)
		}
		sent++
	}
	timeout := s.timeout
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var errs []error
	for range sent {
		select {
		case ev := <-deliveries:
			m, ok := ev.(*ckafka.Message)
			if !ok {
				continue
			}
			if m.TopicPartition.Error != nil {
				errs = append(errs, m.TopicPartition.Error)
				continue
			}
			if s.delivered == nil {
				s.delivered = make(map[sideKey]bool)
			}
			s.delivered[sideKey{kind, source, m.Opaque.(int64)}] = true
		case <-deadline.C:
			return fmt.Errorf("dead-letter topic %s: no delivery report within %s", s.topic, timeout)
		case <-ctx.Done():
			return fmt.Errorf("dead-letter topic %s: %w", s.topic, ctx.Err())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("dead-letter topic %s: %d of %d records not delivered: %w", s.topic, len(errs), len(recs), errors.Join(errs...))
	}
	for i := range recs {
		delete(s.delivered, sideKey{kind, source, recs[i].Offset})
	}
	return nil
}
