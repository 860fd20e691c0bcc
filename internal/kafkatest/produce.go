package kafkatest

import (
	"fmt"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Record is a record for Produce. Partition -1 lets the partitioner choose.
type Record struct {
	Partition int32
	Key       []byte
	Value     []byte
}

// Produce writes records to topic on the broker at addr with an idempotent
// producer, in order, and waits until every one is delivered.
func Produce(addr, topic string, records []Record) error {
	cm := kafka.ConfigMap{"bootstrap.servers": addr, "enable.idempotence": true, "acks": "all", "linger.ms": 5}
	for k, v := range ClientDefaults {
		cm[k] = v
	}
	p, err := kafka.NewProducer(&cm)
	if err != nil {
		return fmt.Errorf("test producer: %w", err)
	}
	defer p.Close()
	deliveries := make(chan kafka.Event, 1024)
	failed := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range records {
			ev := <-deliveries
			if m, ok := ev.(*kafka.Message); ok && m.TopicPartition.Error != nil {
				select {
				case failed <- m.TopicPartition.Error:
				default:
				}
			}
		}
	}()
	for _, r := range records {
		part := r.Partition
		if part < 0 {
			part = kafka.PartitionAny
		}
		msg := &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: part}, Key: r.Key, Value: r.Value}
		for {
			err := p.Produce(msg, deliveries)
			if err == nil {
				break
			}
			if kerr, ok := err.(kafka.Error); ok && kerr.Code() == kafka.ErrQueueFull {
				p.Flush(100)
				continue
			}
			return fmt.Errorf("test producer: %w", err)
		}
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		return fmt.Errorf("test producer: deliveries not reported within 60s")
	}
	select {
	case err := <-failed:
		return fmt.Errorf("test producer: delivery failed: %w", err)
	default:
		return nil
	}
}
