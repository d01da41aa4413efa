package appvault

import (
	"context"
	"errors"

	"github.com/spgate/spgate/vault"
)

// Checkpoints is the vault as an orderpull.CheckpointStore: a job's place
// is kept encrypted per (seller, job) and replaced atomically.
type Checkpoints struct{ v *vault.Vault }

// NewCheckpoints returns the vault's checkpoints.
func NewCheckpoints(v *vault.Vault) Checkpoints { return Checkpoints{v: v} }

// Checkpoint returns the job's saved value, or nil when it has none.
func (c Checkpoints) Checkpoint(ctx context.Context, seller, job string) ([]byte, error) {
	cp, err := c.v.GetCheckpoint(ctx, seller, job)
	if errors.Is(err, vault.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return cp.Value, nil
}

// SetCheckpoint saves the job's value.
func (c Checkpoints) SetCheckpoint(ctx context.Context, seller, job string, value []byte) error {
	return c.v.SetCheckpoint(ctx, seller, job, value)
}

// DeleteCheckpoint removes the job's value.
func (c Checkpoints) DeleteCheckpoint(ctx context.Context, seller, job string) error {
	return c.v.DeleteCheckpoint(ctx, seller, job)
}
