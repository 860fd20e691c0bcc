package lake

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// MemBucket is a Bucket in memory, for tests. Put and Get copy the data, so
// callers may reuse their buffers.
type MemBucket struct {
	mu      sync.Mutex
	objects map[string][]byte
	puts    int
}

// NewMemBucket returns an empty MemBucket.
func NewMemBucket() *MemBucket {
	return &MemBucket{objects: make(map[string][]byte)}
}

// Put stores a copy of data under name.
func (b *MemBucket) Put(ctx context.Context, name string, data []byte) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("lake: put mem:%s: %w", name, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.objects[name] = slices.Clone(data)
	b.puts++
	return nil
}

// Create stores a copy of data under name unless an object has that name.
func (b *MemBucket) Create(ctx context.Context, name string, data []byte) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("lake: create mem:%s: %w", name, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.objects[name]; ok {
		return fmt.Errorf("lake: create mem:%s: %w", name, ErrExist)
	}
	b.objects[name] = slices.Clone(data)
	b.puts++
	return nil
}

// Replace stores a copy of data under name unless an object is there for
// which replace is false; replace runs under the bucket's lock.
func (b *MemBucket) Replace(ctx context.Context, name string, data []byte, replace func(current []byte) bool) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("lake: replace mem:%s: %w", name, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if cur, ok := b.objects[name]; ok && !replace(slices.Clone(cur)) {
		return fmt.Errorf("lake: replace mem:%s: %w", name, ErrRefused)
	}
	b.objects[name] = slices.Clone(data)
	b.puts++
	return nil
}

// Get returns a copy of the object name.
func (b *MemBucket) Get(ctx context.Context, name string) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lake: get mem:%s: %w", name, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.objects[name]
	if !ok {
		return nil, fmt.Errorf("lake: get mem:%s: %w", name, ErrNotExist)
	}
	return slices.Clone(data), nil
}

// List returns the sorted names that start with prefix.
func (b *MemBucket) List(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lake: list mem:%s: %w", prefix, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	names := []string{}
	for name := range b.objects {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// Puts returns how many Puts succeeded, overwrites included.
func (b *MemBucket) Puts() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.puts
}

// Close does nothing.
func (b *MemBucket) Close() error { return nil }
