package weaviate

import (
	"context"
	"fmt"
	"reflect"

	"github.com/kormed/kormed/fusion"
)

// Calibration is the hybrid fusion's calibration the class records (kormed
// index's, see SetCalibration), nil when it has none. search.Service makes
// it the hybrid default, as it does the embedded index's.
func (b *Backend) Calibration() *fusion.Calibration { return b.cal.Load() }

// SetCalibration records c (nil: none) as the class's calibration, in the
// kormed metadata of its description beside the model, so that a server
// opening the class, or reloading it (Reload), follows it.
func (b *Backend) SetCalibration(ctx context.Context, c *fusion.Calibration) error {
	if err := checkCalibration(c); err != nil {
		return err
	}
	cls, err := b.c.Schema().ClassGetter().WithClassName(b.class).Do(ctx)
	if err != nil {
		return fmt.Errorf("weaviate: get class %s: %w", b.class, err)
	}
	m, err := parseMeta(b.class, cls.Description)
	if err != nil {
		return err
	}
	m.Calibration = c
	cls.Description = m.description()
	if err := b.c.Schema().ClassUpdater().WithClass(cls).Do(ctx); err != nil {
		return fmt.Errorf("weaviate: store the calibration in class %s: %w", b.class, err)
	}
	b.cal.Store(c)
	return nil
}

// Reload reads the class's calibration again and reports whether it
// changed (kormed index --calibrate stored another): kormed serve's
// periodic reload for this backend.
func (b *Backend) Reload(ctx context.Context) (bool, error) {
	cls, err := b.c.Schema().ClassGetter().WithClassName(b.class).Do(ctx)
	if err != nil {
		return false, fmt.Errorf("weaviate: get class %s: %w", b.class, err)
	}
	m, err := parseMeta(b.class, cls.Description)
	if err != nil {
		return false, err
	}
	b.setLayout(cls) // the replication factor may have been raised
	if reflect.DeepEqual(m.Calibration, b.cal.Load()) {
		return false, nil
	}
	b.cal.Store(m.Calibration)
	return true, nil
}
